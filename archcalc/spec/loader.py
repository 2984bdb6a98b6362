"""YAML → plain data that remembers where each mapping, sequence and string came from.

Safe by construction: only YAML's core types are built (no objects), duplicate keys are errors, and
the size of the document (nodes, nesting depth, alias fan-out) is bounded so a hostile file cannot
hang archcalc or exhaust its memory.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from archcalc.errors import SourceLocation, SpecError

_YAML12_FLOAT = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+$")
#: libyaml's composer when PyYAML was built with it (several times faster), else the pure-Python one.
_COMPOSER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
MAX_FILE_BYTES = 4 * 1024 * 1024
MAX_NODES = 200_000
MAX_DEPTH = 64


class LMap(dict[str, Any]):
    """A mapping with the location of itself, of each key and of each value."""

    loc: SourceLocation | None
    key_locs: dict[str, SourceLocation]
    value_locs: dict[str, SourceLocation]


class LList(list[Any]):
    """A sequence with the location of itself and of each item."""

    loc: SourceLocation | None
    item_locs: list[SourceLocation]


class LStr(str):
    """A string that remembers where it was written."""

    loc: SourceLocation | None


def loc_of(value: Any) -> SourceLocation | None:
    return getattr(value, "loc", None)


class _Converter:
    """Walks a composed YAML node tree once, bounding work even where aliases share subtrees."""

    def __init__(self, filename: str):
        self.filename = filename
        self.count = 0
        self.constructor = yaml.SafeLoader("")  # resolves scalar tags safely

    def mark(self, node: Node) -> SourceLocation:
        return SourceLocation(self.filename, node.start_mark.line + 1, node.start_mark.column + 1)

    def convert(self, node: Node, depth: int = 0) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise SpecError(f"spec is too large (more than {MAX_NODES} YAML nodes, aliases expanded)",
                            self.mark(node))
        if depth > MAX_DEPTH:
            raise SpecError(f"spec nests deeper than {MAX_DEPTH} levels", self.mark(node))
        if isinstance(node, MappingNode):
            out = LMap()
            out.loc, out.key_locs, out.value_locs = self.mark(node), {}, {}
            for key_node, value_node in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    raise SpecError("YAML merge keys (<<) are not supported; use blocks", self.mark(key_node))
                key = self.convert(key_node, depth + 1)
                if not isinstance(key, str):
                    raise SpecError(f"mapping keys must be strings, got {key!r}", self.mark(key_node))
                key = str(key)
                if key in out:
                    raise SpecError(f"duplicate key '{key}' (first at line {out.key_locs[key].line})",
                                    self.mark(key_node))
                out.key_locs[key] = self.mark(key_node)
                out.value_locs[key] = self.mark(value_node)
                out[key] = self.convert(value_node, depth + 1)
            return out
        if isinstance(node, SequenceNode):
            seq = LList()
            seq.loc, seq.item_locs = self.mark(node), []
            for item in node.value:
                seq.item_locs.append(self.mark(item))
                seq.append(self.convert(item, depth + 1))
            return seq
        assert isinstance(node, ScalarNode)
        value = self.constructor.construct_object(node)
        if isinstance(value, str) and not node.style and _YAML12_FLOAT.match(value):
            value = float(value)  # YAML 1.2 reads 1e-4 as a number; YAML 1.1 would keep a string
        if isinstance(value, str):
            s = LStr(value)
            s.loc = self.mark(node)
            return s
        if not isinstance(value, int | float | bool | type(None)):
            # timestamps, binary: not part of the spec language
            raise SpecError(f"unsupported YAML value {node.value!r} ({node.tag})", self.mark(node))
        return value


def _yaml_hint(text: str, mark: Any) -> str | None:
    """The usual cause of a YAML error in a spec: ``${…}`` unquoted inside a ``{…}`` flow mapping.

    In flow style YAML reads ``{`` and ``}`` as the mapping's own brackets, so ``{out: ${2*w}}`` ends
    early; quoting the expression (``out: "${2*w}"``) or block style keeps it whole.
    """
    if mark is None:
        return None
    lines = text.splitlines()
    around = lines[max(0, mark.line - 1):mark.line + 1]
    for line in around:
        m = re.search(r"(\w+):\s*(\$\{[^}'\"]*\})", line)
        if m and "{" in line[:m.start()]:
            return (f"quote ${{…}} inside a {{…}} flow mapping: {m.group(1)}: \"{m.group(2)}\""
                    " (or write the mapping in block style)")
    return None


def parse_text(text: str, filename: str) -> Any:
    """Parse YAML text into located plain data, or raise a SpecError with the position."""
    if len(text.encode("utf-8", "replace")) > MAX_FILE_BYTES:
        raise SpecError(f"spec file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB",
                        SourceLocation(filename, 1, 1))
    try:
        node = yaml.compose(text, Loader=_COMPOSER)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = SourceLocation(filename, mark.line + 1, mark.column + 1) if mark else None
        problem = exc.problem or exc.context or "invalid YAML"
        raise SpecError(f"invalid YAML: {problem}", where, hint=_yaml_hint(text, mark)) from None
    except yaml.YAMLError as exc:
        raise SpecError(f"invalid YAML: {exc}", SourceLocation(filename, 1, 1)) from None
    if node is None:
        raise SpecError("spec file is empty", SourceLocation(filename, 1, 1))
    return _Converter(filename).convert(node)


def parse_file(path: Path, display: str | None = None) -> Any:
    name = display or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError(f"no such spec file: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(f"cannot read spec file {path}: {exc}") from None
    return parse_text(text, name)
