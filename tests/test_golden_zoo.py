"""Golden figures of the zoo, from the publications (issue 3).

Every expected value is written as the publication prints it, with its source; never copied from
archcalc's output. A rounded figure is checked exactly against the rule it follows: the exact count
rounded half-up at the printed digit (``rounds_to``), or cut there (``truncates_to``), because the papers
do both (see the ResNet table section of docs/reproductions.md); each test says which. torchvision
parameter counts are exact. Where a printed figure is not reproducible, the test asserts the arithmetic
that shows why.
"""

from __future__ import annotations

import math
from functools import cache

import pytest

from archcalc.analysis import Analysis, analyze
from archcalc.report import build_report
from archcalc.spec import load

K = 1024  # GoogLeNet's Table 1 params column counts in units of 1,024 weights (conv2: 114,688 = 112K)


@cache
def net(name: str, **overrides: object) -> Analysis:
    return analyze(load(name, overrides or None))


def rounds_to(computed: float, printed: float, last_digit: float) -> bool:
    """The exact count, rounded half-up at the printed figure's last digit, is the printed figure."""
    return math.floor(computed / last_digit + 0.5 + 1e-9) == round(printed / last_digit)


def truncates_to(computed: float, printed: float, last_digit: float) -> bool:
    """The exact count, cut at the printed figure's last digit, is the printed figure."""
    return math.floor(computed / last_digit + 1e-9) == round(printed / last_digit)


def group(a: Analysis, prefix: str) -> list:
    return [r for n, r in a.results.items() if n == prefix or n.startswith(prefix + ".")]


def params_of(a: Analysis, prefix: str) -> int:
    return sum(r.params.total for r in group(a, prefix))


def weights_of(a: Analysis, prefix: str) -> int:
    return sum(r.params.weights for r in group(a, prefix))


def macs_of(a: Analysis, prefix: str) -> int:
    return sum(r.cost.macs for r in group(a, prefix))


def conv_fc_macs(a: Analysis) -> int:
    return sum(r.cost.macs for r in a.results.values() if r.node.op in ("conv", "fc"))


# ---- LeNet-5, LeCun et al. 1998, Section II.B and Table I -----------------------------------------

@pytest.mark.parametrize(("layer", "params"), [
    ("C1", 156),      # "C1 contains 156 trainable parameters"
    ("S2", 12),       # "Layer S2 has 12 trainable parameters"
    ("C3", 1_516),    # "Layer C3 has 1,516 trainable parameters" (Table I connections)
    ("S4", 32),       # "Layer S4 has 32 trainable parameters"
    ("C5", 48_120),   # "Layer C5 ... has 48,120 trainable connections" (1×1 output: one per parameter)
    ("F6", 10_164),   # "F6 ... has 10,164 trainable parameters"
])
def test_lenet5_1998_layer_params(layer: str, params: int) -> None:
    assert net("lenet5_1998").results[layer].params.total == params


def test_lenet5_1998_total_is_60000_trainable() -> None:
    # Section II.B: "... but only 60,000 trainable parameters"; the RBF prototypes are fixed by hand.
    t = net("lenet5_1998").totals
    assert t.trainable_params == 60_000
    assert t.params - t.trainable_params == 84 * 10


@pytest.mark.parametrize(("layer", "connections"), [
    ("C1", 122_304), ("S2", 5_880), ("C3", 151_600), ("S4", 2_000),  # Section II.B
])
def test_lenet5_1998_connections(layer: str, connections: int) -> None:
    r = net("lenet5_1998").results[layer]
    positions = r.shape[0] * r.shape[1] * r.shape[2]
    if r.node.op == "conv":  # each output: its weights' inputs plus the bias
        assert r.cost.macs + positions == connections
    else:  # subsampling: 4 inputs plus the bias per output
        assert 5 * positions == connections


