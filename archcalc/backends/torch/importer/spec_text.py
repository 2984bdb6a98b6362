"""Items → the YAML text of a spec, laid out as the zoo's specs are: one layer per line in flow style,
structure (groups, joins, repeats, blocks) in block style, names and ``from:`` last."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

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
)

_PLAIN = re.compile(r"^[A-Za-z_$][A-Za-z0-9_.$]*$")
_RESERVED_WORDS = frozenset({"true", "false", "null", "yes", "no", "on", "off", "y", "n", "~"})
INDENT = "  "
#: a branch of one short item is written on one line, in flow style
_SHORT = 90


def scalar(value: Any) -> str:
    """A YAML value in flow style: numbers and booleans as such, strings quoted only where YAML needs it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        text = repr(value)
        return text if any(c in text for c in ".en") else f"{text}.0"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(scalar(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {scalar(v)}" for k, v in value.items()) + "}"
    text = str(value)
    if _PLAIN.match(text) and text.lower() not in _RESERVED_WORDS:
        return text
    return json.dumps(text, ensure_ascii=False)


def _mapping(values: dict[str, Any]) -> str:
    return scalar(values)


def _layer_line(item: LayerItem) -> str:
    values = {**item.attrs, "name": item.name}
    if item.srcs is not None:
        values["from"] = item.srcs
    elif item.src is not None:
        values["from"] = item.src
    return f"{item.key}: {_mapping(values)}"


def _call_line(item: CallItem, blocks: dict[str, BlockDef]) -> str:
    defaults = blocks[item.block].args if item.block in blocks else {}
    values = {k: v for k, v in item.args.items() if defaults.get(k) is None or defaults.get(k) != v}
    values["name"] = item.name
    if item.src is not None:
        values["from"] = item.src
    return f"{item.block}: {_mapping(values)}"


def render_items(items: Sequence[Item], depth: int, blocks: dict[str, BlockDef]) -> list[str]:
    """The lines of a list of items, each starting ``- `` at ``depth`` levels of indentation."""
    pad = INDENT * depth
    lines: list[str] = []
    for item in items:
        if isinstance(item, LayerItem):
            lines.append(f"{pad}- {_layer_line(item)}")
        elif isinstance(item, CallItem):
            lines.append(f"{pad}- {_call_line(item, blocks)}")
        elif isinstance(item, WiredJoin):
            lines.append(f"{pad}- {item.key}: {_mapping({'from': item.srcs, 'name': item.name})}")
        elif isinstance(item, GroupItem):
            lines.append(f"{pad}- seq:")
            lines.extend(render_items(item.body, depth + 2, blocks))
            lines.append(f"{pad}  name: {scalar(item.name)}")
            if item.src is not None:
                lines.append(f"{pad}  from: {scalar(item.src)}")
        elif isinstance(item, RepeatItem):
            lines.append(f"{pad}- repeat: {item.count}")
            lines.append(f"{pad}  body:")
            lines.extend(render_items(item.body, depth + 2, blocks))
        else:
            lines.extend(_join_lines(item, depth, blocks))
    return lines


def _join_lines(item: JoinItem, depth: int, blocks: dict[str, BlockDef]) -> list[str]:
    pad = INDENT * depth
    lines = [f"{pad}- {item.key}:"]
    inline = item.split is not None
    for branch in item.branches:
        branch_lines, named = _branch_lines(branch, depth + 2, blocks)
        inline = inline or (bool(branch.items) and not named)
        lines.extend(branch_lines)
    if inline:
        lines.append(f"{pad}  inline: true")
    if item.split is not None:
        lines.append(f"{pad}  split: {scalar(item.split)}")
    lines.append(f"{pad}  name: {scalar(item.name)}")
    if item.src is not None:
        lines.append(f"{pad}  from: {scalar(item.src)}")
    return lines


def _branch_lines(branch: Branch, depth: int, blocks: dict[str, BlockDef]) -> tuple[list[str], bool]:
    """A branch's lines, and whether it is a named group (which opens its own group even in an inline join)."""
    pad = INDENT * depth
    items = branch.items
    if not items:
        return [f"{pad}- []"], False
    only = items[0] if len(items) == 1 else None
    if isinstance(only, GroupItem) and only.src is None:
        lines = [f"{pad}- name: {scalar(only.name)}", f"{pad}  seq:"]
        lines.extend(render_items(only.body, depth + 2, blocks))
        return lines, True
    if isinstance(only, LayerItem | CallItem | WiredJoin):
        text = render_items([only], 0, blocks)[0][2:]
        if len(text) + len(pad) <= _SHORT:
            return [f"{pad}- [{{{text}}}]"], False
    lines = [f"{pad}- seq:"]
    lines.extend(render_items(items, depth + 2, blocks))
    return lines, False


def render_blocks(blocks: dict[str, BlockDef]) -> list[str]:
    lines = ["blocks:"]
    for block in blocks.values():
        lines.append(f"{INDENT}{block.name}:")
        if block.doc:
            lines.append(f"{INDENT * 2}doc: {scalar(block.doc)}")
        if block.args:
            lines.append(f"{INDENT * 2}args: {_mapping(block.args)}")
        lines.append(f"{INDENT * 2}body:")
        lines.extend(render_items(block.body, 3, blocks))
    return lines


def render_spec(*, header: Sequence[str], name: str, description: str, source: dict[str, str],
                input_shape: Sequence[int], blocks: dict[str, BlockDef], items: Sequence[Item]) -> str:
    """The whole spec file."""
    lines = [f"# {h}" if h else "#" for h in header]
    lines.append(f"name: {scalar(name)}")
    lines.append(f"description: {scalar(description)}")
    lines.append(f"source: {_mapping(source)}")
    lines.append(f"input: {'x'.join(str(d) for d in input_shape)}")
    if blocks:
        lines.extend(render_blocks(blocks))
    lines.append("layers:")
    lines.extend(render_items(items, 1, blocks))
    return "\n".join(lines) + "\n"
