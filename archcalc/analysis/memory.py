"""Memory models: activations (CS231n sum and liveness peak), training and inference memory.

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
* **Inference memory for a batch** = parameters and buffers + the liveness peak of activations.
"""

from __future__ import annotations

from collections.abc import Mapping

from archcalc import layers
from archcalc.analysis.calculator import NodeResult
from archcalc.frozen import Frozen
from archcalc.ir import Graph
from archcalc.layers import SavedKind
from archcalc.vocab import OPTIMIZER_STATE

#: parameters are counted in fp32 (mixed precision keeps fp32 master weights)
PARAM_ITEMSIZE = 4


class SavedTensor(Frozen):
    """One distinct storage autograd keeps for backward."""

    key: str
    elems: int
    itemsize: int
    per_sample: bool

    def nbytes(self, batch: int) -> int:
        return self.elems * self.itemsize * (batch if self.per_sample else 1)


class TrainingMemory(Frozen):
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


Results = Mapping[str, NodeResult]


def storage_map(results: Results, training: bool) -> dict[str, str]:
    """Which storage each node's output lives in (in-place ops and views share their input's)."""
    storage: dict[str, str] = {}
    for name, res in results.items():
        inputs = res.node.inputs
        storage[name] = storage[inputs[0]] if inputs and res.shares_input(training) else name
    return storage


def forward_activation_elems(results: Results) -> int:
    """CS231n convention: the input plus every newly allocated layer output, for one image."""
    return sum(r.alloc_elems for r in results.values())


def peak_inference_elems(results: Results, graph: Graph) -> tuple[int, str]:
    """Largest number of activation elements alive at once, and the layer at which it happens."""
    storage = storage_map(results, training=False)
    pending: dict[str, int] = {}
    size: dict[str, int] = {}
    for name, res in results.items():
        for i in res.node.inputs:
            pending[storage[i]] = pending.get(storage[i], 0) + 1
        if storage[name] == name:
            size[name] = layers.numel(res.shape)
    for out in graph.outputs:
        pending[storage[out]] = pending.get(storage[out], 0) + 1  # outputs stay alive
    live: dict[str, int] = {}
    total = peak = 0
    at = ""
    for name, res in results.items():
        if storage[name] == name:
            live[name] = size[name]
            total += size[name]
        if total > peak or not at:
            peak, at = total, name
        for i in res.node.inputs:
            key = storage[i]
            pending[key] -= 1
            if pending[key] == 0 and key in live:
                total -= live.pop(key)
    return peak, at


def saved_tensors(results: Results, itemsize: int) -> list[SavedTensor]:
    """The distinct storages autograd keeps for backward in training mode (one image)."""
    storage = storage_map(results, training=True)
    seen: dict[str, SavedTensor] = {}

    def grad(name: str) -> bool:
        r = results[name]
        return r.needs_input_grad or bool(r.params.total and r.params.trainable)

    for name, res in results.items():
        if not res.needs_input_grad and not (res.params.total and res.params.trainable):
            continue  # nothing before it needs a gradient (e.g. dropout on the input): autograd saves nothing
        inputs = res.node.inputs
        for s in res.saved:
            if s.needed_if and not any(grad(inputs[j]) for j in s.needed_if):
                continue  # kept only for another input's gradient, which none needs
            elems = s.elems
            if s.kind is SavedKind.INPUT and s.channels_last and not results[inputs[s.index]].channels_last:
                key = f"{name}:input{s.index}_copy"  # torch reshapes a copy of the channels-last view
            elif s.kind in (SavedKind.INPUT, SavedKind.OUTPUT):
                key = storage[inputs[s.index] if s.kind is SavedKind.INPUT else name]
                # a view (a crop, a split's part) keeps its whole base storage alive
                elems = layers.numel(results[key].shape)
            else:
                key = f"{name}:{s.label}"
            size = s.itemsize if s.itemsize is not None else (4 if s.fp32 else itemsize)
            if key not in seen:
                seen[key] = SavedTensor(key, elems, size, s.per_sample)
    return list(seen.values())


def training_memory(results: Results, saved: list[SavedTensor], batch: int, optimizer: str) -> TrainingMemory:
    """Parameters, gradients, optimizer state and saved activations for one batch, in bytes."""
    params = trainable = buffers = 0
    for r in results.values():  # one pass: a 100,000-layer spec has as many results
        p = r.params
        total = p.total
        params += total
        if p.trainable:
            trainable += total
        buffers += p.buffers
    activations = sum(t.nbytes(batch) for t in saved)
    return TrainingMemory(
        batch=batch, optimizer=optimizer,
        params=(params + buffers) * PARAM_ITEMSIZE,
        grads=trainable * PARAM_ITEMSIZE,
        optimizer_state=OPTIMIZER_STATE[optimizer] * trainable * PARAM_ITEMSIZE,
        activations=activations,
    )


def max_batch(results: Results, saved: list[SavedTensor], budget: int, optimizer: str) -> int:
    """Largest batch whose training-memory estimate fits ``budget`` bytes (0 if none does)."""
    fixed = training_memory(results, saved, 0, optimizer)
    per_sample = sum(t.nbytes(1) for t in saved if t.per_sample)
    static = fixed.total
    if budget < static or per_sample == 0:
        return 0 if budget < static else 1 << 31
    return (budget - static) // per_sample


def inference_memory(static_bytes: int, peak_bytes_per_image: int, batch: int) -> int:
    """Parameters and buffers plus the liveness peak of activations, for one batch, in bytes."""
    return static_bytes + peak_bytes_per_image * batch


def max_inference_batch(static_bytes: int, peak_bytes_per_image: int, budget: int) -> int:
    """The largest inference batch whose estimate fits ``budget`` (0 when even the weights do not)."""
    if budget < static_bytes:
        return 0
    return (budget - static_bytes) // max(peak_bytes_per_image, 1)
