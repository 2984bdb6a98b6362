"""Normalisation layers: batch norm and AlexNet's local response normalisation."""

from __future__ import annotations

from collections.abc import Sequence

from archcalc.errors import SpecError
from archcalc.ir import Shape
from archcalc.layers.base import Config, Layer, Pointwise, attr, numel
from archcalc.layers.record import Cost, Family, Identity, Layout, Params, RFRule, Saved


class BatchNormConfig(Config):
    eps: float = attr("float", 1e-5, "added to the variance", low=0.0, low_open=True)
    momentum: float = attr("float", 0.1, "running-statistics momentum (PyTorch convention)", low=0.0, high=1.0)
    affine: bool = attr("bool", True, "learn γ and β")


class BatchNorm(Pointwise[BatchNormConfig]):
    key = "bn"
    aliases = ("batchnorm", "batch_norm", "batchnorm2d")
    short = "bn"
    family = Family.NORM
    minor = True
    config = BatchNormConfig
    doc = ("Batch normalisation: 2 FLOPs per element (scale and shift; at inference the statistics are"
           " constants). γ and β are weights and biases; running mean and variance are buffers.")

    def params(self, a: BatchNormConfig, ins: Sequence[Shape], out: Shape) -> Params:
        c = ins[0][0]
        # running_mean, running_var and the num_batches_tracked counter
        return Params(weights=c if a.affine else 0, biases=c if a.affine else 0, buffers=2 * c + 1)

    def cost(self, a: BatchNormConfig, ins: Sequence[Shape], out: Shape) -> Cost:
        n = numel(out)
        return Cost(ops=2 * n, bwd_ops=4 * n)

    def saved(self, a: BatchNormConfig, ins: Sequence[Shape], out: Shape, inplace: bool) -> list[Saved]:
        c = ins[0][0]
        return [Saved.input(numel(ins[0])), Saved.own("save_mean", c, per_sample=False, fp32=True),
                Saved.own("save_invstd", c, per_sample=False, fp32=True)]

    def label(self, a: BatchNormConfig, ins: Sequence[Shape], out: Shape) -> str:
        return "batch norm"


class LRNConfig(Config):
    size: int = attr("int", 5, "number of adjacent maps n", aliases=("n",), min=1)
    alpha: float = attr("float", 1e-4, "α (PyTorch divides it by n)", low=0.0)
    beta: float = attr("float", 0.75, "β", low=0.0)
    # k > 0 and α ≥ 0 keep the base of the power positive: k = -1 gave NaN maps in torch, silently
    k: float = attr("float", 1.0, "additive constant k (AlexNet: 2)", low=0.0, low_open=True)


class LocalResponseNorm(Layer[LRNConfig]):
    key = "lrn"
    aliases = ("norm", "local_response_norm")
    short = "norm"
    family = Family.NORM
    config = LRNConfig
    doc = ("Local response normalisation across channels (AlexNet's NORM):"
           " b = a / (k + α/n · Σ a²)^β over n adjacent maps. Per element: n multiply-accumulates for"
           " the sum of squares, then scale, offset, power and divide (4 ops).")

    def output_shape(self, a: LRNConfig, ins: Sequence[Shape]) -> Shape:
        if len(ins[0]) != 3:
            raise SpecError("'lrn' needs a C×H×W feature map")
        return ins[0]

    def cost(self, a: LRNConfig, ins: Sequence[Shape], out: Shape) -> Cost:
        n = numel(out)
        # the window sums are archcalc's MACs; frameworks see an avg_pool3d, not a matrix product
        return Cost(macs=a.size * n, ops=4 * n, bwd_input_macs=a.size * n, bwd_ops=6 * n)

    def rf(self, a: LRNConfig, ins: Sequence[Shape], out: Shape) -> RFRule:
        return Identity()  # the window runs across channels, not space

    def saved(self, a: LRNConfig, ins: Sequence[Shape], out: Shape, inplace: bool) -> list[Saved]:
        # PyTorch's local_response_norm: x², padded along channels, avg_pool3d (saves the padded
        # squares), ·α + k (pow saves this), ^β (the divide saves it), x / div (saves x).
        c, h, w = ins[0]
        n = numel(ins[0])
        padded = (c + a.size - 1) * h * w
        return [Saved.input(n), Saved.own("padded_squares", padded), Saved.own("scaled", n),
                Saved.own("denominator", n)]

    def label(self, a: LRNConfig, ins: Sequence[Shape], out: Shape) -> str:
        return "LRN"


class LayerNormConfig(Config):
    eps: float = attr("float", 1e-5, "added to the variance (ConvNeXt: 1e-6)", low=0.0, low_open=True)
    affine: bool = attr("bool", True, "learn γ and β (elementwise_affine)", aliases=("elementwise_affine",))


