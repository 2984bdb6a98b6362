"""Golden figures of the dense-prediction and ConvNeXt zoo (issue 11): ConvNeXt, U-Net, FCN and DeepLabV3.

ConvNeXt, FCN-ResNet50 and DeepLabV3-ResNet50 against the independent reference, measured with torchvision
0.29.1 and fvcore 0.1.5 (/work/venvs/tv; ``weights=None``, ``weights_backbone=None``, eval mode, batch 1):
parameters are the sum of the torchvision model's parameter numels, multiply-adds are fvcore's
``FlopCountAnalysis(model, x).by_operator()`` of ``conv`` plus ``linear`` at the spec's input size (fvcore
counts one multiply-add as one flop), and the output shape is the model's (``["out"]`` for the segmentation
models). archcalc's side is the sum of its per-layer ``cost.framework_macs`` (what a framework's counter
counts for conv, transposed conv and linear layers). U-Net has no torchvision reference: its figures are
the paper's (Ronneberger et al. 2015, Fig. 1) and the arithmetic on them, written out below.
"""

from __future__ import annotations

from functools import cache

import pytest

from archcalc.analysis import Analysis, analyze
from archcalc.spec import load


@cache
def net(name: str, size: int | None = None) -> Analysis:
    graph = load(name)
    if size is not None:
        graph = load(name, input_shape=(graph.input_shape[0], size, size))
    return analyze(graph)


def conv_linear_macs(a: Analysis) -> int:
    return sum(r.cost.framework_macs for r in a.results.values())


def output_shape(a: Analysis) -> tuple[int, ...]:
    return tuple(a.results[a.graph.outputs[0]].shape)


# name: (input side, params, fvcore conv + linear multiply-adds, output shape without the batch)
TORCHVISION: dict[str, tuple[int, int, int, tuple[int, ...]]] = {
    # torchvision 0.29.1 convnext_*(weights=None): sum of parameter numels; fvcore 0.1.5 by_operator() at
    # 224×224: conv (the stem, the downsampling and the 7×7 depthwise convolutions) + linear (the blocks'
    # pointwise layers and the classifier)
    "convnext_tiny": (224, 28_589_128, 292_965_120 + 4_162_566_144, (1000,)),
    "convnext_small": (224, 50_223_688, 359_347_968 + 8_324_364_288, (1000,)),
    "convnext_base": (224, 88_591_464, 556_200_960 + 14_798_528_512, (1000,)),
    "convnext_large": (224, 197_767_336, 1_065_512_448 + 33_295_921_152, (1000,)),
    # torchvision 0.29.1 fcn_resnet50 / deeplabv3_resnet50(weights=None, weights_backbone=None, aux_loss
    # off): sum of parameter numels; fvcore 0.1.5 by_operator() conv at 520×520 (no linear layers), out["out"]
    "fcn_resnet50": (520, 32_957_013, 142_725_772_800, (21, 520, 520)),
    "deeplabv3_resnet50": (520, 39_638_869, 168_731_205_888, (21, 520, 520)),
}


@pytest.mark.parametrize("name", sorted(TORCHVISION))
def test_params_macs_and_output_equal_torchvision_and_fvcore(name: str) -> None:
    size, params, macs, out = TORCHVISION[name]
    a = net(name)
    assert a.graph.input_shape == (3, size, size)
    assert a.totals.params == params
    assert conv_linear_macs(a) == macs
    assert output_shape(a) == out


# ---- U-Net (Ronneberger et al. 2015) -------------------------------------------------------------

def _conv(c_in: int, c_out: int, k: int) -> int:
    """Weights and biases of a k×k convolution (the paper's convolutions all have biases)."""
    return c_in * c_out * k * k + c_out


#: Fig. 1, a 572×572 tile: the contracting path's (channels, the two 3×3 convolutions' output sides) per
#: level, then the expansive path's (channels, the up-convolution's output side, the two convolutions')
CONTRACTING = [(64, 570, 568), (128, 282, 280), (256, 138, 136), (512, 66, 64), (1024, 30, 28)]
EXPANSIVE = [(512, 56, 54, 52), (256, 104, 102, 100), (128, 200, 198, 196), (64, 392, 390, 388)]