def test_lenet5_1998_total_connections() -> None:
    # 340,908 connections: Section II.B's C1–F6 counts plus the RBF output layer's 84 inputs × 10 units
    from archcalc.analysis.published import metric_value

    assert metric_value(net("lenet5_1998"), "connections") == 340_908
    assert 122_304 + 5_880 + 151_600 + 2_000 + 48_120 + 10_164 + 84 * 10 == 340_908


# ---- AlexNet, Krizhevsky et al. 2012 ---------------------------------------------------------------

def test_alexnet_60_million_parameters() -> None:
    # Abstract / Section 4: "60 million parameters" (the two-GPU network): 60,965,224, truncated
    assert truncates_to(net("alexnet").totals.params, 60e6, 1e6)
    assert not rounds_to(net("alexnet").totals.params, 60e6, 1e6)  # rounding gives 61M


def test_alexnet_650000_neurons() -> None:
    # Abstract: "650,000 neurons": the outputs of the five conv and three fc layers (659,272, truncated)
    a = net("alexnet")
    neurons = sum(r.shape[0] * (r.shape[1] * r.shape[2] if len(r.shape) == 3 else 1)
                  for r in a.results.values() if r.node.op in ("conv", "fc"))
    assert neurons == 659_272
    assert truncates_to(neurons, 650_000, 10_000) and not rounds_to(neurons, 650_000, 10_000)


@pytest.mark.parametrize(("layer", "neurons"), [
    ("conv2", 186_624), ("conv3", 64_896), ("conv4", 64_896), ("conv5", 43_264), ("fc6", 4096), ("fc7", 4096),
    ("fc8", 1000),
])  # Figure 2 caption: "253,440–186,624–64,896–64,896–43,264–4096–4096–1000"
def test_alexnet_figure2_neurons(layer: str, neurons: int) -> None:
    shape = net("alexnet").results[layer].shape
    n = 1
    for d in shape:
        n *= d
    assert n == neurons


def test_alexnet_figure2_first_layer_is_not_reproducible() -> None:
    # The caption's 253,440 for conv1 is not 96 maps of 55×55 (290,400); 253,440 / 96 = 2,640 is no square.
    assert net("alexnet").results["conv1"].shape == (96, 55, 55)
    assert 96 * 55 * 55 != 253_440 and 253_440 / 96 == 2_640


def test_alexnet_torchvision_exact() -> None:
    assert net("alexnet_tv").totals.params == 61_100_840  # torchvision AlexNet_Weights meta num_params


# ---- VGG, Simonyan & Zisserman 2015, Table 2 (parameters, millions) ---------------------------------

@pytest.mark.parametrize(("name", "millions"), [
    ("vgg11", 133), ("vgg11_lrn", 133), ("vgg13", 133), ("vgg16c", 134), ("vgg16", 138), ("vgg19", 144),
])
def test_vgg_table2_parameters(name: str, millions: int) -> None:
    assert rounds_to(net(name).totals.params, millions * 1e6, 1e6)


@pytest.mark.parametrize(("name", "params"), [
    # torchvision VGG*_Weights.IMAGENET1K_V1 meta num_params (the paper's networks at 224: same layers)
    ("vgg11", 132_863_336), ("vgg13", 133_047_848), ("vgg16", 138_357_544), ("vgg19", 143_667_240),
    ("vgg11_bn", 132_868_840), ("vgg13_bn", 133_053_736), ("vgg16_bn", 138_365_992), ("vgg19_bn", 143_678_248),
])
def test_vgg_torchvision_exact(name: str, params: int) -> None:
    assert net(name).totals.params == params


def test_vgg19_19_6_billion_multiply_adds() -> None:
    # He et al. 2016, Section 3.3 and Figure 3: "VGG-19 (19.6 billion FLOPs)"; seeds 003: "VGG-19 has 19.6B"
    assert rounds_to(conv_fc_macs(net("vgg19")), 19.6e9, 0.1e9)


# ---- VGG16, the CS231n table (seeds 002) -------------------------------------------------------------

