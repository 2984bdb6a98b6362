"""Pictures of a network: per-layer charts and comparisons (matplotlib) and block diagrams (plain SVG).

Everything drawn comes from the calculator's Report or graph IR; these modules only lay it out. The
chart functions return the data they plotted so tests (and callers) can check it against the numbers.
matplotlib is the optional ``plot`` extra and is imported only inside the functions that draw with it.
"""

from __future__ import annotations

from pathlib import Path

from archcalc.errors import OptionError
from archcalc.fileio import write_atomic

#: output formats, chosen by the file extension
FORMATS = (".png", ".svg")


def output_format(path: str | Path, allowed: tuple[str, ...] = FORMATS) -> str:
    """The format ('png' or 'svg') named by a file's extension, or a one-line OptionError."""
    suffix = Path(path).suffix.lower()
    if suffix not in allowed:
        raise OptionError(f"cannot tell the image format of '{path}'",
                          hint=f"use a file name ending in {' or '.join(allowed)}")
    return suffix[1:]


__all__ = ["FORMATS", "output_format", "write_atomic"]
