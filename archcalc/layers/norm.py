"""Normalisation layers: batch norm and AlexNet's local response normalisation."""

from __future__ import annotations

from collections.abc import Sequence

from archcalc.errors import SpecError
from archcalc.ir import Shape
from archcalc.layers.base import Config, Layer, Pointwise, attr, numel
from archcalc.layers.record import Cost, Family, Identity, Params, RFRule, Saved


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
    alpha: float = attr("float", 1e-4, "α (PyTorch divides it by n)")
    beta: float = attr("float", 0.75, "β", low=0.0)
    k: float = attr("float", 1.0, "additive constant k (AlexNet: 2)")


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
