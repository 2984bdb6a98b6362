"""Symbolic analysis of a graph: the one object every command, renderer and backend takes.

A command analyses a spec once; the report, the torch builder, verify, bench, train, the plots and
the diagram all read the same :class:`Analysis` (its per-node results carry each layer's resolved
record) instead of re-deriving anything.

>>> from archcalc.spec import load_text
>>> a = analyze(load_text("input: 3x32x32\\nlayers: [{conv: {out: 8, k: 3}}, relu]"))
>>> a.totals.params, a.totals.macs
(224, 194400)
"""

from __future__ import annotations

from functools import cached_property

from archcalc.analysis.calculator import NodeResult, SpecWarning, calculate
from archcalc.analysis.memory import (
    PARAM_ITEMSIZE,
    SavedTensor,
    TrainingMemory,
    cases,
    inference_memory,
    max_batch,
    max_inference_batch,
    peak_inference_elems,
    saved_sums,
    saved_tensors,
    training_memory,
)
from archcalc.analysis.receptive import RF
from archcalc.errors import OptionError
from archcalc.frozen import Frozen
from archcalc.gc_pause import gc_paused
from archcalc.ir import Graph
from archcalc.vocab import DTYPE_BYTES, OPTIMIZER_STATE


class Totals(Frozen):
    """Whole-network figures for one image (parameters independent of the image)."""

    params: int
    trainable_params: int
    weights: int
    biases: int
    buffers: int
    macs: int
    ops: int
    bwd_macs: int
    bwd_ops: int
    activation_elems: int  # CS231n convention: the input plus every newly allocated layer output
    peak_elems: int
    peak_at: str
    #: layers whose figures are incomplete: "name: partial|unavailable: reason"
    partial: tuple[str, ...]

    @property
    def flops(self) -> int:
        """Forward FLOPs: 2 per multiply-accumulate plus the other element-wise ops."""
        return 2 * self.macs + self.ops

    @property
    def train_flops(self) -> int:
        """Forward plus backward FLOPs for one image."""
        return self.flops + 2 * self.bwd_macs + self.bwd_ops


