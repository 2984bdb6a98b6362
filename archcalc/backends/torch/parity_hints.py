"""Why the first divergent layer differs, as far as can be told: shapes, the layer's type or hyper-parameters,
an input that already differs, and what each model computes between the last agreeing layer and this one.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from archcalc.backends.torch.correspond import Pair
from archcalc.backends.torch.parity_report import Diff
from archcalc.backends.torch.side_by_side import SideBySide, fmt_shape, same_dropout

_HINT_NODES = 6


def hint(runner: SideBySide, pair: Pair, diff: Diff, diffs: list[Diff], train: bool) -> str:
    """What can be told about why ``pair`` differs: shapes, type, hyper-parameters, or what lies before it."""
    parts = []
    if diff.spec_shape is not None and diff.ref_shape is not None and diff.spec_shape != diff.ref_shape:
        parts.append(f"shape {fmt_shape(diff.spec_shape[1:])} here, {fmt_shape(diff.ref_shape[1:])} in the reference")
    mine = runner.modules.get(pair.spec)
    theirs = runner.ref_modules[pair.reference]
    index = {p.spec: p for p in runner.pairs}
    agreeing = {index[d.spec] for d in diffs if d.ok}
    if mine is not None and pair.spec == pair.exit and not list(theirs.children()):
        if type(mine) is not type(theirs) and not same_dropout(mine, theirs):
            parts.append(f"{type(mine).__name__} here, {type(theirs).__name__} in the reference")
        else:
            parts.extend(_attribute_diffs(mine, theirs))
        if len(parts) == 0 or (len(parts) == 1 and parts[0].startswith("shape")):
            same = runner.inputs_agree(pair, train)
            if same is False:
                parts.append("its input already differs: "
                             + _between(runner, list(runner.nodes[pair.spec].inputs), agreeing, pair, train))
            elif same is True and not parts:
                parts.append("same input, different output")
    elif runner.source(pair.exit) in {runner.source(p.exit) for p in agreeing}:
        parts.append(f"the spec's {pair.spec} ends with {pair.exit}, which agrees: the reference's"
                     f" {pair.reference} computes more after it"
                     + _extra(runner, pair, [p for p in agreeing if p.exit == pair.exit], train, " (", ")"))
    else:
        parts.append(_between(runner, [pair.exit], agreeing, pair, train))
    return "; ".join(parts)


def _between(runner: SideBySide, start: list[str], agreeing: set[Pair], pair: Pair, train: bool) -> str:
    """The spec's layers between the last agreeing ones and ``start`` (walking the graph backwards), and the
    reference's modules that ran between their counterparts and ``pair``'s."""
    agreeing_at = {runner.source(p.exit): p for p in agreeing}
    seen: list[str] = []
    stops: list[Pair] = []
    todo = list(start)
    while todo:
        name = todo.pop(0)
        if name in seen or name == "input":
            continue
        stop = agreeing_at.get(runner.source(name))
        if stop is not None:
            if stop not in stops:
                stops.append(stop)
            continue
        seen.append(name)
        todo.extend(runner.nodes[name].inputs)
    agree = "which agree" if len(stops) > 1 else "which agrees"
    after = f"after {', '.join(p.spec for p in stops)} ({agree})" if stops else "from the input on"
    ref = _extra(runner, pair, stops, train, "", "")
    if not seen:
        fed = ", ".join(p.spec for p in stops) or "the input"
        spec = f"the spec feeds it {fed} directly"
        return spec + (f"; the reference runs {ref} in between" if ref else
                       "; the reference runs no module in between (functional code?)")
    shown = ", ".join(f"{n} ({runner.nodes[n].op})" for n in reversed(seen[:_HINT_NODES]))
    more = f" (+{len(seen) - _HINT_NODES} more)" if len(seen) > _HINT_NODES else ""
    return (f"{after} the spec computes {shown}{more}; the reference runs "
            + (ref if ref else "no module there (functional code?)"))


def _extra(runner: SideBySide, pair: Pair, since: list[Pair], train: bool, before: str, after: str) -> str:
    """The reference's leaf modules, paired with nothing, that finished after ``since``'s and before ``pair``'s."""
    order = runner.order.get(train, [])
    paired = {p.reference for p in runner.pairs}
    positions = [i for i, n in enumerate(order) if n == pair.reference]
    if not positions:
        return ""
    end = positions[0]
    start = max((i for i, n in enumerate(order[:end]) if n in {p.reference for p in since}), default=-1)
    inside = pair.reference + "."
    names = [n for n in order[start + 1:end] if n not in paired and not list(runner.ref_modules[n].children())
             and (not list(runner.ref_modules[pair.reference].children()) or n.startswith(inside)
                  or not since)]
    if not names:
        return ""
    shown = ", ".join(f"{n} ({type(runner.ref_modules[n]).__name__})" for n in dict.fromkeys(names[:_HINT_NODES]))
    return before + shown + (f" (+{len(names) - _HINT_NODES} more)" if len(names) > _HINT_NODES else "") + after


_IGNORED_ATTRS = {"training", "inplace"}


def _attribute_diffs(mine: nn.Module, theirs: nn.Module) -> list[str]:
    """Hyper-parameters (stride, padding, eps, …) of two modules of the same kind that differ."""
    a, b = _attrs(mine), _attrs(theirs)
    return [f"{k} {_show(a[k])} here, {_show(b[k])} in the reference"
            for k in a if k in b and not _same_value(a[k], b[k])]


def _attrs(m: nn.Module) -> dict[str, Any]:
    return {k: v for k, v in vars(m).items() if not k.startswith("_") and k not in _IGNORED_ATTRS
            and isinstance(v, int | float | str | bool | tuple | type(None))}


def _same_value(a: Any, b: Any) -> bool:
    if isinstance(a, int) and isinstance(b, tuple):
        a, b = b, a
    if isinstance(a, tuple) and isinstance(b, int) and not isinstance(b, bool):
        return all(v == b for v in a)
    return bool(a == b)


def _show(v: Any) -> str:
    return str(v)
