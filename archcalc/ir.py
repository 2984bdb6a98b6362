"""The graph IR: what a spec means once blocks, repeats and variables are expanded.

Every consumer (the symbolic passes, the torch backend, the renderers) reads this and only this.
Nodes are frozen and listed in topological order; a node's ``inputs`` name earlier nodes.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from functools import cached_property
from operator import itemgetter
from typing import TYPE_CHECKING, Any

from archcalc.errors import SourceLocation
from archcalc.frozen import Frozen, equal_fields, repr_fields

if TYPE_CHECKING:
    from typing import NamedTuple as Record
else:
    from archcalc.frozen import Record

#: A tensor shape without the batch dimension: ``(C, H, W)`` for feature maps, ``(N,)`` for vectors.
Shape = tuple[int, ...]

INPUT = "input"


class Node(Record):
    """One layer (or the input, or a join) of the expanded network.

    ``name`` is the full dotted path (``inception_3a.b2.conv1``); ``scope`` is the path of the groups
    that contain it (``("inception_3a", "b2")``), used to fold rows by depth; ``attrs`` is the layer
    type's typed, normalised configuration (see ``archcalc.layers``). Only ``archcalc.layers`` and
    ``archcalc.spec`` read ``op`` and ``attrs``; every other consumer reads the resolved record.
    (A :class:`~archcalc.frozen.Record`: one per layer.)
    """

    name: str
    op: str
    attrs: Any
    inputs: tuple[str, ...]
    loc: SourceLocation | None = None
    scope: tuple[str, ...] = ()

    def replace(self, **changes: Any) -> Node:
        """A copy with some fields changed."""
        return self._replace(**changes)


class Group(Record):
    """A named group of nodes (a block instance, a branch, a side output) for folding and diagrams (a
    :class:`~archcalc.frozen.Record`: one per block call, 50,000 in a 100,000-layer chain of blocks)."""

    path: tuple[str, ...]
    kind: str  # "block:<name>", "branch", "side", "group"
    loc: SourceLocation | None = None


class SpecMeta(Frozen):
    """Descriptive metadata copied from the spec: what it is and which publication it follows."""

    name: str
    description: str
    source: Mapping[str, Any]
    published: Mapping[str, Any]
    file: str
    variables: Mapping[str, Any]
    recipe: Mapping[str, Any]

    def __init__(self, name: str, description: str = "", source: Mapping[str, Any] | None = None,
                 published: Mapping[str, Any] | None = None, file: str = "",
                 variables: Mapping[str, Any] | None = None, recipe: Mapping[str, Any] | None = None) -> None:
        values = self.__dict__  # (a fresh dict for each mapping left out, as a default factory would give)
        values["name"], values["description"] = name, description
        values["source"] = {} if source is None else source
        values["published"] = {} if published is None else published
        values["file"] = file
        values["variables"] = {} if variables is None else variables
        values["recipe"] = {} if recipe is None else recipe


_NAME, _INPUTS = itemgetter(0), itemgetter(3)  # a Node's name and inputs, read in C


class Graph(Frozen):
    """An expanded network: nodes in topological order, its outputs (main output first).

    Compared and printed by its fields only (``by_name``, once built, is kept beside them); like the
    dataclass it was, not hashable (its metadata holds dicts).
    """

    meta: SpecMeta
    input_shape: Shape
    nodes: tuple[Node, ...]
    outputs: tuple[str, ...]
    groups: tuple[Group, ...] = ()
    __hash__ = None  # type: ignore[assignment]

    def __init__(self, meta: SpecMeta, input_shape: Shape, nodes: tuple[Node, ...], outputs: tuple[str, ...],
                 groups: tuple[Group, ...] = ()) -> None:
        values = self.__dict__
        values["meta"], values["input_shape"], values["nodes"] = meta, input_shape, nodes
        values["outputs"], values["groups"] = outputs, groups

    def __eq__(self, other: object) -> bool:
        return equal_fields(self, other)

    def __repr__(self) -> str:
        return repr_fields(self)

    def __iter__(self) -> Iterator[Node]:
        return iter(self.nodes)

    def __len__(self) -> int:
        return len(self.nodes)

    @cached_property
    def by_name(self) -> dict[str, Node]:
        """Nodes by full name (built once)."""
        return {n.name: n for n in self.nodes}

    def node(self, name: str) -> Node:
        return self.by_name[name]

    @cached_property
    def positions(self) -> dict[str, int]:
        """Each node's position in :attr:`nodes`, by full name (built once)."""
        return dict(zip(map(_NAME, self.nodes), range(len(self.nodes)), strict=True))  # (C loops)

    @cached_property
    def wiring(self) -> tuple[tuple[int, ...], ...]:
        """Each node's inputs as positions in :attr:`nodes` (built once).

        The graph passes (the calculator, the in-place plan, the memory walks) keep their per-node state in
        lists indexed by these: on ResNet-1202 a walk over name-keyed dicts took twice as long.
        """
        at = self.positions
        wired: list[tuple[int, ...]] = []
        add = wired.append
        for ins in map(_INPUTS, self.nodes):  # (a loop, not a generator: no frame resumed per layer)
            add((at[ins[0]],) if len(ins) == 1 else tuple([at[i] for i in ins]))
        return tuple(wired)

    def consumers(self) -> dict[str, list[str]]:
        """For each node, the nodes that read its output (in order)."""
        users: dict[str, list[str]] = {n.name: [] for n in self.nodes}
        for n in self.nodes:
            for i in n.inputs:
                users[i].append(n.name)
        return users
