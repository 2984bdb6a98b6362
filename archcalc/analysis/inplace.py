"""Which layers may overwrite their input: one plan, shared by the torch backend and the memory model.

A layer asks for in-place work through its aliasing (``OVERWRITES_INPUT`` for activations with
``inplace``; ``ACCUMULATES`` for residual adds, which may add into any free input), but doing it is only
safe when nothing else needs the overwritten tensor. The backend runs exactly this plan, and the memory
passes count storages by it, so predicted and measured memory agree even where a requested in-place ReLU
has to run out of place (after a sigmoid, or on a tensor another branch reads).
"""

from __future__ import annotations

from collections.abc import Sequence

from archcalc.ir import Graph
from archcalc.layers import Aliasing, Resolved, Saved, SavedKind

#: aliasings whose output shares the first input's storage (at inference, for the last one)
SHARING = frozenset({Aliasing.VIEW, Aliasing.INPUT_AT_INFERENCE})
#: the members the plan compares per node, read once (an enum member read costs ten times a global) and
#: compared by identity (a member's hash is a Python call); _VIEW and _AT_INFERENCE are SHARING's
_OVERWRITES, _ACCUMULATES = Aliasing.OVERWRITES_INPUT, Aliasing.ACCUMULATES
_VIEW, _AT_INFERENCE = Aliasing.VIEW, Aliasing.INPUT_AT_INFERENCE
_SAVES_INPUT, _SAVES_OUTPUT = SavedKind.INPUT, SavedKind.OUTPUT


def saved_as_run(rec: Resolved, inplace: int | None) -> tuple[Saved, ...]:
    """What autograd keeps for a layer as the plan runs it (in place, or out of place)."""
    if inplace is not None and rec.saved_inplace is not None:
        return rec.saved_inplace
    return rec.saved


def plan_inplace(graph: Graph, records: Sequence[Resolved]) -> list[int | None]:
    """For each node (by its position in ``graph.nodes``, as ``records``), the input index it may overwrite in
    place (None: allocate).

    An op works in place only when its record asks and it is safe: the overwritten tensor is not a
    source (the network input), no other layer or output reads it (or any tensor sharing its
    storage), and autograd saved none of them for backward (as the earlier layers were planned to run).
    """
    wiring = graph.wiring
    count = len(wiring)
    # each node's only reader, _SEVERAL where several read it (an output counts as a reader), None where
    # none does: "safe to overwrite" asks just that, so no list of readers per node is built
    only: list[int | None] = [None] * count
    for k, ins in enumerate(wiring):
        for i in ins:
            only[i] = k if only[i] is None else _SEVERAL
    positions = graph.positions
    for out in graph.outputs:
        only[positions[out]] = _SEVERAL
    shares = [False] * count  # node → its output shares its first input's storage
    plan: list[int | None] = [None] * count
    # (record, plan) → (whether it saves an input, whether it saves its output), by identity (an enum member's
    # hash is a Python call)
    kinds: dict[tuple[int, int | None], tuple[bool, bool]] = {}

    def saves(k: int) -> tuple[bool, bool]:
        rec, choice = records[k], plan[k]
        found = kinds.get((id(rec), choice))
        if found is None:
            run = saved_as_run(rec, choice)
            found = kinds[(id(rec), choice)] = (any(s.kind is _SAVES_INPUT for s in run),
                                                any(s.kind is _SAVES_OUTPUT for s in run))
        return found

    def writable(k: int, reader: int) -> bool:
        current, nxt = k, reader
        while True:
            if not wiring[current] or only[current] != nxt or saves(current)[1]:
                return False
            if not shares[current]:
                return True
            if saves(current)[0]:
                return False
            current, nxt = wiring[current][0], current

    for k, rec in enumerate(records):
        ins = wiring[k]
        aliasing = rec.aliasing
        choice: int | None = None
        if aliasing is _OVERWRITES and writable(ins[0], k):
            choice = 0
        elif aliasing is _ACCUMULATES and len(ins) > 1 and len(set(ins)) == len(ins):
            choice = next((i for i, x in enumerate(ins) if writable(x, k)), None)
        plan[k] = choice
        shares[k] = (choice is not None and aliasing is _OVERWRITES) or aliasing is _VIEW or aliasing is _AT_INFERENCE
    return plan


#: in :func:`plan_inplace`'s readers: read by more than one layer (or an output)
_SEVERAL = -1
