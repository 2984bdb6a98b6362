"""Layers on vectors: flatten, fully connected, and LeNet-5's Euclidean RBF output."""

from __future__ import annotations

from collections.abc import Sequence

from archcalc.errors import SpecError
from archcalc.ir import Shape
from archcalc.layers.base import Config, Layer, attr, need_map, numel
from archcalc.layers.record import Aliasing, Cost, Family, Identity, Layout, Params, RFRule, Saved, Window


class Flatten(Layer[Config]):
    key = "flatten"
    short = "flatten"
    family = Family.RESHAPE
    minor = True
    doc = "C×H×W → C·H·W (a view: no new memory)."

    def output_shape(self, a: Config, ins: Sequence[Shape]) -> Shape:
        return (numel(ins[0]),)

    def cost(self, a: Config, ins: Sequence[Shape], out: Shape) -> Cost:
        return Cost()  # a view: no arithmetic

    def aliasing(self, a: Config) -> Aliasing:
        return Aliasing.VIEW

    def rf(self, a: Config, ins: Sequence[Shape], out: Shape) -> RFRule:
        if len(ins[0]) != 3:
            return Identity()
        # Everything after a flatten sees the whole map: a window covering it, once.
        return Window(kernel=(ins[0][1], ins[0][2]), stride=(1, 1), pad_before=(0, 0))


def _need_vector(layer: str, ins: Sequence[Shape]) -> int:
    if len(ins[0]) != 1:
        c, h, w = ins[0]
        raise SpecError(f"'{layer}' needs a vector but gets a {c}×{h}×{w} map",
                        hint="add 'flatten' before it")
    return ins[0][0]


class FCConfig(Config):
    out: int = attr("int", doc="number of output units", aliases=("units", "features"), min=1)
    bias: bool = attr("bool", True, "learn a bias per unit")
    per_position: bool = attr("bool", False, "on a C×H×W map: the same C→out layer at every position (a"
                              " Linear on channels-last data, ConvNeXt's MLP), not after flatten")


class FullyConnected(Layer[FCConfig]):
    counts_depth = True
    key = "fc"
    aliases = ("linear", "dense", "fully_connected")
    short = "fc"
    primary = "out"
    family = Family.FC
    config = FCConfig
    doc = ("Fully connected layer: in·out MACs and weights, plus out biases; with per_position, the same"
           " layer over the channels at every position of a map (in·out MACs per position).")

    def output_shape(self, a: FCConfig, ins: Sequence[Shape]) -> Shape:
        if a.per_position:
            c, h, w = need_map(self.key, ins)
            return (a.out, h, w)
        if len(ins[0]) != 1:
            c, h, w = ins[0]
            raise SpecError(f"'fc' needs a vector but gets a {c}×{h}×{w} map",
                            hint="add 'flatten' before it, or per_position: true for a layer over the channels")
        return (a.out,)

    def params(self, a: FCConfig, ins: Sequence[Shape], out: Shape) -> Params:
        return Params(weights=ins[0][0] * a.out, biases=a.out if a.bias else 0)

    def cost(self, a: FCConfig, ins: Sequence[Shape], out: Shape) -> Cost:
        positions = numel(out) // a.out
        macs = ins[0][0] * a.out * positions
        bias = a.out * positions if a.bias else 0
        return Cost(macs=macs, ops=bias, bwd_input_macs=macs, bwd_weight_macs=macs, bwd_ops=bias,
                    framework_macs=macs)

    def rf(self, a: FCConfig, ins: Sequence[Shape], out: Shape) -> RFRule:
        return Identity()  # over the channels at one position, or a vector that already sees the whole map

    def saved(self, a: FCConfig, ins: Sequence[Shape], out: Shape, inplace: bool) -> list[Saved]:
        # over channels, torch reshapes the channels-last view of its input: kept as it is when that is
        # contiguous, a copy otherwise
        return [Saved.input(numel(ins[0]), channels_last=a.per_position)]

    def layout(self, a: FCConfig, ins: Sequence[Shape]) -> Layout:
        return Layout.CHANNELS_LAST if a.per_position else Layout.CONTIGUOUS

    def label(self, a: FCConfig, ins: Sequence[Shape], out: Shape) -> str:
        return f"FC {a.out}" + (" per position" if a.per_position else "")

    def connections(self, a: FCConfig, ins: Sequence[Shape], out: Shape, cost: Cost) -> int:
        return cost.macs + (numel(out) if a.bias else 0)


class RBFConfig(Config):
    out: int = attr("int", doc="number of classes", aliases=("units",), min=1)
    trainable: bool = attr("bool", False, "train the prototypes (the paper fixes them)")


class RBF(Layer[RBFConfig]):
    counts_depth = True
    key = "rbf"
    aliases = ("euclidean_rbf",)
    short = "rbf"
    primary = "out"
    family = Family.FC
    config = RBFConfig
    doc = ("LeNet-5's output layer: y_i = Σ_j (x_j − w_ij)², one unit per class. Its weights were fixed"
           " by hand in the paper (not trained): in·out MACs for the squares plus in·out subtractions.")

    def output_shape(self, a: RBFConfig, ins: Sequence[Shape]) -> Shape:
        _need_vector(self.key, ins)
        return (a.out,)

    def params(self, a: RBFConfig, ins: Sequence[Shape], out: Shape) -> Params:
        return Params(weights=ins[0][0] * a.out, trainable=a.trainable)

    def cost(self, a: RBFConfig, ins: Sequence[Shape], out: Shape) -> Cost:
        n = ins[0][0] * a.out
        # squared differences are archcalc's MACs; frameworks see subtract, pow and sum
        return Cost(macs=n, ops=n, bwd_input_macs=n, bwd_weight_macs=n if a.trainable else 0, bwd_ops=n)

    def rf(self, a: RBFConfig, ins: Sequence[Shape], out: Shape) -> RFRule:
        return Identity()

    def saved(self, a: RBFConfig, ins: Sequence[Shape], out: Shape, inplace: bool) -> list[Saved]:
        # (x − w) is broadcast to out×in and kept for the square's backward.
        return [Saved.own("differences", ins[0][0] * a.out)]

    def label(self, a: RBFConfig, ins: Sequence[Shape], out: Shape) -> str:
        return f"RBF {a.out}"

    def connections(self, a: RBFConfig, ins: Sequence[Shape], out: Shape, cost: Cost) -> int:
        # each output unit reads every input once, and has no bias: LeNet-5's 84·10 = 840
        return ins[0][0] * a.out
