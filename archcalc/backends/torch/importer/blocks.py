"""Repeated modules → blocks with arguments; consecutive identical block calls → ``repeat``.

Instances of one module class (not torch's containers) whose written bodies have the same shape — the same
items, names and nesting — become one block. Values that differ between the instances (a width, a stride, a
``from:`` name) become the block's arguments: values that always vary together are one argument, named after
the attribute (``out``, ``s``) or, where two differ, after the layer too (``conv3_out``); an argument takes the
value most instances have as its default when more than half have it. Instances of one class with different
shapes (a block with a projection shortcut and one without) make one block each. Classes are turned into blocks
innermost first, so that a block's body calls the blocks of its submodules.

Then any run of calls of one block with the same arguments, named ``0, 1, 2`` or ``denselayer1, denselayer2``,
becomes ``repeat: n`` over one call named ``"$i"``-style.
"""

from __future__ import annotations

import copy
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from typing import Any

from archcalc import layers as catalogue
from archcalc.backends.torch.importer.items import (
    BlockDef,
    Branch,
    CallItem,
    GroupItem,
    Item,
    JoinItem,
    LayerItem,
    RepeatItem,
    WiredJoin,
    children,
)
from archcalc.spec.expand import STRUCTURAL

#: classes that only hold other modules: written as named groups, never as blocks
CONTAINERS = frozenset({"torch.nn.modules.container.Sequential", "torch.nn.modules.container.ModuleList",
                        "torch.nn.modules.container.ModuleDict"})
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_MISSING = object()


def make_blocks(items: list[Item]) -> tuple[list[Item], dict[str, BlockDef]]:
    """Turn repeated module classes into blocks (innermost first); returns the items and the blocks."""
    blocks: dict[str, BlockDef] = {}
    for cls in _classes_innermost_first(items):
        instances = [g for g in _groups(items) if g.cls == cls]
        partitions: dict[tuple[Any, ...], list[GroupItem]] = defaultdict(list)
        for g in instances:
            partitions[_signature_body(g.body)].append(g)
        shared = sorted((p for p in partitions.values() if len(p) > 1), key=len, reverse=True)
        base = _block_name(cls)
        for k, group in enumerate(shared):
            name = _unique(base if k == 0 else _variant_name(base, group, shared[0]), blocks)
            block, calls = _anti_unify(name, cls, group)
            blocks[name] = block
            replacements = {id(g): call for g, call in zip(group, calls, strict=True)}
            items = _replace(items, replacements)
    for block in blocks.values():
        block.body = repeats(block.body)
    return repeats(items), blocks


# ---- finding instances ------------------------------------------------------------------------------------

def _walk(items: list[Item]) -> Iterator[Item]:
    for item in items:
        yield item
        for inner in children(item):
            yield from _walk(inner)


def _groups(items: list[Item]) -> list[GroupItem]:
    return [i for i in _walk(items) if isinstance(i, GroupItem)]


def _classes_innermost_first(items: list[Item]) -> list[str]:
    deepest: dict[str, int] = {}
    for g in _groups(items):
        if g.cls and g.cls not in CONTAINERS:
            deepest[g.cls] = max(deepest.get(g.cls, 0), g.path.count(".") + 1)
    counts = Counter(g.cls for g in _groups(items) if g.cls in deepest)
    return sorted((c for c in deepest if counts[c] > 1), key=lambda c: -deepest[c])


def _replace(items: list[Item], by_id: dict[int, CallItem]) -> list[Item]:
    out: list[Item] = []
    for item in items:
        call = by_id.get(id(item))
        if call is not None:
            out.append(call)
            continue
        if isinstance(item, GroupItem):
            item.body = _replace(item.body, by_id)
        elif isinstance(item, JoinItem):
            for b in item.branches:
                b.items = _replace(b.items, by_id)
        elif isinstance(item, RepeatItem):
            item.body = _replace(item.body, by_id)
        out.append(item)
    return out


# ---- shapes and slots ----------------------------------------------------------------------------------------

def _signature(item: Item) -> tuple[Any, ...]:
    """An item without its values: instances whose bodies have equal signatures make one block."""
    if isinstance(item, LayerItem):
        return ("layer", item.key, item.name, item.src is not None, len(item.srcs or []))
    if isinstance(item, GroupItem):
        return ("group", item.name, item.src is not None, _signature_body(item.body))
    if isinstance(item, CallItem):
        return ("call", item.block, item.name, item.src is not None, tuple(item.args))
    if isinstance(item, JoinItem):
        return ("join", item.key, item.name, item.src is not None, item.split is not None,
                tuple(_signature_body(b.items) for b in item.branches))
    if isinstance(item, WiredJoin):
        return ("wired", item.key, item.name)  # its inputs are a value: DenseNet's layers read more and more
    return ("repeat", item.count, _signature_body(item.body))


