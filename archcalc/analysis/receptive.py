"""Receptive fields over the graph: per-axis recurrences, unions where paths merge.

Each node's field is one :class:`~archcalc.arith.AxisRF` per spatial axis (height, width), computed
from its inputs' fields by the rule its layer type declares (``Resolved.rf``): a window applies
``size += (k−1)·jump; jump *= s; start −= p·jump``; an identity keeps the field; a union (joins) takes
the union of its inputs' fields and says when they are not aligned (different centres) — an input
broadcast over space (a squeeze-excitation gate, or a branch whose every unit sees the same field) is
global context, left out of the union and said; unavailable says why. Paths with different effective
strides cannot be summarised by one (size, jump, start): the field is then reported unavailable, with the
reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from archcalc.arith import AxisRF, Num, merge_axis
from archcalc.frozen import new_record
from archcalc.layers import Identity, RFRule, Unavailable, Union, Window, unreachable

if TYPE_CHECKING:
    from typing import NamedTuple as Record
else:
    from archcalc.frozen import Record


class RF(Record):
    """Receptive field of a node's output units along height and width, in input pixels."""

    h: AxisRF
    w: AxisRF
    aligned: bool = True
    #: a broadcast gate (squeeze-excitation) brought global context into this field on the way
    context: bool = False
    #: behind upsampling: the envelope of the units' fields (each unit sees the pixels inside it, some a little
    #: less), even where the figures came out whole
    envelope: bool = False

    @property
    def size(self) -> tuple[Num, Num]:
        return self.h.size, self.w.size

    @property
    def jump(self) -> tuple[Num, Num]:
        return self.h.jump, self.w.jump

    @property
    def start(self) -> tuple[Num, Num]:
        return self.h.start, self.w.start

    @property
    def broadcast(self) -> bool:
        """Every unit sees the same field (a jump of 0 on both axes): a 1×1 map upsampled back to a map's
        size, as DeepLabV3's image pooling is."""
        return self.h.jump == 0 and self.w.jump == 0

    @property
    def fractional(self) -> bool:
        """Behind upsampling: an envelope (adjacent units are a fraction of a pixel apart somewhere on the way)."""
        return self.envelope or self.h.fractional or self.w.fractional

    def region(self, y: int, x: int) -> tuple[tuple[int, int], tuple[int, int]]:
        """Inclusive (rows, cols) input interval seen by output unit (y, x)."""
        return self.h.interval(y), self.w.interval(x)


ORIGIN = RF(AxisRF(), AxisRF())
#: Largest field size or jump computed (and largest denominator of a fractional one): beyond it, strides of
#: 2⁶² chained (or upsampling by as much) would grow the numbers by 62 bits per layer, to megabytes each over
#: a deep spec, and mean nothing for any image.
MAX_FIELD = 2**63
MISALIGNED = "paths merge misaligned: field is the union of their fields"
NORMALISED_OVER_MAP = "plus global context: each unit is normalised by statistics of the whole map"
GLOBAL_CONTEXT = ("plus global context: a gate computed from the whole map (squeeze-excitation) scales"
                  " every unit")
BROADCAST_CONTEXT = ("plus global context: a branch broadcast from one unit (image pooling: a global pool"
                     " upsampled back to the map's size) gives every unit the same field")


def keeps_field(rule: RFRule) -> bool:
    """Whether ``rule`` hands a node's one input field on as it is (what :func:`propagate` does for it when
    that field is known): the calculator skips the call for such a node."""
    return type(rule) is Identity and not rule.context


def propagate(rule: RFRule, fields: Sequence[RF | None]) -> tuple[RF | None, str | None]:
    """A node's field from its inputs' fields by its layer's rule; (None, reason) when it cannot be given."""
    if len(fields) == 1 and fields[0] is not None:  # the common cases first, on the short way
        if keeps_field(rule):
            return fields[0], None
        if type(rule) is Window:
            whole = _whole_window(fields[0], rule)
            if whole is not None:
                return whole, None
    elif len(fields) > 1 and type(rule) is Union and not rule.context:
        merged = _whole_union(fields)
        if merged is not None:
            return merged
    if any(f is None for f in fields):
        return None, "an input's receptive field is unavailable"
    known = [f for f in fields if f is not None]
    match rule:
        case Unavailable(reason=reason):
            return None, reason
        case Union(context=context):
            if not known:
                return ORIGIN, None  # a source: each unit sees itself
            gates = [f for i, f in enumerate(known) if i in context]
            local = [f for i, f in enumerate(known) if i not in context and not f.broadcast]
            if not local:  # every input broadcast: their fields stand still together
                local = [f for i, f in enumerate(known) if i not in context]
            gated = len(local) < len(known) or any(f.context for f in known)
            envelope = any(f.fractional for f in local)
            note = GLOBAL_CONTEXT if gates else BROADCAST_CONTEXT if len(local) < len(known) else None
            if len(local) == 1:
                return RF(local[0].h, local[0].w, local[0].aligned, gated, envelope), note
            try:
                h, h_ok = merge_axis([f.h for f in local])
                w, w_ok = merge_axis([f.w for f in local])
            except ValueError as exc:
                return None, str(exc)
            aligned = h_ok and w_ok and all(f.aligned for f in local)
            if not aligned:
                note = MISALIGNED
            return RF(h, w, aligned, gated, envelope), note
        case Identity(context=context):
            if context:
                return RF(known[0].h, known[0].w, known[0].aligned, True, known[0].envelope), NORMALISED_OVER_MAP
            return known[0], None
        case Window(kernel=kernel, stride=stride, pad_before=pad):
            field = known[0]
            h, w = field.h.through(kernel[0], stride[0], pad[0]), field.w.through(kernel[1], stride[1], pad[1])
            if _out_of_range(h) or _out_of_range(w):  # strides multiply: unbounded over depth
                return None, f"receptive field beyond {MAX_FIELD:.1e} pixels (strides multiply past any image)"
            upsampling = not all(isinstance(v, int) for v in (*kernel, *stride, *pad))
            return RF(h, w, field.aligned, field.context, field.fractional or upsampling), None
        case _:
            unreachable(rule)


