"""What a layer type must declare: its typed configuration and every rule, in one class.

A layer type is a subclass of :class:`Layer` registered in ``archcalc.layers``. Its configuration is
a frozen value class (:class:`Config`) whose fields carry their spec attribute (kind, default, aliases,
doc, range), so the same declaration gives typed access for the rules (mypy checks ``a.groups``),
normalisation of what a spec writes, and the JSON Schema. :meth:`Layer.resolve` turns a configuration
and input shapes into the one :class:`~archcalc.layers.record.Resolved` record every consumer reads.

The base class gives no default for the output shape, the cost or the receptive field: a new type
must say (``Cost.unavailable(reason)`` and ``Unavailable(reason)`` are answers; silence is not).
Adding a type means writing one such class (and one builder in the torch backend's table; a test keeps
the two in step).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar, Generic, Literal, TypeVar

from archcalc import arith
from archcalc.errors import SourceLocation, SpecError, did_you_mean
from archcalc.frozen import Frozen
from archcalc.ir import Shape
from archcalc.layers.record import (
    Aliasing,
    Cost,
    Family,
    Geometry,
    Identity,
    JoinKind,
    Layout,
    Pair,
    Params,
    Resolved,
    RFRule,
    Saved,
)

REQUIRED: Any = object()

LocOf = Callable[[str], "SourceLocation | None"]
#: (top, bottom, left, right), or 'same' until resolved against an input size
Padding = Literal["same"] | tuple[int, int, int, int]
#: per output map, the input maps it reads (LeNet-5's C3)
Table = tuple[tuple[int, ...], ...]


class Attr(Frozen):
    """One attribute of a layer type: its kind, default, accepted aliases, range and a line of doc.

    Kinds: ``int`` (with ``min``), ``pair`` (an int or ``[h, w]``), ``padding`` (an int, ``[h, w]``,
    ``[top, bottom, left, right]``, ``same`` or ``valid``), ``float`` (within ``low``..``high``),
    ``bool``, ``choice``, ``table`` (a list, per output channel, of the input channels it reads),
    ``str``, ``size`` (an int or ``[h, w]`` output size).
    """

    kind: str
    default: Any = REQUIRED
    doc: str = ""
    aliases: tuple[str, ...] = ()
    min: int = 0
    choices: tuple[str, ...] = ()
    low: float | None = None
    high: float | None = None
    low_open: bool = False


def attr(kind: str, default: Any = REQUIRED, doc: str = "", *, aliases: tuple[str, ...] = (), min: int = 0,
         choices: tuple[str, ...] = (), low: float | None = None, high: float | None = None,
         low_open: bool = False) -> Any:
    """A configuration field that is also a spec attribute (see :class:`Attr`)."""
    return Attr(kind, default, doc, aliases, min, choices, low, high, low_open)


class Config(Frozen):
    """Base of every layer type's typed configuration (frozen and hashable: rules are memoised on it).

    A field declared ``name: type = attr(...)`` is a spec attribute; :meth:`Layer.normalize` fills
    every field, so a configuration has no defaults of its own (the spec attribute's default is
    applied, and checked, when a spec omits it).
    """

    @classmethod
    def _is_default(cls, value: Any) -> bool:
        return not isinstance(value, Attr)

    @classmethod
    def spec_attrs(cls) -> dict[str, Attr]:
        """The fields that are spec attributes, in declaration order."""
        found: dict[str, Attr] = {}
        for klass in reversed(cls.__mro__):
            for name, value in vars(klass).items():
                if isinstance(value, Attr) and name in cls._fields:
                    found[name] = value
        return {name: found[name] for name in cls._fields if name in found}


C = TypeVar("C", bound=Config)


def numel(shape: Shape) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


class Layer(ABC, Generic[C]):
    """Base class of every layer type; see the module docstring for what a subclass must say."""

    key: ClassVar[str]
    aliases: ClassVar[tuple[str, ...]] = ()
    config: ClassVar[type[Config]] = Config
    #: the attribute a bare value sets (``fc: 10`` is ``fc: {out: 10}``)
    primary: ClassVar[str | None] = None
    #: the prefix of derived names (``conv1``, ``relu2``)
    short: ClassVar[str] = ""
    doc: ClassVar[str] = ""
    family: ClassVar[Family] = Family.OTHER
    #: left out of diagrams by default, as the slides do (activations, batch norm, dropout, flatten)
    minor: ClassVar[bool] = False
    #: counts as a weight layer for depth, as papers count it (conv, fc; not batch norm)
    counts_depth: ClassVar[bool] = False
    #: how many inputs the type takes (joins: several)
    arity: ClassVar[tuple[int, int]] = (1, 1)
    #: how a join combines its inputs (None: not a join)
    join: ClassVar[JoinKind | None] = None
    #: created by the expander, not named in a spec's layer list (the input; joins are written as
    #: ``concat: [...]``-style entries over branches)
    internal: ClassVar[bool] = False
    #: the attribute table, derived from ``config``'s fields
    attrs: ClassVar[dict[str, Attr]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.attrs = cls.config.spec_attrs()

    # ---- attributes -------------------------------------------------------------------------
    def normalize(self, raw: Mapping[str, Any], loc_of: LocOf, where: SourceLocation | None) -> C:
        """Check and normalise raw attributes from the spec (after variable substitution).

        A pure function of the type and the raw values (locations serve only the errors), so a case seen
        before is answered from a memo: a ``repeat`` writes the same layer thousands of times.
        """
        key = _raw_key(self.key, raw)
        if key is not None:
            known = _NORMALIZED.get(key)
            if known is not None:
                return known  # type: ignore[return-value]
        config = self._normalize(raw, loc_of, where)
        if key is not None:
            if len(_NORMALIZED) >= _NORMALIZED_MAX:
                _NORMALIZED.clear()
            _NORMALIZED[key] = config
        return config

    def _normalize(self, raw: Mapping[str, Any], loc_of: LocOf, where: SourceLocation | None) -> C:
        names = {}
        for attr_name, spec in self.attrs.items():
            names[attr_name] = attr_name
            for alias in spec.aliases:
                names[alias] = attr_name
        out: dict[str, Any] = {}
        for key, value in raw.items():
            if key not in names:
                hint = did_you_mean(key, names)
                raise SpecError(f"unknown attribute '{key}' for layer type '{self.key}'"
                                f" (accepted: {', '.join(self.attrs) or 'none'})", loc_of(key) or where, hint)
            canon = names[key]
            if canon in out:
                raise SpecError(f"attribute '{canon}' given twice (as '{key}')", loc_of(key) or where)
            out[canon] = _coerce(self.key, canon, self.attrs[canon], value, loc_of(key) or where)
        for attr_name, spec in self.attrs.items():
            if attr_name not in out:
                if spec.default is REQUIRED:
                    raise SpecError(f"layer type '{self.key}' needs attribute '{attr_name}'", where,
                                    spec.doc or None)
                out[attr_name] = (spec.default if spec.default is None
                                  else _coerce(self.key, attr_name, spec, spec.default, where))
        config: C = self.config(**out)  # type: ignore[assignment]
        self.check(config, where)
        return config

    def check(self, a: C, where: SourceLocation | None) -> None:
        """Cross-attribute checks that need no input shape."""

    # ---- the record -------------------------------------------------------------------------
    def resolve(self, a: C, ins: Sequence[Shape]) -> Resolved:
        """Every rule of this type applied to one node: the record all consumers read."""
        low, high = self.arity
        if not low <= len(ins) <= high:
            raise SpecError(f"'{self.key}' takes {low if low == high else f'{low} to {high}'} input(s),"
                            f" got {len(ins)}")
        ins_t = tuple(ins)
        out = self.output_shape(a, ins_t)
        aliasing = self.aliasing(a)
        cost = self.cost(a, ins_t, out)
        return Resolved(
            op=self.key, config=a, ins=ins_t, out=out,
            params=self.params(a, ins_t, out), cost=cost,
            saved=tuple(self.saved(a, ins_t, out, inplace=False)),
            saved_inplace=(tuple(self.saved(a, ins_t, out, inplace=True))
                           if aliasing is Aliasing.OVERWRITES_INPUT else None),
            aliasing=aliasing, geometry=self.geometry(a, ins_t), rf=self.rf(a, ins_t, out),
            family=self.family, label=self.label(a, ins_t, out), minor=self.minor,
            counts_depth=self.counts_depth, join=self.join, leftover=self.leftover(a, ins_t),
            connections=self.connections(a, ins_t, out, cost), layout=self.layout(a, ins_t),
        )

    # ---- the rules a subclass must give -----------------------------------------------------
    @abstractmethod
    def output_shape(self, a: C, ins: Sequence[Shape]) -> Shape:
        """The output shape (without the batch), or a SpecError that says what to do."""

    @abstractmethod
    def cost(self, a: C, ins: Sequence[Shape], out: Shape) -> Cost:
        """Arithmetic for one image; ``Cost.unavailable(reason)`` where it cannot be counted."""

    @abstractmethod
    def rf(self, a: C, ins: Sequence[Shape], out: Shape) -> RFRule:
        """How the layer changes which input pixels a unit sees."""

    # ---- rules with a stated default ---------------------------------------------------------
    def params(self, a: C, ins: Sequence[Shape], out: Shape) -> Params:
        """Parameter counts (default: none; verify holds every layer's count against torch's)."""
        return Params()

    def saved(self, a: C, ins: Sequence[Shape], out: Shape, inplace: bool) -> list[Saved]:
        """Tensors autograd keeps for backward in training mode (default: none; verify measures it)."""
        return []

    def aliasing(self, a: C) -> Aliasing:
        return Aliasing.NEW

    def geometry(self, a: C, ins: Sequence[Shape]) -> Geometry | None:
        """The resolved window of a sliding-window layer (None for the others)."""
        return None

    def label(self, a: C, ins: Sequence[Shape], out: Shape) -> str:
        """The slides' wording for the layer in a diagram."""
        return self.key.replace("_", " ")

    def leftover(self, a: C, ins: Sequence[Shape]) -> str | None:
        """A warning when the layer's windows leave real input unread (only sliding windows can)."""
        return None

    def connections(self, a: C, ins: Sequence[Shape], out: Shape, cost: Cost) -> int:
        """LeCun's "connections" (LeNet-5): the multiply-adds plus one per biased output."""
        return 0

    def layout(self, a: C, ins: Sequence[Shape]) -> Layout:
        """The output's memory layout (default: a fresh tensor in the usual order)."""
        return Layout.CONTIGUOUS


