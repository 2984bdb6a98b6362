"""Resolution up: transposed convolution, upsampling and pixel shuffle (decoders: U-Net, FCN, DeepLab).

Their receptive fields have a fractional jump: adjacent output units sit a fraction of an input unit
apart. Each rule gives, per axis, the real interval of input units that output unit ``o`` reads,
``[o·r + offset, o·r + offset + span]``, whose integers are exactly the units read; the field is kept
in exact fractions (``arith.upsampling_window``) and is the envelope of the units' fields.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from archcalc.arith import upsampling_window
from archcalc.errors import SourceLocation, SpecError
from archcalc.ir import Shape
from archcalc.layers.base import Config, Layer, attr, need_map, numel
from archcalc.layers.record import Cost, Family, Geometry, Pair, Params, RFRule, Saved, Window

if TYPE_CHECKING:
    from fractions import Fraction  # made by the rules that need it (arith.is_fraction says why)


def _window(per_axis: Sequence[tuple[Fraction, Fraction, Fraction]]) -> Window:
    """A Window from (ratio, span, offset) per axis."""
    (kh, sh, ph), (kw, sw, pw) = (upsampling_window(*axis) for axis in per_axis)
    return Window(kernel=(kh, kw), stride=(sh, sw), pad_before=(ph, pw))


def _pair(p: Pair) -> str:
    return f"{p[0]}×{p[1]}"


# ---- transposed convolution ---------------------------------------------------------------------

class ConvTransposeConfig(Config):
    out: int = attr("int", doc="number of filters (output channels)", aliases=("filters", "channels"), min=1)
    k: Pair = attr("pair", doc="kernel size, an integer or [h, w]", aliases=("kernel", "kernel_size"), min=1)
    s: Pair = attr("pair", 1, "stride (the upsampling factor)", aliases=("stride",), min=1)
    pad: Pair = attr("pair", 0, "rows/columns trimmed from each side of the output (torch's padding)",
                     aliases=("padding", "p"))
    output_padding: Pair = attr("pair", 0, "rows/columns added at the bottom/right of the output")
    dilation: Pair = attr("pair", 1, "dilation", aliases=("d",), min=1)
    groups: int = attr("int", 1, "channel groups", aliases=("g",), min=1)
    bias: bool = attr("bool", True, "learn a bias per filter")


class ConvTranspose(Layer[ConvTransposeConfig]):
    counts_depth = True
    key = "conv_transpose"
    aliases = ("conv_transpose2d", "deconv", "upconv")
    short = "upconv"
    primary = "out"
    family = Family.CONV
    config = ConvTransposeConfig
    doc = ("Transposed convolution (U-Net's up-convolution): each input position spreads a k×k window"
           " over the output; C_in·(C_out/groups)·k·k MACs per input position, as fvcore counts.")

    def check(self, a: ConvTransposeConfig, where: SourceLocation | None) -> None:
        if a.out % a.groups:
            raise SpecError(f"output channels {a.out} are not divisible by groups {a.groups}", where)
        for axis in (0, 1):
            if a.output_padding[axis] >= max(a.s[axis], a.dilation[axis]):
                raise SpecError(f"output_padding {a.output_padding} must be smaller than the stride or the"
                                " dilation (as PyTorch requires)", where)

    def output_shape(self, a: ConvTransposeConfig, ins: Sequence[Shape]) -> Shape:
        cin, h, w = need_map(self.key, ins)
        if cin % a.groups:
            raise SpecError(f"input channels {cin} are not divisible by groups {a.groups}")
        size = []
        for axis, n in ((0, h), (1, w)):
            size.append((n - 1) * a.s[axis] - 2 * a.pad[axis] + a.dilation[axis] * (a.k[axis] - 1)
                        + a.output_padding[axis] + 1)
        if min(size) <= 0:
            raise SpecError(f"computed output size would be {size[0]}×{size[1]} (zero or negative): input {h}×{w},"
                            f" kernel {_pair(a.k)}, stride {_pair(a.s)}, padding {a.pad}")
        return (a.out, size[0], size[1])

    def params(self, a: ConvTransposeConfig, ins: Sequence[Shape], out: Shape) -> Params:
        kh, kw = a.k
        return Params(weights=ins[0][0] * (a.out // a.groups) * kh * kw, biases=a.out if a.bias else 0)

    def cost(self, a: ConvTransposeConfig, ins: Sequence[Shape], out: Shape) -> Cost:
        kh, kw = a.k
        cin, h, w = ins[0]
        macs = cin * (a.out // a.groups) * kh * kw * h * w
        bias_ops = numel(out) if a.bias else 0
        return Cost(macs=macs, ops=bias_ops, bwd_input_macs=macs, bwd_weight_macs=macs, bwd_ops=bias_ops,
                    framework_macs=macs)

    def geometry(self, a: ConvTransposeConfig, ins: Sequence[Shape]) -> Geometry:
        ph, pw = a.pad
        return Geometry(kernel=a.k, stride=a.s, dilation=a.dilation, pad=(ph, ph, pw, pw), ceil=False, native=True,
                        transposed=True, output_padding=a.output_padding)

    def rf(self, a: ConvTransposeConfig, ins: Sequence[Shape], out: Shape) -> RFRule:
        # output o = i·s − p + j·d for input i and tap j: i ∈ [(o + p − d(k − 1))/s, (o + p)/s]
        from fractions import Fraction

        axes = []
        for axis in (0, 1):
            s, p, d, k = a.s[axis], a.pad[axis], a.dilation[axis], a.k[axis]
            axes.append((Fraction(1, s), Fraction(d * (k - 1), s), Fraction(p - d * (k - 1), s)))
        return _window(axes)

    def saved(self, a: ConvTransposeConfig, ins: Sequence[Shape], out: Shape, inplace: bool) -> list[Saved]:
        return [Saved.input(numel(ins[0]))]

    def label(self, a: ConvTransposeConfig, ins: Sequence[Shape], out: Shape) -> str:
        up = f", ×{a.s[0]}" if a.s[0] == a.s[1] else f", ×{_pair(a.s)}"
        return f"{_pair(a.k)} up-conv, {a.out}" + ("" if a.s == (1, 1) else up)


# ---- upsampling -----------------------------------------------------------------------------------

class UpsampleConfig(Config):
    scale: float | None = attr("float", None, "scale factor (output = floor(input · scale)); or give size",
                               aliases=("scale_factor",), low=0.0, low_open=True)
    size: Pair | None = attr("size", None, "output size, an integer or [h, w]; or give scale", min=1)
    mode: str = attr("choice", "nearest", "interpolation", choices=("nearest", "bilinear"))
    align_corners: bool = attr("bool", False, "bilinear: corner pixels aligned (PyTorch's align_corners)")


class Upsample(Layer[UpsampleConfig]):
    key = "upsample"
    aliases = ("interpolate", "resize")
    short = "up"
    family = Family.OTHER
    config = UpsampleConfig
    doc = ("Upsampling by a scale or to a size, nearest or bilinear (F.interpolate). No parameters; bilinear"
           " costs 4 ops per output element (fvcore's count), nearest a copy.")

    def check(self, a: UpsampleConfig, where: SourceLocation | None) -> None:
        if (a.scale is None) == (a.size is None):
            raise SpecError("'upsample' needs exactly one of 'scale' and 'size'", where,
                            "e.g. {scale: 2} or {size: [224, 224]}")
        if a.align_corners and a.mode == "nearest":
            raise SpecError("'align_corners' applies to bilinear upsampling only", where)

    def _ratios(self, a: UpsampleConfig, h: int, w: int, out: Shape) -> list[Fraction]:
        from fractions import Fraction

        """Input units per output unit, per axis, as torch computes source positions."""
        if a.size is None and a.scale is not None and not a.align_corners:
            # torch uses 1/scale (not in/out) when it was given a scale factor
            return [1 / Fraction(a.scale)] * 2
        return [Fraction(n_in, n_out) for n_in, n_out in ((h, out[1]), (w, out[2]))]

    def output_shape(self, a: UpsampleConfig, ins: Sequence[Shape]) -> Shape:
        c, h, w = need_map(self.key, ins)
        if a.size is not None:
            return (c, a.size[0], a.size[1])
        assert a.scale is not None  # check() guarantees one of them
        oh, ow = int(h * a.scale), int(w * a.scale)
        if oh <= 0 or ow <= 0:
            raise SpecError(f"upsampling {h}×{w} by {a.scale:g} gives {oh}×{ow}")
        return (c, oh, ow)

    def cost(self, a: UpsampleConfig, ins: Sequence[Shape], out: Shape) -> Cost:
        n = numel(out) * (4 if a.mode == "bilinear" else 0)
        return Cost(ops=n, bwd_ops=n)

    def rf(self, a: UpsampleConfig, ins: Sequence[Shape], out: Shape) -> RFRule:
        from fractions import Fraction

        _, h, w = ins[0]
        axes = []
        for ratio, n_in, n_out in zip(self._ratios(a, h, w, out), (h, w), out[1:], strict=True):
            if n_in == 1:
                # a broadcast: every output unit reads the one input unit, in every mode (ASPP's image
                # pooling upsampled back to the map's size): the field stands still, a jump of 0
                axes.append((Fraction(0), Fraction(0), Fraction(0)))
            elif a.mode == "nearest":
                # o reads floor(o·r): within [o·r − (q − 1)/q, o·r] for r = p/q in lowest terms
                axes.append((ratio, Fraction(ratio.denominator - 1, ratio.denominator),
                             -Fraction(ratio.denominator - 1, ratio.denominator)))
            elif a.align_corners:
                # src = o·(n_in − 1)/(n_out − 1) reads floor(src) and floor(src) + 1
                r = Fraction(n_in - 1, n_out - 1) if n_out > 1 else Fraction(0)
                frac = Fraction(r.denominator - 1, r.denominator)
                axes.append((r, 1 + frac, -frac))
            else:
                # src = (o + ½)·r − ½ reads floor(src) and floor(src) + 1
                axes.append((ratio, Fraction(1) + Fraction(2 * ratio.denominator - 1, 2 * ratio.denominator),
                             ratio / 2 - Fraction(1, 2) - Fraction(2 * ratio.denominator - 1, 2 * ratio.denominator)))
        return _window(axes)

    def label(self, a: UpsampleConfig, ins: Sequence[Shape], out: Shape) -> str:
        how = f"×{a.scale:g}" if a.scale is not None else f"to {out[1]}×{out[2]}"
        return f"{a.mode} upsample {how}"


# ---- pixel shuffle ---------------------------------------------------------------------------------

class PixelShuffleConfig(Config):
    r: int = attr("int", doc="upscale factor: C·r²×H×W becomes C×rH×rW", aliases=("upscale_factor",), min=1)


class PixelShuffle(Layer[PixelShuffleConfig]):
    key = "pixel_shuffle"
    aliases = ("depth_to_space",)
    short = "shuffle"
    primary = "r"
    family = Family.RESHAPE
    config = PixelShuffleConfig
    doc = "Pixel shuffle (sub-pixel convolution): C·r²×H×W → C×rH×rW, a rearrangement (no arithmetic)."

    def output_shape(self, a: PixelShuffleConfig, ins: Sequence[Shape]) -> Shape:
        c, h, w = need_map(self.key, ins)
        if c % (a.r * a.r):
            raise SpecError(f"pixel_shuffle by {a.r} needs channels divisible by {a.r * a.r}, got {c}")
        return (c // (a.r * a.r), h * a.r, w * a.r)

    def cost(self, a: PixelShuffleConfig, ins: Sequence[Shape], out: Shape) -> Cost:
        return Cost()  # a copy

    def rf(self, a: PixelShuffleConfig, ins: Sequence[Shape], out: Shape) -> RFRule:
        # output o reads input o // r: nearest upsampling by r, per axis
        from fractions import Fraction

        r = Fraction(1, a.r)
        span = Fraction(a.r - 1, a.r)
        return _window([(r, span, -span), (r, span, -span)])

    def label(self, a: PixelShuffleConfig, ins: Sequence[Shape], out: Shape) -> str:
        return f"pixel shuffle ×{a.r}"
