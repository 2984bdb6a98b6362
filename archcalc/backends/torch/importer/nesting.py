"""The imported layers → nested items: module groups, joins over branches where the graph allows, ``from:``
where it does not.

A module becomes a named group when its layers run one after the other and only its last one is read
outside it (otherwise its layers are written in the enclosing group, with dotted names). Inside a group, a
join (add, concat, mul) is written over branches when its inputs' paths leave one fork point — the join's
immediate dominator — and meet only at the join; the branches are written the same way, recursively. A
join whose paths cross others is written over named layers (``concat: {from: [a, b]}``), and a layer that
does not read the layer before it names its input (``from:``). A channel split (``torch.chunk``) whose
parts start the branches of one join becomes that join's ``split:``.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from archcalc import layers as catalogue
from archcalc.backends.torch.importer.items import Branch, GroupItem, Item, JoinItem, LayerItem, WiredJoin
from archcalc.backends.torch.importer.net import SPLIT_PART, Net, NotExpressible
from archcalc.ir import INPUT

_ROOT = "<root>"
_ENTRY = "<entry>"


@dataclass
class Unit:
    """A layer, or a module written as one group, as the enclosing group sees it."""

    full: str  # the layer's name, or the group's path
    name: str  # relative to the enclosing group
    exit: str  # the layer whose output is the unit's
    members: list[str]
    inputs: list[str]  # producers outside the unit it reads, in order of first use
    group: bool = False


@dataclass
class _Plan:
    fork: str
    branches: list[tuple[list[Unit], str]]
    split: int | list[int] | None


@dataclass
class Nester:
    """Writes the items of one imported network (see the module doc)."""

    net: Net
    classes: Mapping[str, str]  # module path → qualified class name (containers left out)
    order: dict[str, int] = field(default_factory=dict)
    readers: dict[str, list[str]] = field(default_factory=dict)
    groups: dict[str, list[str]] = field(default_factory=dict)  # emittable group path → its members
    ends: dict[str, list[str]] = field(default_factory=dict)  # exit layer → groups it ends, outermost first
    known: set[str] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        names = list(self.net.layers)
        self.order = {n: i for i, n in enumerate(names)}
        self.readers = self.net.consumers()
        members: dict[str, list[str]] = defaultdict(list)
        for n in names:
            parts = n.split(".")
            for depth in range(1, len(parts)):
                members[".".join(parts[:depth])].append(n)
        for path, inside in members.items():
            inside_set = set(inside)
            leaving = [m for m in inside
                       if m == self.net.output or any(r not in inside_set for r in self.readers.get(m, []))]
            span = self.order[inside[-1]] - self.order[inside[0]] + 1
            if span == len(inside) and leaving == [inside[-1]]:
                self.groups[path] = inside
        for path in sorted(self.groups, key=lambda p: p.count(".")):
            self.ends.setdefault(self.groups[path][-1], []).append(path)
        self.known = set(names) | set(self.groups) | {INPUT}

    # ---- units ---------------------------------------------------------------------------------------------
    def units(self, scope: str, names: Sequence[str]) -> list[Unit]:
        """The units of group ``scope`` made of the layers ``names`` (in order): its emittable child groups, whole,
        and its other layers (under a dissolved group, with dotted names)."""
        out: list[Unit] = []
        prefix = f"{scope}." if scope else ""
        seen: set[str] = set()
        for n in names:
            rel = n[len(prefix):].split(".")
            group = next((prefix + ".".join(rel[:d]) for d in range(1, len(rel))
                          if prefix + ".".join(rel[:d]) in self.groups), None)
            if group is None:
                layer = self.net.layers[n]
                out.append(Unit(n, n[len(prefix):], n, [n], list(dict.fromkeys(layer.inputs))))
                continue
            if group in seen:
                continue
            seen.add(group)
            inside = self.groups[group]
            inside_set = set(inside)
            inputs = [i for m in inside for i in self.net.layers[m].inputs if i not in inside_set]
            out.append(Unit(group, group[len(prefix):], inside[-1], inside, list(dict.fromkeys(inputs)), group=True))
        return out

    # ---- items -----------------------------------------------------------------------------------------------
    def top(self) -> list[Item]:
        return self.nest(self.units("", list(self.net.layers)), INPUT, "")

    def group_item(self, unit: Unit, scope: str, src: str | None) -> GroupItem:
        entry = self.net.layers[unit.members[0]].inputs[0]
        body = self.nest(self.units(unit.full, unit.members), entry, unit.full)
        return GroupItem(unit.name, unit.full, body, src, self.classes.get(unit.full))

    def nest(self, units: list[Unit], entry: str, scope: str) -> list[Item]:
        """Items computing ``units`` (a region of one group, in order) from ``entry``, the value flowing in."""
        plans, swallowed = self._plans(units, entry)
        items: list[Item] = []
        cur = entry
        for u in units:
            if u.full in swallowed:
                continue
            layer = None if u.group else self.net.layers[u.full]
            plan = plans.get(u.full)
            if plan is not None and layer is not None:
                branches = [Branch(self.nest(b_units, b_entry, scope)) for b_units, b_entry in plan.branches]
                items.append(JoinItem(layer.key, u.name, branches, plan.split,
                                      None if plan.fork == cur else self.ref(plan.fork, scope)))
            elif layer is not None and layer.key in catalogue.JOINS and len(layer.inputs) > 1:
                items.append(WiredJoin(layer.key, u.name, [self.ref(i, scope) for i in layer.inputs]))
            elif layer is not None:
                if layer.key == SPLIT_PART:
                    raise NotExpressible(layer.op, f"a channel split ({u.full}) whose parts do not start the branches"
                                         " of one join")
                if len(layer.inputs) > 1:
                    items.append(LayerItem(layer.key, dict(layer.attrs), u.name,
                                           srcs=[self.ref(i, scope) for i in layer.inputs]))
                else:
                    primary = layer.inputs[0]
                    items.append(LayerItem(layer.key, dict(layer.attrs), u.name,
                                           None if primary == cur else self.ref(primary, scope)))
            else:
                primary = self.net.layers[u.members[0]].inputs[0]
                items.append(self.group_item(u, scope, None if primary == cur else self.ref(primary, scope)))
            cur = u.exit
        return items

    def _plans(self, units: list[Unit], entry: str) -> tuple[dict[str, _Plan], set[str]]:
        """Which joins of the region are written over branches, and the units their branches take."""
        by_exit = {u.exit: u for u in units}
        by_full = {u.full: u for u in units}

        def node(producer: str) -> str:
            if producer in by_exit:
                return by_exit[producer].full
            return _ENTRY if producer == entry else _ROOT

        idom: dict[str, str] = {_ENTRY: _ROOT}
        depth: dict[str, int] = {_ROOT: 0, _ENTRY: 1}
        preds: dict[str, list[str]] = {}
        for u in units:
            ps = [node(p) for p in u.inputs] or [_ROOT]
            preds[u.full] = ps
            d = ps[0]
            for p in ps[1:]:
                d = _lca(d, p, idom, depth)
            idom[u.full] = d
            depth[u.full] = depth[d] + 1
        succs: dict[str, list[str]] = defaultdict(list)
        for full, ps in preds.items():
            for p in ps:
                succs[p].append(full)

        plans: dict[str, _Plan] = {}
        swallowed: set[str] = set()
        for u in reversed(units):
            layer = None if u.group else self.net.layers[u.full]
            if u.full in swallowed or layer is None or layer.key not in catalogue.JOINS or len(layer.inputs) < 2:
                continue
            fork = idom[u.full]
            if fork == _ROOT:
                continue
            plan = self._plan(u, fork, entry if fork == _ENTRY else by_full[fork].exit, units, preds, succs, by_exit)
            if plan is not None:
                plans[u.full] = plan
                for b_units, _ in plan.branches:
                    swallowed.update(b.full for b in b_units)
                swallowed.update(b.full for b in units if b.full in plan_split_parts(plan, by_exit, self.net))
        return plans, swallowed

    def _plan(self, join: Unit, fork: str, fork_value: str, units: list[Unit], preds: Mapping[str, list[str]],
              succs: Mapping[str, list[str]], by_exit: Mapping[str, Unit]) -> _Plan | None:
        reach: set[str] = set()
        stack = [fork]
        while stack:
            for s in succs.get(stack.pop(), []):
                if s not in reach:
                    reach.add(s)
                    stack.append(s)

        def ancestors(start: str) -> set[str]:
            found = {start}
            todo = [start]
            while todo:
                for p in preds.get(todo.pop(), []):
                    if p in reach and p not in found and p != fork:
                        found.add(p)
                        todo.append(p)
            return found

        inside = set()
        layer = self.net.layers[join.full]
        branch_sets: list[set[str]] = []
        for producer in layer.inputs:
            if producer == fork_value:
                branch_sets.append(set())
                continue
            u = by_exit.get(producer)
            if u is None or u.full not in reach:
                return None
            branch_sets.append(ancestors(u.full))
        for a, b in _pairs(branch_sets):
            if a & b:
                return None
        inside = set().union(*branch_sets)
        members = {m for u in units if u.full in inside for m in u.members} | {join.full}
        for u in units:
            if u.full in inside and any(r not in members for r in self.readers.get(u.exit, [])):
                return None
        ordered = [[u for u in units if u.full in s] for s in branch_sets]
        heads = [us[0] if us and not us[0].group and self.net.layers[us[0].full].key == SPLIT_PART else None
                 for us in ordered]
        if not any(heads):
            return _Plan(fork_value, [(us, fork_value) for us in ordered], None)
        split = _split(heads, fork_value, self.net)
        if split is None:
            return None
        return _Plan(fork_value, [(us[1:], us[0].exit) for us in ordered], split)

    # ---- references ------------------------------------------------------------------------------------------
    def ref(self, target: str, scope: str) -> str:
        """The ``from:`` label that finds ``target`` from group ``scope`` (a finished group by its name)."""
        scope_parts = scope.split(".") if scope else []
        for group in self.ends.get(target, []):
            g_parts = group.split(".")
            if g_parts != scope_parts[:len(g_parts)]:  # a group the reference is not inside: finished
                target = group
                break
        t_parts = target.split(".")
        common = 0
        while common < min(len(scope_parts), len(t_parts) - 1) and scope_parts[common] == t_parts[common]:
            common += 1
        label = t_parts[common:]
        for d in range(len(scope_parts), common, -1):
            if ".".join([*scope_parts[:d], *label]) in self.known:
                raise NotExpressible("from:", f"'{target}' cannot be named from '{scope}' ('{'.'.join(label)}' finds"
                                     f" {'.'.join([*scope_parts[:d], *label])} first)")
        return ".".join(label)


def plan_split_parts(plan: _Plan, by_exit: Mapping[str, Unit], net: Net) -> set[str]:
    """The split-part units a plan writes as ``split:`` (each branch's entry)."""
    if plan.split is None:
        return set()
    return {by_exit[entry].full for _, entry in plan.branches if entry in by_exit}


def _split(heads: Sequence[Unit | None], fork: str, net: Net) -> int | list[int] | None:
    """``split:`` for branches headed by the parts of one channel split of ``fork``, in order; None otherwise."""
    if any(h is None for h in heads):
        return None
    parts = [net.layers[h.full] for h in heads if h is not None]
    if any(p.inputs[0] != fork for p in parts):
        return None
    spans = [(int(p.attrs["start"]), int(p.attrs["stop"])) for p in parts]
    total = int(parts[0].attrs["of"])
    if spans[0][0] != 0 or spans[-1][1] != total or any(a[1] != b[0] for a, b in _pairs_in_order(spans)):
        return None
    sizes = [b - a for a, b in spans]
    return len(sizes) if len(set(sizes)) == 1 else sizes


def _lca(a: str, b: str, idom: Mapping[str, str], depth: Mapping[str, int]) -> str:
    while a != b:
        if depth[a] >= depth[b]:
            a = idom[a]
        else:
            b = idom[b]
    return a


def _pairs(sets: Sequence[set[str]]) -> list[tuple[set[str], set[str]]]:
    return [(sets[i], sets[j]) for i in range(len(sets)) for j in range(i + 1, len(sets))]


def _pairs_in_order(spans: Sequence[tuple[int, int]]) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    return list(itertools.pairwise(spans))
