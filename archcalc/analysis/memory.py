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

from collections.abc import Iterable, Mapping
from typing import Any

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


def cases(results: Results) -> list[tuple[NodeResult, int]]:
    """The distinct cases among the nodes, each with a node of it and how many nodes it has.

    A node's figures (parameters, costs, allocation, backward MACs) depend only on its record, its
    in-place plan and whether a gradient flows into it; deep specs repeat a few records (ResNet-1202:
    21 for 4,209 nodes), so sums over the cases, times their counts, cost one dict update per node.
    """
    found: dict[tuple[int, bool, int | None], list[Any]] = {}
    for r in results.values():
        key = (id(r.rec), r.needs_input_grad, r.inplace)  # the records outlive this: ids are stable
        case = found.get(key)
        if case is None:
            found[key] = [r, 1]
        else:
            case[1] += 1
    return [(r, n) for r, n in found.values()]


def peak_inference_elems(results: Results, graph: Graph) -> tuple[int, str]:
    """Largest number of activation elements alive at once, and the layer at which it happens.

    ``results``: every node's, in the graph's order (as :attr:`Analysis.results` holds them). Two passes:
    the storages, their readers and sizes (one walk), then the liveness walk, with the per-node state in
    lists by position (:attr:`Graph.wiring`).
    """
    wiring = graph.wiring
    done = _in_graph_order(results, wiring)
    count = len(done)
    storage = [0] * count  # the position of the node whose storage each node's output lives in
    pending = [0] * count  # storage → reads still to come
    size = [-1] * count  # the nodes that allocate → their elements; -1: it shares its input's storage
    numel = layers.numel
    # (record, plan) → the elements such a node allocates, or -1 where it shares its input's storage
    # (asked once per distinct case; the records outlive this walk, so their ids are stable)
    allocates: dict[tuple[int, int | None], int] = {}
    for k, res in enumerate(done):
        ins = wiring[k]
        for i in ins:
            pending[storage[i]] += 1
        case = (id(res.rec), res.inplace)
        n = allocates.get(case)
        if n is None:
            n = allocates[case] = -1 if res.shares_input(False) else numel(res.rec.out)
        if n >= 0 or not ins:
            storage[k] = k
            size[k] = n if n >= 0 else numel(res.rec.out)
        else:
            storage[k] = storage[ins[0]]
    positions = graph.positions
    for out in graph.outputs:
        pending[storage[positions[out]]] += 1  # outputs stay alive
    live = [False] * count
    total = peak = 0
    at = -1
    for k in range(count):
        here = size[k]
        if here >= 0:
            live[k] = True
            total += here
        if total > peak or at < 0:
            peak, at = total, k
        for i in wiring[k]:
            key = storage[i]
            left = pending[key] - 1
            pending[key] = left
            if left == 0 and live[key]:
                live[key] = False
                total -= size[key]
    return peak, done[at].name if at >= 0 else ""


def saved_tensors(results: Results, graph: Graph, itemsize: int) -> list[SavedTensor]:
    """The distinct storages autograd keeps for backward in training mode (one image)."""
    return [SavedTensor(key, elems, size, per_sample)
            for key, elems, size, per_sample in _saved(results, graph, itemsize)]


def saved_sums(results: Results, graph: Graph, itemsize: int) -> tuple[int, int]:
    """The bytes of :func:`saved_tensors`: (fixed, per image), without a SavedTensor per storage (a report
    only needs these two numbers, and a 100,000-layer chain saves 50,000 tensors)."""
    fixed = per_sample = 0
    for _, elems, size, scales in _saved(results, graph, itemsize):
        if scales:
            per_sample += elems * size
        else:
            fixed += elems * size
    return fixed, per_sample