def _signature_body(items: list[Item]) -> tuple[Any, ...]:
    return tuple(_signature(i) for i in items)


Slot = tuple[tuple[int, ...], str]  # (position path in the body, field)


def _slots(items: list[Item], where: tuple[int, ...] = ()) -> Iterator[tuple[Slot, Item]]:
    for k, item in enumerate(items):
        here = (*where, k)
        yield (here, ""), item
        if isinstance(item, JoinItem):
            for b, branch in enumerate(item.branches):
                yield from _slots(branch.items, (*here, b))
        elif isinstance(item, GroupItem | RepeatItem):
            yield from _slots(item.body, (*here, 0))


def _fields(item: Item) -> dict[str, Any]:
    """An item's values by field (a layer's attributes with its defaults filled in)."""
    if isinstance(item, LayerItem):
        attrs = catalogue.CATALOGUE[item.key].attrs if item.key in catalogue.CATALOGUE else {}
        values = dict(item.attrs)  # in the order the item writes them, then the defaults it leaves out
        values.update({k: _default(a.default) for k, a in attrs.items() if a.default is not None and k not in values})
        values["from"] = item.src if item.srcs is None else item.srcs
        return values
    if isinstance(item, CallItem):
        return {**item.args, "from": item.src}
    if isinstance(item, JoinItem):
        return {"split": item.split, "from": item.src}
    if isinstance(item, WiredJoin):
        return {"from": item.srcs}
    if isinstance(item, GroupItem):
        return {"from": item.src}
    return {}


def _default(value: Any) -> Any:
    """A catalogue default in the form the importer writes values (pairs as an integer when square)."""
    if isinstance(value, tuple):
        return value[0] if len(set(value)) == 1 else list(value)
    return value


def _set_field(item: Item, key: str, value: Any) -> None:
    if key == "from":
        if (isinstance(item, LayerItem) and item.srcs is not None) or isinstance(item, WiredJoin):
            item.srcs = value
        elif not isinstance(item, RepeatItem):
            item.src = value
        return
    if isinstance(item, LayerItem):
        item.attrs[key] = value
    elif isinstance(item, CallItem):
        item.args[key] = value
    elif isinstance(item, JoinItem) and key == "split":
        item.split = value


def _anti_unify(name: str, cls: str, group: list[GroupItem]) -> tuple[BlockDef, list[CallItem]]:
    """One block for instances of one shape: constant values written in, varying ones made arguments."""
    template = copy.deepcopy(group[0].body)
    bodies = [dict(_slots(g.body)) for g in group]
    slots_t = dict(_slots(template))
    vectors: dict[tuple[Any, ...], list[tuple[Slot, str]]] = defaultdict(list)
    for slot, _item in slots_t.items():
        per = [_fields(b[slot]) for b in bodies]
        keys = list(dict.fromkeys(k for f in per for k in f))
        for key in keys:
            values = tuple(_freeze(f.get(key, _MISSING)) for f in per)
            if len(set(values)) == 1:
                continue
            vectors[values].append((slot, key))
    args: dict[str, Any] = {}
    calls_args: list[dict[str, Any]] = [{} for _ in group]
    names = _arg_names(vectors, slots_t)
    for values, places in vectors.items():
        arg = names[values]
        for slot, key in places:
            _set_field(slots_t[slot], key, f"${arg}")
        common, count = Counter(values).most_common(1)[0]
        args[arg] = _thaw(common) if count * 2 > len(values) else None
        for k, v in enumerate(values):
            calls_args[k][arg] = _thaw(v)
    _drop_defaults(template)
    doc = f"{cls} ({len(group)} instances)"
    block = BlockDef(name, args, template, doc, [g.path for g in group])
    calls = [CallItem(name, calls_args[k], g.name, g.src) for k, g in enumerate(group)]
    return block, calls


def _arg_names(vectors: dict[tuple[Any, ...], list[tuple[Slot, str]]], slots: dict[Slot, Item]) -> dict[tuple[Any, ...],
                                                                                                       str]:
    wanted: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
    for values, places in vectors.items():
        wanted[places[0][1]].append(values)
    out: dict[tuple[Any, ...], str] = {}
    taken: set[str] = set()
    for key, vecs in wanted.items():
        for values in vecs:
            base = "inputs" if key == "from" else key
            if len(vecs) > 1:
                owner = re.sub(r"\W", "_", _owner(vectors[values][0][0][0], slots, short=True))
                if not _IDENT.match(owner) or sum(1 for v in vecs if _owner(vectors[v][0][0][0], slots, short=True)
                                                  == _owner(vectors[values][0][0][0], slots, short=True)) > 1:
                    owner = re.sub(r"\W", "_", _owner(vectors[values][0][0][0], slots, short=False))
                base = f"{owner}_{base}" if _IDENT.match(owner) else f"{base}_{owner}"
            if not _IDENT.match(base):
                base = "a_" + re.sub(r"\W", "_", base)
            name = base
            k = 2
            while name in taken or name == "i":
                name = f"{base}{k}"
                k += 1
            taken.add(name)
            out[values] = name
    return out


