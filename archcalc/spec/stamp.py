"""Expand a block call once per distinct set of arguments, and stamp renamed copies for the other calls.

ResNet-1202's 200 identical basic blocks a stage, or a generated ``repeat: 50000`` of one block, would
otherwise walk the same YAML body, evaluate the same expressions and normalise the same attributes every
time. A call's expansion depends only on the block, its variables (the spec's and its arguments), the
calls around it and the node it reads; its effects on the expander are the nodes, groups, names, group ends
and side outputs it adds, in order. So the first call of each kind is recorded as a journal of those
effects, and a later call with the same key replays the journal with the names moved from the first call's
group to its own, and its input for the first call's.

A replay happens only where it cannot differ from an expansion: the recorded body read nothing outside its
own group but its input (a ``from:`` to an outer layer makes the recording unusable), and the replay fits
in every limit (layers, groups, work), checked before anything is changed, and nothing was named under
either call's group before it (a dotted name written earlier, ``unit3.relu9``, could be read or taken).
Otherwise the call expands as usual, and any error comes from there, at its place.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Protocol

from archcalc.errors import SourceLocation
from archcalc.frozen import new_record
from archcalc.ir import Group, Node


class AddNode:
    __slots__ = ("node",)

    def __init__(self, node: Node):
        self.node = node


class AddGroup:
    __slots__ = ("group",)

    def __init__(self, group: Group):
        self.group = group


class EndGroup:
    """A finished group's output node (``group_ends``)."""

    __slots__ = ("end", "path")

    def __init__(self, path: str, end: str):
        self.path, self.end = path, end


class DropGroup:
    """The last group opened had all its layers dropped by ``when``: it and its name go."""

    __slots__ = ("path",)

    def __init__(self, path: str):
        self.path = path


class AddOutput:
    __slots__ = ("name",)

    def __init__(self, name: str):
        self.name = name


class Replayed:
    """A block call inside this one that was itself replayed: its stamp, under its group and on its input."""

    __slots__ = ("prefix", "source", "stamp")

    def __init__(self, stamp: Stamp, prefix: str, source: str):
        self.stamp, self.prefix, self.source = stamp, prefix, source


Change = AddNode | AddGroup | EndGroup | DropGroup | AddOutput
Event = Change | Replayed
# (plain classes with slots: a dataclass costs about a millisecond of exec at import, on every command's path)


class Recording:
    """One call's effects, with what a replay must check first."""

    def __init__(self, prefix: str, source: str):
        self.prefix = prefix  # the first call's group path
        self.source = source  # the node it read
        self.events: list[Event] = []
        self.end = ""  # the node the call returned
        self.work = self.list_work = 0
        self.nodes = 0
        self.peak_groups = 0  # the most groups open beyond the starting count at any point
        self.net_groups = 0  # groups opened less groups dropped
        self.stamp: Stamp | None = None  # compiled on the first replay
        #: a 'from:' in the body named a layer or group outside the call's group (even its own input: a copy
        #: must read that same layer, not its own input)
        self.reads_outside = False

    def relocatable(self) -> bool:
        """Whether every name the body wrote or read is its own, or its input."""
        inside = self.prefix + "."

        def ok(name: str) -> bool:
            return name == self.source or name.startswith(inside)

        if self.reads_outside:
            return False
        if not ok(self.end):
            return False
        for e in self.events:
            if isinstance(e, AddNode) and not all(ok(i) for i in e.node.inputs):
                return False
            if isinstance(e, EndGroup) and not ok(e.end):
                return False
            if isinstance(e, AddOutput) and not ok(e.name):
                return False
            if isinstance(e, Replayed) and not ok(e.source):
                return False
        return True

    def close(self, end: str, work: int, list_work: int) -> None:
        """Note what the call returned and spent, and what a replay must find room for."""
        self.end, self.work, self.list_work = end, work, list_work
        groups = 0
        for e in self.events:
            if isinstance(e, AddNode):
                self.nodes += 1
            elif isinstance(e, AddGroup):
                groups += 1
                self.peak_groups = max(self.peak_groups, groups)
            elif isinstance(e, DropGroup):
                groups -= 1
            elif isinstance(e, Replayed):
                self.nodes += e.stamp.nodes
                self.peak_groups = max(self.peak_groups, groups + e.stamp.peak_groups)
                groups += e.stamp.net_groups
        self.net_groups = groups