def test_vgg16_cs231n_memory_column_sums_to_15_2_million() -> None:
    # The column, as printed: INPUT 224*224*3, then 224*224*64 (×2), 112*112*64, 112*112*128 (×2), ...
    column = (224 * 224 * 3 + 2 * 224 * 224 * 64 + 112 * 112 * 64 + 2 * 112 * 112 * 128 + 56 * 56 * 128
              + 3 * 56 * 56 * 256 + 28 * 28 * 256 + 3 * 28 * 28 * 512 + 14 * 14 * 512 + 3 * 14 * 14 * 512
              + 7 * 7 * 512 + 4096 + 4096 + 1000)
    assert column == 15_237_608
    assert net("vgg16").totals.activation_elems == column
    # "TOTAL memory: 24M * 4 bytes ~= 96MB / image": not what the column sums to
    assert not rounds_to(column, 24e6, 1e6) and not truncates_to(column, 24e6, 1e6)
    assert rounds_to(column * 4, 61e6, 0.1e6)  # 60,950,432 bytes


def test_vgg16_cs231n_params() -> None:
    # "TOTAL params: 138M parameters"; "FC: [1x1x4096] params: 7*7*512*4096 = 102,760,448"
    a = net("vgg16")
    assert rounds_to(a.totals.params, 138e6, 1e6)
    assert a.results["fc6"].params.weights == 102_760_448


# ---- GoogLeNet, Szegedy et al. 2015, Table 1 ---------------------------------------------------------

TABLE1 = [  # row, output size H×W×C as printed, depth as printed
    ("conv1", (112, 112, 64), 1), ("pool1", (56, 56, 64), 0), ("conv2", (56, 56, 192), 2), ("pool2", (28, 28, 192), 0),
    ("inception_3a", (28, 28, 256), 2), ("inception_3b", (28, 28, 480), 2), ("pool3", (14, 14, 480), 0),
    ("inception_4a", (14, 14, 512), 2), ("inception_4b", (14, 14, 512), 2), ("inception_4c", (14, 14, 512), 2),
    ("inception_4d", (14, 14, 528), 2), ("inception_4e", (14, 14, 832), 2), ("pool4", (7, 7, 832), 0),
    ("inception_5a", (7, 7, 832), 2), ("inception_5b", (7, 7, 1024), 2), ("pool5", (1, 1, 1024), 0),
    ("linear", (1, 1, 1000), 1),
]


@pytest.mark.parametrize(("row", "hwc", "depth"), TABLE1, ids=[r[0] for r in TABLE1])
def test_googlenet_table1_output_and_depth(row: str, hwc: tuple[int, int, int], depth: int) -> None:
    a = net("googlenet")
    rows = group(a, row)
    last = next((r for r in rows if r.node.name == row), rows[-1])
    h, w, c = hwc
    assert last.shape in ((c, h, w), (c,) if (h, w) == (1, 1) else ())
    # depth: weight layers on the longest path through the row
    names = {r.node.name for r in rows}
    longest: dict[str, int] = {}
    for r in rows:
        here = 1 if r.node.op in ("conv", "fc") else 0
        longest[r.node.name] = here + max((longest[i] for i in r.node.inputs if i in names), default=0)
    assert max(longest.values()) == depth


@pytest.mark.parametrize(("row", "params_k", "ops_m"), [
    # self-consistent rows: params in K = 1,024 weights, ops in millions of multiply-adds
    ("conv2", 112, 360), ("linear", 1000, 1),
])
def test_googlenet_table1_consistent_params(row: str, params_k: float, ops_m: float) -> None:
    a = net("googlenet")
    assert rounds_to(weights_of(a, row) / K, params_k, 1)
    assert rounds_to(macs_of(a, row) / 1e6, ops_m, 1)


