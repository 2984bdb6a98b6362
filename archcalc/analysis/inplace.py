"""Which layers may overwrite their input: one plan, shared by the torch backend and the memory model.

A layer asks for in-place work through its aliasing (``OVERWRITES_INPUT`` for activations with
``inplace``; ``ACCUMULATES`` for residual adds, which may add into any free input), but doing it is only
safe when nothing else needs the overwritten tensor. The backend runs exactly this plan, and the memory
passes count storages by it, so predicted and measured memory agree even where a requested in-place ReLU
has to run out of place (after a sigmoid, or on a tensor another branch reads).
"""

from __future__ import annotations

from collections.abc import Mapping

from archcalc.ir import Graph
from archcalc.layers import Aliasing, Resolved, Saved, SavedKind

#: aliasings whose output shares the first input's storage (at inference, for the last one)
SHARING = frozenset({Aliasing.VIEW, Aliasing.INPUT_AT_INFERENCE})


def saved_as_run(rec: Resolved, inplace: int | None) -> tuple[Saved, ...]:
    """What autograd keeps for a layer as the plan runs it (in place, or out of place)."""
    if inplace is not None and rec.saved_inplace is not None:
        return rec.saved_inplace
    return rec.saved


def plan_inplace(graph: Graph, records: Mapping[str, Resolved]) -> dict[str, int | None]:
    """For each node, the input index it may overwrite in place (None: allocate).

    An op works in place only when its record asks and it is safe: the overwritten tensor is not a
    source (the network input), no other layer or output reads it (or any tensor sharing its
    storage), and autograd saved none of them for backward (as the earlier layers were planned to run).
    """
    # each node's only reader, or None where several read it (an output counts as a reader; a node no
    # one reads is absent): "safe to overwrite" asks just that, so no list of readers per node is built
    only: dict[str, str | None] = {}
    for n in graph.nodes:
        for i in n.inputs:
            only[i] = n.name if i not in only else None
    for out in graph.outputs:
        only[out] = None
    nodes = graph.by_name
    shares: dict[str, bool] = {}  # node → its output shares its first input's storage
    plan: dict[str, int | None] = {}
    kinds: dict[tuple[int, int | None], frozenset[SavedKind]] = {}  # (record, plan) → the kinds it saves

    def saves(name: str, kind: SavedKind) -> bool:
        rec, choice = records[name], plan[name]
        found = kinds.get((id(rec), choice))
        if found is None:
            found = kinds[(id(rec), choice)] = frozenset(s.kind for s in saved_as_run(rec, choice))
        return kind in found

    def writable(name: str, reader: str) -> bool:
        current, nxt = name, reader
        while True:
            if not nodes[current].inputs or only.get(current) != nxt or saves(current, SavedKind.OUTPUT):
                return False
            if not shares.get(current, False):
                return True
            if saves(current, SavedKind.INPUT):
                return False
            current, nxt = nodes[current].inputs[0], current

    for node in graph.nodes:
        rec = records[node.name]
        choice: int | None = None
        if rec.aliasing is Aliasing.OVERWRITES_INPUT and writable(node.inputs[0], node.name):
            choice = 0
        elif (rec.aliasing is Aliasing.ACCUMULATES and len(node.inputs) > 1
              and len(set(node.inputs)) == len(node.inputs)):
            choice = next((i for i, x in enumerate(node.inputs) if writable(x, node.name)), None)
        plan[node.name] = choice
        shares[node.name] = ((choice is not None and rec.aliasing is Aliasing.OVERWRITES_INPUT)
                             or rec.aliasing in SHARING)
    return plan