def _whole_window(field: RF, rule: Window) -> RF | None:
    """A window over a whole-number field with whole-number geometry and results in range: the field
    :func:`propagate` gives, in plain integer arithmetic; None for every other case (upsampling, fractions,
    sizes past MAX_FIELD), which takes the general way."""
    h, w = field.h, field.w
    (kh, kw), (sh, sw), (ph, pw) = rule.kernel, rule.stride, rule.pad_before
    if not (type(h.size) is int and type(h.jump) is int and type(h.start) is int and type(w.size) is int
            and type(w.jump) is int and type(w.start) is int and type(kh) is int and type(kw) is int
            and type(sh) is int and type(sw) is int and type(ph) is int and type(pw) is int):
        return None
    size_h, jump_h, size_w, jump_w = h.size + (kh - 1) * h.jump, h.jump * sh, w.size + (kw - 1) * w.jump, w.jump * sw
    if abs(size_h) > MAX_FIELD or abs(jump_h) > MAX_FIELD or abs(size_w) > MAX_FIELD or abs(jump_w) > MAX_FIELD:
        return None
    return new_record(RF, (new_record(AxisRF, (size_h, jump_h, h.start - ph * h.jump)),
                           new_record(AxisRF, (size_w, jump_w, w.start - pw * w.jump)), field.aligned,
                           field.context, field.envelope))


def _whole_union(fields: Sequence[RF | None]) -> tuple[RF, str | None] | None:
    """A join of whole-number fields with one jump per axis, none broadcast nor behind a gate: the field
    :func:`propagate` gives (their union, aligned when their centres agree), in plain integer arithmetic; None
    for every other case, which takes the general way. (One loop of plain comparisons: a residual add per
    block of a deep ResNet comes here.)"""
    first = fields[0]
    if first is None:
        return None
    jump_h, jump_w = first.h.jump, first.w.jump
    low_h = low_w = high_h = high_w = centre_h = centre_w = 0
    aligned = True
    for k, f in enumerate(fields):
        if f is None or f.context or f.envelope:
            return None
        h, w = f.h, f.w
        size_h, start_h, size_w, start_w = h.size, h.start, w.size, w.start
        if not (type(size_h) is int and type(h.jump) is int and type(start_h) is int and type(size_w) is int
                and type(w.jump) is int and type(start_w) is int) or (h.jump == 0 and w.jump == 0):
            return None
        if h.jump != jump_h or w.jump != jump_w:
            return None
        end_h, end_w = start_h + size_h - 1, start_w + size_w - 1
        # the centres, doubled (whole numbers)
        if k == 0:
            low_h, high_h, centre_h, low_w, high_w, centre_w = start_h, end_h, start_h + end_h, start_w, end_w, \
                start_w + end_w
        else:
            low_h, high_h = (start_h if start_h < low_h else low_h), (end_h if end_h > high_h else high_h)
            low_w, high_w = (start_w if start_w < low_w else low_w), (end_w if end_w > high_w else high_w)
            aligned = aligned and start_h + end_h == centre_h and start_w + end_w == centre_w
        aligned = aligned and f.aligned
    h_field = new_record(AxisRF, (high_h - low_h + 1, jump_h, low_h))
    w_field = new_record(AxisRF, (high_w - low_w + 1, jump_w, low_w))
    return new_record(RF, (h_field, w_field, aligned, False, False)), None if aligned else MISALIGNED


def _out_of_range(axis: AxisRF) -> bool:
    """A size or jump past MAX_FIELD, or a fraction whose denominator is (upsampling chained)."""
    for value in (axis.size, axis.jump):
        if isinstance(value, int):
            if abs(value) > MAX_FIELD:
                return True
        elif value.denominator > MAX_FIELD or abs(value.numerator) > MAX_FIELD * value.denominator:
            return True
    return False
