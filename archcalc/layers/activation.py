"""Element-wise activations, softmax and dropout.

Counting rule: each activation costs one op per element (a transcendental counts as one), softmax
three (exp, sum, divide). In-place activations allocate no new activation memory.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from archcalc.ir import Shape
from archcalc.layers.base import Attr, Attrs, Cost, Layer, Params, Saved, numel

_INPLACE = Attr("bool", True, "compute in place (no new activation memory), as torchvision does")
_NOT_INPLACE = Attr("bool", False, "compute in place")


class Activation(Layer):
    """A pointwise nonlinearity; ``keeps`` says what autograd saves: the input or the output."""

    pointwise = True
    keeps: ClassVar[str] = "output"
    #: What the in-place variant keeps: its output (the shared storage) or, where the backward needs
    #: the original input (relu6, silu, hardswish), a copy autograd makes before overwriting it.
    inplace_keeps: ClassVar[str] = "output"
    ops_per_element: ClassVar[int] = 1

    def cost(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> Cost:
        n = numel(out)
        return Cost(ops=self.ops_per_element * n, bwd_ops=self.ops_per_element * n)

    def saved(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> list[Saved]:
        if self.inplace(a):
            if self.inplace_keeps == "copy":
                return [Saved("own:input_copy", numel(ins[0]))]
            return [Saved("output", numel(out))]
        if self.keeps == "input":
            return [Saved("input0", numel(ins[0]))]
        return [Saved("output", numel(out))]


class ReLU(Activation):
    key = "relu"
    short = "relu"
    doc = "max(0, x)."
    attrs: ClassVar[dict[str, Attr]] = {"inplace": _INPLACE}


class ReLU6(Activation):
    key = "relu6"
    short = "relu"
    keeps = "input"
    inplace_keeps = "copy"
    doc = "min(max(0, x), 6)."
    attrs: ClassVar[dict[str, Attr]] = {"inplace": _INPLACE}


class LeakyReLU(Activation):
    key = "leaky_relu"
    aliases = ("leakyrelu", "lrelu")
    short = "lrelu"
    keeps = "input"
    doc = "max(x, slope·x)."
    attrs: ClassVar[dict[str, Attr]] = {"slope": Attr("float", 0.01, "negative slope", aliases=("negative_slope",)),
                                        "inplace": _INPLACE}


class ELU(Activation):
    key = "elu"
    short = "elu"
    keeps = "input"  # elu keeps its input; elu_ (in place) keeps its result
    doc = "x for x > 0, α(eˣ − 1) otherwise."
    attrs: ClassVar[dict[str, Attr]] = {"alpha": Attr("float", 1.0, "α"), "inplace": _NOT_INPLACE}


class PReLU(Activation):
    key = "prelu"
    short = "prelu"
    keeps = "input"
    doc = "Leaky ReLU with a learned slope (one shared, or one per channel)."
    attrs: ClassVar[dict[str, Attr]] = {"per_channel": Attr("bool", True, "one slope per channel")}

    def params(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> Params:
        return Params(weights=ins[0][0] if a["per_channel"] else 1)


class Sigmoid(Activation):
    key = "sigmoid"
    aliases = ("logistic",)
    short = "sigmoid"
    doc = "1 / (1 + e⁻ˣ)."
    attrs: ClassVar[dict[str, Attr]] = {}


class Tanh(Activation):
    key = "tanh"
    short = "tanh"
    doc = "Hyperbolic tangent."
    attrs: ClassVar[dict[str, Attr]] = {}


class ScaledTanh(Activation):
    key = "scaled_tanh"
    aliases = ("lecun_tanh",)
    short = "tanh"
    ops_per_element = 3
    doc = "A·tanh(S·x), LeNet-5's squashing function (A = 1.7159, S = 2/3): scale, tanh, scale."
    attrs: ClassVar[dict[str, Attr]] = {"A": Attr("float", 1.7159, "amplitude"),
                                        "S": Attr("float", 2.0 / 3.0, "slope at the origin")}

    def saved(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> list[Saved]:
        return [Saved("own:tanh", numel(out))]  # tanh's own result, before the final scaling


class GELU(Activation):
    key = "gelu"
    short = "gelu"
    keeps = "input"
    doc = "x·Φ(x)."
    attrs: ClassVar[dict[str, Attr]] = {}


class SiLU(Activation):
    key = "silu"
    aliases = ("swish",)
    short = "silu"
    keeps = "input"
    inplace_keeps = "copy"
    doc = "x·sigmoid(x)."
    attrs: ClassVar[dict[str, Attr]] = {"inplace": _NOT_INPLACE}


class Hardswish(Activation):
    key = "hardswish"
    short = "hswish"
    keeps = "input"
    inplace_keeps = "copy"
    doc = "x·relu6(x + 3)/6."
    attrs: ClassVar[dict[str, Attr]] = {"inplace": _NOT_INPLACE}


class Softplus(Activation):
    key = "softplus"
    short = "softplus"
    keeps = "input"
    doc = "log(1 + eˣ)."
    attrs: ClassVar[dict[str, Attr]] = {}


class Softmax(Activation):
    key = "softmax"
    short = "softmax"
    ops_per_element = 3
    doc = "Softmax over the channels (the class scores): exp, sum, divide — 3 ops per element."
    attrs: ClassVar[dict[str, Attr]] = {}


class LogSoftmax(Softmax):
    key = "log_softmax"
    aliases = ("logsoftmax",)
    short = "logsoftmax"
    doc = "log(softmax(x)) over the channels: 3 ops per element."


class Dropout(Layer):
    key = "dropout"
    short = "dropout"
    primary = "p"
    pointwise = True
    doc = ("Dropout: identity at inference (no cost, no memory); in training a bool mask (1 byte per"
           " element) is kept for backward.")
    attrs: ClassVar[dict[str, Attr]] = {"p": Attr("float", 0.5, "drop probability"), "inplace": _NOT_INPLACE}

    def cost(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> Cost:
        return Cost()

    def inplace(self, a: Attrs) -> bool:
        return True  # identity at inference: the output is the input

    def saved(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> list[Saved]:
        return [Saved("own:mask", numel(out), itemsize=1)]
