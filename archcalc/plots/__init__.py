"""Pictures of a network: per-layer charts and comparisons (matplotlib) and block diagrams (plain SVG).

Everything drawn comes from the calculator's Report or graph IR; these modules only lay it out. The
chart functions return the data they plotted so tests (and callers) can check it against the numbers.
matplotlib is the optional ``plot`` extra and is imported only inside the functions that draw with it.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from archcalc.errors import OptionError

#: output formats, chosen by the file extension
FORMATS = (".png", ".svg")


def output_format(path: str | Path, allowed: tuple[str, ...] = FORMATS) -> str:
    """The format ('png' or 'svg') named by a file's extension, or a one-line OptionError."""
    suffix = Path(path).suffix.lower()
    if suffix not in allowed:
        raise OptionError(f"cannot tell the image format of '{path}'",
                          hint=f"use a file name ending in {' or '.join(allowed)}")
    return suffix[1:]


def write_atomic(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder, so a reader never sees half."""
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise OptionError(f"cannot write '{path}': folder '{folder}' does not exist")
    mode = target.stat().st_mode & 0o777 if target.exists() else 0o644  # mkstemp's 0600 is too private
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


__all__ = ["FORMATS", "output_format", "write_atomic"]
