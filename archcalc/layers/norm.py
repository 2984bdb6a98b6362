"""Normalisation layers: batch norm and AlexNet's local response normalisation."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from archcalc.errors import SourceLocation, SpecError
from archcalc.ir import Shape
from archcalc.layers.base import Attr, Attrs, Cost, Layer, Params, Saved, numel


class BatchNorm(Layer):
    key = "bn"
    aliases = ("batchnorm", "batch_norm", "batchnorm2d")
    short = "bn"
    pointwise = True
    doc = ("Batch normalisation: 2 FLOPs per element (scale and shift; at inference the statistics are"
           " constants). γ and β are weights and biases; running mean and variance are buffers.")
    attrs: ClassVar[dict[str, Attr]] = {
        "eps": Attr("float", 1e-5, "added to the variance"),
        "momentum": Attr("float", 0.1, "running-statistics momentum (PyTorch convention)"),
        "affine": Attr("bool", True, "learn γ and β"),
    }

    def params(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> Params:
        c = ins[0][0]
        # running_mean, running_var and the num_batches_tracked counter
        return Params(weights=c if a["affine"] else 0, biases=c if a["affine"] else 0, buffers=2 * c + 1)

    def cost(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> Cost:
        n = numel(out)
        return Cost(ops=2 * n, bwd_ops=4 * n)

    def saved(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> list[Saved]:
        c = ins[0][0]
        return [Saved("input0", numel(ins[0])), Saved("own:save_mean", c, per_sample=False, fp32=True),
                Saved("own:save_invstd", c, per_sample=False, fp32=True)]


class LocalResponseNorm(Layer):
    key = "lrn"
    aliases = ("norm", "local_response_norm")
    short = "norm"
    doc = ("Local response normalisation across channels (AlexNet's NORM):"
           " b = a / (k + α/n · Σ a²)^β over n adjacent maps. Per element: n multiply-accumulates for"
           " the sum of squares, then scale, offset, power and divide (4 ops).")
    attrs: ClassVar[dict[str, Attr]] = {
        "size": Attr("int", 5, "number of adjacent maps n", aliases=("n",), min=1),
        "alpha": Attr("float", 1e-4, "α (PyTorch divides it by n)"),
        "beta": Attr("float", 0.75, "β"),
        "k": Attr("float", 1.0, "additive constant k (AlexNet: 2)"),
    }

    def output_shape(self, a: Attrs, ins: Sequence[Shape]) -> Shape:
        if len(ins[0]) != 3:
            raise SpecError("'lrn' needs a C×H×W feature map")
        return ins[0]

    def cost(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> Cost:
        n = numel(out)
        return Cost(macs=a["size"] * n, ops=4 * n, bwd_input_macs=a["size"] * n, bwd_ops=6 * n)

    def saved(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> list[Saved]:
        # PyTorch's local_response_norm: x², padded along channels, avg_pool3d (saves the padded
        # squares), ·α + k (pow saves this), ^β (the divide saves it), x / div (saves x).
        c, h, w = ins[0]
        n = numel(ins[0])
        padded = (c + a["size"] - 1) * h * w
        return [Saved("input0", n), Saved("own:padded_squares", padded), Saved("own:scaled", n),
                Saved("own:denominator", n)]

    def check(self, a: dict[str, Any], where: SourceLocation | None) -> None:
        if a["beta"] < 0:
            raise SpecError("'lrn' beta must be ≥ 0", where)
