"""An operation archcalc has no rules for, kept in a spec so the rest of the network is still analysed.

``archcalc import --allow-opaque`` writes one where a model calls an op outside the vocabulary
(``torch.matmul`` in an attention block): its output shape was measured by tracing the model and is
recorded in the spec (``opaque: {out: [C, H, W], op: torch.matmul, params: N}``), so the layers after it
resolve as usual. Its arithmetic and receptive field are not guessed: they are unavailable, with the
reason, and every total that includes it says it is partial. The torch backend cannot build it.
"""

from __future__ import annotations

from collections.abc import Sequence

from archcalc.errors import SpecError
from archcalc.ir import Shape
from archcalc.layers.base import Config, Layer, attr
from archcalc.layers.record import Cost, Family, Params, RFRule, Unavailable

MAX_OPERANDS = 1 << 16


class OpaqueConfig(Config):
    out: tuple[int, ...] = attr("sizes", doc="its output shape without the batch, as traced: [C, H, W] or [F]")
    op: str = attr("str", doc="the operation, as the model calls it (torch.matmul, nn.MultiheadAttention)")
    params: int = attr("int", 0, "parameters it holds (counted; their layout is the op's own)")


class Opaque(Layer[OpaqueConfig]):
    key = "opaque"
    short = "opaque"
    primary = "op"
    family = Family.OTHER
    #: an op may read several tensors (its operands, named with ``from: [a, b]``)
    arity = (1, MAX_OPERANDS)
    config = OpaqueConfig
    doc = ("An operation outside archcalc's vocabulary, with its traced output shape: its MACs, other ops and"
           " receptive field are unavailable (totals say they are partial); it cannot be built in torch.")

    def output_shape(self, a: OpaqueConfig, ins: Sequence[Shape]) -> Shape:
        if not a.out:
            raise SpecError("'opaque' needs its output shape in 'out' ([C, H, W] or [F])")
        return a.out

    def params(self, a: OpaqueConfig, ins: Sequence[Shape], out: Shape) -> Params:
        return Params(weights=a.params)

    def cost(self, a: OpaqueConfig, ins: Sequence[Shape], out: Shape) -> Cost:
        return Cost.unavailable(f"{a.op} is outside archcalc's vocabulary")

    def rf(self, a: OpaqueConfig, ins: Sequence[Shape], out: Shape) -> RFRule:
        return Unavailable(f"{a.op} is outside archcalc's vocabulary: its receptive field is not known")

    def label(self, a: OpaqueConfig, ins: Sequence[Shape], out: Shape) -> str:
        return f"opaque: {a.op}"
