"""Memory models: activations (CS231n sum and liveness peak) and training memory.

Conventions, stated once (README, "Methodology"):

* **Forward activation memory per image** is the CS231n sum: the input plus every layer output that
  is a new tensor. In-place activations (ReLU), views (flatten) and inference-time identities
  (dropout) add nothing.
* **Peak inference memory** is a liveness walk in topological order: a tensor lives from the layer
  that writes it until its last reader has run; the peak is the largest sum of live tensors.
* **Training memory for a batch** = parameters + gradients + optimizer state (SGD 0, momentum 1,
  Adam 2 copies of the trainable parameters) + the activations autograd saves for backward, counted
  per distinct storage, times the batch size. Workspace, allocator slack and the CUDA context are
  not modelled.
"""

from __future__ import annotations

from dataclasses import dataclass

from archcalc import layers
from archcalc.analysis.calculator import Calculation
from archcalc.ir import INPUT
from archcalc.layers import Saved

OPTIMIZER_STATE = {"sgd": 0, "momentum": 1, "nesterov": 1, "rmsprop": 1, "adam": 2, "adamw": 2}


@dataclass(frozen=True)
class SavedTensor:
    """One distinct storage autograd keeps for backward."""

    key: str
    owner: str
    elems: int
    itemsize: int
    per_sample: bool

    def nbytes(self, batch: int) -> int:
        return self.elems * self.itemsize * (batch if self.per_sample else 1)


@dataclass(frozen=True)
class TrainingMemory:
    """The parts of the training-memory estimate for one batch size, in bytes."""

    batch: int
    optimizer: str
    params: int
    grads: int
    optimizer_state: int
    activations: int

    @property
    def total(self) -> int:
        return self.params + self.grads + self.optimizer_state + self.activations


def storage_map(calc: Calculation, training: bool) -> dict[str, str]:
    """Which storage each node's output lives in (in-place ops and views share their input's)."""
    storage: dict[str, str] = {}
    for name, res in calc.results.items():
        node = res.node
        layer = layers.CATALOGUE[node.op]
        # training dropout writes a new tensor (the backend never runs it in place)
        training_dropout = node.op == "dropout" and training
        shared = not training_dropout and (layer.inplace(node.attrs) or layer.view(node.attrs))
        storage[name] = storage[node.inputs[0]] if shared and node.inputs else name
    return storage


def forward_activation_elems(calc: Calculation) -> int:
    """CS231n convention: the input plus every newly allocated layer output, for one image."""
    return sum(r.alloc_elems for r in calc.results.values() if r.node.op != "input") + layers.numel(
        calc.results[INPUT].shape)


def peak_inference_elems(calc: Calculation) -> tuple[int, str]:
    """Largest number of activation elements alive at once, and the layer at which it happens."""
    storage = storage_map(calc, training=False)
    pending: dict[str, int] = {}
    size: dict[str, int] = {}
    for name, res in calc.results.items():
        for i in res.node.inputs:
            pending[storage[i]] = pending.get(storage[i], 0) + 1
        if storage[name] == name:
            size[name] = layers.numel(res.shape)
    for out in calc.graph.outputs:
        pending[storage[out]] = pending.get(storage[out], 0) + 1  # outputs stay alive
    live = {INPUT: size[INPUT]}
    total = peak = size[INPUT]
    at = INPUT
    for name, res in calc.results.items():
        if name == INPUT:
            continue
        if storage[name] == name:
            live[name] = size[name]
            total += size[name]
        if total > peak:
            peak, at = total, name
        for i in res.node.inputs:
            key = storage[i]
            pending[key] -= 1
            if pending[key] == 0 and key in live:
                total -= live.pop(key)
    return peak, at


def saved_tensors(calc: Calculation, itemsize: int) -> list[SavedTensor]:
    """The distinct storages autograd keeps for backward in training mode (one image)."""
    storage = storage_map(calc, training=True)
    seen: dict[str, SavedTensor] = {}
    memo: dict[tuple[object, ...], list[Saved]] = {}
    for name, res in calc.results.items():
        node = res.node
        if node.op == "input":
            continue
        if not res.needs_input_grad and not (res.params.total and res.params.trainable):
            continue  # nothing before it needs a gradient (e.g. dropout on the input): autograd saves nothing
        ins = [calc.results[i].shape for i in node.inputs]
        case = (node.op, tuple(node.attrs.items()), tuple(ins))
        if case not in memo:
            memo[case] = layers.CATALOGUE[node.op].saved(node.attrs, ins, res.shape)
        for s in memo[case]:
            if s.what.startswith("input"):
                key = storage[node.inputs[int(s.what[5:] or 0)]]
            elif s.what == "output":
                key = storage[name]
            else:
                key = f"{name}:{s.what[4:]}"
            size = s.itemsize if s.itemsize is not None else (4 if s.fp32 else itemsize)
            if key not in seen:
                seen[key] = SavedTensor(key, name, s.elems, size, s.per_sample)
    return list(seen.values())


def training_memory(calc: Calculation, saved: list[SavedTensor], batch: int, optimizer: str,
                    param_itemsize: int = 4) -> TrainingMemory:
    """Parameters, gradients, optimizer state and saved activations for one batch, in bytes."""
    params = sum(r.params.total for r in calc.results.values())
    trainable = sum(r.params.total for r in calc.results.values() if r.params.trainable)
    buffers = sum(r.params.buffers for r in calc.results.values())
    activations = sum(t.nbytes(batch) for t in saved)
    return TrainingMemory(
        batch=batch, optimizer=optimizer,
        params=(params + buffers) * param_itemsize,
        grads=trainable * param_itemsize,
        optimizer_state=OPTIMIZER_STATE[optimizer] * trainable * param_itemsize,
        activations=activations,
    )


def max_batch(calc: Calculation, saved: list[SavedTensor], budget: int, optimizer: str) -> int:
    """Largest batch whose training-memory estimate fits ``budget`` bytes (0 if none does)."""
    fixed = training_memory(calc, saved, 0, optimizer)
    per_sample = sum(t.nbytes(1) for t in saved if t.per_sample)
    static = fixed.total
    if budget < static or per_sample == 0:
        return 0 if budget < static else 1 << 31
    return (budget - static) // per_sample
