"""Receptive fields over the graph: per-axis recurrences, unions where paths merge.

Each node's field is one :class:`~archcalc.arith.AxisRF` per spatial axis (height, width). A window
layer applies ``size += (k−1)·jump; jump *= s; start −= p·jump``; a pointwise layer keeps the field;
an add or concat takes the union of its inputs' fields and says when they are not aligned (different
centres). Paths with different effective strides cannot be summarised by one (size, jump, start): the
field is then reported unavailable, with the reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from archcalc.arith import AxisRF, merge_axis
from archcalc.errors import SpecError
from archcalc.ir import Node, Shape
from archcalc.layers import Layer


@dataclass(frozen=True)
class RF:
    """Receptive field of a node's output units along height and width, in input pixels."""

    h: AxisRF
    w: AxisRF
    aligned: bool = True

    @property
    def size(self) -> tuple[int, int]:
        return self.h.size, self.w.size

    @property
    def jump(self) -> tuple[int, int]:
        return self.h.jump, self.w.jump

    @property
    def start(self) -> tuple[int, int]:
        return self.h.start, self.w.start

    def region(self, y: int, x: int) -> tuple[tuple[int, int], tuple[int, int]]:
        """Inclusive (rows, cols) input interval seen by output unit (y, x)."""
        return self.h.interval(y), self.w.interval(x)

    def label(self) -> str:
        size = f"{self.h.size}" if self.h.size == self.w.size else f"{self.h.size}×{self.w.size}"
        return size


ORIGIN = RF(AxisRF(), AxisRF())
#: Largest field size or jump computed: beyond it (strides of 2⁶² chained) the numbers would grow by 62 bits
#: per layer, to megabytes each over a deep spec, and mean nothing for any image.
MAX_FIELD = 2**63


def propagate(node: Node, layer: Layer, ins: Sequence[Shape],
              fields: Sequence[RF | None]) -> tuple[RF | None, str | None]:
    """The field of ``node`` from its inputs' fields; (None, reason) when it cannot be given."""
    if node.op == "input":
        return ORIGIN, None
    if any(f is None for f in fields):
        return None, "an input's receptive field is unavailable"
    known = [f for f in fields if f is not None]
    if len(known) > 1:
        try:
            h, h_ok = merge_axis([f.h for f in known])
            w, w_ok = merge_axis([f.w for f in known])
        except ValueError as exc:
            return None, str(exc)
        aligned = h_ok and w_ok and all(f.aligned for f in known)
        note = None if aligned else "paths merge misaligned: field is the union of their fields"
        return RF(h, w, aligned), note
    field = known[0]
    try:
        window = layer.window(node.attrs, ins)
    except SpecError as exc:  # e.g. adaptive pooling with uneven windows: no single (size, jump)
        return None, exc.message
    if window is None:
        return field, None
    h = field.h.through(window.kernel[0], window.stride[0], window.pad_before[0])
    w = field.w.through(window.kernel[1], window.stride[1], window.pad_before[1])
    if max(h.size, h.jump, w.size, w.jump) > MAX_FIELD:  # strides multiply: unbounded over depth
        return None, f"receptive field beyond {MAX_FIELD:.1e} pixels (strides multiply past any image)"
    return RF(h, w, field.aligned), None
