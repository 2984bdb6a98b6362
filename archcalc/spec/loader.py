"""YAML → plain data that remembers where each mapping, sequence and string came from.

Safe by construction: only YAML's core types are built (no objects), duplicate keys are errors, and
the size of the document (nodes, nesting depth, alias fan-out) is bounded so a hostile file cannot
hang archcalc or exhaust its memory.
"""

from __future__ import annotations

import os
import re
import stat
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
#: What YAML 1.2 lets a stream hold (its 'c-printable'): tab, newlines and printable Unicode.
_NOT_PRINTABLE = re.compile("[^\t\n\r\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


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


def _position(text: str, index: int, filename: str) -> SourceLocation:
    """The 1-based line and column of character ``index`` of ``text``."""
    line_start = text.rfind("\n", 0, index) + 1
    return SourceLocation(filename, text.count("\n", 0, index) + 1, index - line_start + 1)


def parse_text(text: str, filename: str) -> Any:
    """Parse YAML text into located plain data, or raise a SpecError with the position."""
    if len(text) > MAX_FILE_BYTES or len(text.encode("utf-8", "replace")) > MAX_FILE_BYTES:
        raise SpecError(f"spec file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB",
                        SourceLocation(filename, 1, 1))
    bad = _NOT_PRINTABLE.search(text)
    if bad:  # libyaml would name the character without a usable line and column
        raise SpecError(f"control character U+{ord(bad.group()):04X} is not allowed in a YAML file",
                        _position(text, bad.start(), filename), "delete it")
    try:
        node = yaml.compose(text, Loader=_COMPOSER)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = SourceLocation(filename, mark.line + 1, mark.column + 1) if mark else None
        problem = exc.problem or exc.context or "invalid YAML"
        raise SpecError(f"invalid YAML: {problem}", where) from None
    except yaml.YAMLError as exc:
        raise SpecError(f"invalid YAML: {exc}", SourceLocation(filename, 1, 1)) from None
    if node is None:
        raise SpecError("spec file is empty", SourceLocation(filename, 1, 1))
    return _Converter(filename).convert(node)


def read_spec(path: Path, display: str | None = None) -> str:
    """The text of a spec file, read only if it is a regular file no larger than the limit.

    A FIFO would block forever and ``/dev/zero`` never ends: both are refused before anything is read,
    and at most the limit plus one byte is ever read (a file may grow after it was checked).
    """
    name = display or str(path)
    start = SourceLocation(name, 1, 1)
    too_large = f"spec file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB"
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            raise SpecError("not a regular file (a directory, device or pipe)", start)
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # never blocks, even if a FIFO replaced the file
        with os.fdopen(fd, "rb") as fh:
            info = os.fstat(fh.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise SpecError("not a regular file (a directory, device or pipe)", start)
            if info.st_size > MAX_FILE_BYTES:
                raise SpecError(too_large, start)
            data = fh.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise SpecError(f"no such spec file: {path}") from None
    except OSError as exc:
        raise SpecError(f"cannot read spec file {path}: {exc.strerror or exc}") from None
    if len(data) > MAX_FILE_BYTES:
        raise SpecError(too_large, start)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        good = data[: exc.start].decode("utf-8")
        raise SpecError(f"spec file is not UTF-8 text: byte 0x{data[exc.start]:02x} cannot be decoded",
                        _position(good, len(good), name), "save the file as UTF-8") from None


def parse_file(path: Path, display: str | None = None) -> Any:
    """Read and parse a spec file (see :func:`read_spec` for what is refused before reading)."""
    return parse_text(read_spec(path, display), display or str(path))
