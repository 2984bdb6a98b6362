"""Layers on vectors: flatten, fully connected, and LeNet-5's Euclidean RBF output."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from archcalc.errors import SpecError
from archcalc.ir import Shape
from archcalc.layers.base import Attr, Attrs, Cost, Layer, Params, Saved, Window, numel


class Flatten(Layer):
    key = "flatten"
    short = "flatten"
    doc = "C×H×W → C·H·W (a view: no new memory)."
    attrs: ClassVar[dict[str, Attr]] = {}

    def output_shape(self, a: Attrs, ins: Sequence[Shape]) -> Shape:
        return (numel(ins[0]),)

    def view(self, a: Attrs) -> bool:
        return True

    def window(self, a: Attrs, ins: Sequence[Shape]) -> Window | None:
        if len(ins[0]) != 3:
            return None
        # Everything after a flatten sees the whole map: a window covering it, once.
        return Window(kernel=(ins[0][1], ins[0][2]), stride=(1, 1), pad_before=(0, 0))


def _need_vector(layer: str, ins: Sequence[Shape]) -> int:
    if len(ins[0]) != 1:
        c, h, w = ins[0]
        raise SpecError(f"'{layer}' needs a vector but gets a {c}×{h}×{w} map",
                        hint="add 'flatten' before it")
    return ins[0][0]


class FullyConnected(Layer):
    counts_depth = True
    key = "fc"
    aliases = ("linear", "dense", "fully_connected")
    short = "fc"
    primary = "out"
    doc = "Fully connected layer: in·out MACs and weights, plus out biases."
    attrs: ClassVar[dict[str, Attr]] = {
        "out": Attr("int", doc="number of output units", aliases=("units", "features"), min=1),
        "bias": Attr("bool", True, "learn a bias per unit"),
    }

    def output_shape(self, a: Attrs, ins: Sequence[Shape]) -> Shape:
        _need_vector(self.key, ins)
        return (a["out"],)

    def params(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> Params:
        return Params(weights=ins[0][0] * a["out"], biases=a["out"] if a["bias"] else 0)

    def cost(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> Cost:
        macs = ins[0][0] * a["out"]
        bias = a["out"] if a["bias"] else 0
        return Cost(macs=macs, ops=bias, bwd_input_macs=macs, bwd_weight_macs=macs, bwd_ops=bias)

    def saved(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> list[Saved]:
        return [Saved("input0", numel(ins[0]))]


class RBF(Layer):
    counts_depth = True
    key = "rbf"
    aliases = ("euclidean_rbf",)
    short = "rbf"
    primary = "out"
    doc = ("LeNet-5's output layer: y_i = Σ_j (x_j − w_ij)², one unit per class. Its weights were fixed"
           " by hand in the paper (not trained): in·out MACs for the squares plus in·out subtractions.")
    attrs: ClassVar[dict[str, Attr]] = {
        "out": Attr("int", doc="number of classes", aliases=("units",), min=1),
        "trainable": Attr("bool", False, "train the prototypes (the paper fixes them)"),
    }

    def output_shape(self, a: Attrs, ins: Sequence[Shape]) -> Shape:
        _need_vector(self.key, ins)
        return (a["out"],)

    def params(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> Params:
        return Params(weights=ins[0][0] * a["out"], trainable=a["trainable"])

    def cost(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> Cost:
        n = ins[0][0] * a["out"]
        return Cost(macs=n, ops=n, bwd_input_macs=n, bwd_weight_macs=n if a["trainable"] else 0, bwd_ops=n)

    def saved(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> list[Saved]:
        # (x − w) is broadcast to out×in and kept for the square's backward.
        return [Saved("own:differences", ins[0][0] * a["out"])]