class Analysis:
    """The calculator's results for one graph at one dtype: per-node results, warnings, the in-place plan."""

    def __init__(self, graph: Graph, dtype: str = "fp32", strict: bool = False):
        if dtype not in DTYPE_BYTES:
            raise OptionError(f"unknown dtype '{dtype}' (choose from {', '.join(DTYPE_BYTES)})")
        self.graph = graph
        self.dtype = dtype
        self.itemsize = DTYPE_BYTES[dtype]
        with gc_paused():  # a result per node, no cycles (archcalc.gc_pause)
            self.results, self.warnings, self.inplace_plan = calculate(graph, strict=strict)

    def with_dtype(self, dtype: str) -> Analysis:
        """The same analysis with activation memory counted at ``dtype`` (the records are shared)."""
        if dtype not in DTYPE_BYTES:
            raise OptionError(f"unknown dtype '{dtype}' (choose from {', '.join(DTYPE_BYTES)})")
        other = object.__new__(Analysis)
        other.graph, other.results, other.warnings, other.inplace_plan = (self.graph, self.results, self.warnings,
                                                                           self.inplace_plan)
        other.dtype, other.itemsize = dtype, DTYPE_BYTES[dtype]
        return other

    def under(self, path: str) -> list[NodeResult]:
        """The nodes of a layer or group and everything nested in it (fvcore's ``by_module`` query)."""
        prefix = path + "."
        found = [r for name, r in self.results.items() if name == path or name.startswith(prefix)]
        if not found:
            raise KeyError(f"no layer or group named '{path}'")
        return found

    @cached_property
    def group_kinds(self) -> dict[str, str]:
        """Each group's dotted path → its kind ('block:bottleneck', 'branch', 'side', 'group')."""
        return {".".join(g.path): g.kind for g in self.graph.groups}

    @cached_property
    def saved(self) -> list[SavedTensor]:
        return saved_tensors(self.results, self.graph, self.itemsize)

    @cached_property
    def saved_split(self) -> tuple[int, int]:
        """The bytes of :attr:`saved`, fixed and per image (all the memory figures need, without the list)."""
        return saved_sums(self.results, self.graph, self.itemsize)

    @cached_property
    def cases(self) -> list[tuple[NodeResult, int]]:
        """The nodes' distinct cases (record, in-place plan, gradient flow), one node of each and its count."""
        return cases(self.results)

    @cached_property
    def totals(self) -> Totals:
        """The sums over every node: over its distinct cases, times their counts (a 100,000-layer chain
        has 100,000 results and 3 cases)."""
        peak, at = peak_inference_elems(self.results, self.graph)
        params = trainable = weights = biases = buffers = macs = ops = bwd_macs = bwd_ops = alloc = 0
        partial = False
        for r, n in self.cases:
            p, c = r.rec.params, r.rec.cost
            total = p.total * n
            params += total
            if p.trainable:
                trainable += total
            weights += p.weights * n
            biases += p.biases * n
            buffers += p.buffers * n
            macs += c.macs * n
            ops += c.ops * n
            bwd_macs += r.bwd_macs * n
            bwd_ops += c.bwd_ops * n
            alloc += r.alloc_elems * n
            partial = partial or bool(c.partial)
        # the incomplete layers by name, in order: only when some case is one
        notes = tuple(f"{r.name}: {r.rec.cost.partial}" for r in self.results.values()
                      if r.rec.cost.partial) if partial else ()
        return Totals(
            params=params, trainable_params=trainable, weights=weights, biases=biases, buffers=buffers, macs=macs,
            ops=ops, bwd_macs=bwd_macs, bwd_ops=bwd_ops, activation_elems=alloc,
            peak_elems=peak, peak_at=at, partial=notes,
        )

    @property
    def output(self) -> NodeResult:
        """The main output's node."""
        return self.results[self.graph.outputs[0]]

    def training_memory(self, batch: int, optimizer: str = "momentum") -> TrainingMemory:
        _check_optimizer(optimizer)
        return training_memory(self.cases, self.saved_split, batch, optimizer)

    def saved_bytes(self, batch: int) -> int:
        """Bytes of activations autograd keeps for backward for a batch (distinct storages)."""
        fixed, per_image = self.saved_split
        return fixed + per_image * batch

    def max_batch(self, budget_bytes: int, optimizer: str = "momentum") -> int:
        _check_optimizer(optimizer)
        return max_batch(self.cases, self.saved_split, budget_bytes, optimizer)

    def inference_memory(self, batch: int) -> int:
        """Parameters and buffers plus the activations' liveness peak for ``batch`` images, in bytes."""
        t = self.totals
        return inference_memory((t.params + t.buffers) * PARAM_ITEMSIZE, t.peak_elems * self.itemsize, batch)

    def max_inference_batch(self, budget_bytes: int) -> int:
        t = self.totals
        return max_inference_batch((t.params + t.buffers) * PARAM_ITEMSIZE, t.peak_elems * self.itemsize,
                                   budget_bytes)

    @property
    def last_spatial(self) -> NodeResult | None:
        """The last feature map: the last node with a spatial output before any whole-map reduction.

        That is the network's receptive field as the papers quote it; after global pooling or flatten
        every unit sees the whole image, and a 1×1 "map" there says nothing about the field.
        """
        for r in reversed(self.results.values()):  # the last one: from the end, usually a few nodes back
            if len(r.shape) == 3 and not r.global_context:
                return r
        return None


def _check_optimizer(name: str) -> None:
    if name not in OPTIMIZER_STATE:
        raise OptionError(f"unknown optimizer '{name}' (choose from {', '.join(OPTIMIZER_STATE)})")


def analyze(graph: Graph, dtype: str = "fp32", strict: bool = False) -> Analysis:
    """Resolve every node of ``graph`` once and run the graph passes."""
    return Analysis(graph, dtype, strict)


__all__ = ["RF", "Analysis", "NodeResult", "SavedTensor", "SpecWarning", "Totals", "TrainingMemory", "analyze"]