class Pointwise(Layer[C]):
    """A per-element layer: output = input shape, one op per element, the field unchanged."""

    def output_shape(self, a: C, ins: Sequence[Shape]) -> Shape:
        return ins[0]

    def cost(self, a: C, ins: Sequence[Shape], out: Shape) -> Cost:
        n = numel(out)
        return Cost(ops=n, bwd_ops=n)

    def rf(self, a: C, ins: Sequence[Shape], out: Shape) -> RFRule:
        return Identity()

    def layout(self, a: C, ins: Sequence[Shape]) -> Layout:
        return Layout.AS_INPUT


# ---- attribute coercion -------------------------------------------------------------------------

#: normalised configurations by (type, raw values): see :meth:`Layer.normalize`
_NORMALIZED: dict[tuple[Any, ...], Config] = {}
#: past this many cases the memo starts again (a long session reading many specs stays bounded)
_NORMALIZED_MAX = 4096


def _raw_key(layer: str, raw: Mapping[str, Any]) -> tuple[Any, ...] | None:
    """A memo key for raw attribute values: each value with its type (``1``, ``1.0`` and ``true`` differ
    to the checks), lists as tuples; None where a value is of another kind (not memoised)."""
    items: list[Any] = [layer]
    for name, value in raw.items():
        frozen = _value_key(value)
        if frozen is None:
            return None
        items.append((name, frozen))
    return tuple(items)


