"""YAML text → located data, with PyYAML: the part of spec loading that needs it (see archcalc.spec.loader).

Importing PyYAML compiles its regular expressions, which costs more than the analysis of VGG16: this module
is imported only when a spec's text is parsed, not when a zoo spec is read from the parse cache
(archcalc.spec.parse_cache).
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from archcalc.errors import SourceLocation, SpecError
from archcalc.spec.loader import MAX_DEPTH, MAX_NODES, LList, LMap, LStr, plain, position
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
#: What YAML 1.2 lets a stream hold (its 'c-printable'): tab, newlines and printable Unicode.
_NOT_PRINTABLE = re.compile("[^\t\n\r\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
#: What a string may not hold even through a YAML escape ("\e", "\x01"): control characters other than
#: tab and newline, and the invisible bidirectional overrides that make text read differently than it is.
_CONTROL_IN_STRING = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


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


def compose(text: str, filename: str) -> Any:
    """Parse YAML text (within the size limit) into located plain data, or raise a SpecError with the position."""
    bad = _NOT_PRINTABLE.search(text)
    if bad:  # libyaml would name the character without a usable line and column
        raise SpecError(f"control character U+{ord(bad.group()):04X} is not allowed in a YAML file",
                        position(text, bad.start(), filename), "delete it")
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


def value(text: str, what: str) -> Any:
    """A value given outside a file (see :func:`archcalc.spec.loader.parse_value`)."""
    bad = _NOT_PRINTABLE.search(text) or _CONTROL_IN_STRING.search(text)
    if bad:  # else libyaml refuses the text and it would be taken, control character and all, as a string
        raise SpecError(f"control character U+{ord(bad.group()):04X}", None, "use printable characters")
    try:
        node = yaml.compose(text, Loader=_Yaml12Loader)
    except yaml.YAMLError:
        return text
    return plain(_Converter(what).convert(node)) if node is not None else None
