"""The layer catalogue: one registry from spec keyword to the class holding that type's rules."""

from __future__ import annotations

from archcalc.errors import SourceLocation, SpecError, did_you_mean
from archcalc.layers import activation, conv, dense, merge, norm, shortcut
from archcalc.layers.base import Attr, Cost, Layer, Params, Saved, Window, numel

_TYPES: tuple[type[Layer], ...] = (
    conv.Conv, conv.MaxPool, conv.AvgPool, conv.Subsample, conv.GlobalAvgPool, conv.AdaptiveAvgPool,
    norm.BatchNorm, norm.LocalResponseNorm,
    activation.ReLU, activation.ReLU6, activation.LeakyReLU, activation.ELU, activation.PReLU,
    activation.Sigmoid, activation.Tanh, activation.ScaledTanh, activation.GELU, activation.SiLU,
    activation.Hardswish, activation.Softplus, activation.Softmax, activation.LogSoftmax,
    activation.Dropout,
    dense.Flatten, dense.FullyConnected, dense.RBF,
    merge.Concat, merge.Add, merge.Identity, merge.Input,
    shortcut.PadChannels,
)

#: canonical key → the (stateless) layer object holding its rules
CATALOGUE: dict[str, Layer] = {t.key: t() for t in _TYPES}
_ALIASES: dict[str, str] = {alias: t.key for t in _TYPES for alias in (t.key, *t.aliases)}
#: Types a spec may not name directly (created by the expander).
INTERNAL = frozenset({"input", "concat", "add"})


def is_layer(word: str) -> bool:
    return word in _ALIASES and _ALIASES[word] not in INTERNAL


def canonical(word: str) -> str:
    return _ALIASES[word]


def get(word: str, where: SourceLocation | None = None) -> Layer:
    """The layer type named ``word`` (or an alias), or a SpecError with a suggestion."""
    key = _ALIASES.get(word)
    if key is None or key in INTERNAL:
        public = [a for a, k in _ALIASES.items() if k not in INTERNAL]
        raise SpecError(f"unknown layer type '{word}'", where, did_you_mean(word, public))
    return CATALOGUE[key]


__all__ = ["CATALOGUE", "INTERNAL", "Attr", "Cost", "Layer", "Params", "Saved", "Window", "canonical",
           "get", "is_layer", "numel"]