class Target(Protocol):
    """What a replay adds to: the expander's results."""

    nodes: list[Node]
    names: dict[str, SourceLocation | None]
    node_names: set[str]
    groups: list[Group]
    group_ends: dict[str, str]
    outputs: list[str]
    prefixes: set[str]


def _suffix(name: str, rec: Recording) -> str | None:
    """A name relative to the recording's group; None for its input."""
    return None if name == rec.source else name[len(rec.prefix) + 1:]


class Stamp:
    """A relocatable recording compiled for replay: every name as its part after the group's path, so
    that a copy is a few string joins a layer (the common case, with no recording open around it)."""

    def __init__(self, rec: Recording):
        depth = rec.prefix.count(".") + 1
        #: every step as seven values (the kind first; unused ones None), unpacked in one go by apply
        self.steps: list[tuple[Any, ...]] = []
        #: the nodes' scopes relative to the call's group, each once: a copy's nodes share their scope tuples
        self.scopes: list[tuple[str, ...]] = []
        scope_index: dict[tuple[str, ...], int] = {}
        for e in rec.events:
            if isinstance(e, AddNode):
                n = e.node
                scope = scope_index.setdefault(n.scope[depth:], len(scope_index))
                if scope == len(self.scopes):
                    self.scopes.append(n.scope[depth:])
                self.steps.append((AddNode, _suffix(n.name, rec), n.op, n.attrs,
                                   tuple(_suffix(i, rec) for i in n.inputs), n.loc, scope))
            elif isinstance(e, AddGroup):
                self.steps.append((AddGroup, _suffix(".".join(e.group.path), rec), e.group.kind, e.group.loc,
                                   e.group.path[depth:], None, None))
            elif isinstance(e, EndGroup):
                self.steps.append((EndGroup, _suffix(e.path, rec), _suffix(e.end, rec), None, None, None, None))
            elif isinstance(e, DropGroup):
                self.steps.append((DropGroup, _suffix(e.path, rec), None, None, None, None, None))
            elif isinstance(e, Replayed):
                self.steps.append((Replayed, e.stamp, _suffix(e.prefix, rec), _suffix(e.source, rec), None, None,
                                   None))
            else:
                self.steps.append((AddOutput, _suffix(e.name, rec), None, None, None, None, None))
        self.end = _suffix(rec.end, rec)
        self.nodes, self.peak_groups, self.net_groups = rec.nodes, rec.peak_groups, rec.net_groups
        #: the group paths its names create, relative to the call's group ("" for the group itself): every
        #: proper prefix of every name, as the expander's own naming adds them
        relative = [step[1] for step in self.steps if step[0] is AddNode or step[0] is AddGroup]
        parts = [n.split(".") for n in relative]
        prefixes = sorted({".".join(p[:k]) for p in parts for k in range(len(p))})
        #: the ones below the group, and whether the group's own path is one (a name written right under it)
        self.inner_prefixes = [rel for rel in prefixes if rel]
        self.own_prefix = "" in prefixes

    def apply(self, target: Target, prefix: str, source: str) -> str:
        """Add this call's copy to ``target``; the node it returns."""
        inside = prefix + "."
        path = tuple(prefix.split("."))
        scopes = list(map(path.__add__, self.scopes))  # (map, not a comprehension: no frame per call)
        nodes, names, node_names = target.nodes, target.names, target.node_names
        for kind, a, b, c, d, e, f in self.steps:
            if kind is AddNode:  # a: the name, b: the op, c: its attrs, d: its inputs, e: loc, f: its scope
                name = inside + a
                if len(d) == 1:
                    reads: tuple[str, ...] = (source if d[0] is None else inside + d[0],)
                elif len(d) == 2:  # a residual add
                    reads = (source if d[0] is None else inside + d[0], source if d[1] is None else inside + d[1])
                else:
                    reads = tuple([source if i is None else inside + i for i in d])
                nodes.append(new_record(Node, (name, b, c, reads, e, scopes[f])))
                node_names.add(name)
                names[name] = e
            elif kind is AddGroup:  # a: the path's text, b: the kind, c: loc, d: the path
                target.groups.append(new_record(Group, (path + d, b, c)))
                names[inside + a] = c
            elif kind is EndGroup:  # a: the group, b: its end
                target.group_ends[inside + a] = source if b is None else inside + b
            elif kind is DropGroup:
                target.groups.pop()
                del names[inside + a]
            elif kind is Replayed:  # a: the stamp, b: its group, c: its input
                a.apply(target, inside + b, source if c is None else inside + c)
            else:
                target.outputs.append(source if a is None else inside + a)
        target.prefixes.update(map(inside.__add__, self.inner_prefixes))
        if self.own_prefix:
            target.prefixes.add(prefix)
        return source if self.end is None else inside + self.end


