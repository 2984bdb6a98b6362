"""Figures from the lecture notes (../shared/seeds), reproduced by the calculator.

Expected values are written as the seeds print them (with their arithmetic), never copied from
archcalc's output.
"""

from __future__ import annotations

import pytest

from archcalc.analysis import analyze
from archcalc.spec import load
from tests.conftest import analyse_text

# --- AlexNet, CS231n "Full (simplified) AlexNet architecture" (seeds 002), CaffeNet order -------------
ALEXNET_CS231N = [  # (row label, layer name, C, H, W)
    ("[227x227x3] INPUT", "input", 3, 227, 227),
    ("[55x55x96] CONV1: 96 11x11 filters at stride 4, pad 0", "conv1", 96, 55, 55),
    ("[27x27x96] MAX POOL1: 3x3 filters at stride 2", "pool1", 96, 27, 27),
    ("[27x27x96] NORM1", "norm1", 96, 27, 27),
    ("[27x27x256] CONV2: 256 5x5 filters at stride 1, pad 2", "conv2", 256, 27, 27),
    ("[13x13x256] MAX POOL2: 3x3 filters at stride 2", "pool2", 256, 13, 13),
    ("[13x13x256] NORM2", "norm2", 256, 13, 13),
    ("[13x13x384] CONV3: 384 3x3 filters at stride 1, pad 1", "conv3", 384, 13, 13),
    ("[13x13x384] CONV4: 384 3x3 filters at stride 1, pad 1", "conv4", 384, 13, 13),
    ("[13x13x256] CONV5: 256 3x3 filters at stride 1, pad 1", "conv5", 256, 13, 13),
    ("[6x6x256] MAX POOL3: 3x3 filters at stride 2", "pool5", 256, 6, 6),
]


@pytest.mark.parametrize(("label", "layer", "c", "h", "w"), ALEXNET_CS231N, ids=[r[1] for r in ALEXNET_CS231N])
def test_alexnet_cs231n_rows(label: str, layer: str, c: int, h: int, w: int) -> None:
    # The slides list NORM after POOL (CaffeNet order); the paper normalises first: see alexnet.yaml.
    a = analyze(load("alexnet", {"norm_before_pool": False, "groups": 1}))
    assert a.results[layer].shape == (c, h, w), label


@pytest.mark.parametrize(("layer", "units"), [("fc6", 4096), ("fc7", 4096), ("fc8", 1000)])
def test_alexnet_cs231n_fc_rows(layer: str, units: int) -> None:
    # "[4096] FC6: 4096 neurons", "[4096] FC7: 4096 neurons", "[1000] FC8: 1000 neurons (class scores)"
    assert analyze(load("alexnet")).results[layer].shape == (units,)


