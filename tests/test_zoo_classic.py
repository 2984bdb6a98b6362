"""Golden figures of the classic torchvision families (issue 11): ShuffleNetV2, SqueezeNet, DenseNet,
ResNeXt and Wide ResNet.

The torchvision and fvcore numbers were measured with the reference environment (torchvision 0.29.1 on
torch 2.14.1, fvcore 0.1.5), never taken from archcalc's output: ``torchvision.models.NAME(weights=None)``,
the sum of its parameters' numels; ``fvcore.nn.FlopCountAnalysis(model, torch.randn(1, 3, 224, 224))`` in
eval mode, ``by_operator()``'s ``conv`` plus ``linear``. The papers' figures are cited where they are printed.
"""

from __future__ import annotations

from functools import cache

import pytest

from archcalc.analysis import Analysis, analyze
from archcalc.analysis.published import metric_value
from archcalc.spec import load, zoo


@cache
def net(name: str) -> Analysis:
    return analyze(load(name))


def within(computed: float, printed: float, last_digit: float) -> bool:
    """The printed figure is the computed one, rounded at its last printed digit."""
    return abs(computed - printed) <= last_digit / 2 * (1 + 1e-9)


def framework_macs(a: Analysis) -> int:
    """What fvcore counts for the conv and linear modules: each layer's framework multiply-adds."""
    return sum(r.cost.framework_macs for r in a.results.values())


#: name → (torchvision parameters, fvcore conv + linear multiply-adds at 1×3×224×224)
REFERENCE = {
    "shufflenet_v2_x0_5": (1_366_792, 39_452_448 + 1_024_000),
    "shufflenet_v2_x1_0": (2_278_604, 143_883_992 + 1_024_000),
    "shufflenet_v2_x1_5": (3_503_624, 294_735_392 + 1_024_000),
    "shufflenet_v2_x2_0": (7_393_996, 581_205_464 + 2_048_000),
    "squeezenet1_0": (1_248_424, 818_924_576),  # the classifier is a 1×1 convolution: no linear
    "squeezenet1_1": (1_235_496, 349_151_936),
    "densenet121": (7_978_856, 2_833_137_664 + 1_024_000),
    "densenet161": (28_681_000, 7_725_699_072 + 2_208_000),
    "densenet169": (14_149_480, 3_358_179_328 + 1_664_000),
    "densenet201": (20_013_928, 4_289_445_888 + 1_920_000),
    "resnext50_32x4d": (25_028_904, 4_228_431_872 + 2_048_000),
    "resnext101_32x8d": (88_791_336, 16_411_967_488 + 2_048_000),
    "wide_resnet50_2": (68_883_240, 11_395_973_120 + 2_048_000),
    "wide_resnet101_2": (126_886_696, 22_751_002_624 + 2_048_000),
}


def test_every_variant_is_in_the_zoo_under_torchvisions_name() -> None:
    assert set(REFERENCE) <= set(zoo.names())
    # a family's file is named by a prefix of its variants (that is how the zoo finds them)
    for name in REFERENCE:
        assert name.startswith(zoo.path(name).stem), name


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_parameters_and_multiply_adds_equal_torchvision_and_fvcore(name: str) -> None:
    params, macs = REFERENCE[name]
    a = net(name)
    assert a.totals.params == params
    assert framework_macs(a) == macs
    assert a.totals.macs == macs  # no LRN: archcalc's MACs are the conv and fc multiply-adds
    assert a.results[a.graph.outputs[0]].shape == (1000,)  # torchvision's output: (1, 1000)


# ---- the papers' headline figures -----------------------------------------------------------------

