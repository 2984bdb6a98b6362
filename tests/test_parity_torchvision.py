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

#: torchvision families whose zoo specs take every name from torchvision (EfficientNet is added below)
MOBILE = ("mobilenet_v2", "mobilenet_v3_small", "mobilenet_v3_large",
          "mnasnet0_5", "mnasnet0_75", "mnasnet1_0", "mnasnet1_3")
#: The classic families of issue 11, named as torchvision's builders, every key torchvision's.
CLASSIC = (*(f"shufflenet_v2_x{w}" for w in ("0_5", "1_0", "1_5", "2_0")), "squeezenet1_0", "squeezenet1_1",
           *(f"densenet{d}" for d in (121, 161, 169, 201)), "resnext50_32x4d", "resnext101_32x8d",
           "wide_resnet50_2", "wide_resnet101_2")
#: zoo spec (and --set overrides) → the torchvision model it claims to be. torchvision's GoogLeNet and
#: Inception-v3 default to auxiliary heads, which the zoo specs add only with --set aux=true.
ZOO: dict[str, tuple[str, dict[str, Any]]] = {
    "alexnet_tv": ("torchvision:alexnet", {}),
    "googlenet_tv": ("torchvision:googlenet,aux_logits=False,init_weights=True", {}),
    "googlenet_tv[aux]": ("torchvision:googlenet,aux_logits=True,init_weights=True", {"aux": True}),
    "inception_v3": ("torchvision:inception_v3,aux_logits=False,init_weights=True", {}),
    "inception_v3[aux]": ("torchvision:inception_v3,aux_logits=True,init_weights=True", {"aux": True}),
    **{f"resnet{d}_tv": (f"torchvision:resnet{d}", {}) for d in (18, 34, 50, 101, 152)},
    **{f"vgg{d}{bn}": (f"torchvision:vgg{d}{bn}", {}) for d in (11, 13, 16, 19) for bn in ("", "_bn")},
    **{f"convnext_{v}": (f"torchvision:convnext_{v}", {}) for v in ("tiny", "small", "base", "large")},
    "fcn_resnet50": ("torchvision:fcn_resnet50", {}),
    "deeplabv3_resnet50": ("torchvision:deeplabv3_resnet50", {}),
    **{n: (f"torchvision:{n}", {}) for n in MOBILE},
    # the function does not depend on the resolution: B4–B7 are held against torchvision at 224×224, not at
    # their own 380…600 (one training step of B7 at 600×600 keeps GBs)
    **{f"efficientnet_b{i}": (f"torchvision:efficientnet_b{i}", {"res": 224} if i >= 4 else {}) for i in range(8)},
    **{n: (f"torchvision:{n}", {}) for n in CLASSIC},
    **{f"regnet_{v}": (f"torchvision:regnet_{v}", {}) for v in ("y_400mf", "y_800mf", "y_1_6gf", "y_3_2gf", "y_8gf",
                                                                  "y_16gf", "y_32gf", "x_400mf", "x_800mf", "x_1_6gf",
                                                                  "x_3_2gf", "x_8gf", "x_16gf", "x_32gf",
                                                                  "y_128gf")},
}
#: Cases that need the machine to themselves: RegNetY-128GF (645M parameters, 2.6 GB a copy in fp32; two copies,
#: their gradients and a training step peak near 14 GB) runs alone after the parallel part (marker ``serial``).
SERIAL = {"regnet_y_128gf"}
#: Specs whose every state-dict key is torchvision's (by key, not by structure).
BY_KEY: set[str] = {*MOBILE, *(f"efficientnet_b{i}" for i in range(8)),
                    *(f"convnext_{v}" for v in ("tiny", "small", "base", "large")),
                    "fcn_resnet50", "deeplabv3_resnet50", *CLASSIC,
                    *(c for c in ZOO if c.startswith("regnet_"))}
