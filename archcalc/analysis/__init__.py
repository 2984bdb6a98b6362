"""Symbolic analysis of a graph: the entry point the commands, the backend and the renderers use.

>>> from archcalc.spec import load_text
>>> a = analyze(load_text("input: 3x32x32\\nlayers: [{conv: {out: 8, k: 3}}, relu]"))
>>> a.totals.params, a.totals.macs
(224, 194400)
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from archcalc.analysis.calculator import DTYPE_BYTES, Calculation, NodeResult, Warning_, calculate
from archcalc.analysis.memory import (
    OPTIMIZER_STATE,
    SavedTensor,
    TrainingMemory,
    forward_activation_elems,
    max_batch,
    peak_inference_elems,
    saved_tensors,
    training_memory,
)
from archcalc.analysis.receptive import RF
from archcalc.errors import OptionError
from archcalc.ir import Graph


@dataclass(frozen=True)
class Totals:
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
    activation_elems: int
    peak_elems: int
    peak_at: str
    saved_elems_per_sample: int
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
    """The calculator's results for one graph at one dtype."""

    def __init__(self, calc: Calculation, dtype: str):
        if dtype not in DTYPE_BYTES:
            raise OptionError(f"unknown dtype '{dtype}' (choose from {', '.join(DTYPE_BYTES)})")
        self.calc = calc
        self.graph = calc.graph
        self.dtype = dtype
        self.itemsize = DTYPE_BYTES[dtype]

    @property
    def results(self) -> dict[str, NodeResult]:
        return self.calc.results

    @property
    def warnings(self) -> list[Warning_]:
        return self.calc.warnings

    @cached_property
    def saved(self) -> list[SavedTensor]:
        return saved_tensors(self.calc, self.itemsize)

    @cached_property
    def totals(self) -> Totals:
        rs = list(self.results.values())
        peak, at = peak_inference_elems(self.calc)
        partial = tuple(f"{r.node.name}: {r.cost.partial}" for r in rs if r.cost.partial)
        return Totals(
            params=sum(r.params.total for r in rs),
            trainable_params=sum(r.params.total for r in rs if r.params.trainable),
            weights=sum(r.params.weights for r in rs),
            biases=sum(r.params.biases for r in rs),
            buffers=sum(r.params.buffers for r in rs),
            macs=sum(r.cost.macs for r in rs),
            ops=sum(r.cost.ops for r in rs),
            bwd_macs=sum(r.bwd_macs for r in rs),
            bwd_ops=sum(r.cost.bwd_ops for r in rs),
            activation_elems=forward_activation_elems(self.calc),
            peak_elems=peak,
            peak_at=at,
            saved_elems_per_sample=sum(t.elems for t in self.saved if t.per_sample),
            partial=partial,
        )

    def training_memory(self, batch: int, optimizer: str = "momentum") -> TrainingMemory:
        _check_optimizer(optimizer)
        return training_memory(self.calc, self.saved, batch, optimizer)

    def saved_bytes(self, batch: int) -> int:
        """Bytes of activations autograd keeps for backward for a batch (distinct storages)."""
        return sum(t.nbytes(batch) for t in self.saved)

    def max_batch(self, budget_bytes: int, optimizer: str = "momentum") -> int:
        _check_optimizer(optimizer)
        return max_batch(self.calc, self.saved, budget_bytes, optimizer)

    @property
    def last_spatial(self) -> NodeResult | None:
        """The last node whose output is still a feature map (for 'receptive field of the network')."""
        spatial = [r for r in self.results.values() if len(r.shape) == 3 and r.node.op not in ("gap",)]
        return spatial[-1] if spatial else None


def _check_optimizer(name: str) -> None:
    if name not in OPTIMIZER_STATE:
        raise OptionError(f"unknown optimizer '{name}' (choose from {', '.join(OPTIMIZER_STATE)})")


def analyze(graph: Graph, dtype: str = "fp32", strict: bool = False) -> Analysis:
    """Run the calculator over ``graph``."""
    return Analysis(calculate(graph, strict=strict), dtype)


__all__ = ["RF", "Analysis", "NodeResult", "SavedTensor", "Totals", "TrainingMemory", "Warning_", "analyze"]