def test_squeezenet_table1_parameters_per_module() -> None:
    # Iandola et al. 2016, Table 1, "# parameter before pruning": a Fire module is s·(cin+1) + e·(s+1)
    # + e·(9s+1) (every convolution has a bias); the total, 1,248,424, is printed in the table's last row
    def fire(cin: int, s: int, e: int) -> int:
        return s * (cin + 1) + e * (s + 1) + e * (9 * s + 1)

    a = net("squeezenet1_0")
    rows = {"features.0": 96 * (7 * 7 * 3 + 1),              # conv1: 14,208
            "features.3": fire(96, 16, 64), "features.4": fire(128, 16, 64), "features.5": fire(128, 32, 128),
            "features.7": fire(256, 32, 128), "features.8": fire(256, 48, 192), "features.9": fire(384, 48, 192),
            "features.10": fire(384, 64, 256), "features.12": fire(512, 64, 256),
            "classifier.1": 1000 * (512 + 1)}                # conv10: 513,000
    for group, params in rows.items():
        assert sum(r.params.total for r in a.under(group)) == params, group
    assert sum(rows.values()) == a.totals.params == 1_248_424


def test_squeezenet_table1_output_sizes_at_227() -> None:
    # Iandola et al. 2016, Table 1, output size (the Caffe model reads 227×227 crops)
    a = analyze(load("squeezenet1_0", input_shape=(3, 227, 227)))
    printed = {"features.0": (96, 111, 111), "features.2": (96, 55, 55), "features.3": (128, 55, 55),
               "features.5": (256, 55, 55), "features.6": (256, 27, 27), "features.10": (512, 27, 27),
               "features.11": (512, 13, 13), "features.12": (512, 13, 13), "classifier.1": (1000, 13, 13),
               "classifier.3": (1000, 1, 1)}
    for layer, shape in printed.items():
        name = layer if layer in a.results else f"{layer}.expand"  # a Fire module's output is its concat
        assert a.results[name].shape == shape, layer


@pytest.mark.parametrize(("name", "weights", "mflops", "authors"), [
    # Ma et al. 2018, Table 5: "# of Weights" 1.4M, 2.3M, 3.5M, 7.4M; FLOPs 41M, 146M, 299M, 591M. authors: fvcore
    # (conv + linear) on torchvision's model with the authors' first unit of stage 2 (megvii-model/ShuffleNet-Series:
    # a 24→24 projection branch, the main branch to c2 − 24 maps), torchvision's branch1.2 and branch2.5 so replaced
    ("shufflenet_v2_x0_5", 1.4e6, 41, 40_476_448), ("shufflenet_v2_x1_0", 2.3e6, 146, 145_814_296),
    ("shufflenet_v2_x1_5", 3.5e6, 299, 298_970_656), ("shufflenet_v2_x2_0", 7.4e6, 591, 590_783_000),
])
def test_shufflenet_v2_table5(name: str, weights: float, mflops: int, authors: int) -> None:
    a = net(name)
    assert within(a.totals.params, weights, 0.1e6)
    # torchvision's first unit of stage 2 gives both branches c2/2 maps; the authors' gives the projection the 24
    # input maps and the main branch the other c2 − 24: at 28×28, 24·(24 − c2/2) + (c2/2)·(c2/2 − 24) more
    # multiply-adds (none at 0.5×, where c2/2 = 24)
    c2 = a.results["stage2.0.cat"].shape[0]
    half = c2 // 2
    assert a.totals.macs + 28 * 28 * (24 * (24 - half) + half * (c2 - 24 - half)) == authors
    # the printed FLOPs: the authors' count with the global pool's additions (c5·7·7), which 0.5× needs to round
    # to 41M (40,476,448 alone is 40M); the others round as printed either way
    c5 = a.results["conv5.2"].shape[0]
    assert within(authors + c5 * 7 * 7, mflops * 1e6, 1e6)


@pytest.mark.parametrize(("name", "maps"), [
    # Ma et al. 2018, Table 5, output channels of Stage2, Stage3, Stage4, Conv5
    ("shufflenet_v2_x0_5", (48, 96, 192, 1024)), ("shufflenet_v2_x1_0", (116, 232, 464, 1024)),
    ("shufflenet_v2_x1_5", (176, 352, 704, 1024)), ("shufflenet_v2_x2_0", (244, 488, 976, 2048)),
])
def test_shufflenet_v2_table5_channels_and_sizes(name: str, maps: tuple[int, ...]) -> None:
    a = net(name)
    # output sizes as printed: Stage2 28×28, Stage3 14×14, Stage4 7×7, Conv5 7×7
    shapes = [a.results[g].shape for g in ("stage2.3.shuffle", "stage3.7.shuffle", "stage4.3.shuffle", "conv5.2")]
    assert shapes == [(maps[0], 28, 28), (maps[1], 14, 14), (maps[2], 7, 7), (maps[3], 7, 7)]