#: Cases held at another input than the spec's own (the input size of the segmentation models is free, and at
#: 520×520 a case takes 3.5 minutes on 2 cores): 296 rows give a 37-row map, on which each of ASPP's atrous
#: rates 12, 24 and 36 reads real rows (a swap of two rates would show); 136 columns keep the case short and
#: check that the upsampling follows height and width apart.
#: The deeper and wider classic models at 64×64 (2×2 maps before the pooling): a twelfth of their work at
#: 224×224 (Wide ResNet-101-2: 1.9G multiply-adds, not 22.8G), the same layers.
INPUTS: dict[str, tuple[int, int, int]] = {"fcn_resnet50": (3, 296, 136), "deeplabv3_resnet50": (3, 296, 136),
                                          **dict.fromkeys(("densenet161", "densenet169", "densenet201",
                                                           "resnext101_32x8d", "wide_resnet50_2",
                                                           "wide_resnet101_2"), (3, 64, 64)),
                                          # the same reason for the larger members of the modern families (CI's
                                          # time: ConvNeXt-B at 224×224 took 157 s here, RegNetY-8GF over 900 s)
                                          **dict.fromkeys(("convnext_small", "convnext_base", "convnext_large",
                                                           *(f"efficientnet_b{i}" for i in range(2, 8)),
                                                           *(f"regnet_{v}" for v in ("y_1_6gf", "y_3_2gf", "y_8gf",
                                                                                     "y_16gf", "y_32gf", "x_1_6gf",
                                                                                     "x_3_2gf", "x_8gf", "x_16gf",
                                                                                     "x_32gf", "y_128gf"))),
                                                          (3, 64, 64))}
#: Batch norm in training needs two values per channel: the Inception-v3 auxiliary head and DeepLabV3's image
#: pooling reach 1×1.
BATCH = {"inception_v3[aux]": 2, "deeplabv3_resnet50": 2}
#: Where to append each case's figures (max differences, mapping), when set: for reports, never asserted on.
RESULTS = os.environ.get("ARCHCALC_PARITY_RESULTS")


def _spec_name(case: str) -> str:
    return case.split("[", maxsplit=1)[0]


@pytest.mark.parametrize("case", [pytest.param(c, marks=pytest.mark.serial) if c in SERIAL else c
                                  for c in sorted(ZOO)])
def test_zoo_spec_computes_torchvision(case: str) -> None:
    """Outputs within 1e-5 relative (fp32), every layer, one training step; and wherever the spec uses a
    torchvision name (``conv1.weight``, ``fc.bias``, ``aux1.*``), that key holds torchvision's tensor."""
    ref, overrides = ZOO[case]
    name = _spec_name(case)
    graph = load(name, overrides or None, input_shape=INPUTS.get(case))
    model, reference = build_model(graph), build_reference(parse_reference(ref))
    smap = match_state(model.state_dict(), reference.state_dict(), source_label="torchvision")
    shared = set(model.state_dict()) & set(reference.state_dict())
    assert all(smap.pairs[k] == k for k in shared)
    assert (smap.by == "key") == (name in BY_KEY), smap.describe()
    report = compare(graph, model, reference, ref, batch=BATCH.get(case, 1))
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
    checked = {_spec_name(c) for c in ZOO}
    assert cited <= checked, cited - checked


def test_segmentation_references_download_no_backbone(monkeypatch: pytest.MonkeyPatch) -> None:
    """fcn_resnet50(weights=None) still loads ImageNet weights into its backbone by default: the reference is
    built with weights_backbone=None too, and returns {"out": …}."""
    def refuse(*_args: Any, **_kwargs: Any) -> None:
        raise AssertionError("a download was attempted")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", refuse)
    reference = build_reference(parse_reference("torchvision:fcn_resnet50,num_classes=3"))
    with torch.no_grad():
        out = reference.eval()(torch.randn(1, 3, 40, 24))
    assert list(out) == ["out"] and out["out"].shape == (1, 3, 40, 24)


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
