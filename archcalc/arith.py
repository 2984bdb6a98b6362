"""Pure arithmetic of sliding windows: output sizes, 'same' padding, receptive-field recurrences.

Everything here works on one spatial axis and plain ints, so it can be checked by hand (doctests).

>>> conv_out(227, 11, 4, 0, 0)          # AlexNet conv1, CS231n: (227-11)/4+1 = 55
55
>>> conv_out(55, 3, 2, 0, 0)            # AlexNet pool1: (55-3)/2+1 = 27
27
"""

from __future__ import annotations

import math
import sys
from typing import TYPE_CHECKING, TypeAlias, TypeGuard

if TYPE_CHECKING:
    from fractions import Fraction
    from typing import NamedTuple as Record
else:
    from archcalc.frozen import Record


def effective_kernel(kernel: int, dilation: int = 1) -> int:
    """Extent of a dilated kernel: ``d·(k−1)+1``.

    >>> effective_kernel(3, 2)
    5
    """
    return dilation * (kernel - 1) + 1


def conv_out(size: int, kernel: int, stride: int, pad_before: int, pad_after: int,
             dilation: int = 1, ceil_mode: bool = False) -> int:
    """Output length of a convolution or pooling window along one axis (may be ≤ 0: caller checks).

    ``ceil_mode`` follows PyTorch: the last window must start inside the input or the left padding.

    >>> conv_out(224, 3, 1, 1, 1)
    224
    >>> conv_out(112, 3, 2, 0, 0, ceil_mode=True)   # GoogLeNet max pool, torchvision ceil_mode
    56
    """
    span = size + pad_before + pad_after - effective_kernel(kernel, dilation)
    if span < 0 or not ceil_mode:
        return span // stride + 1
    out = -(-span // stride) + 1
    if (out - 1) * stride >= size + pad_before:
        out -= 1
    return out


def unread_tail(size: int, kernel: int, stride: int, pad_before: int, pad_after: int,
                dilation: int = 1) -> int:
    """Real input pixels at the end that no window reads, beyond the gaps the stride leaves anyway.

    When W − F + 2P is not divisible by S the frameworks floor, and what is dropped is the padded
    input's tail. That matters only if the tail holds real pixels: a 7×7/2 conv with padding 3 on 224
    (ResNet) drops padding only, while 11×11/4 without padding on 224 (AlexNet) never reads the last
    input column. A kernel smaller than its stride skips pixels everywhere; its tail is no different,
    unless there is one window only (a stride larger than the extent left after the first window):
    then nothing beyond it is read at all.

    >>> unread_tail(224, 11, 4, 0, 0), unread_tail(224, 7, 2, 3, 3), unread_tail(32, 1, 2, 0, 0)
    (1, 0, 0)
    >>> unread_tail(32, 3, 64, 0, 0), unread_tail(32, 3, 5, 0, 0)
    (29, 4)
    """
    keff = effective_kernel(kernel, dilation)
    out = conv_out(size, kernel, stride, pad_before, pad_after, dilation)
    last_read = (out - 1) * stride + keff - 1
    tail = (pad_before + size - 1) - last_read
    gap = max(0, stride - keff) if out > 1 else 0
    return tail if tail > gap else 0


def same_padding(size: int, kernel: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """(before, after) padding giving ``ceil(size/stride)`` outputs, extra pixel after (TF convention).

    >>> same_padding(224, 3, 1)
    (1, 1)
    >>> same_padding(224, 4, 1)
    (1, 2)
    >>> same_padding(225, 3, 2)
    (1, 1)
    """
    out = -(-size // stride)
    total = max((out - 1) * stride + effective_kernel(kernel, dilation) - size, 0)
    return total // 2, total - total // 2


#: A receptive-field quantity: an integer, or an exact fraction behind upsampling (jump 1/2, start −1/2).
Num: TypeAlias = "int | Fraction"


def is_fraction(value: object) -> TypeGuard[Fraction]:
    """``isinstance(value, Fraction)``, without importing ``fractions`` where no fraction can exist.

    Only upsampling layers make fractions, and they import the module to do so; every other network's
    fields are ints, and importing ``fractions`` (with ``decimal``) would cost a symbolic command 9M
    instructions of its start-up.
    """
    module = sys.modules.get("fractions")
    return module is not None and isinstance(value, module.Fraction)


def exact(value: Num) -> Num:
    """``value`` as an int when it is whole (so that integer fields stay ints), else the fraction.

    >>> from fractions import Fraction
    >>> exact(Fraction(6, 2)), exact(Fraction(1, 2))
    (3, Fraction(1, 2))
    """
    if type(value) is not int and is_fraction(value) and value.denominator == 1:
        return value.numerator
    return value


class AxisRF(Record):
    """Receptive field along one axis, in input pixels.

    ``size``: extent seen by one output unit; ``jump``: distance in the input between adjacent output
    units (the effective stride); ``start``: first input index seen by output unit 0 (negative where it
    reaches into padding). Unit ``i`` sees ``[start + i·jump, start + i·jump + size − 1]``.

    Behind an upsampling layer (transposed convolution, upsample, pixel shuffle) adjacent units are a
    fraction of a pixel apart: the three are then exact fractions (never floats), and the interval is the
    field's envelope — exact for the units it is tight on, a little wide for the others (see
    :func:`upsampling_window`).
    """

    size: Num = 1
    jump: Num = 1
    start: Num = 0

    def through(self, kernel: Num, stride: Num, pad_before: Num) -> AxisRF:
        """The field after a window of extent ``kernel`` (already dilated), ``stride`` and padding.

        >>> AxisRF().through(3, 1, 1).through(3, 1, 1).through(3, 1, 1)   # three stacked 3x3: 7
        AxisRF(size=7, jump=1, start=-3)
        """
        return AxisRF(
            size=exact(self.size + (kernel - 1) * self.jump),
            jump=exact(self.jump * stride),
            start=exact(self.start - pad_before * self.jump),
        )

    def interval(self, index: int = 0) -> tuple[int, int]:
        """Inclusive input interval seen by output unit ``index``: the pixels inside its (envelope) field.

        >>> from fractions import Fraction
        >>> AxisRF(Fraction(3, 2), Fraction(1, 2), Fraction(-1, 2)).interval(4)   # nearest ×2: unit 4 reads 2
        (2, 2)
        """
        first = self.start + index * self.jump
        last = first + self.size - 1
        return math.ceil(first), math.floor(last)

    @property
    def center(self) -> Num:
        """Centre of unit 0's field, used to check that merged paths are aligned."""
        half, start = self.size - 1, self.start
        if type(half) is int and type(start) is int and half % 2 == 0:  # a whole centre: no fraction made
            return start + half // 2
        from fractions import Fraction

        return exact(start + Fraction(half, 2))

    @property
    def fractional(self) -> bool:
        """Whether the field is an envelope behind upsampling (a fractional jump, start or size)."""
        return any(is_fraction(v) for v in (self.size, self.jump, self.start))


def upsampling_window(ratio: Fraction, span: Fraction, offset: Fraction) -> tuple[Fraction, Fraction, Fraction]:
    """A window over the input's units for a layer whose output unit ``o`` reads input units in
    ``[o·ratio + offset, o·ratio + offset + span]`` (real bounds): (kernel, stride, pad_before) for
    :meth:`AxisRF.through`, in input units.

    >>> from fractions import Fraction
    >>> upsampling_window(Fraction(1, 2), Fraction(1, 2), Fraction(-1, 2))   # nearest ×2: unit o reads o//2
    (Fraction(3, 2), Fraction(1, 2), Fraction(1, 2))
    """
    return span + 1, ratio, -offset


def merge_axis(fields: list[AxisRF]) -> tuple[AxisRF, bool]:
    """Union of the fields of paths joined by add/concat; second item: were they aligned.

    Aligned means equal jump and equal centre. With equal jumps the union is exact for every unit;
    with unequal jumps no single (size, jump, start) describes all units and the caller must say so
    (``ValueError``).

    >>> merge_axis([AxisRF(3, 1, -1), AxisRF(5, 1, -2)])
    (AxisRF(size=5, jump=1, start=-2), True)
    >>> merge_axis([AxisRF(3, 1, -1), AxisRF(3, 1, 0)])
    (AxisRF(size=4, jump=1, start=-1), False)
    """
    jumps = {f.jump for f in fields}
    if len(jumps) != 1:
        raise ValueError(f"paths with different effective strides {sorted(map(str, jumps))} cannot be merged")
    first = min(f.start for f in fields)
    last = max(f.start + f.size - 1 for f in fields)
    aligned = len({f.center for f in fields}) == 1
    return AxisRF(size=exact(last - first + 1), jump=fields[0].jump, start=exact(first)), aligned
