"""Parameter-free shortcuts: the CIFAR ResNets' option A (He et al. 2016, Section 4.2)."""

from __future__ import annotations

from collections.abc import Sequence

from archcalc.errors import SpecError
from archcalc.ir import Shape
from archcalc.layers.base import Config, Layer, attr, need_map
from archcalc.layers.record import Cost, Family, RFRule, Window


class PadChannelsConfig(Config):
    out: int = attr("int", doc="output channels (≥ input channels)", min=1)
    s: int = attr("int", 1, "spatial subsampling stride", aliases=("stride",), min=1)


class PadChannels(Layer[PadChannelsConfig]):
    key = "pad_channels"
    aliases = ("zero_pad_shortcut", "option_a")
    short = "shortcut"
    primary = "out"
    family = Family.RESHAPE
    config = PadChannelsConfig
    doc = ("Option A identity shortcut: subsample by the stride (x[:, :, ::s, ::s]) and pad the channels"
           " with zeros up to 'out' (half before, half after). No parameters, no arithmetic; a new tensor.")

    def output_shape(self, a: PadChannelsConfig, ins: Sequence[Shape]) -> Shape:
        c, h, w = need_map(self.key, ins)
        if a.out < c:
            raise SpecError(f"pad_channels to {a.out} channels cannot shrink a {c}-channel input")
        return (a.out, -(-h // a.s), -(-w // a.s))

    def cost(self, a: PadChannelsConfig, ins: Sequence[Shape], out: Shape) -> Cost:
        return Cost()  # a strided copy and zeros: no arithmetic

    def rf(self, a: PadChannelsConfig, ins: Sequence[Shape], out: Shape) -> RFRule:
        return Window(kernel=(1, 1), stride=(a.s, a.s), pad_before=(0, 0))

    def label(self, a: PadChannelsConfig, ins: Sequence[Shape], out: Shape) -> str:
        return f"pad channels to {a.out}" + (f", /{a.s}" if a.s > 1 else "")

    @staticmethod
    def padding(a: PadChannelsConfig, ins: Sequence[Shape]) -> tuple[int, int]:
        """Zero channels added before and after the input's."""
        extra = a.out - ins[0][0]
        return extra // 2, extra - extra // 2