def test_googlenet_table1_3a_params_are_a_tie() -> None:
    # 163,328 weights = 159.5K exactly: half-up rounding gives 160K; the printed 159K is the truncation
    a = net("googlenet")
    assert weights_of(a, "inception_3a") == 163_328 == 159.5 * K
    assert not rounds_to(weights_of(a, "inception_3a") / K, 159, 1)
    assert truncates_to(weights_of(a, "inception_3a") / K, 159, 1)
    assert rounds_to(macs_of(a, "inception_3a") / 1e6, 128, 1)


@pytest.mark.parametrize(("row", "ops_m"), [
    ("inception_3b", 304), ("inception_4b", 88), ("inception_4c", 100),
    ("inception_4d", 119), ("inception_4e", 170), ("inception_5b", 71),
])
def test_googlenet_table1_ops_column(row: str, ops_m: float) -> None:
    # the column rounds: several of these cells (4b 87.9, 4c 99.85, 5b 70.7) would fail under truncation
    assert rounds_to(macs_of(net("googlenet"), row) / 1e6, ops_m, 1)


def test_googlenet_table1_4a_ops_are_a_misprint() -> None:
    # printed 73M; the filters give 73.6M, which rounds to 74M. 73M is the printed 364K × 14·14 positions.
    ops = macs_of(net("googlenet"), "inception_4a")
    assert ops == 73_608_192
    assert not rounds_to(ops / 1e6, 73, 1)
    assert rounds_to(364 * K * 14 * 14 / 1e6, 73, 1)


def test_googlenet_table1_first_convolution_is_misprinted() -> None:
    # Printed: params 2.7K, ops 34M. The row's own filters: 7×7×3×64 = 9,408 weights, ×112×112 positions.
    a = net("googlenet")
    assert weights_of(a, "conv1") == 7 * 7 * 3 * 64 == 9_408
    assert macs_of(a, "conv1") == 9_408 * 112 * 112
    w = weights_of(a, "conv1") / K
    assert not rounds_to(w, 2.7, 0.1) and not truncates_to(w, 2.7, 0.1)
    # the printed ops are the printed params times the positions: 2.7K × 12,544 = 33.9M with K = 1,000
    # (with the column's K = 1,024 it is 34.7M, which rounds to 35M)
    assert rounds_to(2.7 * 1000 * 112 * 112 / 1e6, 34, 1)
    assert rounds_to(2.7 * K * 112 * 112 / 1e6, 35, 1)


@pytest.mark.parametrize(("row", "printed_k", "filters"), [
    # rows whose printed params the filter counts do not give (weights from Table 1's own columns)
    ("inception_3b", 380, 256 * 128 + 256 * 128 + 128 * 192 * 9 + 256 * 32 + 32 * 96 * 25 + 256 * 64),
    ("inception_4a", 364, 480 * 192 + 480 * 96 + 96 * 208 * 9 + 480 * 16 + 16 * 48 * 25 + 480 * 64),
    ("inception_4c", 463, 512 * 128 + 512 * 128 + 128 * 256 * 9 + 512 * 24 + 24 * 64 * 25 + 512 * 64),
    ("inception_4d", 580, 512 * 112 + 512 * 144 + 144 * 288 * 9 + 512 * 32 + 32 * 64 * 25 + 512 * 64),
    ("inception_5a", 1072, 832 * 256 + 832 * 160 + 160 * 320 * 9 + 832 * 32 + 32 * 128 * 25 + 832 * 128),
    ("inception_5b", 1388, 832 * 384 + 832 * 192 + 192 * 384 * 9 + 832 * 48 + 48 * 128 * 25 + 832 * 128),
])
def test_googlenet_table1_inconsistent_params(row: str, printed_k: int, filters: int) -> None:
    a = net("googlenet")
    assert weights_of(a, row) == filters
    assert not rounds_to(filters / K, printed_k, 1) and not truncates_to(filters / K, printed_k, 1)


def test_googlenet_budget_1_5_billion() -> None:
    # Section 1: "a computational budget of 1.5 billion multiply-adds at inference time"
    macs = conv_fc_macs(net("googlenet"))  # 1,582,671,872: a budget, met only if truncated
    assert truncates_to(macs, 1.5e9, 0.1e9) and not rounds_to(macs, 1.5e9, 0.1e9)


