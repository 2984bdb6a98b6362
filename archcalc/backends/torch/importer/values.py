"""What a traced value is to the importer: a layer's output, a rearrangement of one, or a parameter.

Pure data movement (``view``, ``reshape``, ``permute``, ``transpose``, ``flatten``, slicing, ``contiguous``)
is not an op of its own in archcalc: a rearranged tensor is kept as an *index map* into the layer output it
comes from — the same ops applied to ``arange`` — and recognised by what it equals: the output itself (a
no-op), ``flatten``, a ``channel_shuffle``, a channel range (one part of a split), or the channels-last view
on which a ``LayerNorm`` or a ``Linear`` works per position (ConvNeXt). Anything else stays pending and is
named as the op archcalc cannot express the moment a real op reads it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import torch
from torch import Tensor

#: the batch the model is traced with: two, so that a reshape that keeps the batch can be told apart
BATCH = 2


class Kind(Enum):
    """What a rearrangement was recognised as."""

    SAME = "same"                    #: the layer's output itself
    FLATTEN = "flatten"              #: N×C×H×W → N×(C·H·W) in order
    UNFLATTEN = "unflatten"          #: N×C → N×C×1×1
    CHANNELS_LAST = "channels_last"  #: N×H×W×C: per-position layers work on it
    SHUFFLE = "shuffle"              #: a channel shuffle
    CHANNELS = "channels"            #: a contiguous range of channels
    EXPAND = "expand"                #: a C×1×1 value broadcast over H×W (``y.expand_as(x)``): a product broadcasts
    PENDING = "pending"              #: none of these (yet)


@dataclass(frozen=True, eq=False)
class View:
    """A rearrangement of a layer's output: ``index`` holds, per element, its flat position in that output."""

    index: Tensor
    op: str
    kind: Kind
    detail: tuple[int, ...] = ()  # SHUFFLE: (groups,); CHANNELS: (start, stop)
    scope: str = ""  # the module path of the op that made it (a layer it becomes is named there)
    inner: View | None = None  # EXPAND: what was broadcast (None: the layer's output itself)
    module: bool = False  # made by a module (nn.Flatten): a layer it becomes takes the module's path


@dataclass(frozen=True, eq=False)
class Ref:
    """A tensor of the network: the output of layer ``layer`` (``input`` for the image), maybe rearranged."""

    layer: str
    view: View | None = None

    @property
    def plain(self) -> bool:
        return self.view is None


@dataclass(frozen=True, eq=False)
class Param:
    """A parameter or buffer of the model (``get_attr``), or a tensor computed from them alone.

    ``path`` is its state_dict key; ``derived`` when an op has reshaped or combined it.
    """

    path: str
    tensor: Tensor
    derived: bool = False


def base_index(shape: tuple[int, ...]) -> Tensor:
    """The identity index map of a layer output of ``shape`` (without the batch)."""
    n = BATCH
    for d in shape:
        n *= d
    return torch.arange(n, dtype=torch.int64).view(BATCH, *shape)


def classify(index: Tensor, shape: tuple[int, ...], op: str) -> View | None:
    """What ``index`` (a rearrangement of a layer output of ``shape``) is; None when it is that output itself."""
    base = base_index(shape)
    if index.shape == base.shape and torch.equal(index, base):
        return None
    if index.dim() == 2 and index.shape[1] == base[0].numel() and len(shape) == 3 and torch.equal(
            index, base.reshape(BATCH, -1)):
        return View(index, op, Kind.FLATTEN)
    if len(shape) == 1 and tuple(index.shape) == (BATCH, shape[0], 1, 1) and torch.equal(
            index, base.view(BATCH, shape[0], 1, 1)):
        return View(index, op, Kind.UNFLATTEN)
    if len(shape) == 3:
        c, h, w = shape
        if tuple(index.shape) == (BATCH, h, w, c) and torch.equal(index, base.permute(0, 2, 3, 1)):
            return View(index, op, Kind.CHANNELS_LAST)
        if tuple(index.shape) == (BATCH, c, h, w) and c > 1:
            second = int(index[0, 1, 0, 0]) // (h * w)  # a shuffle by g puts channel C/g second
            if second > 1 and c % second == 0 and torch.equal(index, shuffle(base, c // second)):
                return View(index, op, Kind.SHUFFLE, (c // second,))
        if index.dim() == 4 and tuple(index.shape[2:]) == (h, w) and 0 < index.shape[1] < c:
            start = int(index[0, 0, 0, 0]) // (h * w)
            stop = start + index.shape[1]
            if stop <= c and torch.equal(index, base[:, start:stop]):
                return View(index, op, Kind.CHANNELS, (start, stop))
    if index.dim() == 4 and tuple(index.shape[2:]) != (1, 1):
        single = index[:, :, :1, :1]
        if torch.equal(single.expand(index.shape), index):
            return View(index, op, Kind.EXPAND, inner=classify(single.contiguous(), shape, op))
    return View(index, op, Kind.PENDING)


def shuffle(x: Tensor, groups: int) -> Tensor:
    """ShuffleNet's channel shuffle (what ``nn.ChannelShuffle`` and archcalc's ``channel_shuffle`` compute)."""
    n, c, h, w = x.shape
    return x.view(n, groups, c // groups, h, w).transpose(1, 2).reshape(n, c, h, w)


def channels_last(shape: tuple[int, ...]) -> View:
    """The channels-last view of a map of ``shape`` (what a per-position layer's output is seen as)."""
    return View(base_index(shape).permute(0, 2, 3, 1), "permute", Kind.CHANNELS_LAST)