@pytest.mark.parametrize(("name", "features"), [
    # Huang et al. 2017, Table 1 (k = 32; DenseNet-161: k = 48, 96 initial maps): the classifier reads
    # 2k + Σ blocks' k·n, halved at each transition; torchvision's classifier has this many inputs
    ("densenet121", ((((64 + 6 * 32) // 2 + 12 * 32) // 2 + 24 * 32) // 2 + 16 * 32)),   # 1024
    ("densenet161", ((((96 + 6 * 48) // 2 + 12 * 48) // 2 + 36 * 48) // 2 + 24 * 48)),   # 2208
    ("densenet169", ((((64 + 6 * 32) // 2 + 12 * 32) // 2 + 32 * 32) // 2 + 32 * 32)),   # 1664
    ("densenet201", ((((64 + 6 * 32) // 2 + 12 * 32) // 2 + 48 * 32) // 2 + 32 * 32)),   # 1920
])
def test_densenet_table1_feature_maps(name: str, features: int) -> None:
    a = net(name)
    assert a.results["features.norm5"].shape == (features, 7, 7)
    assert a.results["classifier"].params.weights == features * 1000  # fvcore's linear count ÷ 1000 classes


@pytest.mark.parametrize("name", ["densenet121", "densenet161", "densenet169", "densenet201",
                                  "resnext50_32x4d", "resnext101_32x8d", "wide_resnet50_2", "wide_resnet101_2"])
def test_depth_is_the_name(name: str) -> None:
    # DenseNet-121 … (Huang et al. 2017, Table 1), ResNeXt-50/101 (Xie et al. 2017, Table 1), WRN-50-2:
    # the number counts the weight layers (convolutions and the classifier) on the longest path
    depth = int(name.removeprefix("densenet").removeprefix("resnext").removeprefix("wide_resnet").split("_")[0])
    assert metric_value(net(name), "depth") == depth


def test_densenet_201_has_20_million_parameters() -> None:
    # Huang et al. 2017, Section 4.4: "a DenseNet-201 with 20M parameters"
    assert within(net("densenet201").totals.params, 20e6, 1e6)


def test_resnext50_table1() -> None:
    # Xie et al. 2017, Table 1: ResNeXt-50 (32×4d), # params. 25.0×10⁶, FLOPs 4.2×10⁹ (multiply-adds)
    a = net("resnext50_32x4d")
    assert within(a.totals.params, 25.0e6, 0.1e6)
    assert within(a.totals.macs, 4.2e9, 0.1e9)
    # conv2 of the first block: 32 groups of 4 channels, 128 wide (Table 1: "3×3, 128, C=32")
    conv2 = a.results["layer1.0.conv2"]
    assert conv2.shape == (128, 56, 56)
    assert conv2.params.weights == 32 * (4 * 4 * 3 * 3)


def test_resnext101_32x8d_weakly_supervised_table() -> None:
    # Mahajan et al. 2018 (facebookresearch/WSL-Images README): ResNeXt-101 32×8d, 88M parameters, 16B FLOPs;
    # 88,791,336 is 88.8M: the printed 88M is truncated
    a = net("resnext101_32x8d")
    assert 88e6 <= a.totals.params < 89e6
    assert within(a.totals.macs, 16e9, 1e9)


def test_wide_resnet50_2_parameters() -> None:
    # Zagoruyko & Komodakis 2016, ImageNet results (and the authors' pretrained/README.md): WRN-50-2-bottleneck,
    # 68.9M parameters; its inner 3×3 is twice ResNet-50's width (the README's printout: "128 -> 128, 3x3")
    a = net("wide_resnet50_2")
    assert within(a.totals.params, 68.9e6, 0.1e6)
    assert a.results["layer1.0.conv2"].shape == (128, 56, 56)
    assert a.results["layer4.0.conv2"].shape == (1024, 7, 7)
