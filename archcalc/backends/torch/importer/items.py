"""The items of a spec being written: the same shapes a person writes (layers, named groups, block calls,
joins over branches, joins over named layers, repeats), before they are rendered as YAML text.

Names are relative to the group an item is written in; ``src``/``srcs`` are ``from:`` references, already
relative to it (a block body's references differ between instances only where they must).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class LayerItem:
    key: str
    attrs: dict[str, Any]
    name: str
    src: str | None = None
    srcs: list[str] | None = None  # several operands (an opaque op)


@dataclass
class GroupItem:
    """A module written as a named group (``{seq: [...], name: layer1}``); ``cls`` is its class, for blocks."""

    name: str
    path: str
    body: list[Item]
    src: str | None = None
    cls: str | None = None


@dataclass
class CallItem:
    block: str
    args: dict[str, Any]
    name: str
    src: str | None = None


@dataclass
class Branch:
    items: list[Item]


@dataclass
class JoinItem:
    key: str
    name: str
    branches: list[Branch]
    split: int | list[int] | None = None
    src: str | None = None


@dataclass
class WiredJoin:
    key: str
    name: str
    srcs: list[str]


@dataclass
class RepeatItem:
    count: int
    body: list[Item]


Item = LayerItem | GroupItem | CallItem | JoinItem | WiredJoin | RepeatItem


@dataclass
class BlockDef:
    name: str
    args: dict[str, Any]  # arg → default (None: required)
    body: list[Item]
    doc: str = ""
    instances: list[str] = field(default_factory=list)


def children(item: Item) -> list[list[Item]]:
    """The item lists directly inside an item (a group's body, each branch, a repeat's body)."""
    if isinstance(item, GroupItem | RepeatItem):
        return [item.body]
    if isinstance(item, JoinItem):
        return [b.items for b in item.branches]
    return []
