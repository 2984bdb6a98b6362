"""Parameter-free shortcuts: the CIFAR ResNets' option A (He et al. 2016, Section 4.2)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from archcalc.errors import SourceLocation, SpecError
from archcalc.ir import Shape
from archcalc.layers.base import Attr, Attrs, Layer, Window, need_map


class PadChannels(Layer):
    key = "pad_channels"
    aliases = ("zero_pad_shortcut", "option_a")
    short = "shortcut"
    primary = "out"
    doc = ("Option A identity shortcut: subsample by the stride (x[:, :, ::s, ::s]) and pad the channels"
           " with zeros up to 'out' (half before, half after). No parameters, no arithmetic; a new tensor.")
    attrs: ClassVar[dict[str, Attr]] = {
        "out": Attr("int", doc="output channels (≥ input channels)", min=1),
        "s": Attr("int", 1, "spatial subsampling stride", aliases=("stride",), min=1),
    }

    def check(self, a: dict[str, Any], where: SourceLocation | None) -> None:
        pass

    def output_shape(self, a: Attrs, ins: Sequence[Shape]) -> Shape:
        c, h, w = need_map(self.key, ins)
        if a["out"] < c:
            raise SpecError(f"pad_channels to {a['out']} channels cannot shrink a {c}-channel input")
        s = a["s"]
        return (a["out"], -(-h // s), -(-w // s))

    def window(self, a: Attrs, ins: Sequence[Shape]) -> Window:
        return Window(kernel=(1, 1), stride=(a["s"], a["s"]), pad_before=(0, 0))

    def padding(self, a: Attrs, ins: Sequence[Shape]) -> tuple[int, int]:
        """Zero channels added before and after the input's."""
        extra = a["out"] - ins[0][0]
        return extra // 2, extra - extra // 2
