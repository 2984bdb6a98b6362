"""Joins of parallel paths (channel concat, element-wise add), identity and the graph input."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from archcalc.errors import SpecError
from archcalc.ir import Shape
from archcalc.layers.base import Attr, Attrs, Cost, Layer, numel


def _fmt(shape: Shape) -> str:
    return "×".join(str(d) for d in shape)


class Concat(Layer):
    key = "concat"
    short = "concat"
    min_inputs = 1
    max_inputs = 1 << 16
    doc = "Concatenation along channels (inception modules): no arithmetic, a new tensor."
    attrs: ClassVar[dict[str, Attr]] = {}

    def output_shape(self, a: Attrs, ins: Sequence[Shape]) -> Shape:
        ranks = {len(s) for s in ins}
        if len(ranks) != 1:
            raise SpecError("concat joins maps and vectors: " + ", ".join(_fmt(s) for s in ins))
        if ranks == {3}:
            spatial = {s[1:] for s in ins}
            if len(spatial) != 1:
                raise SpecError("concat of branches with different spatial sizes: "
                                + ", ".join(_fmt(s) for s in ins),
                                hint="each branch must keep the same H×W (check strides and padding)")
            return (sum(s[0] for s in ins), *ins[0][1:])
        return (sum(s[0] for s in ins),)


class Add(Layer):
    key = "add"
    short = "add"
    min_inputs = 1
    max_inputs = 1 << 16
    doc = "Element-wise sum of paths (residual shortcuts): (n − 1) adds per element."
    attrs: ClassVar[dict[str, Attr]] = {}

    def output_shape(self, a: Attrs, ins: Sequence[Shape]) -> Shape:
        if len(set(ins)) != 1:
            channels = {s[0] for s in ins}
            what = "channel mismatch" if len(channels) > 1 else "spatial size mismatch"
            raise SpecError(f"{what} at add: " + " + ".join(_fmt(s) for s in ins),
                            hint="use a projection shortcut (1×1 conv) on the identity path")
        return ins[0]

    def cost(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> Cost:
        return Cost(ops=(len(ins) - 1) * numel(out))


class Identity(Layer):
    key = "identity"
    aliases = ("id", "noop")
    short = "identity"
    pointwise = True
    doc = "Passes its input through unchanged."
    attrs: ClassVar[dict[str, Attr]] = {}

    def cost(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> Cost:
        return Cost()

    def view(self, a: Attrs) -> bool:
        return True


class Input(Layer):
    key = "input"
    short = "input"
    min_inputs = 0
    max_inputs = 0
    doc = "The network's input image, C×H×W."
    attrs: ClassVar[dict[str, Attr]] = {}

    def output_shape(self, a: Attrs, ins: Sequence[Shape]) -> Shape:
        return tuple(a["shape"])
