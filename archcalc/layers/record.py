"""The resolved record: everything one layer type says about one node, computed once.

A layer type (``archcalc.layers``) turns a node — its typed configuration and its input shapes — into a
frozen :class:`Resolved`. Every consumer outside ``layers/`` and ``spec/`` (the analysis passes, the
report, the diagram and charts, the torch builders, verify, bench) reads this record and nothing else:
no consumer compares a type name with a string or reads a raw attribute. A fact that is not here is a
fact no consumer may re-derive.
"""

from __future__ import annotations

from enum import Enum
from typing import Any, NoReturn

from archcalc.arith import Num
from archcalc.frozen import Frozen
from archcalc.ir import Shape

Pair = tuple[int, int]


class Params(Frozen):
    """Parameter counts of one layer: weights and biases apart; buffers are not parameters."""

    weights: int = 0
    biases: int = 0
    buffers: int = 0
    trainable: bool = True

    @property
    def total(self) -> int:
        return self.weights + self.biases


class Completeness(Enum):
    """Whether a layer's cost figures are whole (torch-scan's complete | partial | unavailable)."""

    COMPLETE = "complete"
    #: some figures are counted, some could not be: ``Cost.reason`` says which
    PARTIAL = "partial"
    #: nothing could be counted: the zeros are not zeros, and totals say so
    UNAVAILABLE = "unavailable"


class Cost(Frozen):
    """Arithmetic of one layer for one image, with an honest completeness.

    ``macs``: multiply-accumulates (one fused multiply-add = 1), by archcalc's stated convention.
    ``ops``: other element-wise FLOPs (bias adds, normalisation, activations, pooling comparisons,
    residual adds). Backward: MACs for the gradient with respect to the input and to the weights apart
    (the analysis drops the input part where no gradient is needed), and element-wise backward ops.
    ``framework_macs``: the fused multiply-adds a framework's counter (fvcore, torch's
    ``FlopCounterMode``) attributes to this layer — convolutions and matrix products over the dense
    weight — so that verify compares like with like (LRN's window sums and LeNet's RBF are MACs by
    archcalc's convention but invisible to those counters; a connection-table conv is counted dense).
    """

    macs: int = 0
    ops: int = 0
    bwd_input_macs: int = 0
    bwd_weight_macs: int = 0
    bwd_ops: int = 0
    framework_macs: int = 0
    completeness: Completeness = Completeness.COMPLETE
    reason: str | None = None

    @classmethod
    def unavailable(cls, reason: str) -> Cost:
        """A layer whose arithmetic cannot be counted: zeros that totals report as missing."""
        return cls(completeness=Completeness.UNAVAILABLE, reason=reason)

    @property
    def partial(self) -> str | None:
        """What could not be counted (None when the figures are complete)."""
        if self.completeness is Completeness.COMPLETE:
            return None
        return f"{self.completeness.value}: {self.reason or 'no reason given'}"


class SavedKind(Enum):
    """Where a tensor autograd keeps comes from."""

    INPUT = "input"    #: one of the layer's inputs (its storage)
    OUTPUT = "output"  #: the layer's own output (its storage)
    OWN = "own"        #: an intermediate only this layer holds (a mask, indices, a padded copy)


class Saved(Frozen):
    """A tensor that autograd keeps for the backward pass of this layer, in training mode.

    ``itemsize``: fixed bytes per element (8 for int64 indices, 1 for bool masks) or None for the
    activation dtype; ``fp32``: kept in fp32 whatever the activation dtype; ``per_sample``: scales with
    the batch (False for per-channel statistics). ``needed_if``: kept only when one of these inputs needs
    a gradient (a product keeps each factor for the other's gradient). ``channels_last``: an input that
    torch keeps as it is only when its memory is channels-last, and copies otherwise (a Linear over
    channels reshapes its input).
    """

    kind: SavedKind
    elems: int
    index: int = 0
    label: str = ""
    itemsize: int | None = None
    per_sample: bool = True
    fp32: bool = False
    needed_if: tuple[int, ...] = ()
    channels_last: bool = False

    @classmethod
    def input(cls, elems: int, index: int = 0, *, needed_if: tuple[int, ...] = (),
              channels_last: bool = False) -> Saved:
        return cls(SavedKind.INPUT, elems, index=index, needed_if=needed_if, channels_last=channels_last)

    @classmethod
    def output(cls, elems: int) -> Saved:
        return cls(SavedKind.OUTPUT, elems)

    @classmethod
    def own(cls, label: str, elems: int, *, itemsize: int | None = None, per_sample: bool = True,
            fp32: bool = False, needed_if: tuple[int, ...] = ()) -> Saved:
        return cls(SavedKind.OWN, elems, label=label, itemsize=itemsize, per_sample=per_sample, fp32=fp32,
                   needed_if=needed_if)


