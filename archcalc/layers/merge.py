"""Joins of parallel paths (channel concat, element-wise add), identity and the graph input.

A join is an ordinary layer that takes several inputs (its ``arity``) and says how it combines them
(``join``); the expander, the schema, the torch builder's generated forward, verify's probe and the
diagram read those declarations, never the type names.
"""

from __future__ import annotations

from collections.abc import Sequence

from archcalc.errors import SpecError
from archcalc.ir import Shape
from archcalc.layers.base import Config, Layer, Pointwise, numel
from archcalc.layers.record import Aliasing, Cost, Family, JoinKind, Layout, RFRule, Saved, Union

MAX_JOIN_INPUTS = 1 << 16


def _fmt(shape: Shape) -> str:
    return "×".join(str(d) for d in shape)


class Concat(Layer[Config]):
    key = "concat"
    short = "concat"
    family = Family.JOIN
    arity = (1, MAX_JOIN_INPUTS)
    join = JoinKind.STACK
    internal = True
    doc = "Concatenation along channels (inception modules): no arithmetic, a new tensor."

    def output_shape(self, a: Config, ins: Sequence[Shape]) -> Shape:
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

    def cost(self, a: Config, ins: Sequence[Shape], out: Shape) -> Cost:
        return Cost()  # a copy, no arithmetic

    def rf(self, a: Config, ins: Sequence[Shape], out: Shape) -> RFRule:
        return Union()

    def label(self, a: Config, ins: Sequence[Shape], out: Shape) -> str:
        return "concat"


class Add(Layer[Config]):
    key = "add"
    short = "add"
    family = Family.JOIN
    arity = (1, MAX_JOIN_INPUTS)
    join = JoinKind.ELEMENTWISE
    internal = True
    doc = "Element-wise sum of paths (residual shortcuts): (n − 1) adds per element."

    def output_shape(self, a: Config, ins: Sequence[Shape]) -> Shape:
        if len(set(ins)) != 1:
            channels = {s[0] for s in ins}
            what = "channel mismatch" if len(channels) > 1 else "spatial size mismatch"
            raise SpecError(f"{what} at add: " + " + ".join(_fmt(s) for s in ins),
                            hint="use a projection shortcut (1×1 conv) on the identity path")
        return ins[0]

    def cost(self, a: Config, ins: Sequence[Shape], out: Shape) -> Cost:
        return Cost(ops=(len(ins) - 1) * numel(out))

    def aliasing(self, a: Config) -> Aliasing:
        return Aliasing.ACCUMULATES

    def rf(self, a: Config, ins: Sequence[Shape], out: Shape) -> RFRule:
        return Union()

    def layout(self, a: Config, ins: Sequence[Shape]) -> Layout:
        return Layout.AS_INPUT

    def label(self, a: Config, ins: Sequence[Shape], out: Shape) -> str:
        return "+"


class Mul(Layer[Config]):
    key = "mul"
    short = "mul"
    family = Family.JOIN
    arity = (2, MAX_JOIN_INPUTS)
    join = JoinKind.ELEMENTWISE
    internal = True
    doc = ("Element-wise product of paths, broadcasting C×1×1 over C×H×W (squeeze-excitation's"
           " x·σ(W₂δ(W₁·gap(x)))): (n − 1) multiplies per element; each factor is kept for the others'"
           " gradients.")

    def output_shape(self, a: Config, ins: Sequence[Shape]) -> Shape:
        ranks = {len(s) for s in ins}
        if len(ranks) != 1:
            raise SpecError("mul of maps and vectors: " + " × ".join(_fmt(s) for s in ins))
        out = []
        for dims in zip(*ins, strict=True):
            sizes = set(dims) - {1}
            if len(sizes) > 1:
                raise SpecError("mul of incompatible shapes: " + " × ".join(_fmt(s) for s in ins),
                                hint="each dimension must match or be 1 (a C×1×1 gate scales a C×H×W map)")
            out.append(sizes.pop() if sizes else 1)
        return tuple(out)

    def cost(self, a: Config, ins: Sequence[Shape], out: Shape) -> Cost:
        n = numel(out)
        broadcast = sum(1 for s in ins if s != out)
        # backward: each factor's gradient multiplies the others (n − 1 each), and a broadcast factor's
        # gradient is summed back to its shape (one add per output element)
        return Cost(ops=(len(ins) - 1) * n, bwd_ops=len(ins) * (len(ins) - 1) * n + broadcast * n)

    def saved(self, a: Config, ins: Sequence[Shape], out: Shape, inplace: bool) -> list[Saved]:
        # a chain of products: ((x0·x1)·x2)… keeps each factor for the other's gradient, and the
        # running products from the second on
        saved = []
        running = ins[0]
        for k in range(1, len(ins)):
            left = Saved.input(numel(ins[0]), 0, needed_if=(1,)) if k == 1 else Saved.own(
                f"product{k}", numel(running), needed_if=(k,))
            saved.append(left)
            saved.append(Saved.input(numel(ins[k]), k, needed_if=tuple(range(k))))
            running = tuple(max(x, y) for x, y in zip(running, ins[k], strict=True))
        return saved

    def rf(self, a: Config, ins: Sequence[Shape], out: Shape) -> RFRule:
        # a factor broadcast over space (C×1×1 from global pooling) is context, not a field of its own
        spatial = out[1:]
        context = tuple(i for i, s in enumerate(ins) if len(s) == 3 and s[1:] != spatial and s[1:] == (1, 1))
        return Union(context=context)

    def layout(self, a: Config, ins: Sequence[Shape]) -> Layout:
        return Layout.AS_INPUT

    def label(self, a: Config, ins: Sequence[Shape], out: Shape) -> str:
        return "×"


class Identity(Pointwise[Config]):
    key = "identity"
    aliases = ("id", "noop")
    short = "identity"
    minor = True
    doc = "Passes its input through unchanged."

    def cost(self, a: Config, ins: Sequence[Shape], out: Shape) -> Cost:
        return Cost()

    def aliasing(self, a: Config) -> Aliasing:
        return Aliasing.VIEW


class InputConfig(Config):
    """The input's shape: set by the expander from the spec's ``input:``, not a layer attribute."""

    shape: Shape = ()


class Input(Layer[InputConfig]):
    key = "input"
    short = "input"
    family = Family.INPUT
    arity = (0, 0)
    internal = True
    config = InputConfig
    doc = "The network's input image, C×H×W."

    def output_shape(self, a: InputConfig, ins: Sequence[Shape]) -> Shape:
        return a.shape

    def cost(self, a: InputConfig, ins: Sequence[Shape], out: Shape) -> Cost:
        return Cost()

    def rf(self, a: InputConfig, ins: Sequence[Shape], out: Shape) -> RFRule:
        return Union()  # with no inputs: the origin, every unit sees itself

    def label(self, a: InputConfig, ins: Sequence[Shape], out: Shape) -> str:
        return "Input"