def _value_key(value: Any) -> tuple[Any, ...] | None:
    kind = type(value)
    if kind is float:
        return (kind, value.hex())  # -0.0 and 0.0 are equal but print apart
    if kind is int or kind is str or kind is bool or value is None:
        return (kind, value)
    if kind is list or kind is tuple:
        parts = []
        for v in value:
            part = _value_key(v)
            if part is None:
                return None
            parts.append(part)
        return (kind, tuple(parts))
    return None


def _fail(layer: str, attr_name: str, expected: str, value: Any, loc: SourceLocation | None) -> SpecError:
    return SpecError(f"'{layer}' attribute '{attr_name}' must be {expected}, got {value!r}", loc)


def _as_int(layer: str, attr_name: str, value: Any, minimum: int, loc: SourceLocation | None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise _fail(layer, attr_name, f"an integer ≥ {minimum}", value, loc)
    if value < minimum:
        raise _fail(layer, attr_name, f"an integer ≥ {minimum}", value, loc)
    return int(value)


def _range_text(spec: Attr) -> str:
    low = "" if spec.low is None else f"{'>' if spec.low_open else '≥'} {spec.low:g}"
    high = "" if spec.high is None else f"≤ {spec.high:g}"
    return " and ".join(p for p in (low, high) if p)


def _coerce(layer: str, name: str, spec: Attr, value: Any, loc: SourceLocation | None) -> Any:
    kind = spec.kind
    if kind == "int":
        return _as_int(layer, name, value, spec.min, loc)
    if kind in ("pair", "size"):
        if isinstance(value, list | tuple):
            if len(value) != 2:
                raise _fail(layer, name, "an integer or a pair [h, w]", value, loc)
            return (_as_int(layer, name, value[0], spec.min, loc), _as_int(layer, name, value[1], spec.min, loc))
        v = _as_int(layer, name, value, spec.min, loc)
        return (v, v)
    if kind == "padding":
        if isinstance(value, str):
            if value == "same":
                return "same"
            if value == "valid":
                return (0, 0, 0, 0)
            raise _fail(layer, name, "an integer, [h, w], [top, bottom, left, right], 'same' or 'valid'",
                        value, loc)
        if isinstance(value, list | tuple):
            vals = [_as_int(layer, name, v, 0, loc) for v in value]
            if len(vals) == 2:
                return (vals[0], vals[0], vals[1], vals[1])
            if len(vals) == 4:
                return tuple(vals)
            raise _fail(layer, name, "[h, w] or [top, bottom, left, right]", value, loc)
        v = _as_int(layer, name, value, 0, loc)
        return (v, v, v, v)
    if kind == "float":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _fail(layer, name, "a number", value, loc)
        number = float(value)
        bad_low = spec.low is not None and (number <= spec.low if spec.low_open else number < spec.low)
        bad_high = spec.high is not None and number > spec.high
        if not math.isfinite(number) or bad_low or bad_high:
            expected = "a finite number" + (f" {_range_text(spec)}" if spec.low is not None or spec.high is not None
                                            else "")
            raise _fail(layer, name, expected, value, loc)
        return number
    if kind == "bool":
        if not isinstance(value, bool):
            raise _fail(layer, name, "true or false", value, loc)
        return value
    if kind == "choice":
        if value not in spec.choices:
            raise SpecError(f"'{layer}' attribute '{name}' must be one of {', '.join(spec.choices)},"
                            f" got {value!r}", loc, did_you_mean(str(value), spec.choices))
        return value
    if kind == "str":
        if not isinstance(value, str):
            raise _fail(layer, name, "a string", value, loc)
        return value
    if kind == "sizes":
        if not isinstance(value, list | tuple) or not value:
            raise _fail(layer, name, "a list of positive integers", value, loc)
        return tuple(_as_int(layer, name, v, 1, loc) for v in value)
    if kind == "table":
        if value is None:
            return None
        if not isinstance(value, list | tuple) or not all(isinstance(row, list | tuple) for row in value):
            raise _fail(layer, name, "a list, per output channel, of input-channel indices", value, loc)
        return tuple(tuple(_as_int(layer, name, i, 0, loc) for i in row) for row in value)
    raise AssertionError(f"unknown attribute kind {kind}")  # programming error, not user input


# ---- shared helpers for windowed layers ----------------------------------------------------------

def resolve_padding(pad: Padding, in_hw: Pair, kernel: Pair, stride: Pair,
                    dilation: Pair = (1, 1)) -> tuple[int, int, int, int]:
    """Explicit (top, bottom, left, right) padding, resolving 'same' against the input size."""
    if pad == "same":
        top, bottom = arith.same_padding(in_hw[0], kernel[0], stride[0], dilation[0])
        left, right = arith.same_padding(in_hw[1], kernel[1], stride[1], dilation[1])
        return (top, bottom, left, right)
    return pad


def need_map(layer: str, ins: Sequence[Shape]) -> tuple[int, int, int]:
    """The (C, H, W) input of a spatial layer, or a SpecError that says what to do."""
    shape = ins[0]
    if len(shape) != 3:
        raise SpecError(f"'{layer}' needs a C×H×W feature map, got a vector of {shape[0]}"
                        " (spatial layers cannot follow flatten or fc)")
    return shape[0], shape[1], shape[2]
