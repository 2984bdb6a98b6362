"""Golden figures of the mobile families of the zoo: MobileNetV3, EfficientNet B0–B7, MnasNet.

The parameter counts and multiply-adds were measured with the independent reference, never taken from
archcalc: torchvision 0.29.1 (``weights=None``; the sum of ``p.numel()`` over ``model.parameters()``) and
fvcore 0.1.5 (``FlopCountAnalysis(model, x).by_operator()``, its ``conv`` plus ``linear`` counts, batch 1,
eval mode, at the spec's input size). The stage shapes are the papers' tables. That each spec computes
torchvision's function, key by key, is checked in tests/test_parity_torchvision.py (``make parity``).
"""

from __future__ import annotations

import math
from functools import cache

import pytest

from archcalc.analysis import Analysis, analyze
from archcalc.layers import Family
from archcalc.spec import load, zoo

#: torchvision 0.29.1 NAME(weights=None): sum of parameter numels (the weights' meta num_params agrees)
PARAMS = {
    "mobilenet_v3_small": 2_542_856,
    "mobilenet_v3_large": 5_483_032,
    "efficientnet_b0": 5_288_548,
    "efficientnet_b1": 7_794_184,
    "efficientnet_b2": 9_109_994,
    "efficientnet_b3": 12_233_232,
    "efficientnet_b4": 19_341_616,
    "efficientnet_b5": 30_389_784,
    "efficientnet_b6": 43_040_704,
    "efficientnet_b7": 66_347_960,
    "mnasnet0_5": 2_218_512,
    "mnasnet0_75": 3_170_208,
    "mnasnet1_0": 4_383_312,
    "mnasnet1_3": 6_282_256,
}

#: fvcore 0.1.5 FlopCountAnalysis of the torchvision 0.29.1 model: by_operator() conv + linear, batch 1, at
#: (the input side)
CONV_LINEAR_MACS = {
    "mobilenet_v3_small": (224, 54_896_576 + 1_613_824),
    "mobilenet_v3_large": (224, 214_080_960 + 2_508_800),
    "efficientnet_b0": (224, 384_534_752 + 1_280_000),
    "efficientnet_b1": (240, 685_522_832 + 1_280_000),
    "efficientnet_b2": (260, 992_153_872 + 1_408_000),
    "efficientnet_b3": (300, 1_825_605_392 + 1_536_000),
    "efficientnet_b4": (380, 4_391_979_024 + 1_792_000),
    "efficientnet_b5": (456, 10_264_336_752 + 2_048_000),
    "efficientnet_b6": (528, 19_065_289_536 + 2_304_000),
    "efficientnet_b7": (600, 37_743_324_192 + 2_560_000),
    "mnasnet0_5": (224, 103_175_968 + 1_280_000),
    "mnasnet0_75": (224, 214_213_104 + 1_280_000),
    "mnasnet1_0": (224, 313_135_872 + 1_280_000),
    "mnasnet1_3": (224, 525_082_432 + 1_280_000),
}


@cache
def net(name: str) -> Analysis:
    return analyze(load(name))


def conv_linear_macs(a: Analysis) -> int:
    """What fvcore counts for conv and linear: archcalc's framework multiply-adds of those layers."""
    return sum(r.cost.framework_macs for r in a.results.values() if r.rec.family in (Family.CONV, Family.FC))


def out_shape(a: Analysis, group: str) -> tuple[int, ...]:
    """The shape a group hands on (its last node's output)."""
    return a.under(group)[-1].shape


def test_the_families_are_in_the_zoo_under_torchvisions_names() -> None:
    assert set(PARAMS) <= set(zoo.names())
    assert zoo.locate("efficientnet_b3")[0].name == "efficientnet.yaml"
    assert zoo.locate("mobilenet_v3_small")[0].name == "mobilenet_v3.yaml"
    assert zoo.locate("mnasnet0_75")[0].name == "mnasnet.yaml"


@pytest.mark.parametrize("name", sorted(PARAMS))
def test_parameters_equal_torchvisions(name: str) -> None:
    assert net(name).totals.params == PARAMS[name]


@pytest.mark.parametrize("name", sorted(CONV_LINEAR_MACS))
def test_conv_and_linear_multiply_adds_equal_fvcores(name: str) -> None:
    size, macs = CONV_LINEAR_MACS[name]
    a = net(name)
    assert a.graph.input_shape == (3, size, size)
    assert conv_linear_macs(a) == macs
    assert a.totals.macs == macs  # no other layer of these networks counts multiply-adds
    assert out_shape(a, "classifier") == (1000,)


# ---- MobileNetV3, Howard et al. 2019, Tables 1 and 2: each bneck's input is the row before's output -----

#: the "Input" column of the next row (H² × C): what features.i hands on
V3_LARGE = [(112, 16), (112, 16), (56, 24), (56, 24), (28, 40), (28, 40), (28, 40), (14, 80), (14, 80), (14, 80),
            (14, 80), (14, 112), (14, 112), (7, 160), (7, 160), (7, 160), (7, 960)]
V3_SMALL = [(112, 16), (56, 16), (28, 24), (28, 24), (14, 40), (14, 40), (14, 40), (14, 48), (14, 48), (7, 96),
            (7, 96), (7, 96), (7, 576)]


