"""``archcalc import torchvision:NAME`` against torchvision itself, for every classifier torchvision has: the
spec the importer writes holds the model's parameters, reads like a person wrote it (blocks and repeat), and
computes the model's function with its weights loaded by key (``verify --against``); the classifiers the
vocabulary cannot express yet stop with the op that README.md and docs/import.md name.

Runs in ``make parity`` (``.venv-parity``: torch 2.14.1 with torchvision 0.29.1); skipped where torchvision
cannot be imported. The list of models is torchvision's own (``list_models``), so a classifier a later
torchvision adds is held here too. Inputs are reduced to 64×64 (Inception-v3: 96×96, the smallest its stem and
pools take with room to spare): the importer traces at any size the model accepts and the layers are the same.
Together about 5 minutes on 2 cores; RegNetY-128GF (645M parameters, 14 GB at its peak here: two copies, their
gradients and the trace) runs alone, after the parallel part (marker ``serial``).
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.parity
torch = pytest.importorskip("torch")
try:
    import torchvision
except Exception as exc:  # ImportError, or compiled ops built for another torch
    pytest.skip(f"torchvision cannot be imported here ({type(exc).__name__}); run make parity",
                allow_module_level=True)

from archcalc.backends.torch.importer.api import ImportFailed, import_model  # noqa: E402
from archcalc.backends.torch.parity import check_against  # noqa: E402
from archcalc.backends.torch.parity_report import render  # noqa: E402
from archcalc.backends.torch.reference import build_reference, parse_reference  # noqa: E402
from archcalc.spec import load_text  # noqa: E402

#: The classifiers built on attention, which archcalc's vocabulary has no layer type for yet: family prefix →
#: (the member tried here, its input, what the import's one-line error must name). The same table is in
#: README.md ("From a PyTorch model") and docs/import.md ("torchvision's classifiers").
NOT_YET = {
    "vit_": ("vit_b_16", (3, 224, 224), "torch.cat of tensors not all computed from the image"),
    "swin_v2_": ("swin_v2_t", (3, 64, 64), "features.1.0.attn: torchvision.models.swin_transformer."
                                           "shifted_window_attention is not in archcalc's vocabulary"),
    "swin_": ("swin_t", (3, 64, 64), "features.1.0.attn: torchvision.models.swin_transformer."
                                     "shifted_window_attention is not in archcalc's vocabulary"),
    "maxvit_": ("maxvit_t", (3, 224, 224), "blocks.0.layers.0.layers.window_attention.attn_layer.0: nn.LayerNorm"),
}
#: torchvision's GoogLeNet and Inception-v3 build auxiliary heads by default, which their forward calls only in
#: training; without them the imported spec is the network the forward computes.
ARGS = {"googlenet": ",aux_logits=False,init_weights=True", "inception_v3": ",aux_logits=False,init_weights=True"}
INPUT = {"inception_v3": (3, 96, 96)}
SERIAL = {"regnet_y_128gf"}

CLASSIFIERS = sorted(torchvision.models.list_models(module=torchvision.models))
EXPRESSIBLE = [n for n in CLASSIFIERS if not n.startswith(tuple(NOT_YET))]


def _case(name: str) -> object:
    return pytest.param(name, marks=pytest.mark.serial) if name in SERIAL else name


@pytest.mark.parametrize("name", [_case(n) for n in EXPRESSIBLE])
def test_torchvision_classifier_imports_and_round_trips(name: str) -> None:
    source = f"torchvision:{name}{ARGS.get(name, '')}"
    result = import_model(source, INPUT.get(name, (3, 64, 64)))
    model = build_reference(parse_reference(source))
    assert result.spec_params == result.params == sum(p.numel() for p in model.parameters())
    del model
    report = check_against(load_text(result.text, "imported.yaml"), source)
    assert report.ok, render(report)
    assert report.mapping is not None and "by key" in report.mapping


@pytest.mark.parametrize("prefix", sorted(NOT_YET))
def test_classifier_outside_the_vocabulary_names_the_missing_op(prefix: str) -> None:
    name, shape, says = NOT_YET[prefix]
    with pytest.raises(ImportFailed) as info:
        import_model(f"torchvision:{name}", shape)
    assert says in str(info.value)
    assert "\n" not in str(info.value)


def test_the_lists_cover_every_classifier() -> None:
    """Every torchvision classifier is either held above or listed as not yet expressible — and that list is
    short (the attention families), so it cannot swallow a regression."""
    assert len(EXPRESSIBLE) >= 62
    unexpressed = set(CLASSIFIERS) - set(EXPRESSIBLE)
    assert all(n.startswith(tuple(NOT_YET)) for n in unexpressed)
    assert {n.split("_")[0] for n in unexpressed} == {"vit", "swin", "maxvit"}


def test_resnet18_is_short_enough_to_read() -> None:
    """Two blocks (BasicBlock with and without the projection) called eight times: 66 lines, not 69 flat
    layers; the layers keep torchvision's module paths."""
    result = import_model("torchvision:resnet18", (3, 64, 64))
    assert result.blocks == 2
    assert result.lines <= 70, result.text
    assert "repeat: 2" in result.text
    assert result.analysis is not None
    names = set(result.analysis.graph.by_name)
    assert {"conv1", "layer1.0.conv1", "layer2.0.downsample.0", "layer4.1.bn2", "fc"} <= names
