"""Convolutions and pooling: every layer that slides a window over the feature map."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import ClassVar, TypeVar

from archcalc import arith
from archcalc.errors import SourceLocation, SpecError
from archcalc.ir import Shape
from archcalc.layers.base import (
    Config,
    Layer,
    Padding,
    Table,
    attr,
    need_map,
    numel,
    resolve_padding,
)
from archcalc.layers.record import (
    Cost,
    Family,
    Geometry,
    Identity,
    Pair,
    Params,
    RFRule,
    Saved,
    Unavailable,
    Window,
)

_KERNEL_DOC = "kernel size, an integer or [h, w]"
_PAD_DOC = "zero padding: int, [h, w], [top, bottom, left, right], same or valid"


def _pair_text(p: Pair) -> str:
    return f"{p[0]}×{p[1]}"


def _stride_text(s: Pair) -> str:
    if s == (1, 1):
        return ""
    return f", /{s[0]}" if s[0] == s[1] else f", /{s[0]}×{s[1]}"


class WindowConfig(Config):
    k: Pair = attr("pair", doc=_KERNEL_DOC, aliases=("kernel", "kernel_size"), min=1)
    pad: Padding = attr("padding", 0, _PAD_DOC, aliases=("padding", "p"))


W = TypeVar("W", bound=WindowConfig)


class Windowed(Layer[W]):
    """Shared rules of sliding-window layers: geometry, output size, fit check, saved input, field."""

    def stride(self, a: W) -> Pair:
        raise NotImplementedError(self.key)

    def dilation(self, a: W) -> Pair:
        return (1, 1)

    def ceil(self, a: W) -> bool:
        return False

    def pad_mode(self, a: W) -> str:
        return "zeros"

    def _frame(self, a: W, ins: Sequence[Shape]) -> tuple[int, int, Pair, Pair, Pair, tuple[int, int, int, int]]:
        """Input H and W, kernel, stride, dilation and explicit (top, bottom, left, right) padding."""
        _, h, w = need_map(self.key, ins)
        k, s, d = a.k, self.stride(a), self.dilation(a)
        return h, w, k, s, d, resolve_padding(a.pad, (h, w), k, s, d)

    def out_hw(self, a: W, ins: Sequence[Shape]) -> Pair:
        """Output (H, W), or a SpecError explaining the collapse."""
        h, w, k, s, d, pad = self._frame(a, ins)
        ceil = self.ceil(a)
        oh = arith.conv_out(h, k[0], s[0], pad[0], pad[1], d[0], ceil)
        ow = arith.conv_out(w, k[1], s[1], pad[2], pad[3], d[1], ceil)
        if oh <= 0 or ow <= 0:
            raise SpecError(
                f"computed output size would be {oh}×{ow} (zero or negative): input {h}×{w},"
                f" kernel {k[0]}×{k[1]}, stride {s[0]}×{s[1]}, padding {pad}, dilation {d[0]}×{d[1]}")
        return oh, ow

    def geometry(self, a: W, ins: Sequence[Shape]) -> Geometry:
        """Where torch pads natively (symmetric zeros) and where a backend must pad explicitly.

        In ceil mode an explicit pad also makes room for the last window, so that a floor-mode window
        gives the ceil-mode size (torch's own ceil rule does not see explicit padding).
        """
        h, w, k, s, d, pad = self._frame(a, ins)
        top, bottom, left, right = pad
        mode = self.pad_mode(a)
        native = not any(pad) or (mode == "zeros" and top == bottom and left == right)
        room = (0, 0)
        if not native and self.ceil(a):
            oh, ow = self.out_hw(a, ins)
            room = (max(0, (oh - 1) * s[0] + arith.effective_kernel(k[0], d[0]) - (h + top + bottom)),
                    max(0, (ow - 1) * s[1] + arith.effective_kernel(k[1], d[1]) - (w + left + right)))
        return Geometry(kernel=k, stride=s, dilation=d, pad=pad, ceil=self.ceil(a), native=native,
                        pad_mode=mode, ceil_room=room)

    def leftover(self, a: W, ins: Sequence[Shape]) -> str | None:
        """Says so when (W − F + 2P) is not divisible by S and the floor leaves real pixels unread."""
        h, w, k, s, d, pad = self._frame(a, ins)
        if self.ceil(a) or a.pad == "same":
            return None
        bad = []
        for axis, size, kk, ss, pb, pa, dd in (("height", h, k[0], s[0], pad[0], pad[1], d[0]),
                                               ("width", w, k[1], s[1], pad[2], pad[3], d[1])):
            unread = arith.unread_tail(size, kk, ss, pb, pa, dd)
            if unread:
                span = size + pb + pa - arith.effective_kernel(kk, dd)
                what = f"{'row' if axis == 'height' else 'column'}{'s' if unread > 1 else ''}"
                if ss > span:
                    bad.append(f"{axis}: stride {ss} is larger than the {span} positions left after the"
                               f" first window: one output, the last {unread} of {size} input {what} never read")
                    continue
                bad.append(f"{axis}: ({size} − {arith.effective_kernel(kk, dd)} + {pb + pa}) = {span}"
                           f" is not divisible by stride {ss}, the last {unread} input {what} never read")
        if not bad:
            return None
        return "stride doesn't fit, output floored as the frameworks do: " + "; ".join(bad)

    def saved_input(self, a: W, ins: Sequence[Shape]) -> list[Saved]:
        """What autograd keeps of the input, which depends on how torch pads it (measured, torch 2.x).

        Zero padding that torch's kernels do natively (symmetric) keeps the input itself. Padding they
        cannot do (asymmetric, e.g. 'same' at stride 2) is an explicit ``F.pad`` whose copy is what the
        conv or pool keeps; a constant or circular pad keeps nothing itself. Reflect and replicate
        pads keep their input too. Without any padding the mode does not matter.
        """
        g = self.geometry(a, ins)
        if g.native:
            return [Saved.input(numel(ins[0]))]
        c, h, w = ins[0]
        top, bottom, left, right = g.pad
        padded = Saved.own("padded_input", c * (h + top + bottom + g.ceil_room[0]) * (w + left + right
                                                                                      + g.ceil_room[1]))
        if g.pad_mode in ("reflect", "replicate"):
            # the pad keeps its input for its own backward, which runs only if that input needs a gradient
            # (the image does not: counting it over-stated a reflect-padded first conv by the image's bytes)
            return [Saved.input(numel(ins[0]), needed_if=(0,)), padded]
        return [padded]

    def rf(self, a: W, ins: Sequence[Shape], out: Shape) -> RFRule:
        g = self.geometry(a, ins)
        return Window(kernel=g.extent, stride=g.stride, pad_before=(g.pad[0], g.pad[2]))


# ---- convolution ----------------------------------------------------------------------------------

class ConvConfig(WindowConfig):
    out: int = attr("int", doc="number of filters (output channels)", aliases=("filters", "channels"), min=1)
    s: Pair = attr("pair", 1, "stride", aliases=("stride",), min=1)
    dilation: Pair = attr("pair", 1, "dilation", aliases=("d",), min=1)
    groups: int = attr("int", 1, "channel groups (AlexNet's two GPUs: 2)", aliases=("g",), min=1)
    bias: bool = attr("bool", True, "learn a bias per filter")
    table: Table | None = attr("table", None, "connection table: for each output map, the input maps it reads"
                               " (LeNet-5's C3)", aliases=("connections",))
    padding_mode: str = attr("choice", "zeros", "how padding is filled",
                             choices=("zeros", "reflect", "replicate", "circular"))


class Conv(Windowed[ConvConfig]):
    counts_depth = True
    key = "conv"
    aliases = ("conv2d", "convolution")
    short = "conv"
    primary = "out"
    family = Family.CONV
    config = ConvConfig
    doc = "2-D convolution (cross-correlation), optionally grouped, dilated or with a connection table."

    def stride(self, a: ConvConfig) -> Pair:
        return a.s

    def dilation(self, a: ConvConfig) -> Pair:
        return a.dilation

    def pad_mode(self, a: ConvConfig) -> str:
        return a.padding_mode

    def check(self, a: ConvConfig, where: SourceLocation | None) -> None:
        if a.table is not None:
            if a.groups != 1:
                raise SpecError("a conv cannot have both 'groups' and a connection 'table'", where)
            if len(a.table) != a.out:
                raise SpecError(f"connection table has {len(a.table)} rows but the conv has"
                                f" {a.out} output maps", where)
            for row in a.table:
                if not row or len(set(row)) != len(row):
                    raise SpecError("each connection-table row needs distinct input maps", where)
        if a.out % a.groups:
            raise SpecError(f"output channels {a.out} are not divisible by groups {a.groups}", where)

    def _fan_in(self, a: ConvConfig, cin: int) -> int:
        """Input channels summed over all filters (C_in/groups per filter, or the table)."""
        if a.table is not None:
            return sum(len(row) for row in a.table)
        return a.out * (cin // a.groups)

    def output_shape(self, a: ConvConfig, ins: Sequence[Shape]) -> Shape:
        cin, h, w = need_map(self.key, ins)
        if cin % a.groups:
            raise SpecError(f"input channels {cin} are not divisible by groups {a.groups}")
        if a.table is not None:
            top = max(max(row) for row in a.table)
            if top >= cin:
                raise SpecError(f"connection table reads input map {top} but the input has {cin} maps"
                                " (indices start at 0)")
        oh, ow = self.out_hw(a, ins)
        pad = self.geometry(a, ins).pad
        mode = a.padding_mode
        # torch: reflect padding must be smaller than the input, circular may not wrap more than once
        too_big = (max(pad[:2]) >= h or max(pad[2:]) >= w) if mode == "reflect" else (
            (max(pad[:2]) > h or max(pad[2:]) > w) if mode == "circular" else False)
        if too_big:
            raise SpecError(f"{mode} padding {pad} is too large for a {h}×{w} input"
                            f" ({'smaller than' if mode == 'reflect' else 'at most'} the input size)")
        return (a.out, oh, ow)

    def params(self, a: ConvConfig, ins: Sequence[Shape], out: Shape) -> Params:
        kh, kw = a.k
        # A connection table is a fixed 0/1 mask over the dense weight: a buffer torch holds.
        mask = a.out * ins[0][0] * kh * kw if a.table is not None else 0
        return Params(weights=self._fan_in(a, ins[0][0]) * kh * kw, biases=a.out if a.bias else 0, buffers=mask)

    def cost(self, a: ConvConfig, ins: Sequence[Shape], out: Shape) -> Cost:
        kh, kw = a.k
        positions = out[1] * out[2]
        macs = self._fan_in(a, ins[0][0]) * kh * kw * positions
        # frameworks count a masked (connection-table) weight as dense
        dense = a.out * ins[0][0] * kh * kw * positions if a.table is not None else macs
        bias_ops = numel(out) if a.bias else 0
        return Cost(macs=macs, ops=bias_ops, bwd_input_macs=macs, bwd_weight_macs=macs, bwd_ops=bias_ops,
                    framework_macs=dense)

    def saved(self, a: ConvConfig, ins: Sequence[Shape], out: Shape, inplace: bool) -> list[Saved]:
        saved = self.saved_input(a, ins)
        if a.table is not None:
            # The backend masks the weight (weight * mask); the product is a fresh tensor autograd keeps.
            kh, kw = a.k
            saved.append(Saved.own("masked_weight", a.out * ins[0][0] * kh * kw, per_sample=False, fp32=True))
        return saved

    def label(self, a: ConvConfig, ins: Sequence[Shape], out: Shape) -> str:
        text = f"{_pair_text(a.k)} conv, {a.out}{_stride_text(a.s)}"
        if a.dilation != (1, 1):
            text += f", dil {a.dilation[0]}"
        if a.groups != 1:
            text += f", {a.groups} groups"
        return text

    def connections(self, a: ConvConfig, ins: Sequence[Shape], out: Shape, cost: Cost) -> int:
        return cost.macs + (numel(out) if a.bias else 0)


# ---- pooling --------------------------------------------------------------------------------------

class PoolConfig(WindowConfig):
    s: Pair | None = attr("pair", None, "stride (default: the kernel size)", aliases=("stride",), min=1)
    ceil: bool = attr("bool", False, "ceil mode: keep a last partial window", aliases=("ceil_mode",))


P = TypeVar("P", bound=PoolConfig)


#: torch's pooling kernels read kernel, stride, padding and dilation as 32-bit ints
POOL_INT_MAX = 2**31 - 1


class _Pool(Windowed[P]):
    short = "pool"
    primary = "k"  # maxpool: 2 is a 2×2 window, stride 2
    family = Family.POOL
    what: ClassVar[str] = "pool"

    def stride(self, a: P) -> Pair:
        return a.s if a.s is not None else a.k

    def ceil(self, a: P) -> bool:
        return a.ceil

    def check(self, a: P, where: SourceLocation | None) -> None:
        k, pad = a.k, a.pad
        largest = max(*k, *self.stride(a), *self.dilation(a))
        if largest > POOL_INT_MAX:  # a 2**62 stride passed the calculator and crashed torch ('without overflow')
            raise SpecError(f"pool kernel, stride and dilation must be at most {POOL_INT_MAX} (PyTorch's pooling"
                            f" takes 32-bit sizes), got {largest}", where)
        if pad != "same" and (pad[0] > k[0] // 2 or pad[2] > k[1] // 2):
            raise SpecError(f"pool padding {pad} must be at most half the kernel {k[0]}×{k[1]}"
                            " (as PyTorch requires)", where)

    def output_shape(self, a: P, ins: Sequence[Shape]) -> Shape:
        oh, ow = self.out_hw(a, ins)
        return (ins[0][0], oh, ow)

    def label(self, a: P, ins: Sequence[Shape], out: Shape) -> str:
        return f"{_pair_text(a.k)} {self.what}{_stride_text(self.stride(a))}"


class MaxPoolConfig(PoolConfig):
    dilation: Pair = attr("pair", 1, "dilation", aliases=("d",), min=1)


class MaxPool(_Pool[MaxPoolConfig]):
    key = "maxpool"
    aliases = ("max_pool", "maxpool2d")
    config = MaxPoolConfig
    what = "max pool"
    doc = "Max pooling: (k·k − 1) comparisons per output; indices (int64) kept for backward."

    def dilation(self, a: MaxPoolConfig) -> Pair:
        return a.dilation

    def cost(self, a: MaxPoolConfig, ins: Sequence[Shape], out: Shape) -> Cost:
        kh, kw = a.k
        n = numel(out)
        return Cost(ops=(kh * kw - 1) * n, bwd_ops=n)

    def saved(self, a: MaxPoolConfig, ins: Sequence[Shape], out: Shape, inplace: bool) -> list[Saved]:
        return [*self.saved_input(a, ins), Saved.own("indices", numel(out), itemsize=8)]


class AvgPoolConfig(PoolConfig):
    count_include_pad: bool = attr("bool", True, "padding zeros count in the average (PyTorch default)")


class AvgPool(_Pool[AvgPoolConfig]):
    key = "avgpool"
    aliases = ("avg_pool", "avgpool2d", "meanpool")
    config = AvgPoolConfig
    what = "avg pool"
    doc = "Average pooling: k·k − 1 adds and one scaling per output."

    def cost(self, a: AvgPoolConfig, ins: Sequence[Shape], out: Shape) -> Cost:
        kh, kw = a.k
        n = numel(out)
        return Cost(ops=kh * kw * n, bwd_ops=kh * kw * n)

    def saved(self, a: AvgPoolConfig, ins: Sequence[Shape], out: Shape, inplace: bool) -> list[Saved]:
        return self.saved_input(a, ins)

    def output_shape(self, a: AvgPoolConfig, ins: Sequence[Shape]) -> Shape:
        shape = super().output_shape(a, ins)
        h, w, k, s, _, (top, bottom, left, right) = self._frame(a, ins)
        uneven = top != bottom or left != right
        if uneven and a.ceil and ((shape[1] - 1) * s[0] + k[0] > h + top + bottom
                                  or (shape[2] - 1) * s[1] + k[1] > w + left + right):
            # torch divides a ceil-mode last window by its part inside input + padding; with uneven
            # padding (an explicit pad, torch then sees none) that divisor cannot be reproduced
            raise SpecError(f"average pooling in ceil mode with uneven padding {(top, bottom, left, right)}:"
                            " its last window passes the padding, which torch cannot express",
                            hint="use symmetric padding or drop ceil")
        if uneven and not a.count_include_pad:
            # torch pads pools symmetrically; uneven padding is an explicit zero pad, which it counts
            raise SpecError(f"average pooling with uneven padding {(top, bottom, left, right)} cannot"
                            " exclude the padding from the average (torch pads symmetrically)",
                            hint="use count_include_pad: true or symmetric padding")
        return shape


class Subsample(_Pool[PoolConfig]):
    counts_depth = True
    key = "subsample"
    aliases = ("trainable_pool",)
    short = "subsample"
    config = PoolConfig
    what = "subsample"
    doc = ("LeNet-5's trainable subsampling (S2, S4): the sum of each k×k window times a learned"
           " coefficient plus a learned bias, per map (2 parameters a map).")

    def params(self, a: PoolConfig, ins: Sequence[Shape], out: Shape) -> Params:
        c = ins[0][0]
        return Params(weights=c, biases=c)

    def cost(self, a: PoolConfig, ins: Sequence[Shape], out: Shape) -> Cost:
        kh, kw = a.k
        n = numel(out)
        # window sum (k·k − 1 adds), one multiply by the coefficient (a MAC-free scale), one bias add
        return Cost(ops=(kh * kw + 1) * n, bwd_ops=(kh * kw + 2) * n, bwd_weight_macs=n)

    def saved(self, a: PoolConfig, ins: Sequence[Shape], out: Shape, inplace: bool) -> list[Saved]:
        # avg_pool saves its input, for its own backward: only if that input needs a gradient (the image
        # does not, and a first subsample was over-counted 5×); the product with the coefficient saves the
        # pooled map, for the coefficient's gradient.
        pooling = [Saved(s.kind, s.elems, index=s.index, label=s.label, itemsize=s.itemsize, per_sample=s.per_sample,
                         fp32=s.fp32, needed_if=(0,), channels_last=s.channels_last)
                   for s in self.saved_input(a, ins)]
        return [*pooling, Saved.own("pooled", numel(out))]

    def connections(self, a: PoolConfig, ins: Sequence[Shape], out: Shape, cost: Cost) -> int:
        kh, kw = a.k
        return (kh * kw + 1) * numel(out)  # LeCun: the window's inputs and the bias, per output unit


# ---- global and adaptive pooling --------------------------------------------------------------------

class GlobalAvgPool(Layer[Config]):
    key = "gap"
    aliases = ("global_avgpool", "global_avg_pool", "globalavgpool")
    short = "gap"
    family = Family.POOL
    doc = "Global average pooling to C×1×1 (GoogLeNet, ResNet)."

    def output_shape(self, a: Config, ins: Sequence[Shape]) -> Shape:
        c, _, _ = need_map(self.key, ins)
        return (c, 1, 1)

    def cost(self, a: Config, ins: Sequence[Shape], out: Shape) -> Cost:
        n = numel(ins[0])
        return Cost(ops=n, bwd_ops=n)

    def rf(self, a: Config, ins: Sequence[Shape], out: Shape) -> RFRule:
        _, h, w = need_map(self.key, ins)
        return Window(kernel=(h, w), stride=(1, 1), pad_before=(0, 0))

    def label(self, a: Config, ins: Sequence[Shape], out: Shape) -> str:
        return "global avg pool"


class AdaptiveConfig(Config):
    out: Pair = attr("size", doc="output size, an integer or [h, w]", min=1)


def _adaptive_windows(size: int, out: int) -> list[tuple[int, int]]:
    """torch's adaptive pooling windows along one axis: [floor(i·n/o), ceil((i+1)·n/o))."""
    return [((i * size) // out, -(-((i + 1) * size) // out)) for i in range(out)]


def _adaptive_span(size: int, out: int) -> int:
    """Σ of the window lengths along one axis, in closed form (``out`` is unbounded: 10^12 windows were a
    MemoryError): Σ ceil((i+1)n/o) − Σ floor(i·n/o) = n + o − gcd(n, o).

    >>> all(_adaptive_span(n, o) == sum(e - s for s, e in _adaptive_windows(n, o))
    ...     for n in range(1, 30) for o in range(1, 30))
    True
    """
    return size + out - math.gcd(size, out)


#: above this many windows per axis the receptive field is not worked out window by window
MAX_ADAPTIVE_WINDOWS = 1 << 16


class AdaptiveAvgPool(Layer[AdaptiveConfig]):
    key = "adaptive_avgpool"
    aliases = ("adaptive_avg_pool", "adaptiveavgpool")
    short = "pool"
    family = Family.POOL
    config = AdaptiveConfig
    doc = "Adaptive average pooling to a fixed output size (torchvision's AlexNet and VGG use 6×6 / 7×7)."
    primary = "out"

    def output_shape(self, a: AdaptiveConfig, ins: Sequence[Shape]) -> Shape:
        c, _, _ = need_map(self.key, ins)
        return (c, a.out[0], a.out[1])

    def cost(self, a: AdaptiveConfig, ins: Sequence[Shape], out: Shape) -> Cost:
        _, h, w = need_map(self.key, ins)
        # the windows are separable: Σ over (row, col) windows of rows·cols = (Σ rows)·(Σ cols)
        rows, cols = _adaptive_span(h, a.out[0]), _adaptive_span(w, a.out[1])
        n = rows * cols * ins[0][0]
        return Cost(ops=n, bwd_ops=n)

    def rf(self, a: AdaptiveConfig, ins: Sequence[Shape], out: Shape) -> RFRule:
        _, h, w = need_map(self.key, ins)
        oh, ow = a.out
        if (h, w) == (oh, ow):
            return Identity()
        spans = []
        for size, n_out in ((h, oh), (w, ow)):
            if n_out > MAX_ADAPTIVE_WINDOWS:
                return Unavailable(f"adaptive pooling {size}→{n_out}: receptive fields are worked out for at"
                                   f" most {MAX_ADAPTIVE_WINDOWS} windows per axis")
            wins = _adaptive_windows(size, n_out)
            extents = {e - s for s, e in wins}
            starts = [s for s, _ in wins]
            steps = {b - a_ for a_, b in itertools.pairwise(starts)}
            if len(extents) != 1 or len(steps) > 1:
                return Unavailable(f"adaptive pooling {size}→{n_out} uses uneven windows; its receptive"
                                   " field is not one (size, stride) pair")
            spans.append((extents.pop(), steps.pop() if steps else 1))
        return Window(kernel=(spans[0][0], spans[1][0]), stride=(spans[0][1], spans[1][1]), pad_before=(0, 0))

    def saved(self, a: AdaptiveConfig, ins: Sequence[Shape], out: Shape, inplace: bool) -> list[Saved]:
        if a.out == (1, 1):
            return []  # PyTorch computes a 1×1 adaptive average as mean(), which keeps no tensor
        return [Saved.input(numel(ins[0]))]

    def label(self, a: AdaptiveConfig, ins: Sequence[Shape], out: Shape) -> str:
        return f"adaptive avg pool {_pair_text(a.out)}"