def _saved(results: Results, graph: Graph, itemsize: int) -> list[tuple[str, int, int, bool]]:
    """Each distinct saved storage once, as (key, elements, bytes per element, scales with the batch).

    ``results`` in the graph's order; the per-node state is in lists by position (:attr:`Graph.wiring`).
    """
    wiring = graph.wiring
    done = _in_graph_order(results, wiring)
    names = list(results)
    count = len(done)
    storage = [0] * count  # as storage_map(results, training=True), by position, built along the way
    grads = [False] * count  # a gradient flows back out of the node (into its inputs, or to its parameters)
    seen: set[str] = set()
    found: list[tuple[str, int, int, bool]] = []
    keep = found.append
    numel = layers.numel
    elements: dict[int, int] = {}  # record → its output's elements (a view keeps its whole base alive)
    # (record, plan) → whether the output shares its input's storage in training, whether it has trainable
    # parameters, and what it saves (the fields this walk reads, the kind as _INPUT, _OUTPUT or _OWN): looked
    # up once per distinct case
    prepared: dict[tuple[int, int | None], tuple[bool, bool, tuple[tuple[Any, ...], ...]]] = {}
    for k, res in enumerate(done):
        ins = wiring[k]
        case = (id(res.rec), res.inplace)  # the records outlive this walk: ids are stable
        known = prepared.get(case)
        if known is None:
            known = prepared[case] = (res.shares_input(True), bool(res.params.total and res.params.trainable), tuple(
                (s.needed_if, _KIND_CODES.get(s.kind, _OWN), s.index, s.channels_last, s.label, s.elems,
                 s.itemsize if s.itemsize is not None else (4 if s.fp32 else itemsize), s.per_sample)
                for s in res.saved))
        shares, trains, entries = known
        storage[k] = storage[ins[0]] if ins and shares else k
        needs = res.needs_input_grad
        grads[k] = needs or trains
        if not needs and not trains:
            continue  # nothing before it needs a gradient (e.g. dropout on the input): autograd saves nothing
        for needed_if, code, index, channels_last, label, own_elems, size, per_sample in entries:
            if needed_if:
                for j in needed_if:
                    if grads[ins[j]]:
                        break
                else:
                    continue  # kept only for another input's gradient, which none needs
            base = -1
            if code == _INPUT and channels_last and not done[ins[index]].channels_last:
                key = f"{names[k]}:input{index}_copy"  # torch reshapes a copy of the channels-last view
            elif code != _OWN:
                base = storage[ins[index] if code == _INPUT else k]
                key = names[base]
            else:
                key = f"{names[k]}:{label}"
            if key in seen:
                continue
            seen.add(key)
            elems = own_elems
            if base >= 0:  # a view (a crop, a split's part) keeps its whole base storage alive
                rec = done[base].rec
                elems = elements.get(id(rec), -1)
                if elems < 0:
                    elems = elements[id(rec)] = numel(rec.out)
            keep((key, elems, size, per_sample))
    return found


#: what :func:`_saved` makes of a saved tensor's kind: one of the node's inputs, its output, or its own tensor
_INPUT, _OUTPUT, _OWN = 0, 1, 2
_KIND_CODES = {SavedKind.INPUT: _INPUT, SavedKind.OUTPUT: _OUTPUT}


def _in_graph_order(results: Results, wiring: tuple[tuple[int, ...], ...]) -> list[NodeResult]:
    """``results``' values as a list by position: they must be the graph's nodes', in its order."""
    done = list(results.values())
    if len(done) != len(wiring):
        raise ValueError(f"results for {len(done)} nodes, but the graph has {len(wiring)}")
    return done


def training_memory(counted: Iterable[tuple[NodeResult, int]], saved: tuple[int, int], batch: int,
                    optimizer: str) -> TrainingMemory:
    """Parameters, gradients, optimizer state and saved activations for one batch, in bytes.

    ``counted``: the nodes' distinct cases with their counts (:func:`cases`), or each node with 1;
    ``saved``: the saved activations' bytes, fixed and per image (:func:`saved_sums`).
    """
    params = trainable = buffers = 0
    for r, n in counted:
        p = r.params
        total = p.total * n
        params += total
        if p.trainable:
            trainable += total
        buffers += p.buffers * n
    return TrainingMemory(
        batch=batch, optimizer=optimizer,
        params=(params + buffers) * PARAM_ITEMSIZE,
        grads=trainable * PARAM_ITEMSIZE,
        optimizer_state=OPTIMIZER_STATE[optimizer] * trainable * PARAM_ITEMSIZE,
        activations=saved[0] + saved[1] * batch,
    )


def max_batch(counted: Iterable[tuple[NodeResult, int]], saved: tuple[int, int], budget: int,
              optimizer: str) -> int:
    """Largest batch whose training-memory estimate fits ``budget`` bytes (0 if none does)."""
    fixed = training_memory(counted, saved, 0, optimizer)
    per_sample = saved[1]
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