def test_alexnet_conv1_and_pool1() -> None:
    a = analyze(load("alexnet"))
    # seeds 002: "Output volume [55x55x96] Parameters: (11*11*3)*96 = 35K"; "(227-11)/4+1 = 55"
    assert a.results["conv1"].shape == (96, (227 - 11) // 4 + 1, (227 - 11) // 4 + 1)
    assert a.results["conv1"].params.weights == (11 * 11 * 3) * 96 == 34_848
    assert round(a.results["conv1"].params.weights, -3) == 35_000
    # "Second layer (POOL1): 3x3 filters applied at stride 2 ... (55-3)/2+1 = 27 ... Parameters: 0!"
    assert a.results["pool1"].shape == (96, (55 - 3) // 2 + 1, (55 - 3) // 2 + 1)
    assert a.results["pool1"].params.total == 0


# --- VGG16 per-layer table, CS231n (seeds 002) ---------------------------------------------------------
VGG16_TABLE = [  # (layer, [HxWxC] as printed, memory = H*W*C, params as printed (weights, no biases))
    ("input", (224, 224, 3), 224 * 224 * 3, 0),
    ("conv1_1", (224, 224, 64), 224 * 224 * 64, (3 * 3 * 3) * 64),          # 1,728
    ("conv1_2", (224, 224, 64), 224 * 224 * 64, (3 * 3 * 64) * 64),         # 36,864
    ("pool1", (112, 112, 64), 112 * 112 * 64, 0),
    ("conv2_1", (112, 112, 128), 112 * 112 * 128, (3 * 3 * 64) * 128),      # 73,728
    ("conv2_2", (112, 112, 128), 112 * 112 * 128, (3 * 3 * 128) * 128),     # 147,456
    ("pool2", (56, 56, 128), 56 * 56 * 128, 0),
    ("conv3_1", (56, 56, 256), 56 * 56 * 256, (3 * 3 * 128) * 256),         # 294,912
    ("conv3_2", (56, 56, 256), 56 * 56 * 256, (3 * 3 * 256) * 256),         # 589,824
    ("conv3_3", (56, 56, 256), 56 * 56 * 256, (3 * 3 * 256) * 256),
    ("pool3", (28, 28, 256), 28 * 28 * 256, 0),
    ("conv4_1", (28, 28, 512), 28 * 28 * 512, (3 * 3 * 256) * 512),         # 1,179,648
    ("conv4_2", (28, 28, 512), 28 * 28 * 512, (3 * 3 * 512) * 512),         # 2,359,296
    ("conv4_3", (28, 28, 512), 28 * 28 * 512, (3 * 3 * 512) * 512),
    ("pool4", (14, 14, 512), 14 * 14 * 512, 0),
    ("conv5_1", (14, 14, 512), 14 * 14 * 512, (3 * 3 * 512) * 512),
    ("conv5_2", (14, 14, 512), 14 * 14 * 512, (3 * 3 * 512) * 512),
    ("conv5_3", (14, 14, 512), 14 * 14 * 512, (3 * 3 * 512) * 512),
    ("pool5", (7, 7, 512), 7 * 7 * 512, 0),
    ("fc6", (1, 1, 4096), 4096, 7 * 7 * 512 * 4096),                        # 102,760,448
    ("fc7", (1, 1, 4096), 4096, 4096 * 4096),                               # 16,777,216
    ("fc8", (1, 1, 1000), 1000, 4096 * 1000),                               # 4,096,000
]


@pytest.mark.parametrize(("layer", "hwc", "memory", "weights"), VGG16_TABLE, ids=[r[0] for r in VGG16_TABLE])
def test_vgg16_table_row(layer: str, hwc: tuple[int, int, int], memory: int, weights: int) -> None:
    r = analyze(load("vgg16")).results[layer]
    h, w, c = hwc
    assert r.shape == ((c, h, w) if layer.startswith(("conv", "pool", "input")) else (c,))
    assert r.alloc_elems == memory
    assert r.params.weights == weights  # the slide counts weights only; biases are shown apart


def test_vgg16_totals() -> None:
    t = analyze(load("vgg16")).totals
    # "TOTAL params: 138M parameters"; the exact count with biases is 138,357,544 (weights + 13,416 biases).
    assert t.params == 138_357_544
    assert round(t.params / 1e6) == 138
    # "TOTAL memory: 24M * 4 bytes ~= 96MB / image": the slide's own column sums to 15,237,608 values.
    column = sum(m for _, _, m, _ in VGG16_TABLE)
    assert column == 15_237_608
    assert t.activation_elems == column
    assert t.activation_elems * 4 == 60_950_432  # 61.0 MB at fp32, not 96 MB (see docs/reproductions.md)


# --- Stacked 3x3 convolutions (seeds 000, 002, 003) ----------------------------------------------------
def test_three_stacked_3x3_have_7x7_field_and_27c2_weights() -> None:
    c = 64
    stacked = analyse_text(f"""
        input: {c}x56x56
        layers: [{{conv: {{out: {c}, k: 3, pad: 1, bias: false}}}}, {{conv: {{out: {c}, k: 3, pad: 1, bias: false}}}},
                 {{conv: {{out: {c}, k: 3, pad: 1, bias: false}}}}]
    """)
    single = analyse_text(f"""
        input: {c}x56x56
        layers: [{{conv: {{out: {c}, k: 7, pad: 3, bias: false}}}}]
    """)
    last = list(stacked.results.values())[-1]
    assert last.rf is not None and last.rf.size == (7, 7)  # "three stacked 3x3 have a 7x7 receptive field"
    assert stacked.totals.params == 27 * c * c            # "three 3x3 conv layers need only 27C^2 weights"
    assert single.totals.params == 49 * c * c             # "One 7x7 conv layer with C feature maps needs 49C^2"
    # "a 7x7 layer has 81% more parameters than three stacked 3x3 layers"
    assert round(100 * (49 / 27 - 1)) == 81


# --- Inception 5x5 path on 28x28x192 (seeds 003) --------------------------------------------------------
def test_inception_5x5_path_multiply_adds() -> None:
    direct = analyse_text("""
        input: 192x28x28
        layers: [{conv: {out: 32, k: 5, pad: 2}}]
    """)
    reduced = analyse_text("""
        input: 192x28x28
        layers: [{conv: {out: 16, k: 1}}, relu, {conv: {out: 32, k: 5, pad: 2}}]
    """)
    assert direct.totals.macs == 120_422_400     # 28*28*32 * 5*5*192
    assert reduced.totals.macs == 12_443_648     # 28*28*16*192 + 28*28*32 * 5*5*16
