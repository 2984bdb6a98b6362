"""Element-wise activations, softmax and dropout.

Counting rule: each activation costs one op per element (a transcendental counts as one), softmax
three (exp, sum, divide). In-place activations allocate no new activation memory.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, TypeVar

from archcalc.ir import Shape
from archcalc.layers.base import Config, Pointwise, attr, numel
from archcalc.layers.record import Aliasing, Cost, Family, Params, Saved

_INPLACE_DOC = "compute in place (no new activation memory), as torchvision does"


class InplaceConfig(Config):
    """An activation that may overwrite its input (torchvision's ``inplace=True``)."""

    inplace: bool = attr("bool", True, _INPLACE_DOC)


class OutOfPlaceConfig(Config):
    """An activation that may run in place but does not by default."""

    inplace: bool = attr("bool", False, "compute in place")


A = TypeVar("A", bound=Config)


class Activation(Pointwise[A]):
    """A pointwise nonlinearity; ``keeps`` says what autograd saves: the input or the output."""

    family = Family.ACT
    minor = True
    keeps: ClassVar[str] = "output"
    #: What the in-place variant keeps: its output (the shared storage) or, where the backward needs
    #: the original input (relu6, silu, hardswish), a copy autograd makes before overwriting it.
    inplace_keeps: ClassVar[str] = "output"
    ops_per_element: ClassVar[int] = 1

    def cost(self, a: A, ins: Sequence[Shape], out: Shape) -> Cost:
        n = numel(out)
        return Cost(ops=self.ops_per_element * n, bwd_ops=self.ops_per_element * n)

    def aliasing(self, a: A) -> Aliasing:
        return Aliasing.OVERWRITES_INPUT if getattr(a, "inplace", False) else Aliasing.NEW

    def saved(self, a: A, ins: Sequence[Shape], out: Shape, inplace: bool) -> list[Saved]:
        if inplace:
            if self.inplace_keeps == "copy":
                return [Saved.own("input_copy", numel(ins[0]))]
            return [Saved.output(numel(out))]
        if self.keeps == "input":
            return [Saved.input(numel(ins[0]))]
        return [Saved.output(numel(out))]


class ReLU(Activation[InplaceConfig]):
    key = "relu"
    short = "relu"
    config = InplaceConfig
    doc = "max(0, x)."


class ReLU6(Activation[InplaceConfig]):
    key = "relu6"
    short = "relu"
    keeps = "input"
    inplace_keeps = "copy"
    config = InplaceConfig
    doc = "min(max(0, x), 6)."


class LeakyReLUConfig(InplaceConfig):
    slope: float = attr("float", 0.01, "negative slope", aliases=("negative_slope",))


class LeakyReLU(Activation[LeakyReLUConfig]):
    key = "leaky_relu"
    aliases = ("leakyrelu", "lrelu")
    short = "lrelu"
    keeps = "input"
    config = LeakyReLUConfig
    doc = "max(x, slope·x)."


class ELUConfig(OutOfPlaceConfig):
    alpha: float = attr("float", 1.0, "α")


class ELU(Activation[ELUConfig]):
    key = "elu"
    short = "elu"
    keeps = "input"  # elu keeps its input; elu_ (in place) keeps its result
    config = ELUConfig
    doc = "x for x > 0, α(eˣ − 1) otherwise."


class PReLUConfig(Config):
    per_channel: bool = attr("bool", True, "one slope per channel")


class PReLU(Activation[PReLUConfig]):
    key = "prelu"
    short = "prelu"
    keeps = "input"
    config = PReLUConfig
    doc = "Leaky ReLU with a learned slope (one shared, or one per channel)."

    def params(self, a: PReLUConfig, ins: Sequence[Shape], out: Shape) -> Params:
        return Params(weights=ins[0][0] if a.per_channel else 1)


class Sigmoid(Activation[Config]):
    key = "sigmoid"
    aliases = ("logistic",)
    short = "sigmoid"
    doc = "1 / (1 + e⁻ˣ)."


class Tanh(Activation[Config]):
    key = "tanh"
    short = "tanh"
    doc = "Hyperbolic tangent."


class ScaledTanhConfig(Config):
    A: float = attr("float", 1.7159, "amplitude")
    S: float = attr("float", 2.0 / 3.0, "slope at the origin")


class ScaledTanh(Activation[ScaledTanhConfig]):
    key = "scaled_tanh"
    aliases = ("lecun_tanh",)
    short = "tanh"
    ops_per_element = 3
    config = ScaledTanhConfig
    doc = "A·tanh(S·x), LeNet-5's squashing function (A = 1.7159, S = 2/3): scale, tanh, scale."

    def saved(self, a: ScaledTanhConfig, ins: Sequence[Shape], out: Shape, inplace: bool) -> list[Saved]:
        return [Saved.own("tanh", numel(out))]  # tanh's own result, before the final scaling


class GELUConfig(Config):
    approximate: str = attr("choice", "none", "none: x·Φ(x) exactly; tanh: the tanh approximation",
                            choices=("none", "tanh"))


class GELU(Activation[GELUConfig]):
    key = "gelu"
    short = "gelu"
    keeps = "input"
    config = GELUConfig
    doc = "x·Φ(x) (ConvNeXt), or its tanh approximation."


class SiLU(Activation[OutOfPlaceConfig]):
    key = "silu"
    aliases = ("swish",)
    short = "silu"
    keeps = "input"
    inplace_keeps = "copy"
    config = OutOfPlaceConfig
    doc = "x·sigmoid(x)."


class Hardswish(Activation[OutOfPlaceConfig]):
    key = "hardswish"
    short = "hswish"
    keeps = "input"
    inplace_keeps = "copy"
    config = OutOfPlaceConfig
    doc = "x·relu6(x + 3)/6."


class Hardsigmoid(Activation[OutOfPlaceConfig]):
    key = "hardsigmoid"
    aliases = ("hard_sigmoid",)
    short = "hsigmoid"
    keeps = "input"
    inplace_keeps = "copy"
    config = OutOfPlaceConfig
    doc = "relu6(x + 3)/6 (MobileNetV3's squeeze-excitation gate)."


class Softplus(Activation[Config]):
    key = "softplus"
    short = "softplus"
    keeps = "input"
    doc = "log(1 + eˣ)."


class Softmax(Activation[Config]):
    key = "softmax"
    short = "softmax"
    ops_per_element = 3
    family = Family.SOFTMAX
    minor = False  # the slides draw the classifier's softmax
    doc = "Softmax over the channels (the class scores): exp, sum, divide — 3 ops per element."

    def label(self, a: Config, ins: Sequence[Shape], out: Shape) -> str:
        return "Softmax"


class LogSoftmax(Softmax):
    key = "log_softmax"
    aliases = ("logsoftmax",)
    short = "logsoftmax"
    doc = "log(softmax(x)) over the channels: 3 ops per element."

    def label(self, a: Config, ins: Sequence[Shape], out: Shape) -> str:
        return "log-softmax"


class StochasticDepthConfig(Config):
    p: float = attr("float", doc="probability of dropping the path", low=0.0, high=1.0)
    mode: str = attr("choice", "row", "row: each sample's path dropped apart; batch: the whole batch's",
                     choices=("row", "batch"))


class StochasticDepth(Pointwise[StochasticDepthConfig]):
    key = "stochastic_depth"
    aliases = ("drop_path",)
    short = "drop_path"
    primary = "p"
    minor = True
    config = StochasticDepthConfig
    doc = ("Stochastic depth (Huang et al. 2016; EfficientNet, ConvNeXt): identity at inference; in training"
           " the residual path is dropped (per sample, or for the whole batch) and the survivors scaled by"
           " 1/(1 − p), keeping the noise (one value per sample, or one) for backward.")

    def cost(self, a: StochasticDepthConfig, ins: Sequence[Shape], out: Shape) -> Cost:
        return Cost()  # identity at inference

    def aliasing(self, a: StochasticDepthConfig) -> Aliasing:
        return Aliasing.INPUT_AT_INFERENCE

    def saved(self, a: StochasticDepthConfig, ins: Sequence[Shape], out: Shape, inplace: bool) -> list[Saved]:
        if a.p == 0:
            return []  # torchvision returns the input itself
        return [Saved.own("noise", 1, per_sample=a.mode == "row")]

    def label(self, a: StochasticDepthConfig, ins: Sequence[Shape], out: Shape) -> str:
        return f"stochastic depth {a.p:g}"


class DropoutConfig(OutOfPlaceConfig):
    p: float = attr("float", 0.5, "drop probability", low=0.0, high=1.0)


class Dropout(Pointwise[DropoutConfig]):
    key = "dropout"
    short = "dropout"
    primary = "p"
    minor = True
    config = DropoutConfig
    doc = ("Dropout: identity at inference (no cost, no memory); in training a bool mask (1 byte per"
           " element) is kept for backward.")

    def cost(self, a: DropoutConfig, ins: Sequence[Shape], out: Shape) -> Cost:
        return Cost()  # identity at inference

    def aliasing(self, a: DropoutConfig) -> Aliasing:
        return Aliasing.INPUT_AT_INFERENCE

    def saved(self, a: DropoutConfig, ins: Sequence[Shape], out: Shape, inplace: bool) -> list[Saved]:
        return [Saved.own("mask", numel(out), itemsize=1)]

    def label(self, a: DropoutConfig, ins: Sequence[Shape], out: Shape) -> str:
        return f"dropout {a.p}"