def test_googlenet_aux_classifiers_are_extra_outputs() -> None:
    # Section 5: two auxiliary classifiers, on 4a (4×4×512 after 5×5/3 pooling) and 4d (4×4×528)
    a = net("googlenet", aux=True)
    assert len(a.graph.outputs) == 3
    assert a.results["aux1.pool"].shape == (512, 4, 4)
    assert a.results["aux2.pool"].shape == (528, 4, 4)


def test_googlenet_torchvision_exact() -> None:
    assert net("googlenet_tv").totals.params == 6_624_904  # GoogLeNet_Weights meta num_params


def test_googlenet_torchvision_with_aux_heads() -> None:
    a = net("googlenet_tv", aux=True)
    assert a.totals.params == 13_004_888  # googlenet(aux_logits=True)
    # torchvision's uneven 14→4 adaptive pooling has no single receptive field: reported, not fatal
    assert a.results["aux1.pool"].rf is None and "uneven" in (a.results["aux1.pool"].rf_note or "")


# ---- Inception-v3, torchvision ----------------------------------------------------------------------

def test_inception_v3_torchvision_exact() -> None:
    assert net("inception_v3").totals.params == 23_834_568      # inception_v3(aux_logits=False)
    # Inception_V3_Weights.IMAGENET1K_V1 meta num_params: the weights include the auxiliary head
    assert net("inception_v3", aux=True).totals.params == 27_161_264
    assert net("inception_v3").graph.input_shape == (3, 299, 299)


# ---- ResNet, He et al. 2016 ------------------------------------------------------------------------

@pytest.mark.parametrize(("depth", "billions", "rule"), [
    (18, 1.8, "round"), (34, 3.6, "truncate"), (50, 3.8, "truncate"), (101, 7.6, "round"), (152, 11.3, "round"),
])
def test_resnet_table1_flops(depth: int, billions: float, rule: str) -> None:
    # Table 1, "FLOPs" row: multiply-adds of conv and fc layers; no single rule gives all five
    macs = conv_fc_macs(net(f"resnet{depth}"))
    if rule == "round":
        assert rounds_to(macs, billions * 1e9, 0.1e9)
    else:  # 3.66 and 3.86: only truncation gives the printed figure
        assert truncates_to(macs, billions * 1e9, 0.1e9) and not rounds_to(macs, billions * 1e9, 0.1e9)


def test_plain34_and_resnet34_3_6_billion() -> None:
    # Section 3.3: "Our 34-layer baseline has 3.6 billion FLOPs (multiply-adds), which is only 18% of
    # VGG-19 (19.6 billion FLOPs)"; seeds 003: "34 layer ResNet has 3.6B FLOPS"
    plain = conv_fc_macs(net("plain34"))
    assert rounds_to(plain, 3.6e9, 0.1e9)
    assert truncates_to(conv_fc_macs(net("resnet34")), 3.6e9, 0.1e9)  # 3.66: rounding gives 3.7
    share = 100 * plain / conv_fc_macs(net("vgg19"))  # 18.6%: "only 18%" is truncated
    assert truncates_to(share, 18, 1) and not rounds_to(share, 18, 1)


@pytest.mark.parametrize(("depth", "params"), [
    # torchvision ResNet*_Weights.IMAGENET1K_V1 meta num_params
    (18, 11_689_512), (34, 21_797_672), (50, 25_557_032), (101, 44_549_160), (152, 60_192_808),
])
def test_resnet_torchvision_exact(depth: int, params: int) -> None:
    assert net(f"resnet{depth}_tv").totals.params == params


def test_resnet50_torchvision_moves_the_stride() -> None:
    # v1.5: the stride of a downsampling bottleneck is on the 3×3; the paper puts it on the first 1×1
    paper, tv = net("resnet50").results, net("resnet50_tv").results
    assert paper["layer2.block1.residual.conv1"].shape == (128, 28, 28)
    assert tv["layer2.block1.residual.conv1"].shape == (128, 56, 56)


