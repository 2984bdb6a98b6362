"""Receptive fields over the graph: per-axis recurrences, unions where paths merge.

Each node's field is one :class:`~archcalc.arith.AxisRF` per spatial axis (height, width), computed
from its inputs' fields by the rule its layer type declares (``Resolved.rf``): a window applies
``size += (k−1)·jump; jump *= s; start −= p·jump``; an identity keeps the field; a union (joins) takes
the union of its inputs' fields and says when they are not aligned (different centres); unavailable
says why. Paths with different effective strides cannot be summarised by one (size, jump, start): the
field is then reported unavailable, with the reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from archcalc.arith import AxisRF, merge_axis
from archcalc.layers import Identity, RFRule, Unavailable, Union, Window, unreachable


@dataclass(frozen=True, slots=True)
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


ORIGIN = RF(AxisRF(), AxisRF())


def propagate(rule: RFRule, fields: Sequence[RF | None]) -> tuple[RF | None, str | None]:
    """A node's field from its inputs' fields by its layer's rule; (None, reason) when it cannot be given."""
    if any(f is None for f in fields):
        return None, "an input's receptive field is unavailable"
    known = [f for f in fields if f is not None]
    match rule:
        case Unavailable(reason=reason):
            return None, reason
        case Union():
            if not known:
                return ORIGIN, None  # a source: each unit sees itself
            if len(known) == 1:
                return known[0], None
            try:
                h, h_ok = merge_axis([f.h for f in known])
                w, w_ok = merge_axis([f.w for f in known])
            except ValueError as exc:
                return None, str(exc)
            aligned = h_ok and w_ok and all(f.aligned for f in known)
            note = None if aligned else "paths merge misaligned: field is the union of their fields"
            return RF(h, w, aligned), note
        case Identity():
            return known[0], None
        case Window(kernel=kernel, stride=stride, pad_before=pad):
            field = known[0]
            return RF(field.h.through(kernel[0], stride[0], pad[0]), field.w.through(kernel[1], stride[1], pad[1]),
                      field.aligned), None
        case _:
            unreachable(rule)
