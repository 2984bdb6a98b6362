"""Which layers may overwrite their input: one plan, shared by the torch backend and the memory model.

The spec asks for in-place work (``inplace`` on activations; residual adds always may), but doing it is
only safe when nothing else needs the overwritten tensor. The backend runs exactly this plan, and the
memory passes count storages by it, so predicted and measured memory agree even where a requested
in-place ReLU has to run out of place (after a sigmoid, or on a tensor another branch reads).
"""

from __future__ import annotations

from collections.abc import Mapping

from archcalc import layers
from archcalc.ir import Graph, Node, Shape

#: Ops that may overwrite their (first) input when it is safe (see :func:`plan_inplace`).
INPLACE_OPS = frozenset({"relu", "relu6", "leaky_relu", "elu", "silu", "hardswish"})
#: Ops whose output is their input tensor, or a view of it.
ALIASING = frozenset({"flatten", "identity", "dropout"})


def plan_inplace(graph: Graph, shapes: Mapping[str, Shape]) -> dict[str, int | None]:
    """For each node, the input index it may overwrite in place (None: allocate).

    An op works in place only when the spec asks (``inplace`` attributes; adds always may) and it is
    safe: the overwritten tensor is not the network input, no other layer or output reads it (or any
    tensor sharing its storage), and autograd saved none of them for backward.
    """
    users = graph.consumers()
    for out in graph.outputs:
        users[out] = [*users[out], "<output>"]
    nodes = {n.name: n for n in graph.nodes}
    shares: dict[str, bool] = {}  # node → its output shares its first input's storage
    plan: dict[str, int | None] = {}

    memo: dict[tuple[object, ...], bool] = {}

    def saves(n: Node, what: str) -> bool:
        ins = [shapes[i] for i in n.inputs]
        key = (n.op, tuple(n.attrs.items()), tuple(ins), what)
        if key not in memo:
            memo[key] = any(s.what == what or (what == "input" and s.what.startswith("input"))
                            for s in layers.CATALOGUE[n.op].saved(n.attrs, ins, shapes[n.name]))
        return memo[key]

    def writable(name: str, reader: str) -> bool:
        current, nxt = name, reader
        while True:
            node = nodes[current]
            if node.op == "input" or users[current] != [nxt] or saves(node, "output"):
                return False
            if not shares.get(current, False):
                return True
            if saves(node, "input"):
                return False
            current, nxt = node.inputs[0], current

    for node in graph.nodes:
        choice: int | None = None
        wanted = node.op in INPLACE_OPS and node.attrs.get("inplace", False)
        if wanted and writable(node.inputs[0], node.name):
            choice = 0
        elif node.op == "add" and len(node.inputs) > 1 and len(set(node.inputs)) == len(node.inputs):
            choice = next((i for i, x in enumerate(node.inputs) if writable(x, node.name)), None)
        plan[node.name] = choice
        shares[node.name] = (choice is not None and node.op != "add") or node.op in ALIASING
    return plan
