"""Channel and border bookkeeping: channel shuffle, a split's parts, centre crop (no arithmetic).

ShuffleNetV2 splits the channels in two, sends one part through convolutions and the other straight
on, concatenates and shuffles; U-Net crops the encoder's maps to the decoder's size before joining.
"""

from __future__ import annotations

from collections.abc import Sequence

from archcalc.errors import SpecError
from archcalc.ir import Shape
from archcalc.layers.base import Config, Layer, attr, need_map
from archcalc.layers.record import Aliasing, Cost, Family, Identity, Pair, RFRule, Window


class ChannelShuffleConfig(Config):
    groups: int = attr("int", doc="channel groups to interleave (ShuffleNet: 2)", aliases=("g",), min=1)


class ChannelShuffle(Layer[ChannelShuffleConfig]):
    key = "channel_shuffle"
    aliases = ("shuffle",)
    short = "shuffle"
    primary = "groups"
    family = Family.RESHAPE
    config = ChannelShuffleConfig
    doc = ("Channel shuffle (ShuffleNet): channels viewed as groups×(C/groups), transposed and flattened; a"
           " copy, no arithmetic.")

    def output_shape(self, a: ChannelShuffleConfig, ins: Sequence[Shape]) -> Shape:
        c = ins[0][0]
        if c % a.groups:
            raise SpecError(f"channel_shuffle: {c} channels are not divisible by {a.groups} groups")
        return ins[0]

    def cost(self, a: ChannelShuffleConfig, ins: Sequence[Shape], out: Shape) -> Cost:
        return Cost()

    def rf(self, a: ChannelShuffleConfig, ins: Sequence[Shape], out: Shape) -> RFRule:
        return Identity()

    def label(self, a: ChannelShuffleConfig, ins: Sequence[Shape], out: Shape) -> str:
        return f"channel shuffle, {a.groups} groups"


class SplitPartConfig(Config):
    index: int = attr("int", doc="which part (from 0)")
    sizes: tuple[int, ...] | None = attr("sizes", None, "the parts' channel counts (their sum: the input's)")
    parts: int | None = attr("int", None, "equal parts", min=1)


class SplitPart(Layer[SplitPartConfig]):
    """One part of a channel split (``split:`` on a join entry): a view of some of its input's channels."""

    key = "split_part"
    short = "split"
    family = Family.RESHAPE
    minor = True
    internal = True
    config = SplitPartConfig
    doc = "One part of a channel split: a view of a range of the input's channels (torch.chunk, split)."

    def _range(self, a: SplitPartConfig, c: int) -> tuple[int, int]:
        if a.sizes is not None:
            if sum(a.sizes) != c:
                raise SpecError(f"split parts {' + '.join(map(str, a.sizes))} = {sum(a.sizes)} do not sum to the"
                                f" input's {c} channels")
            start = sum(a.sizes[:a.index])
            return start, start + a.sizes[a.index]
        parts = a.parts or 1
        if c % parts:
            raise SpecError(f"cannot split {c} channels into {parts} equal parts")
        step = c // parts
        return a.index * step, (a.index + 1) * step

    def output_shape(self, a: SplitPartConfig, ins: Sequence[Shape]) -> Shape:
        start, stop = self._range(a, ins[0][0])
        return (stop - start, *ins[0][1:])

    def channels(self, a: SplitPartConfig, ins: Sequence[Shape]) -> tuple[int, int]:
        """The [start, stop) channel range this part takes (for the backend)."""
        return self._range(a, ins[0][0])

    def cost(self, a: SplitPartConfig, ins: Sequence[Shape], out: Shape) -> Cost:
        return Cost()

    def aliasing(self, a: SplitPartConfig) -> Aliasing:
        return Aliasing.VIEW

    def rf(self, a: SplitPartConfig, ins: Sequence[Shape], out: Shape) -> RFRule:
        return Identity()

    def label(self, a: SplitPartConfig, ins: Sequence[Shape], out: Shape) -> str:
        start, stop = self._range(a, ins[0][0])
        return f"channels {start}:{stop}"


class CropConfig(Config):
    size: Pair = attr("size", doc="output size, an integer or [h, w]: the centre of the map is kept", min=1)


class Crop(Layer[CropConfig]):
    key = "crop"
    aliases = ("center_crop", "centre_crop")
    short = "crop"
    primary = "size"
    family = Family.RESHAPE
    config = CropConfig
    doc = ("Centre crop of the map to a size (the 2015 U-Net's copy-and-crop): rows and columns (H − h)//2"
           " from the top and left are dropped; a view.")

    def offsets(self, a: CropConfig, ins: Sequence[Shape]) -> Pair:
        """Rows and columns dropped at the top and left."""
        _, h, w = need_map(self.key, ins)
        return (h - a.size[0]) // 2, (w - a.size[1]) // 2

    def output_shape(self, a: CropConfig, ins: Sequence[Shape]) -> Shape:
        c, h, w = need_map(self.key, ins)
        if a.size[0] > h or a.size[1] > w:
            raise SpecError(f"crop to {a.size[0]}×{a.size[1]} is larger than its {h}×{w} input")
        return (c, a.size[0], a.size[1])

    def cost(self, a: CropConfig, ins: Sequence[Shape], out: Shape) -> Cost:
        return Cost()

    def aliasing(self, a: CropConfig) -> Aliasing:
        return Aliasing.VIEW

    def rf(self, a: CropConfig, ins: Sequence[Shape], out: Shape) -> RFRule:
        top, left = self.offsets(a, ins)
        return Window(kernel=(1, 1), stride=(1, 1), pad_before=(-top, -left))

    def label(self, a: CropConfig, ins: Sequence[Shape], out: Shape) -> str:
        return f"crop to {a.size[0]}×{a.size[1]}"