@pytest.mark.parametrize(("depth", "millions", "last_digit"), [
    # Table 6, "# params": 0.27M, 0.46M, 0.66M, 0.85M, 1.7M, 19.4M (option A: identity shortcuts)
    (20, 0.27, 0.01), (32, 0.46, 0.01), (44, 0.66, 0.01), (56, 0.85, 0.01), (110, 1.7, 0.1), (1202, 19.4, 0.1),
])
def test_cifar_resnet_params(depth: int, millions: float, last_digit: float) -> None:
    a = net(f"resnet{depth}")  # the paper's option A shortcuts: parameter-free zero padding
    assert rounds_to(a.totals.params, millions * 1e6, last_digit * 1e6)
    assert sum(r.params.total for n, r in a.results.items() if ".shortcut." in n) == 0
    # 6n + 2 weight layers, every one on the longest path
    assert sum(1 for r in a.results.values() if r.node.op in ("conv", "fc")) == depth
    assert a.totals.params > 0 and build_report(a).totals["depth"] == depth
    # option B (projections) adds two 1×1 convs + BN: 16·32 + 2·32 + 32·64 + 2·64 = 2,752 parameters
    assert net(f"resnet{depth}", shortcut="B").totals.params - a.totals.params == 2_752


# ---- All-CNN-C, Springenberg et al. 2015, Table 3 -----------------------------------------------------

def test_allcnn_c_params() -> None:
    assert rounds_to(net("allcnn_c").totals.params, 1.4e6, 0.1e6)  # "≈ 1.4 M"
    assert net("allcnn_c").results["conv7"].shape == (192, 6, 6)  # global averaging over 6×6


# ---- ZFNet, Zeiler & Fergus 2014, Figure 3 -----------------------------------------------------------

@pytest.mark.parametrize(("layer", "chw"), [
    ("conv1", (96, 110, 110)), ("pool1", (96, 55, 55)), ("conv2", (256, 26, 26)), ("pool2", (256, 13, 13)),
    ("conv5", (256, 13, 13)), ("pool5", (256, 6, 6)),
])
def test_zfnet_figure3_sizes(layer: str, chw: tuple[int, int, int]) -> None:
    assert net("zfnet").results[layer].shape == chw


# ---- torchvision documentation, GFLOPS column (multiply-accumulates) ----------------------------------

@pytest.mark.parametrize(("name", "gflops"), [
    ("alexnet_tv", 0.71), ("googlenet_tv", 1.50), ("inception_v3", 5.71), ("resnet18_tv", 1.81),
    ("resnet34_tv", 3.66), ("resnet50_tv", 4.09), ("resnet101_tv", 7.80), ("resnet152_tv", 11.51),
    ("vgg11_bn", 7.61), ("vgg13_bn", 11.31), ("vgg16_bn", 15.47), ("vgg19_bn", 19.63),
])
def test_torchvision_gflops(name: str, gflops: float) -> None:
    assert rounds_to(net(name).totals.macs / 1e9, gflops, 0.01)


# ---- the headline receptive field: the last feature map (google-research/receptive_field) ----------

@pytest.mark.parametrize(("name", "size", "layer"), [
    ("inception_v3", 1311, "Mixed_7c.concat"),   # Mixed_7c: 1311 (RECEPTIVE_FIELD_TABLE.md)
    ("resnet50_tv", 427, "layer4.block3.relu"),  # resnet_v1.5 50 block4: 427
    ("googlenet", 715, "inception_5b.concat"),   # inception_5b, before the 7×7 average pool
    ("resnet50", 483, "layer4.block3.relu"),     # resnet_v1_50 block4: 483
])
def test_summary_headline_field_is_the_last_feature_map(name: str, size: int, layer: str) -> None:
    rf = build_report(net(name)).totals["rf"]
    assert rf["size"] == [size, size] and rf["layer"] == layer
