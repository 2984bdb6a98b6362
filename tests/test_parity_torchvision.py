"""The zoo against torchvision: every spec that claims a torchvision network computes its function.

Runs in ``make parity`` (``.venv-parity``: torch 2.14.1 with torchvision 0.29.1); skipped where torchvision
cannot be imported (the main venv's CPU torch build cannot load torchvision's compiled ops). Weights are
never downloaded: the torchvision models are built with ``weights=None`` and checkpoints are made here.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.parity
torch = pytest.importorskip("torch")
try:
    import torchvision
except Exception as exc:  # ImportError, or compiled ops built for another torch
    pytest.skip(f"torchvision cannot be imported here ({type(exc).__name__}); run make parity",
                allow_module_level=True)

from archcalc.backends.torch.build import build_model  # noqa: E402
from archcalc.backends.torch.parity import compare  # noqa: E402
from archcalc.backends.torch.parity_report import render  # noqa: E402
from archcalc.backends.torch.reference import build_reference, parse_reference  # noqa: E402
from archcalc.backends.torch.weights import WeightsError, load_weights, match_state  # noqa: E402
from archcalc.spec import load, zoo  # noqa: E402

#: zoo spec (and --set overrides) → the torchvision model it claims to be. torchvision's GoogLeNet and
#: Inception-v3 default to auxiliary heads, which the zoo specs add only with --set aux=true.
ZOO: dict[str, tuple[str, dict[str, Any]]] = {
    "alexnet_tv": ("torchvision:alexnet", {}),
    "googlenet_tv": ("torchvision:googlenet,aux_logits=False,init_weights=True", {}),
    "googlenet_tv[aux]": ("torchvision:googlenet,aux_logits=True,init_weights=True", {"aux": True}),
    "inception_v3": ("torchvision:inception_v3,aux_logits=False,init_weights=True", {}),
    "inception_v3[aux]": ("torchvision:inception_v3,aux_logits=True,init_weights=True", {"aux": True}),  # batch 2
    **{f"resnet{d}_tv": (f"torchvision:resnet{d}", {}) for d in (18, 34, 50, 101, 152)},
    **{f"vgg{d}{bn}": (f"torchvision:vgg{d}{bn}", {}) for d in (11, 13, 16, 19) for bn in ("", "_bn")},
    "mobilenet_v2": ("torchvision:mobilenet_v2", {}),
    **{f"regnet_{v}": (f"torchvision:regnet_{v}", {}) for v in ("y_400mf", "y_800mf", "y_1_6gf", "y_3_2gf", "y_8gf",
                                                                  "x_400mf", "x_800mf", "x_1_6gf", "x_3_2gf", "x_8gf")},
}
#: torchvision specs too big to build twice and train a step in the parity run (54M to 645M parameters,
#: 16 to 128 GMACs): their keys, parameters and outputs were compared by hand with torchvision 0.29.1 (identical keys
#: in order, equal parameter counts, outputs equal at 64×64), and test_zoo_regnet.py holds their figures.
BY_HAND = {f"regnet_{v}" for v in ("y_16gf", "y_32gf", "y_128gf", "x_16gf", "x_32gf")}
#: Specs whose every state-dict key is torchvision's (by key, not by structure): layer names may be digits
#: (torchvision's Sequential children) and hold '-' (RegNet's block1-0).
BY_KEY: set[str] = {"mobilenet_v2", *(c for c in ZOO if c.startswith("regnet_"))}
#: Where to append each case's figures (max differences, mapping), when set: for reports, never asserted on.
RESULTS = os.environ.get("ARCHCALC_PARITY_RESULTS")


def _spec_name(case: str) -> str:
    return case.split("[", maxsplit=1)[0]


@pytest.mark.parametrize("case", sorted(ZOO))
def test_zoo_spec_computes_torchvision(case: str) -> None:
    """Outputs within 1e-5 relative (fp32), every layer, one training step; and wherever the spec uses a
    torchvision name (``conv1.weight``, ``fc.bias``, ``aux1.*``), that key holds torchvision's tensor."""
    ref, overrides = ZOO[case]
    name = _spec_name(case)
    graph = load(name, overrides or None)
    model, reference = build_model(graph), build_reference(parse_reference(ref))
    smap = match_state(model.state_dict(), reference.state_dict(), source_label="torchvision")
    shared = set(model.state_dict()) & set(reference.state_dict())
    assert all(smap.pairs[k] == k for k in shared)
    assert (smap.by == "key") == (name in BY_KEY), smap.describe()
    # batch norm in training needs two values per channel: the Inception-v3 auxiliary head reaches 1×1
    report = compare(graph, model, reference, ref, batch=2 if case == "inception_v3[aux]" else 1)
    assert report.ok, render(report)
    output = next(c for c in report.checks if c.name == "eval output")
    assert output.rel is not None and output.rel <= 1e-5
    if RESULTS:
        with Path(RESULTS).open("a") as f:
            f.write(json.dumps({"case": case, "reference": ref, "mapping": report.mapping, "shared": len(shared),
                                **{c.name: {"max_abs": c.max_abs, "rel": c.rel} for c in report.checks}}) + "\n")


