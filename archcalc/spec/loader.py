"""YAML → plain data that remembers where each mapping, sequence and string came from.

Safe by construction: only YAML's core types are built (no objects; any other tag is an error),
duplicate keys are errors, and the size of the document (nodes, nesting depth, alias fan-out) is
bounded so a hostile file cannot hang archcalc or exhaust its memory.

Plain scalars are resolved by the YAML 1.2 core schema, as editors and the docs read them: ``010`` is
ten, ``0o10`` eight, ``1:30`` and ``0b11`` are strings, and only ``true``/``false`` are booleans
(YAML 1.1, PyYAML's default, read ``010`` as 8, ``1:30`` as 90 and ``on`` as true).
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from typing import Any, ClassVar

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from archcalc.errors import SourceLocation, SpecError
from archcalc.spec.numbers import RANGE, parse_int, too_large

#: libyaml's composer when PyYAML was built with it (several times faster), else the pure-Python one.
_COMPOSER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_TAG = "tag:yaml.org,2002:"
#: YAML 1.2 core schema (§10.3.2): tag, pattern, the characters a match can start with.
_CORE_SCHEMA: tuple[tuple[str, str, str], ...] = (
    ("null", r"^(?:~|null|Null|NULL|)$", "~nN"),
    ("bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    ("int", r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", "-+0123456789"),
    ("float", r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
              r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$", "-+.0123456789"),
    ("merge", r"^<<$", "<"),  # recognised only to refuse it with a clear message
)
_PATTERNS = {tag: re.compile(pattern) for tag, pattern, _ in _CORE_SCHEMA}


class _Yaml12Loader(_COMPOSER):  # type: ignore[misc,valid-type]
    """The composer with YAML 1.2 core-schema tag resolution instead of PyYAML's YAML 1.1 rules."""

    yaml_implicit_resolvers: ClassVar[dict[str, list[tuple[str, re.Pattern[str]]]]] = {}


for _name, _pattern, _first in _CORE_SCHEMA:
    _Yaml12Loader.add_implicit_resolver(_TAG + _name, _PATTERNS[_name], [*_first, ""] if _name == "null"
                                        else list(_first))
MAX_FILE_BYTES = 4 * 1024 * 1024
MAX_NODES = 200_000
MAX_DEPTH = 64
#: What YAML 1.2 lets a stream hold (its 'c-printable'): tab, newlines and printable Unicode.
_NOT_PRINTABLE = re.compile("[^\t\n\r\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
#: What a string may not hold even through a YAML escape ("\e", "\x01"): control characters other than
#: tab and newline, and the invisible bidirectional overrides that make text read differently than it is.
_CONTROL_IN_STRING = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


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

    def mark(self, node: Node) -> SourceLocation:
        return SourceLocation(self.filename, node.start_mark.line + 1, node.start_mark.column + 1)

    def _refuse_tag(self, node: Node, expected: str) -> None:
        if node.tag != _TAG + expected:
            tag = node.tag.replace(_TAG, "!!")
            raise SpecError(f"YAML tag '{tag}' is not allowed in a spec", self.mark(node), "remove the tag")

    def convert(self, node: Node, depth: int = 0) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise SpecError(f"spec is too large (more than {MAX_NODES} YAML nodes, aliases expanded)",
                            self.mark(node))
        if depth > MAX_DEPTH:
            raise SpecError(f"spec nests deeper than {MAX_DEPTH} levels", self.mark(node))
        if isinstance(node, MappingNode):
            self._refuse_tag(node, "map")
            out = LMap()
            out.loc, out.key_locs, out.value_locs = self.mark(node), {}, {}
            for key_node, value_node in node.value:
                if key_node.tag == _TAG + "merge":
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
            self._refuse_tag(node, "seq")
            seq = LList()
            seq.loc, seq.item_locs = self.mark(node), []
            for item in node.value:
                seq.item_locs.append(self.mark(item))
                seq.append(self.convert(item, depth + 1))
            return seq
        if not isinstance(node, ScalarNode):  # the composer builds nothing else
            raise SpecError("unsupported YAML node", self.mark(node))
        return self.scalar(node)

    def scalar(self, node: ScalarNode) -> Any:
        """A scalar by its (YAML 1.2) tag: null, bool, a bounded int or finite float, or a string."""
        where, text, tag = self.mark(node), node.value, node.tag.removeprefix(_TAG)
        if tag == "str":
            bad = _CONTROL_IN_STRING.search(text)
            if bad:
                raise SpecError(f"string holds control character U+{ord(bad.group()):04X}", where,
                                "names and text are printable characters")
            s = LStr(text)
            s.loc = where
            return s
        if tag not in ("null", "bool", "int", "float"):
            self._refuse_tag(node, "str")
        if not _PATTERNS[tag].match(text):  # an explicit tag on text it does not fit: !!int abc
            raise SpecError(f"'{text}' is not a YAML 1.2 {tag}", where)
        if tag == "null":
            return None
        if tag == "bool":
            return text.lower() == "true"
        if tag == "int":
            return parse_int(text, where)
        lowered = text.lower()
        value = float(lowered.replace(".inf", "inf").replace(".nan", "nan"))
        if too_large(value):
            raise SpecError(f"'{text}' is {'not a finite number' if '.' in lowered[:2] else 'out of range'}",
                            where, RANGE)
        return value


def _position(text: str, index: int, filename: str) -> SourceLocation:
    """The 1-based line and column of character ``index`` of ``text``."""
    line_start = text.rfind("\n", 0, index) + 1
    return SourceLocation(filename, text.count("\n", 0, index) + 1, index - line_start + 1)


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
    if len(text) > MAX_FILE_BYTES or len(text.encode("utf-8", "replace")) > MAX_FILE_BYTES:
        raise SpecError(f"spec file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB",
                        SourceLocation(filename, 1, 1))
    bad = _NOT_PRINTABLE.search(text)
    if bad:  # libyaml would name the character without a usable line and column
        raise SpecError(f"control character U+{ord(bad.group()):04X} is not allowed in a YAML file",
                        _position(text, bad.start(), filename), "delete it")
    try:
        node = yaml.compose(text, Loader=_Yaml12Loader)
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


def parse_value(text: str, what: str) -> Any:
    """A value given outside a file (``--set NAME=VALUE``), resolved by the same YAML 1.2 rules and
    bounds as a spec's own values; text that is not valid YAML is taken as a string."""
    if not text:
        return ""
    if len(text) > MAX_FILE_BYTES:
        raise SpecError(f"value is larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB")
    bad = _NOT_PRINTABLE.search(text) or _CONTROL_IN_STRING.search(text)
    if bad:  # else libyaml refuses the text and it would be taken, control character and all, as a string
        raise SpecError(f"control character U+{ord(bad.group()):04X}", None, "use printable characters")
    try:
        node = yaml.compose(text, Loader=_Yaml12Loader)
    except yaml.YAMLError:
        return text
    return plain(_Converter(what).convert(node)) if node is not None else None


def plain(value: Any) -> Any:
    """Located data → plain lists, dicts and strings (for metadata kept past loading, and for tests)."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return str(value) if isinstance(value, str) else value


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
