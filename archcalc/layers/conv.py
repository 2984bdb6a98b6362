"""Convolutions and pooling: every layer that slides a window over the feature map."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any, ClassVar

from archcalc import arith
from archcalc.errors import SourceLocation, SpecError
from archcalc.ir import Shape
from archcalc.layers.base import (
    Attr,
    Attrs,
    Cost,
    Layer,
    Params,
    Saved,
    Window,
    need_map,
    numel,
    resolve_padding,
)

_K = Attr("pair", doc="kernel size, an integer or [h, w]", aliases=("kernel", "kernel_size"), min=1)
_PAD = Attr("padding", 0, "zero padding: int, [h, w], [top, bottom, left, right], same or valid",
            aliases=("padding", "p"))


class Windowed(Layer):
    """Shared rules of sliding-window layers: output size, fit check, receptive-field window."""

    def _stride(self, a: Attrs) -> tuple[int, int]:
        return a["s"]  # type: ignore[no-any-return]

    def _dilation(self, a: Attrs) -> tuple[int, int]:
        return a.get("dilation", (1, 1))  # type: ignore[no-any-return]

    def _frame(self, a: Attrs, ins: Sequence[Shape]) -> tuple[int, int, tuple[int, int], tuple[int, int],
                                                              tuple[int, int], tuple[int, int, int, int]]:
        """Input H and W, kernel, stride, dilation and explicit (top, bottom, left, right) padding."""
        _, h, w = need_map(self.key, ins)
        k, s, d = a["k"], self._stride(a), self._dilation(a)
        return h, w, k, s, d, resolve_padding(a, (h, w), k, s, d)

    def geometry(self, a: Attrs, ins: Sequence[Shape]) -> tuple[tuple[int, int], tuple[int, int, int, int]]:
        """Output (H, W) and explicit padding, or a SpecError explaining the collapse."""
        h, w, k, s, d, pad = self._frame(a, ins)
        ceil = bool(a.get("ceil", False))
        oh = arith.conv_out(h, k[0], s[0], pad[0], pad[1], d[0], ceil)
        ow = arith.conv_out(w, k[1], s[1], pad[2], pad[3], d[1], ceil)
        if oh <= 0 or ow <= 0:
            raise SpecError(
                f"computed output size would be {oh}×{ow} (zero or negative): input {h}×{w},"
                f" kernel {k[0]}×{k[1]}, stride {s[0]}×{s[1]}, padding {pad}, dilation {d[0]}×{d[1]}")
        return (oh, ow), pad

    def leftover(self, a: Attrs, ins: Sequence[Shape]) -> str | None:
        """Says so when (W − F + 2P) is not divisible by S and the floor leaves real pixels unread."""
        h, w, k, s, d, pad = self._frame(a, ins)
        if a.get("ceil", False) or a["pad"] == "same":
            return None
        bad = []
        for axis, size, kk, ss, pb, pa, dd in (("height", h, k[0], s[0], pad[0], pad[1], d[0]),
                                               ("width", w, k[1], s[1], pad[2], pad[3], d[1])):
            unread = arith.unread_tail(size, kk, ss, pb, pa, dd)
            if unread:
                span = size + pb + pa - arith.effective_kernel(kk, dd)
                bad.append(f"{axis}: ({size} − {arith.effective_kernel(kk, dd)} + {pb + pa}) = {span}"
                           f" is not divisible by stride {ss}, the last {unread} input"
                           f" {'row' if axis == 'height' else 'column'}{'s' if unread > 1 else ''} never read")
        if not bad:
            return None
        return "stride doesn't fit, output floored as the frameworks do: " + "; ".join(bad)

    def saved_input(self, a: Attrs, ins: Sequence[Shape], mode: str = "zeros") -> list[Saved]:
        """What autograd keeps of the input, which depends on how torch pads it (measured, torch 2.x).

        Zero padding that torch's kernels do natively (symmetric) keeps the input itself. Padding they
        cannot do (asymmetric, e.g. 'same' at stride 2) is an explicit ``F.pad`` whose copy is what the
        conv or pool keeps; a constant or circular pad keeps nothing itself. Reflect and replicate
        pads keep their input too. Without any padding the mode does not matter.
        """
        c = ins[0][0]
        h, w, k, s, d, (top, bottom, left, right) = self._frame(a, ins)
        if not any((top, bottom, left, right)) or (mode == "zeros" and top == bottom and left == right):
            return [Saved("input0", numel(ins[0]))]
        extra_h = extra_w = 0
        if a.get("ceil"):
            # the backend pads explicitly here, with room for the ceil-mode last window (floor mode)
            (oh, ow), _ = self.geometry(a, ins)
            extra_h = max(0, (oh - 1) * s[0] + arith.effective_kernel(k[0], d[0]) - (h + top + bottom))
            extra_w = max(0, (ow - 1) * s[1] + arith.effective_kernel(k[1], d[1]) - (w + left + right))
        padded = Saved("own:padded_input", c * (h + top + bottom + extra_h) * (w + left + right + extra_w))
        if mode in ("reflect", "replicate"):
            return [Saved("input0", numel(ins[0])), padded]
        return [padded]

    def window(self, a: Attrs, ins: Sequence[Shape]) -> Window:
        _, _, k, s, d, pad = self._frame(a, ins)
        return Window(kernel=(arith.effective_kernel(k[0], d[0]), arith.effective_kernel(k[1], d[1])),
                      stride=s, pad_before=(pad[0], pad[2]))


class Conv(Windowed):
    counts_depth = True
    key = "conv"
    aliases = ("conv2d", "convolution")
    short = "conv"
    primary = "out"
    doc = "2-D convolution (cross-correlation), optionally grouped, dilated or with a connection table."
    attrs: ClassVar[dict[str, Attr]] = {
        "out": Attr("int", doc="number of filters (output channels)", aliases=("filters", "channels"), min=1),
        "k": _K,
        "s": Attr("pair", 1, "stride", aliases=("stride",), min=1),
        "pad": _PAD,
        "dilation": Attr("pair", 1, "dilation", aliases=("d",), min=1),
        "groups": Attr("int", 1, "channel groups (AlexNet's two GPUs: 2)", aliases=("g",), min=1),
        "bias": Attr("bool", True, "learn a bias per filter"),
        "table": Attr("table", None, "connection table: for each output map, the input maps it reads"
                      " (LeNet-5's C3)", aliases=("connections",)),
        "padding_mode": Attr("choice", "zeros", "how padding is filled",
                             choices=("zeros", "reflect", "replicate", "circular")),
    }

    def check(self, a: dict[str, Any], where: SourceLocation | None) -> None:
        if a["table"] is not None:
            if a["groups"] != 1:
                raise SpecError("a conv cannot have both 'groups' and a connection 'table'", where)
            if len(a["table"]) != a["out"]:
                raise SpecError(f"connection table has {len(a['table'])} rows but the conv has"
                                f" {a['out']} output maps", where)
            for row in a["table"]:
                if not row or len(set(row)) != len(row):
                    raise SpecError("each connection-table row needs distinct input maps", where)
        if a["out"] % a["groups"]:
            raise SpecError(f"output channels {a['out']} are not divisible by groups {a['groups']}", where)

    def _fan_in(self, a: Attrs, cin: int) -> int:
        """Input channels summed over all filters (C_in/groups per filter, or the table)."""
        if a["table"] is not None:
            return sum(len(row) for row in a["table"])
        return a["out"] * (cin // a["groups"])  # type: ignore[no-any-return]

    def output_shape(self, a: Attrs, ins: Sequence[Shape]) -> Shape:
        cin, _, _ = need_map(self.key, ins)
        if cin % a["groups"]:
            raise SpecError(f"input channels {cin} are not divisible by groups {a['groups']}")
        if a["table"] is not None:
            top = max(max(row) for row in a["table"])
            if top >= cin:
                raise SpecError(f"connection table reads input map {top} but the input has {cin} maps"
                                " (indices start at 0)")
        (oh, ow), pad = self.geometry(a, ins)
        mode, h, w = a["padding_mode"], ins[0][1], ins[0][2]
        # torch: reflect padding must be smaller than the input, circular may not wrap more than once
        too_big = (max(pad[:2]) >= h or max(pad[2:]) >= w) if mode == "reflect" else (
            (max(pad[:2]) > h or max(pad[2:]) > w) if mode == "circular" else False)
        if too_big:
            raise SpecError(f"{mode} padding {pad} is too large for a {h}×{w} input"
                            f" ({'smaller than' if mode == 'reflect' else 'at most'} the input size)")
        return (a["out"], oh, ow)

    def params(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> Params:
        kh, kw = a["k"]
        # A connection table is a fixed 0/1 mask over the dense weight: a buffer torch holds.
        mask = a["out"] * ins[0][0] * kh * kw if a["table"] is not None else 0
        return Params(weights=self._fan_in(a, ins[0][0]) * kh * kw, biases=a["out"] if a["bias"] else 0,
                      buffers=mask)

    def cost(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> Cost:
        kh, kw = a["k"]
        positions = out[1] * out[2]
        macs = self._fan_in(a, ins[0][0]) * kh * kw * positions
        bias_ops = numel(out) if a["bias"] else 0
        return Cost(macs=macs, ops=bias_ops, bwd_input_macs=macs, bwd_weight_macs=macs, bwd_ops=bias_ops)

    def saved(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> list[Saved]:
        saved = self.saved_input(a, ins, a["padding_mode"])
        if a["table"] is not None:
            # The backend masks the weight (weight * mask); the product is a fresh tensor autograd keeps.
            kh, kw = a["k"]
            saved.append(Saved("own:masked_weight", a["out"] * ins[0][0] * kh * kw, per_sample=False,
                               fp32=True))
        return saved


class _Pool(Windowed):
    short = "pool"

    def _stride(self, a: Attrs) -> tuple[int, int]:
        return a["s"] if a["s"] is not None else a["k"]  # type: ignore[no-any-return]

    def check(self, a: dict[str, Any], where: SourceLocation | None) -> None:
        k = a["k"]
        pad = a["pad"]
        if pad != "same" and (pad[0] > k[0] // 2 or pad[2] > k[1] // 2):
            raise SpecError(f"pool padding {pad} must be at most half the kernel {k[0]}×{k[1]}"
                            " (as PyTorch requires)", where)

    def output_shape(self, a: Attrs, ins: Sequence[Shape]) -> Shape:
        (oh, ow), _ = self.geometry(a, ins)
        return (ins[0][0], oh, ow)


_POOL_ATTRS: dict[str, Attr] = {
    "k": _K,
    "s": Attr("pair", None, "stride (default: the kernel size)", aliases=("stride",), min=1),
    "pad": _PAD,
    "ceil": Attr("bool", False, "ceil mode: keep a last partial window", aliases=("ceil_mode",)),
}


class MaxPool(_Pool):
    key = "maxpool"
    aliases = ("max_pool", "maxpool2d")
    doc = "Max pooling: (k·k − 1) comparisons per output; indices (int64) kept for backward."
    attrs: ClassVar[dict[str, Attr]] = {
        **_POOL_ATTRS,
        "dilation": Attr("pair", 1, "dilation", aliases=("d",), min=1),
    }

    def cost(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> Cost:
        kh, kw = a["k"]
        n = numel(out)
        return Cost(ops=(kh * kw - 1) * n, bwd_ops=n)

    def saved(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> list[Saved]:
        return [*self.saved_input(a, ins), Saved("own:indices", numel(out), itemsize=8)]


class AvgPool(_Pool):
    key = "avgpool"
    aliases = ("avg_pool", "avgpool2d", "meanpool")
    doc = "Average pooling: k·k − 1 adds and one scaling per output."
    attrs: ClassVar[dict[str, Attr]] = {
        **_POOL_ATTRS,
        "count_include_pad": Attr("bool", True, "padding zeros count in the average (PyTorch default)"),
    }

    def cost(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> Cost:
        kh, kw = a["k"]
        n = numel(out)
        return Cost(ops=kh * kw * n, bwd_ops=kh * kw * n)

    def saved(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> list[Saved]:
        return self.saved_input(a, ins)

    def output_shape(self, a: Attrs, ins: Sequence[Shape]) -> Shape:
        shape = super().output_shape(a, ins)
        _, h, w = need_map(self.key, ins)
        k, s = a["k"], self._stride(a)
        top, bottom, left, right = resolve_padding(a, (h, w), k, s)
        uneven = top != bottom or left != right
        if uneven and a["ceil"] and ((shape[1] - 1) * s[0] + k[0] > h + top + bottom
                                     or (shape[2] - 1) * s[1] + k[1] > w + left + right):
            # torch divides a ceil-mode last window by its part inside input + padding; with uneven
            # padding (an explicit pad, torch then sees none) that divisor cannot be reproduced
            raise SpecError(f"average pooling in ceil mode with uneven padding {(top, bottom, left, right)}:"
                            " its last window passes the padding, which torch cannot express",
                            hint="use symmetric padding or drop ceil")
        if uneven and not a["count_include_pad"]:
            # torch pads pools symmetrically; uneven padding is an explicit zero pad, which it counts
            raise SpecError(f"average pooling with uneven padding {(top, bottom, left, right)} cannot"
                            " exclude the padding from the average (torch pads symmetrically)",
                            hint="use count_include_pad: true or symmetric padding")
        return shape


class Subsample(_Pool):
    counts_depth = True
    key = "subsample"
    aliases = ("trainable_pool",)
    short = "subsample"
    doc = ("LeNet-5's trainable subsampling (S2, S4): the sum of each k×k window times a learned"
           " coefficient plus a learned bias, per map (2 parameters a map).")
    attrs: ClassVar[dict[str, Attr]] = dict(_POOL_ATTRS)

    def params(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> Params:
        c = ins[0][0]
        return Params(weights=c, biases=c)

    def cost(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> Cost:
        kh, kw = a["k"]
        n = numel(out)
        # window sum (k·k − 1 adds), one multiply by the coefficient (a MAC-free scale), one bias add
        return Cost(ops=(kh * kw + 1) * n, bwd_ops=(kh * kw + 2) * n, bwd_weight_macs=n)

    def saved(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> list[Saved]:
        # avg_pool saves its input; the product with the coefficient saves the pooled map.
        return [*self.saved_input(a, ins), Saved("own:pooled", numel(out))]


class GlobalAvgPool(Layer):
    key = "gap"
    aliases = ("global_avgpool", "global_avg_pool", "globalavgpool")
    short = "gap"
    doc = "Global average pooling to C×1×1 (GoogLeNet, ResNet)."
    attrs: ClassVar[dict[str, Attr]] = {}

    def output_shape(self, a: Attrs, ins: Sequence[Shape]) -> Shape:
        c, _, _ = need_map(self.key, ins)
        return (c, 1, 1)

    def cost(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> Cost:
        n = numel(ins[0])
        return Cost(ops=n, bwd_ops=n)

    def window(self, a: Attrs, ins: Sequence[Shape]) -> Window:
        _, h, w = need_map(self.key, ins)
        return Window(kernel=(h, w), stride=(1, 1), pad_before=(0, 0))


class AdaptiveAvgPool(Layer):
    key = "adaptive_avgpool"
    aliases = ("adaptive_avg_pool", "adaptiveavgpool")
    short = "pool"
    doc = "Adaptive average pooling to a fixed output size (torchvision's AlexNet and VGG use 6×6 / 7×7)."
    primary = "out"
    attrs: ClassVar[dict[str, Attr]] = {"out": Attr("size", doc="output size, an integer or [h, w]", min=1)}

    def _windows(self, size: int, out: int) -> list[tuple[int, int]]:
        return [((i * size) // out, -(-((i + 1) * size) // out)) for i in range(out)]

    def output_shape(self, a: Attrs, ins: Sequence[Shape]) -> Shape:
        c, _, _ = need_map(self.key, ins)
        return (c, a["out"][0], a["out"][1])

    def cost(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> Cost:
        _, h, w = need_map(self.key, ins)
        rows = self._windows(h, a["out"][0])
        cols = self._windows(w, a["out"][1])
        per_channel = sum((r1 - r0) * (c1 - c0) for r0, r1 in rows for c0, c1 in cols)
        n = per_channel * ins[0][0]
        return Cost(ops=n, bwd_ops=n)

    def window(self, a: Attrs, ins: Sequence[Shape]) -> Window | None:
        _, h, w = need_map(self.key, ins)
        oh, ow = a["out"]
        if (h, w) == (oh, ow):
            return None
        spans = []
        for size, out in ((h, oh), (w, ow)):
            wins = self._windows(size, out)
            extents = {e - s for s, e in wins}
            starts = [s for s, _ in wins]
            steps = {b - a_ for a_, b in itertools.pairwise(starts)}
            if len(extents) != 1 or len(steps) > 1:
                raise SpecError(f"adaptive pooling {size}→{out} uses uneven windows; its receptive"
                                " field is not one (size, stride) pair")
            spans.append((extents.pop(), steps.pop() if steps else 1))
        return Window(kernel=(spans[0][0], spans[1][0]), stride=(spans[0][1], spans[1][1]), pad_before=(0, 0))

    def saved(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> list[Saved]:
        if tuple(a["out"]) == (1, 1):
            return []  # PyTorch computes a 1×1 adaptive average as mean(), which keeps no tensor
        return [Saved("input0", numel(ins[0]))]