class LayerNorm(Layer[LayerNormConfig]):
    key = "layer_norm"
    aliases = ("layernorm", "ln", "layer_norm2d")
    short = "norm"
    family = Family.NORM
    config = LayerNormConfig
    doc = ("Layer normalisation over the channels: at each position of a C×H×W map (ConvNeXt's LayerNorm2d),"
           " or over a vector's features. Statistics are computed at inference too: 5 FLOPs per element with"
           " γ and β, 4 without (fvcore's count); γ and β are C weights and biases.")

    def output_shape(self, a: LayerNormConfig, ins: Sequence[Shape]) -> Shape:
        return ins[0]

    def params(self, a: LayerNormConfig, ins: Sequence[Shape], out: Shape) -> Params:
        c = ins[0][0]
        return Params(weights=c if a.affine else 0, biases=c if a.affine else 0)

    def cost(self, a: LayerNormConfig, ins: Sequence[Shape], out: Shape) -> Cost:
        n = numel(out)
        return Cost(ops=(5 if a.affine else 4) * n, bwd_ops=8 * n)

    def rf(self, a: LayerNormConfig, ins: Sequence[Shape], out: Shape) -> RFRule:
        return Identity()  # statistics over channels at one position

    def saved(self, a: LayerNormConfig, ins: Sequence[Shape], out: Shape, inplace: bool) -> list[Saved]:
        positions = numel(ins[0]) // ins[0][0]  # one mean and one 1/std per position (per sample)
        return [Saved.input(numel(ins[0])), Saved.own("mean", positions), Saved.own("rstd", positions)]

    def layout(self, a: LayerNormConfig, ins: Sequence[Shape]) -> Layout:
        # on a map it normalises the channels-last view, and its output is channels-last in memory
        return Layout.CHANNELS_LAST if len(ins[0]) == 3 else Layout.CONTIGUOUS

    def label(self, a: LayerNormConfig, ins: Sequence[Shape], out: Shape) -> str:
        return "layer norm"


class GroupNormConfig(Config):
    groups: int = attr("int", doc="channel groups normalised together", aliases=("num_groups", "g"), min=1)
    eps: float = attr("float", 1e-5, "added to the variance", low=0.0, low_open=True)
    affine: bool = attr("bool", True, "learn γ and β")


class GroupNorm(Layer[GroupNormConfig]):
    key = "group_norm"
    aliases = ("groupnorm",)
    short = "norm"
    primary = "groups"
    family = Family.NORM
    config = GroupNormConfig
    doc = ("Group normalisation (Wu & He 2018): statistics over each group of channels and the positions, per"
           " sample; 5 FLOPs per element with γ and β (fvcore's count).")

    def output_shape(self, a: GroupNormConfig, ins: Sequence[Shape]) -> Shape:
        if ins[0][0] % a.groups:
            raise SpecError(f"group_norm: {ins[0][0]} channels are not divisible by {a.groups} groups")
        return ins[0]

    def params(self, a: GroupNormConfig, ins: Sequence[Shape], out: Shape) -> Params:
        c = ins[0][0]
        return Params(weights=c if a.affine else 0, biases=c if a.affine else 0)

    def cost(self, a: GroupNormConfig, ins: Sequence[Shape], out: Shape) -> Cost:
        n = numel(out)
        return Cost(ops=(5 if a.affine else 4) * n, bwd_ops=8 * n)

    def rf(self, a: GroupNormConfig, ins: Sequence[Shape], out: Shape) -> RFRule:
        # the statistics pool the whole map: every unit is also scaled by something computed from all of it
        return Identity(context=True)

    def saved(self, a: GroupNormConfig, ins: Sequence[Shape], out: Shape, inplace: bool) -> list[Saved]:
        return [Saved.input(numel(ins[0])), Saved.own("mean", a.groups), Saved.own("rstd", a.groups)]

    def label(self, a: GroupNormConfig, ins: Sequence[Shape], out: Shape) -> str:
        return f"group norm, {a.groups} groups"


class LayerScaleConfig(Config):
    init: float = attr("float", 1e-6, "initial value of γ (ConvNeXt: 1e-6)")


class LayerScale(Layer[LayerScaleConfig]):
    key = "layer_scale"
    aliases = ("layerscale",)
    short = "layer_scale"
    primary = "init"
    family = Family.NORM
    minor = True
    config = LayerScaleConfig
    doc = ("Layer scale (CaiT, ConvNeXt): a learned per-channel γ multiplies the path; C weights, one op per"
           " element. Built as a bare parameter of its block, so its key is torchvision's ('…layer_scale').")

    def output_shape(self, a: LayerScaleConfig, ins: Sequence[Shape]) -> Shape:
        return ins[0]

    def params(self, a: LayerScaleConfig, ins: Sequence[Shape], out: Shape) -> Params:
        return Params(weights=ins[0][0])

    def cost(self, a: LayerScaleConfig, ins: Sequence[Shape], out: Shape) -> Cost:
        n = numel(out)
        return Cost(ops=n, bwd_ops=2 * n)

    def rf(self, a: LayerScaleConfig, ins: Sequence[Shape], out: Shape) -> RFRule:
        return Identity()

    def saved(self, a: LayerScaleConfig, ins: Sequence[Shape], out: Shape, inplace: bool) -> list[Saved]:
        return [Saved.input(numel(ins[0]))]  # for γ's gradient

    def layout(self, a: LayerScaleConfig, ins: Sequence[Shape]) -> Layout:
        return Layout.AS_INPUT

    def label(self, a: LayerScaleConfig, ins: Sequence[Shape], out: Shape) -> str:
        return "layer scale"
