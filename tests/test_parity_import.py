"""``archcalc import torchvision:NAME`` against torchvision itself: the spec the importer writes holds the model's
parameters, reads like a person wrote it (blocks and repeat), and computes the model's function with its
weights loaded by key (``verify --against``).

Runs in ``make parity`` (``.venv-parity``: torch 2.14.1 with torchvision 0.29.1); skipped where torchvision
cannot be imported. Inputs are reduced (the importer traces at any size the model accepts) to keep it quick;
a few models stand for the families, the rest of torchvision's classifiers are listed in docs/import.md.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.parity
torch = pytest.importorskip("torch")
try:
    import torchvision  # noqa: F401
except Exception as exc:  # ImportError, or compiled ops built for another torch
    pytest.skip(f"torchvision cannot be imported here ({type(exc).__name__}); run make parity",
                allow_module_level=True)

from archcalc.backends.torch.importer.api import import_model  # noqa: E402
from archcalc.backends.torch.parity import check_against  # noqa: E402
from archcalc.backends.torch.parity_report import render  # noqa: E402
from archcalc.backends.torch.reference import build_reference, parse_reference  # noqa: E402
from archcalc.spec import load_text  # noqa: E402

#: torchvision:NAME[,key=value…] → the reduced input it is traced and compared at: plain residuals, depthwise
#: separable (ReLU6), fire modules (concat), channel split and shuffle (chunk, view/transpose), inception
#: branches. Each takes 10–50 s on a loaded 2-core machine.
MODELS = {
    "resnet18": (3, 64, 64),
    "mobilenet_v2": (3, 64, 64),
    "squeezenet1_0": (3, 64, 64),
    "shufflenet_v2_x0_5": (3, 64, 64),
    "googlenet,aux_logits=False,init_weights=True": (3, 64, 64),
}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_torchvision_model_imports_and_round_trips(name: str) -> None:
    source = f"torchvision:{name}"
    result = import_model(source, MODELS[name])
    model = build_reference(parse_reference(source))
    assert result.spec_params == result.params == sum(p.numel() for p in model.parameters())
    report = check_against(load_text(result.text, "imported.yaml"), source)
    assert report.ok, render(report)
    assert report.mapping is not None and "by key" in report.mapping


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
