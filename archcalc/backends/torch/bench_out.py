"""Appending bench results to JSON Lines or CSV files, safely when several runs share one file.

JSON Lines: each row is one ``os.write`` on an ``O_APPEND`` descriptor, so concurrent writers never
interleave within a line. CSV: a new file is written whole to a temporary file and linked into place
(``os.link`` fails if another run created it first, in which case we append); rows are then appended
like JSON lines, after checking that the header is the same. No torch here.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from archcalc.errors import OptionError
from archcalc.fileio import plain_mode

FORMATS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv"}


def out_format(path: str) -> str:
    """'jsonl' or 'csv' from the file's extension, or an OptionError."""
    fmt = FORMATS.get(Path(path).suffix.lower())
    if fmt is None:
        raise OptionError(f"--out {path}: cannot tell the format from the extension",
                          hint="use .jsonl for JSON Lines or .csv")
    return fmt


def _cell(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return "; ".join(str(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True)
    return "" if value is None else value


def _append_bytes(path: str, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)  # less the umask, as open() does
    try:
        written = os.write(fd, data)
        if written != len(data):
            raise OSError(f"short write to {path}")
    finally:
        os.close(fd)


def append_jsonl(path: str, rows: Sequence[Mapping[str, Any]]) -> None:
    for row in rows:
        _append_bytes(path, (json.dumps(row, default=str) + "\n").encode())


def _csv_text(rows: Sequence[Mapping[str, Any]], columns: Sequence[str], header: bool) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    if header:
        writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(c)) for c in columns])
    return buf.getvalue()


def append_csv(path: str, rows: Sequence[Mapping[str, Any]]) -> None:
    if not rows:
        return
    columns = list(rows[0])
    target = Path(path)
    if not target.exists():
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent or Path("."))
        try:
            os.chmod(tmp, plain_mode())  # not mkstemp's 0600
            with os.fdopen(fd, "w", newline="") as f:
                f.write(_csv_text(rows, columns, header=True))
            try:
                os.link(tmp, path)  # atomic create-if-absent: the file appears whole, header and rows
                return
            except FileExistsError:
                pass  # another run created it meanwhile: append below
        finally:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
    with open(path, newline="") as f:
        existing = next(csv.reader(f), [])
    if existing != columns:
        raise OptionError(f"--out {path}: the file's columns differ from this version's",
                          hint="write to a new file")
    for row in rows:
        _append_bytes(path, _csv_text([row], columns, header=False).encode())


def append_results(path: str, rows: Sequence[Mapping[str, Any]]) -> None:
    """Append ``rows`` (flat dicts with the same keys) to ``path`` as JSON Lines or CSV."""
    if out_format(path) == "csv":
        append_csv(path, rows)
    else:
        append_jsonl(path, rows)