def test_unet_parameters_by_hand() -> None:
    """Fig. 1: two 3×3 convolutions per level (1 → 64 → 64, 64 → 128 → 128, …, 512 → 1024 → 1024); each
    expansive step a 2×2 up-convolution halving the channels, then 3×3 convolutions from the concatenation
    (2c → c) and c → c; a 1×1 convolution 64 → 2. The paper prints no parameter count; this is its arithmetic:
    contracting 640 + 36,928 + 73,856 + 147,584 + 295,168 + 590,080 + 1,180,160 + 2,359,808 + 4,719,616
    + 9,438,208 = 18,842,048; expansive (2,097,664 + 4,719,104 + 2,359,808) + (524,544 + 1,179,904 + 590,080)
    + (131,200 + 295,040 + 147,584) + (32,832 + 73,792 + 36,928) = 12,188,480; classifier 130."""
    contracting = 0
    c_in = 1
    for c, _, _ in CONTRACTING:
        contracting += _conv(c_in, c, 3) + _conv(c, c, 3)
        c_in = c
    expansive = sum(_conv(2 * c, c, 2) + _conv(2 * c, c, 3) + _conv(c, c, 3) for c, *_ in EXPANSIVE)
    assert (contracting, expansive) == (18_842_048, 12_188_480)
    total = contracting + expansive + _conv(64, 2, 1)
    assert total == 31_030_658
    assert net("unet").totals.params == total


def test_unet_multiply_adds_by_hand() -> None:
    """Each convolution's c_in·c_out·k²·(output side)²; the 2×2 stride-2 up-convolution's c_in·c_out·4 per
    input position (= c_in·c_out per output position), as fvcore counts a transposed convolution."""
    macs = 0
    c_in = 1
    for c, side1, side2 in CONTRACTING:
        macs += c_in * c * 9 * side1**2 + c * c * 9 * side2**2
        c_in = c
    for c, up, side1, side2 in EXPANSIVE:
        macs += 2 * c * c * 4 * (up // 2) ** 2 + 2 * c * c * 9 * side1**2 + c * c * 9 * side2**2
    macs += 64 * 2 * 388**2
    assert macs == 150_428_424_448
    a = net("unet")
    assert a.totals.macs == macs
    assert conv_linear_macs(a) == macs


def test_unet_shapes_are_figure_1() -> None:
    """Fig. 1 for a 572×572 tile: 64 maps of 568×568 … 1024 of 28×28 at the bottom; each up-convolution's maps
    beside the cropped copy (568 → 392, 280 → 200, 136 → 104, 64 → 56); a 388×388×2 segmentation map; 23
    convolutional layers (Section 2)."""
    a = net("unet")
    assert a.graph.input_shape == (1, 572, 572)
    level = "level1"
    for depth, (c, _, side) in enumerate(CONTRACTING):
        if depth:
            level += f".level{depth + 1}"
        assert a.results[f"{level}.relu2"].shape == (c, side, side)
    level = "level1.level2.level3.level4"
    for c, up, _, side in EXPANSIVE:
        assert a.results[f"{level}.crop"].shape == (c, up, up)
        assert a.results[f"{level}.upconv"].shape == (c, up, up)
        assert a.results[f"{level}.concat"].shape == (2 * c, up, up)
        assert a.results[f"{level}.relu4"].shape == (c, side, side)
        level = level.rpartition(".")[0]
    assert output_shape(a) == (2, 388, 388)
    convs = [n for n in a.graph.nodes if n.op in ("conv", "conv_transpose")]
    assert len(convs) == 23


def test_unet_tiles_follow_the_input() -> None:
    """The crops follow the input's size: a 188×188 tile (16·4 + 124, the smallest) gives 4×4; 572 + 16 gives
    404×404 (the output is the input less 184 wherever every pooling halves an even size)."""
    assert output_shape(net("unet", 188)) == (2, 4, 4)
    assert output_shape(net("unet", 588)) == (2, 404, 404)
