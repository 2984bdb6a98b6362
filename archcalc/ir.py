"""The graph IR: what a spec means once blocks, repeats and variables are expanded.

Every consumer (the symbolic passes, the torch backend, the renderers) reads this and only this.
Nodes are frozen and listed in topological order; a node's ``inputs`` name earlier nodes.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from archcalc.errors import SourceLocation

#: A tensor shape without the batch dimension: ``(C, H, W)`` for feature maps, ``(N,)`` for vectors.
Shape = tuple[int, ...]

INPUT = "input"


@dataclass(frozen=True)
class Node:
    """One layer (or the input, or a join) of the expanded network.

    ``name`` is the full dotted path (``inception_3a.b2.conv1``); ``scope`` is the path of the groups
    that contain it (``("inception_3a", "b2")``), used to fold rows by depth; ``attrs`` are the
    layer's normalised attributes (see ``archcalc.layers``).
    """

    name: str
    op: str
    attrs: Mapping[str, Any]
    inputs: tuple[str, ...]
    loc: SourceLocation | None = None
    scope: tuple[str, ...] = ()

    @property
    def short_name(self) -> str:
        return self.name.rsplit(".", 1)[-1]


@dataclass(frozen=True)
class Group:
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

    def node(self, name: str) -> Node:
        for n in self.nodes:
            if n.name == name:
                return n
        raise KeyError(name)

    def consumers(self) -> dict[str, list[str]]:
        """For each node, the nodes that read its output (in order)."""
        users: dict[str, list[str]] = {n.name: [] for n in self.nodes}
        for n in self.nodes:
            for i in n.inputs:
                users[i].append(n.name)
        return users
