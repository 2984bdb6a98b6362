"""What a layer type must declare: its attributes and every symbolic rule, in one class.

A layer type is a subclass of :class:`Layer` registered in ``archcalc.layers``. Adding a type means
writing one such class (and one builder in the torch backend's table; a test keeps the two in step).
A rule a type cannot give is reported as *partial* with a reason, never silently as zero.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from archcalc import arith
from archcalc.errors import SourceLocation, SpecError, did_you_mean
from archcalc.ir import Shape

REQUIRED: Any = object()

Attrs = Mapping[str, Any]
LocOf = Callable[[str], "SourceLocation | None"]


@dataclass(frozen=True)
class Attr:
    """One attribute of a layer type: its kind, default, accepted aliases and a line of doc.

    Kinds: ``int`` (with ``min``), ``pair`` (an int or ``[h, w]``), ``padding`` (an int, ``[h, w]``,
    ``[top, bottom, left, right]``, ``same`` or ``valid``), ``float``, ``bool``, ``choice``,
    ``table`` (a list, per output channel, of the input channels it reads), ``str``, ``size``
    (an int or ``[h, w]`` output size).
    """

    kind: str
    default: Any = REQUIRED
    doc: str = ""
    aliases: tuple[str, ...] = ()
    min: int = 0
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class Params:
    """Parameter counts of one layer: weights and biases apart; buffers are not parameters."""

    weights: int = 0
    biases: int = 0
    buffers: int = 0
    trainable: bool = True

    @property
    def total(self) -> int:
        return self.weights + self.biases


@dataclass(frozen=True)
class Cost:
    """Arithmetic of one layer for one image.

    ``macs``: multiply-accumulates (one fused multiply-add = 1). ``ops``: other element-wise FLOPs
    (bias adds, normalisation, activations, pooling comparisons, residual adds). Backward: MACs for the
    gradient with respect to the input and to the weights apart (the pass drops the input part where no
    gradient is needed), and element-wise backward ops. ``partial`` names what could not be counted.
    """

    macs: int = 0
    ops: int = 0
    bwd_input_macs: int = 0
    bwd_weight_macs: int = 0
    bwd_ops: int = 0
    partial: str | None = None


@dataclass(frozen=True)
class Saved:
    """A tensor that autograd keeps for the backward pass of this layer.

    ``what``: ``input<i>`` (that input's storage), ``output`` (this layer's output storage) or
    ``own:<label>`` (an intermediate only this layer holds). ``itemsize``: fixed bytes per element
    (8 for int64 indices, 1 for bool masks) or None for the activation dtype. ``per_sample``: scales
    with the batch (False for per-channel statistics).
    """

    what: str
    elems: int
    itemsize: int | None = None
    per_sample: bool = True
    fp32: bool = False


@dataclass(frozen=True)
class Window:
    """A sliding window seen by the receptive-field pass: extents already dilated."""

    kernel: tuple[int, int]
    stride: tuple[int, int]
    pad_before: tuple[int, int]


def numel(shape: Shape) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


class Layer:
    """Base class of every layer type; subclasses override the rules that apply to them."""

    key: ClassVar[str]
    aliases: ClassVar[tuple[str, ...]] = ()
    attrs: ClassVar[dict[str, Attr]] = {}
    primary: ClassVar[str | None] = None
    min_inputs: ClassVar[int] = 1
    max_inputs: ClassVar[int] = 1
    short: ClassVar[str] = ""
    doc: ClassVar[str] = ""
    #: A per-element op whose rules are all "one op per element, output = input".
    pointwise: ClassVar[bool] = False
    #: Counts as a weight layer for depth, as papers count it (conv, fc; not batch norm).
    counts_depth: ClassVar[bool] = False

    # ---- attributes -------------------------------------------------------------------------
    def normalize(self, raw: Mapping[str, Any], loc_of: LocOf, where: SourceLocation | None) -> dict[str, Any]:
        """Check and normalise raw attributes from the spec (after variable substitution)."""
        names = {}
        for attr_name, attr in self.attrs.items():
            names[attr_name] = attr_name
            for alias in attr.aliases:
                names[alias] = attr_name
        out: dict[str, Any] = {}
        for key, value in raw.items():
            if key not in names:
                hint = did_you_mean(key, names)
                raise SpecError(f"unknown attribute '{key}' for layer type '{self.key}'"
                                f" (accepted: {', '.join(self.attrs)})", loc_of(key) or where, hint)
            canon = names[key]
            if canon in out:
                raise SpecError(f"attribute '{canon}' given twice (as '{key}')", loc_of(key) or where)
            out[canon] = _coerce(self.key, canon, self.attrs[canon], value, loc_of(key) or where)
        for attr_name, attr in self.attrs.items():
            if attr_name not in out:
                if attr.default is REQUIRED:
                    raise SpecError(f"layer type '{self.key}' needs attribute '{attr_name}'", where,
                                    attr.doc or None)
                out[attr_name] = (attr.default if attr.default is None
                                  else _coerce(self.key, attr_name, attr, attr.default, where))
        self.check(out, where)
        return out

    def check(self, a: dict[str, Any], where: SourceLocation | None) -> None:
        """Cross-attribute checks that need no input shape."""

    # ---- symbolic rules ---------------------------------------------------------------------
    def output_shape(self, a: Attrs, ins: Sequence[Shape]) -> Shape:
        if self.pointwise:
            return ins[0]
        raise NotImplementedError(self.key)

    def params(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> Params:
        return Params()

    def cost(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> Cost:
        if self.pointwise:
            n = numel(out)
            return Cost(ops=n, bwd_ops=n)
        return Cost()

    def leftover(self, a: Attrs, ins: Sequence[Shape]) -> str | None:
        """A warning when the layer's windows leave real input unread (only sliding windows can)."""
        return None

    def window(self, a: Attrs, ins: Sequence[Shape]) -> Window | None:
        """The spatial window for the receptive field; None for layers that map each position to itself."""
        return None

    def inplace(self, a: Attrs) -> bool:
        """Whether the output reuses the input's storage (no new activation memory)."""
        return bool(a.get("inplace", False))

    def view(self, a: Attrs) -> bool:
        """Whether the output is a view of the input (no new memory, shares storage)."""
        return False

    def saved(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> list[Saved]:
        """Tensors autograd saves for backward in training mode (see :class:`Saved`)."""
        return []


# ---- attribute coercion -------------------------------------------------------------------------

def _fail(layer: str, attr: str, expected: str, value: Any, loc: SourceLocation | None) -> SpecError:
    return SpecError(f"'{layer}' attribute '{attr}' must be {expected}, got {value!r}", loc)


def _as_int(layer: str, attr: str, value: Any, minimum: int, loc: SourceLocation | None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise _fail(layer, attr, f"an integer ≥ {minimum}", value, loc)
    if value < minimum:
        raise _fail(layer, attr, f"an integer ≥ {minimum}", value, loc)
    return int(value)


def _coerce(layer: str, name: str, attr: Attr, value: Any, loc: SourceLocation | None) -> Any:
    kind = attr.kind
    if kind == "int":
        return _as_int(layer, name, value, attr.min, loc)
    if kind in ("pair", "size"):
        if isinstance(value, list | tuple):
            if len(value) != 2:
                raise _fail(layer, name, "an integer or a pair [h, w]", value, loc)
            return (_as_int(layer, name, value[0], attr.min, loc), _as_int(layer, name, value[1], attr.min, loc))
        v = _as_int(layer, name, value, attr.min, loc)
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
        return float(value)
    if kind == "bool":
        if not isinstance(value, bool):
            raise _fail(layer, name, "true or false", value, loc)
        return value
    if kind == "choice":
        if value not in attr.choices:
            raise SpecError(f"'{layer}' attribute '{name}' must be one of {', '.join(attr.choices)},"
                            f" got {value!r}", loc, did_you_mean(str(value), attr.choices))
        return value
    if kind == "str":
        if not isinstance(value, str):
            raise _fail(layer, name, "a string", value, loc)
        return value
    if kind == "table":
        if value is None:
            return None
        if not isinstance(value, list | tuple) or not all(isinstance(row, list | tuple) for row in value):
            raise _fail(layer, name, "a list, per output channel, of input-channel indices", value, loc)
        return tuple(tuple(_as_int(layer, name, i, 0, loc) for i in row) for row in value)
    raise AssertionError(f"unknown attribute kind {kind}")  # programming error, not user input


# ---- shared helpers for windowed layers ----------------------------------------------------------

def resolve_padding(a: Attrs, in_hw: tuple[int, int], kernel: tuple[int, int],
                    stride: tuple[int, int], dilation: tuple[int, int] = (1, 1)) -> tuple[int, int, int, int]:
    """Explicit (top, bottom, left, right) padding, resolving 'same' against the input size."""
    pad = a["pad"]
    if pad == "same":
        top, bottom = arith.same_padding(in_hw[0], kernel[0], stride[0], dilation[0])
        left, right = arith.same_padding(in_hw[1], kernel[1], stride[1], dilation[1])
        return (top, bottom, left, right)
    top, bottom, left, right = pad
    return (top, bottom, left, right)


def need_map(layer: str, ins: Sequence[Shape]) -> tuple[int, int, int]:
    """The (C, H, W) input of a spatial layer, or a SpecError that says what to do."""
    shape = ins[0]
    if len(shape) != 3:
        raise SpecError(f"'{layer}' needs a C×H×W feature map, got a vector of {shape[0]}"
                        " (spatial layers cannot follow flatten or fc)")
    return shape[0], shape[1], shape[2]