class Journal:
    """The recordings in progress (a block call inside a recorded call is recorded by both)."""

    def __init__(self) -> None:
        self.open: list[Recording] = []

    def log(self, event: Event) -> None:
        for rec in self.open:
            rec.events.append(event)

    def named(self, full: str) -> None:
        """A 'from:' found ``full``: the recordings it is outside of cannot be replayed."""
        for rec in self.open:
            if not full.startswith(rec.prefix + "."):
                rec.reads_outside = True

    @contextmanager
    def recording(self, rec: Recording) -> Iterator[Recording]:
        self.open.append(rec)
        try:
            yield rec
        finally:
            self.open.remove(rec)


_SCALARS = frozenset({int, float, str, bool, type(None)})


def frozen_key(value: Any) -> Any:
    """A hashable form of a variable's value that tells apart what the expansion could tell apart (the
    type too: ``1``, ``1.0`` and ``true`` are different arguments); None where there is none."""
    kind = type(value)
    if kind in _SCALARS:  # the usual argument, on the short way
        return (kind, value)
    if isinstance(value, list):
        items = [frozen_key(v) for v in value]
        return None if any(i is None for i in items) else (list, tuple(items))
    if isinstance(value, dict):
        pairs = [(k, frozen_key(v)) for k, v in value.items()]
        return None if any(p[1] is None for p in pairs) else (dict, tuple(pairs))
    if value is None or isinstance(value, int | float | str):  # bool is an int: its type tells it apart
        return (type(value), value)
    return None


def frozen_items(variables: Mapping[str, Any], names: Iterable[str]) -> tuple[Any, ...] | None:
    """``names``' values in ``variables``, frozen (None where one has no frozen form)."""
    pairs = []
    for k in names:
        f = frozen_key(variables[k])
        if f is None:
            return None
        pairs.append((k, f))
    return tuple(pairs)


def call_key(block: str, stack: tuple[str, ...], spec_variables: tuple[Any, ...] | None, params: Iterable[str],
             variables: Mapping[str, Any]) -> Any:
    """What a block call's expansion depends on besides its input: the block, the calls around it, the spec's
    variables and the arguments, which may shadow them; None where a value has no frozen form. The spec's
    variables are frozen once and are the same for every call of one expansion, whose own table the key
    is for: they decide only whether there is a key (hashing them again at each call cost a microsecond)."""
    args = frozen_items(variables, params)
    if spec_variables is None or args is None:
        return None
    return (block, stack, args)
