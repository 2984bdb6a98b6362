"""Which spec layer computes what which reference module computes: the points ``verify --against`` compares.

Three kinds of pair, all derived from how the weights were matched (``archcalc.backends.torch.weights``):

* a spec layer with parameters and the innermost reference module that holds exactly the same tensors
  (``layer1.block1.conv1`` ↔ ``layer1.0.conv1``);
* a spec group and the reference module **of the same name** holding the same tensors: the group's value is
  that of its one exit layer (``conv1`` ↔ torchvision's ``BasicConv2d`` ``conv1``, whose ReLU is functional);
* a spec layer without parameters and the reference module of the same name, under a parent that pairs too
  (``maxpool`` ↔ ``maxpool``).

A reference module pairs with one spec layer at most; one called more than once is not compared.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from torch import nn

from archcalc.backends.torch.weights import StateMap, is_counter, owner_of
from archcalc.ir import Graph


@dataclass(frozen=True)
class Pair:
    """A spec layer or group, the reference module it corresponds to, and the spec node whose output is its value."""

    spec: str
    reference: str
    exit: str
    order: tuple[int, int]  # (the exit's topological index, -depth): inner names first on a tie
    firm: bool = True  # False: a group paired by structure alone, which may bound its layers differently


def correspond(graph: Graph, spec_modules: Mapping[str, nn.Module], reference: nn.Module,
               smap: StateMap) -> list[Pair]:
    """The comparable points, in the spec's topological order."""
    index = {n.name: i for i, n in enumerate(graph.nodes)}
    ref_modules = dict(reference.named_modules())
    ref_sets = _key_sets(k for k in reference.state_dict() if not is_counter(k))
    by_set: dict[frozenset[str], list[str]] = defaultdict(list)
    for name, keys in ref_sets.items():
        if name in ref_modules and name:
            by_set[keys].append(name)
    image = {t: s for t, s in smap.pairs.items() if not is_counter(t)}
    spec_sets = _key_sets(image)
    exits = _exits(graph)

    pairs: dict[str, str] = {}  # spec name → reference module
    for name in spec_modules:
        own = spec_sets.get(name)
        if own:
            mapped = frozenset(image[k] for k in own)
            candidates = by_set.get(mapped, [])
            if candidates:
                pairs[name] = max(candidates, key=lambda c: (c.count("."), c == name))  # the innermost
    for group in {p for n in index for p in _prefixes(n)} - set(index):
        inside = spec_sets.get(group)
        if inside and group in ref_modules and ref_sets.get(group) == frozenset(image[k] for k in inside):
            pairs[group] = group
    soft = _by_structure(spec_sets, image, ref_sets, ref_modules, set(index), pairs)
    paired_groups = {g for g, r in pairs.items() if g == r} | {""}
    for name, module in spec_modules.items():
        if (name not in pairs and not spec_sets.get(name) and name in ref_modules and not ref_sets.get(name)
                and owner_of(name) in paired_groups and not list(ref_modules[name].children())
                and not list(module.parameters())):
            pairs[name] = name
    used: set[str] = set()
    out: list[Pair] = []
    for spec_name, ref_name in sorted({**soft, **pairs}.items(), key=lambda kv: _order(kv[0], exits, index)):
        if ref_name in used or spec_name not in exits:
            continue
        used.add(ref_name)
        out.append(Pair(spec_name, ref_name, exits[spec_name], _order(spec_name, exits, index),
                        firm=spec_name in pairs))
    return out


def _by_structure(spec_sets: Mapping[str, frozenset[str]], image: Mapping[str, str],
                  ref_sets: Mapping[str, frozenset[str]], ref_modules: Mapping[str, nn.Module], nodes: set[str],
                  firm: Mapping[str, str]) -> dict[str, str]:
    """Spec groups and reference containers holding the same tensors, paired outermost first
    (``layer1.block1`` ↔ ``layer1.0``). Only a guide to where a difference lies: a group may end before or
    after its container (a pool inside one, outside the other), so these pairs never fail a check alone."""
    taken = set(firm.values())
    groups: dict[frozenset[str], list[str]] = defaultdict(list)
    for group, keys in spec_sets.items():
        if group and group not in nodes and group not in firm:
            groups[frozenset(image[k] for k in keys)].append(group)
    containers: dict[frozenset[str], list[str]] = defaultdict(list)
    for name, keys in ref_sets.items():
        if name in ref_modules and name and name not in taken and list(ref_modules[name].children()):
            containers[keys].append(name)
    out: dict[str, str] = {}
    for keys, names in groups.items():
        outer_first = sorted(containers.get(keys, []), key=lambda n: n.count("."))
        for group, container in zip(sorted(names, key=lambda n: n.count(".")), outer_first, strict=False):
            out[group] = container
    return out


def _order(name: str, exits: Mapping[str, str], index: Mapping[str, int]) -> tuple[int, int]:
    return (index.get(exits.get(name, ""), len(index)), -name.count("."))


def _prefixes(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def _key_sets(keys: Iterable[str]) -> dict[str, frozenset[str]]:
    """Every module path (and its ancestors) → the state-dict keys under it."""
    sets: dict[str, set[str]] = defaultdict(set)
    for key in keys:
        owner = owner_of(key)
        sets[owner].add(key)
        for p in _prefixes(owner):
            sets[p].add(key)
    return {k: frozenset(v) for k, v in sets.items()}


def _exits(graph: Graph) -> dict[str, str]:
    """Each node → itself; each group → the one node under it whose output leaves it (groups with more are left out)."""
    out = {n.name: n.name for n in graph.nodes}
    readers = graph.consumers()
    leaving: dict[str, list[str]] = defaultdict(list)
    for n in graph.nodes:
        for group in _prefixes(n.name):
            inside = group + "."
            if n.name in graph.outputs or any(not r.startswith(inside) for r in readers[n.name]):
                leaving[group].append(n.name)
    for group, nodes in leaving.items():
        if len(nodes) == 1:
            out[group] = nodes[0]
    return out