@pytest.mark.parametrize(("name", "table", "last"), [("mobilenet_v3_large", V3_LARGE, 1280),
                                                      ("mobilenet_v3_small", V3_SMALL, 1024)])
def test_mobilenet_v3_follows_the_papers_table(name: str, table: list[tuple[int, int]], last: int) -> None:
    a = net(name)
    assert [out_shape(a, f"features.{i}") for i in range(len(table))] == [(c, h, h) for h, c in table]
    assert a.results["classifier.0"].shape == (last,)  # Table 1/2: conv2d 1×1, NBN, 1280 (Small: 1024)


def test_mobilenet_v3_squeeze_excitation_widths() -> None:
    """SE squeezes to _make_divisible(exp // 4, 8): 72 // 4 = 18 rounds to 16, which loses more than 10%: 24."""
    a = net("mobilenet_v3_large")
    assert a.results["features.4.block.2.fc1"].shape == (24, 1, 1)   # exp 72
    assert a.results["features.5.block.2.fc1"].shape == (32, 1, 1)   # exp 120: 30 → 32
    assert a.results["features.11.block.2.fc1"].shape == (120, 1, 1)  # exp 480
    assert "features.7.block.2.fc1" not in a.results                 # no SE in that row


# ---- EfficientNet, Tan & Le 2019, Table 1 (B0) and compound scaling -----------------------------------

#: Table 1: stage i's output resolution and channels, and its layer count L̂ᵢ
B0_STAGES = [(112, 32, 1), (112, 16, 1), (56, 24, 2), (28, 40, 2), (14, 80, 3), (14, 112, 3), (7, 192, 4), (7, 320, 1),
             (7, 1280, 1)]


def _blocks(a: Analysis, stage: int) -> int:
    return len({r.name.split(".")[2] for r in a.under(f"features.{stage}")})


def test_efficientnet_b0_is_table_1() -> None:
    a = net("efficientnet_b0")
    for i, (h, c, layers) in enumerate(B0_STAGES):
        assert out_shape(a, f"features.{i}") == (c, h, h), i
        if 1 <= i <= 7:
            assert _blocks(a, i) == layers, i


@pytest.mark.parametrize(("name", "depth", "stem", "head"), [
    ("efficientnet_b3", 1.4, 40, 1536),   # width 1.2: 32·1.2 = 38.4 → 40; 4 · (320·1.2 = 384)
    ("efficientnet_b7", 3.1, 64, 2560),   # width 2.0: 64; 4 · 640
])
def test_compound_scaling(name: str, depth: float, stem: int, head: int) -> None:
    """Repeats ⌈d·L̂ᵢ⌉ (torchvision's math.ceil), widths rounded to multiples of 8 (its _make_divisible)."""
    a = net(name)
    assert [_blocks(a, i) for i in range(1, 8)] == [math.ceil(n * depth) for n in (1, 2, 2, 3, 3, 4, 1)]
    assert out_shape(a, "features.0")[0] == stem
    assert out_shape(a, "features.8")[0] == head


def test_stochastic_depth_grows_linearly_over_the_blocks() -> None:
    """torchvision: block b of B (counted over the whole network from 0) drops with p = 0.2 · b / B; only
    blocks with a residual path have one."""
    a = net("efficientnet_b0")
    drops = {r.name: r.rec.config.p for r in a.results.values() if r.rec.op == "stochastic_depth"}
    assert drops["features.2.1.stochastic_depth"] == 0.2 * 2 / 16  # the third block of 16
    assert drops["features.6.3.stochastic_depth"] == 0.2 * 14 / 16  # the fifteenth
    assert len(drops) == 16 - 7  # each stage's first block changes width or stride: no residual


def test_efficientnet_batch_norm_follows_torchvision() -> None:
    """B0–B4: nn.BatchNorm2d's defaults; B5–B7: eps 1e-3, momentum 0.01."""
    for name, eps, momentum in (("efficientnet_b0", 1e-5, 0.1), ("efficientnet_b5", 1e-3, 0.01)):
        config = net(name).results["features.0.1"].rec.config
        assert (config.eps, config.momentum) == (eps, momentum)


# ---- MnasNet: torchvision's _round_to_multiple_of, stem included ----------------------------------------

@pytest.mark.parametrize(("name", "widths"), [
    ("mnasnet0_5", [16, 8, 16, 24, 40, 48, 96, 160]),     # 24·0.5 = 12 → 16 (the nearest multiple of 8, ties up)
    ("mnasnet1_0", [32, 16, 24, 40, 80, 96, 192, 320]),   # Figure 7's widths
    ("mnasnet1_3", [40, 24, 32, 56, 104, 128, 248, 416]),  # 16·1.3 = 20.8 → 24; 192·1.3 = 249.6 → 248
])
def test_mnasnet_widths(name: str, widths: list[int]) -> None:
    a = net(name)
    got = [out_shape(a, "layers.0")[0], out_shape(a, "layers.7")[0]]
    got += [out_shape(a, f"layers.{i}")[0] for i in range(8, 14)]
    assert got == widths
    assert a.results["layers.1"].rec.config.momentum == 1 - 0.9997  # torchvision's _BN_MOMENTUM