class Aliasing(Enum):
    """How a layer's output relates to its input's storage."""

    NEW = "new"                          #: a fresh tensor
    OVERWRITES_INPUT = "overwrites"      #: asks to run in place on its first input (where the plan allows)
    ACCUMULATES = "accumulates"          #: may accumulate into one free input (residual add); modelled as new
    VIEW = "view"                        #: a view of its first input (flatten, identity): no new memory
    INPUT_AT_INFERENCE = "inference_id"  #: its input at inference, a new tensor in training (dropout)


class Family(Enum):
    """One vocabulary of layer kinds, for colours and grouping in every picture."""

    INPUT = "input"
    CONV = "conv"
    POOL = "pool"
    FC = "fc"
    NORM = "norm"
    ACT = "act"
    SOFTMAX = "softmax"
    JOIN = "join"
    RESHAPE = "reshape"
    OTHER = "other"


class Layout(Enum):
    """The memory layout of a layer's output, where a later rule depends on it (see ``Saved``)."""

    CONTIGUOUS = "contiguous"        #: a fresh tensor in the usual (N, C, H, W) order
    CHANNELS_LAST = "channels_last"  #: computed over channels at each position: (N, H, W, C) in memory
    AS_INPUT = "as_input"            #: element-wise: the first input's layout


class JoinKind(Enum):
    """How a join combines its inputs: stacked along channels, or element by element."""

    STACK = "stack"
    ELEMENTWISE = "elementwise"


class Geometry(Frozen):
    """A sliding window's resolved geometry: what the torch builders and the memory model both read.

    ``pad`` is (top, bottom, left, right) with ``same`` resolved. ``native``: the framework pads it
    itself (symmetric zero padding); otherwise a backend pads explicitly (``F.pad`` with ``pad_mode``)
    and, in ceil mode, adds ``ceil_room`` more rows/columns at the bottom/right so that a floor-mode
    window gives the ceil-mode output size. ``transposed``: a transposed convolution, whose padding
    trims the output and ``output_padding`` adds rows/columns at its bottom/right.
    """

    kernel: Pair
    stride: Pair
    dilation: Pair
    pad: tuple[int, int, int, int]
    ceil: bool
    native: bool
    pad_mode: str = "zeros"
    ceil_room: Pair = (0, 0)
    transposed: bool = False
    output_padding: Pair = (0, 0)

    @property
    def extent(self) -> Pair:
        """The dilated kernel's extent along each axis."""
        return (self.dilation[0] * (self.kernel[0] - 1) + 1, self.dilation[1] * (self.kernel[1] - 1) + 1)

    @property
    def explicit_pad(self) -> tuple[int, int, int, int]:
        """(left, right, top, bottom) for ``F.pad`` when the backend pads explicitly (ceil room included)."""
        top, bottom, left, right = self.pad
        return (left, right + self.ceil_room[1], top, bottom + self.ceil_room[0])


# ---- receptive-field rules: a layer must say which one applies ----------------------------------

class Window(Frozen):
    """A spatial window: ``size += (k−1)·jump; jump *= s; start −= p·jump`` per axis (k already dilated).

    Upsampling layers give fractions (in input units: a stride of 1/2, see ``arith.upsampling_window``).
    """

    kernel: tuple[Num, Num]
    stride: tuple[Num, Num]
    pad_before: tuple[Num, Num]


class Identity(Frozen):
    """Each output position sees what the same input position sees (pointwise layers, vectors).

    ``context``: and each unit is also scaled by statistics of the whole map (group normalisation).
    """

    context: bool = False


class Union(Frozen):
    """A join: the union of its inputs' fields; flagged when their centres differ.

    ``context``: inputs broadcast over space (a squeeze-excitation gate, C×1×1): they bring global
    context, not a field of their own, and are left out of the union (the result says so).
    """

    context: tuple[int, ...] = ()


class Unavailable(Frozen):
    """No single (size, jump, start) describes the field: said, with the reason, never guessed."""

    reason: str


RFRule = Window | Identity | Union | Unavailable


def unreachable(value: NoReturn) -> NoReturn:
    """The end of an exhaustive match over a closed union: mypy flags a rule kind left unhandled."""
    raise AssertionError(f"unhandled case {value!r}")


class Resolved(Frozen):
    """One node as its layer type resolves it: the only source of every figure and fact about it.

    ``config`` is the layer's typed, normalised configuration (what the torch builder constructs it
    from). ``saved`` is what autograd keeps when the layer runs out of place; ``saved_inplace`` when it
    runs in place (None: it never does). ``label`` is the slides' wording ("3×3 conv, 64, /2");
    ``minor`` layers are left out of diagrams by default, as the slides do.
    """

    op: str
    config: Any
    ins: tuple[Shape, ...]
    out: Shape
    params: Params
    cost: Cost
    saved: tuple[Saved, ...]
    saved_inplace: tuple[Saved, ...] | None
    aliasing: Aliasing
    geometry: Geometry | None
    rf: RFRule
    family: Family
    label: str
    minor: bool
    counts_depth: bool
    join: JoinKind | None
    leftover: str | None
    connections: int = 0
    layout: Layout = Layout.CONTIGUOUS
