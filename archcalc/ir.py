"""The graph IR: what a spec means once blocks, repeats and variables are expanded.

Every consumer (the symbolic passes, the torch backend, the renderers) reads this and only this.
Nodes are frozen and listed in topological order; a node's ``inputs`` name earlier nodes.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from archcalc.errors import SourceLocation
from archcalc.frozen import Frozen

#: A tensor shape without the batch dimension: ``(C, H, W)`` for feature maps, ``(N,)`` for vectors.
Shape = tuple[int, ...]

INPUT = "input"


class Node(Frozen):
    """One layer (or the input, or a join) of the expanded network.

    ``name`` is the full dotted path (``inception_3a.b2.conv1``); ``scope`` is the path of the groups
    that contain it (``("inception_3a", "b2")``), used to fold rows by depth; ``attrs`` is the layer
    type's typed, normalised configuration (see ``archcalc.layers``). Only ``archcalc.layers`` and
    ``archcalc.spec`` read ``op`` and ``attrs``; every other consumer reads the resolved record.
    """

    name: str
    op: str
    attrs: Any
    inputs: tuple[str, ...]
    loc: SourceLocation | None = None
    scope: tuple[str, ...] = ()

    def __init__(self, name: str, op: str, attrs: Any, inputs: tuple[str, ...], loc: SourceLocation | None = None,
                 scope: tuple[str, ...] = ()) -> None:
        # written out: one per layer, so the generic Frozen.__init__ would cost 100k-layer specs time
        values = self.__dict__
        values["name"], values["op"], values["attrs"], values["inputs"] = name, op, attrs, inputs
        values["loc"], values["scope"] = loc, scope


class Group(Frozen):
    """A named group of nodes (a block instance, a branch, a side output) for folding and diagrams."""

    path: tuple[str, ...]
    kind: str  # "block:<name>", "branch", "side", "group"
    loc: SourceLocation | None = None


@dataclass(frozen=True)
class SpecMeta:
    """Descriptive metadata copied from the spec: what it is and which publication it follows."""

    name: str
    description: str = ""
    source: Mapping[str, Any] = field(default_factory=dict)
    published: Mapping[str, Any] = field(default_factory=dict)
    file: str = ""
    variables: Mapping[str, Any] = field(default_factory=dict)
    recipe: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Graph:
    """An expanded network: nodes in topological order, its outputs (main output first)."""

    meta: SpecMeta
    input_shape: Shape
    nodes: tuple[Node, ...]
    outputs: tuple[str, ...]
    groups: tuple[Group, ...] = ()

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

    def consumers(self) -> dict[str, list[str]]:
        """For each node, the nodes that read its output (in order)."""
        users: dict[str, list[str]] = {n.name: [] for n in self.nodes}
        for n in self.nodes:
            for i in n.inputs:
                users[i].append(n.name)
        return users
