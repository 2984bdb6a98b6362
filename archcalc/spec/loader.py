"""YAML → plain data that remembers where each mapping, sequence and string came from.

Safe by construction: only YAML's core types are built (no objects; any other tag is an error),
duplicate keys are errors, and the size of the document (nodes, nesting depth, alias fan-out) is
bounded so a hostile file cannot hang archcalc or exhaust its memory.

Plain scalars are resolved by the YAML 1.2 core schema, as editors and the docs read them: ``010`` is
ten, ``0o10`` eight, ``1:30`` and ``0b11`` are strings, and only ``true``/``false`` are booleans
(YAML 1.1, PyYAML's default, read ``010`` as 8, ``1:30`` as 90 and ``on`` as true).


from __future__ import annotations

The parsing itself (PyYAML) is archcalc.spec.yaml12; a zoo spec parsed before is read from the parse
cache instead (archcalc.spec.parse_cache), with the same values and locations.
"""

from __future__ import annotations

import os
import stat
from typing import TYPE_CHECKING, Any

from archcalc.errors import SourceLocation, SpecError

if TYPE_CHECKING:
    from pathlib import Path

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


def position(text: str, index: int, filename: str) -> SourceLocation:
    """The 1-based line and column of character ``index`` of ``text``."""
    line_start = text.rfind("\n", 0, index) + 1
    return SourceLocation(filename, text.count("\n", 0, index) + 1, index - line_start + 1)


def parse_text(text: str, filename: str) -> Any:
    """Parse YAML text into located plain data, or raise a SpecError with the position."""
    if len(text) > MAX_FILE_BYTES or len(text.encode("utf-8", "replace")) > MAX_FILE_BYTES:
        raise SpecError(f"spec file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB",
                        SourceLocation(filename, 1, 1))
    from archcalc.spec import yaml12  # PyYAML, imported only when text is parsed

    return yaml12.compose(text, filename)


def parse_value(text: str, what: str) -> Any:
    """A value given outside a file (``--set NAME=VALUE``), resolved by the same YAML 1.2 rules and
    bounds as a spec's own values; text that is not valid YAML is taken as a string."""
    if not text:
        return ""
    if len(text) > MAX_FILE_BYTES:
        raise SpecError(f"value is larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB")
    from archcalc.spec import yaml12

    return yaml12.value(text, what)


def plain(value: Any) -> Any:
    """Located data → plain lists, dicts and strings (for metadata kept past loading, and for tests)."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return str(value) if isinstance(value, str) else value


def read_spec(path: str | Path, display: str | None = None) -> str:
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
                        position(good, len(good), name), "save the file as UTF-8") from None


def parse_file(path: str | Path, display: str | None = None) -> Any:
    """Read and parse a spec file (see :func:`read_spec` for what is refused before reading)."""
    from archcalc.spec import parse_cache

    text = read_spec(path, display)
    name = display or str(path)
    data = parse_cache.get(path, name, text)
    if data is None:
        data = parse_text(text, name)
        parse_cache.put(path, name, text, data)
    return data