def test_every_torchvision_spec_is_checked() -> None:
    """A zoo spec that cites torchvision's code must appear in ZOO (the zoo grows in other issues)."""
    cited = {n for n in zoo.names() if "torchvision" in str(load(n).meta.source.get("code", ""))}
    checked = {_spec_name(c) for c in ZOO} | BY_HAND
    assert cited <= checked, cited - checked


def test_torchvision_checkpoint_round_trips(tmp_path: Path) -> None:
    torch.manual_seed(0)
    reference = torchvision.models.resnet18(weights=None).eval()
    with torch.no_grad():  # trained-looking statistics
        for m in reference.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.normal_(0, 0.1)
                m.running_var.uniform_(0.5, 1.5)
    path = tmp_path / "resnet18.pth"
    torch.save(reference.state_dict(), path)
    model = build_model(load("resnet18_tv"))
    smap = load_weights(model, path)
    assert smap.by == "structure"
    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        assert torch.equal(model.eval()(x), reference(x))


def test_another_torchvision_architecture_names_the_first_mismatch(tmp_path: Path) -> None:
    path = tmp_path / "resnet34.pth"
    torch.save(torchvision.models.resnet34(weights=None).state_dict(), path)
    # conv1, bn1 and fc share names; in order, resnet34's third block of layer1 meets resnet18's layer2
    with pytest.raises(WeightsError, match=r"another architecture: .*checkpoint layer1\.2\.conv1\.weight 64×64×3×3"
                                           r" and spec layer2\.block1\.residual\.conv1\.weight 128×64×3×3"):
        load_weights(build_model(load("resnet18_tv")), path)


def test_googlenet_checkpoint_with_aux_heads_needs_aux(tmp_path: Path) -> None:
    """torchvision's GoogLeNet checkpoints hold the auxiliary heads: the spec takes them with --set aux=true."""
    path = tmp_path / "googlenet.pth"
    torch.save(torchvision.models.googlenet(weights=None, aux_logits=True, init_weights=True).state_dict(), path)
    with pytest.raises(WeightsError, match="the first without a counterpart is checkpoint aux1"):
        load_weights(build_model(load("googlenet_tv")), path)
    assert load_weights(build_model(load("googlenet_tv", {"aux": True})), path).by == "structure"


def test_paper_resnet50_is_not_torchvision_resnet50(cli_main) -> None:  # type: ignore[no-untyped-def]
    """The paper's ResNet-50 strides its first 1×1 convolution; torchvision's (v1.5) its 3×3: same tensors,
    another function, and the first layer that shows it is named."""
    code, out, err = cli_main("verify", "resnet50", "--against", "torchvision:resnet50", "--batch", "1",
                              "--format", "json")
    assert code == 1, out + err
    doc = json.loads(out)
    assert doc["checks"][0]["ok"] is True  # the weights fit: the difference is in the function
    first = doc["first_divergent"]["eval"]
    assert first["spec"] == "layer2.block1.residual.conv1" and first["reference"] == "layer2.0.conv1"
    assert "stride (2, 2) here, (1, 1) in the reference" in first["hint"]
