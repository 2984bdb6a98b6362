"""The layer catalogue: one registry from spec keyword to the class holding that type's rules."""

from __future__ import annotations

from typing import Any, NamedTuple

from archcalc.errors import SourceLocation, SpecError, did_you_mean
from archcalc.ir import Node, Shape
from archcalc.layers import activation, channels, conv, dense, merge, norm, opaque, resample, shortcut
from archcalc.layers.base import Attr, Config, Layer, numel
from archcalc.layers.record import (
    Aliasing,
    Completeness,
    Cost,
    Family,
    Geometry,
    Identity,
    JoinKind,
    Layout,
    Params,
    Resolved,
    RFRule,
    Saved,
    SavedKind,
    Unavailable,
    Union,
    Window,
    unreachable,
)

_TYPES: tuple[type[Layer[Any]], ...] = (
    conv.Conv, conv.MaxPool, conv.AvgPool, conv.Subsample, conv.GlobalAvgPool, conv.AdaptiveAvgPool,
    resample.ConvTranspose, resample.Upsample, resample.PixelShuffle,
    norm.BatchNorm, norm.LocalResponseNorm, norm.LayerNorm, norm.GroupNorm, norm.LayerScale,
    activation.ReLU, activation.ReLU6, activation.LeakyReLU, activation.ELU, activation.PReLU,
    activation.Sigmoid, activation.Tanh, activation.ScaledTanh, activation.GELU, activation.SiLU,
    activation.Hardswish, activation.Hardsigmoid, activation.Softplus, activation.Softmax,
    activation.LogSoftmax, activation.Dropout, activation.StochasticDepth,
    dense.Flatten, dense.FullyConnected, dense.RBF,
    merge.Concat, merge.Add, merge.Mul, merge.Identity, merge.Input,
    channels.ChannelShuffle, channels.SplitPart, channels.Crop,
    shortcut.PadChannels,
    opaque.Opaque,
)

#: canonical key → the (stateless) layer object holding its rules
CATALOGUE: dict[str, Layer[Any]] = {t.key: t() for t in _TYPES}
_ALIASES: dict[str, str] = {alias: t.key for t in _TYPES for alias in (t.key, *t.aliases)}
#: Joins: types that take several inputs, written in a spec as ``key: [branch, branch, ...]``.
JOINS: tuple[str, ...] = tuple(t.key for t in _TYPES if t.join is not None)
INPUT = merge.Input.key


def is_layer(word: str) -> bool:
    """Whether ``word`` names a layer type a spec may write as a list item."""
    key = _ALIASES.get(word)
    return key is not None and not CATALOGUE[key].internal


def get(word: str, where: SourceLocation | None = None) -> Layer[Any]:
    """The layer type named ``word`` (or an alias), or a SpecError with a suggestion."""
    key = _ALIASES.get(word)
    if key is None or CATALOGUE[key].internal:
        public = [a for a, k in _ALIASES.items() if not CATALOGUE[k].internal]
        raise SpecError(f"unknown layer type '{word}'", where, did_you_mean(word, public))
    return CATALOGUE[key]


class Resolver:
    """Resolves graph nodes by their layer types, each distinct case once.

    Deep networks repeat the same layer on the same input shape many times (ResNet-1202): a type's
    rules are pure functions of (type, configuration, input shapes), so each case is resolved once and
    its record shared. A SpecError gets the node's location and name.
    """

    def __init__(self) -> None:
        self._memo: dict[tuple[object, ...], Resolved] = {}
        #: the same by the configuration's identity (stamped copies of a block share their nodes' configurations):
        #: no hash of the configuration's fields per node; each entry keeps its configuration alive, so ids stay
        #: unique while the Resolver lives
        self._seen: dict[tuple[str, int, tuple[Shape, ...]], tuple[object, Resolved]] = {}

    def __call__(self, node: Node, ins: tuple[Shape, ...]) -> Resolved:
        attrs = node.attrs
        same = (node.op, id(attrs), ins)
        seen = self._seen.get(same)
        if seen is not None:
            return seen[1]
        key = (node.op, attrs, ins)
        rec = self._memo.get(key)
        if rec is None:
            try:
                rec = CATALOGUE[node.op].resolve(node.attrs, ins)
            except SpecError as exc:
                if exc.location is None:
                    exc.location = node.loc
                exc.message = f"{node.name}: {exc.message}"
                raise
            self._memo[key] = rec
        self._seen[same] = (attrs, rec)
        return rec


class Part(NamedTuple):
    key: str
    config: Config


def split_part_config(index: int, sizes: tuple[int, ...] | None, parts: int | None) -> Part:
    """The node a split emits at the head of branch ``index`` (the expander creates it; specs write
    ``split:`` on a join)."""
    return Part(channels.SplitPart.key, channels.SplitPartConfig(index=index, sizes=sizes, parts=parts))


def input_config(shape: tuple[int, ...]) -> merge.InputConfig:
    """The input node's configuration (the expander creates it from the spec's ``input:``)."""
    return merge.InputConfig(shape=shape)


__all__ = ["CATALOGUE", "INPUT", "JOINS", "Aliasing", "Attr", "Completeness", "Config", "Cost", "Family",
           "Geometry", "Identity", "JoinKind", "Layer", "Layout", "Params", "RFRule", "Resolved", "Resolver", "Saved",
           "SavedKind", "Unavailable", "Union", "Window", "get", "input_config", "is_layer", "numel", "unreachable"]