def _owner(position: tuple[int, ...], slots: dict[Slot, Item], short: bool) -> str:
    """The name of the item at ``position`` (``short``), or the names from the body down to it (``branch3_1``)."""
    names = []
    for depth in range(1, len(position) + 1):
        item = slots.get((position[:depth], ""))
        name = getattr(item, "name", None)
        if name and (not isinstance(item, JoinItem) or depth == len(position)):
            names.append(str(name))
    if not names:
        return "x"
    return names[-1] if short else "_".join(names)


def _drop_defaults(items: list[Item]) -> None:
    """Attributes equal to the catalogue's default are left out, as a person writes them."""
    for _, item in _slots(items):
        if isinstance(item, LayerItem) and item.key in catalogue.CATALOGUE:
            attrs = catalogue.CATALOGUE[item.key].attrs
            for key in list(item.attrs):
                if key in attrs and attrs[key].default is not None and item.attrs[key] == _default(attrs[key].default):
                    del item.attrs[key]


def _freeze(value: Any) -> Any:
    if isinstance(value, list):
        return ("__list__", *(_freeze(v) for v in value))
    return value


def _thaw(value: Any) -> Any:
    if value is _MISSING:
        return None
    if isinstance(value, tuple) and value and value[0] == "__list__":
        return [_thaw(v) for v in value[1:]]
    return value


def _block_name(cls: str) -> str:
    short = re.split(r"[.:]", cls)[-1].lstrip("_") or "block"
    snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", short).lower()
    snake = re.sub(r"\W", "_", snake)
    if not _IDENT.match(snake):
        snake = f"block_{snake}"
    if catalogue.is_layer(snake) or snake in STRUCTURAL or snake in catalogue.CATALOGUE:
        snake = f"{snake}_block"
    return snake


def _variant_name(base: str, group: list[GroupItem], main: list[GroupItem]) -> str:
    """``basic_block_downsample``: the block named after what its instances have that the main one's lack."""
    mine = {str(getattr(i, "name", "")) for _, i in _slots(group[0].body)}
    theirs = {str(getattr(i, "name", "")) for _, i in _slots(main[0].body)}
    extra = sorted(n for n in mine - theirs if _IDENT.match(n))
    return f"{base}_{'_'.join(extra)}" if extra else f"{base}_2"


def _unique(name: str, taken: dict[str, BlockDef]) -> str:
    candidate, k = name, 2
    while candidate in taken:
        candidate = f"{name}_{k}"
        k += 1
    return candidate


# ---- repeats -------------------------------------------------------------------------------------------------

def repeats(items: list[Item]) -> list[Item]:
    """Runs of calls of one block with equal arguments and numbered names → ``repeat`` (recursively)."""
    for item in items:
        for inner in children(item):
            inner[:] = repeats(inner)
    out: list[Item] = []
    k = 0
    while k < len(items):
        run = _run(items, k)
        if len(run) >= 2:
            first = run[0]
            assert isinstance(first, CallItem)
            number = _numbered(first.name)
            assert number is not None
            prefix, start = number
            expr = _index_expr(start)
            name = f"{prefix}{expr}" if prefix else expr
            out.append(RepeatItem(len(run), [CallItem(first.block, dict(first.args), name)]))
            k += len(run)
        else:
            out.append(items[k])
            k += 1
    return out


def _run(items: list[Item], k: int) -> list[Item]:
    first = items[k]
    if not isinstance(first, CallItem) or first.src is not None:
        return [first]
    number = _numbered(first.name)
    if number is None:
        return [first]
    prefix, start = number
    run: list[Item] = [first]
    for j in range(k + 1, len(items)):
        nxt = items[j]
        if not (isinstance(nxt, CallItem) and nxt.block == first.block and nxt.args == first.args
                and nxt.src is None and _numbered(nxt.name) == (prefix, start + len(run))):
            break
        run.append(nxt)
    return run


def _numbered(name: str) -> tuple[str, int] | None:
    found = re.fullmatch(r"(.*?[^0-9]|)(0|[1-9][0-9]*)", name)
    if found is None:
        return None
    return found.group(1), int(found.group(2))


def _index_expr(start: int) -> str:
    """The name of call ``i`` (1-based) of a run whose first is numbered ``start``."""
    if start == 1:
        return "$i"
    offset = start - 1
    return f"${{i + {offset}}}" if offset > 0 else f"${{i - {-offset}}}"


Rewrite = Callable[[Item], Item]
__all__ = ["Branch", "make_blocks", "repeats"]
