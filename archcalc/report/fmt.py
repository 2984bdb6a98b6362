"""Number formatting shared by the renderers: exact counts with separators, SI for large figures.

>>> si(15_470_264_320)
'15.47G'
>>> si(3_211_264)
'3.21M'
>>> human_bytes(60_950_432)
'60.95 MB'
>>> parse_bytes("80GB"), parse_bytes("1.5GiB")
(80000000000, 1610612736)
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from archcalc.arith import Num
from archcalc.errors import OptionError


def _sci(value: float, digits: int) -> str:
    """Scientific notation for any int or float, however large (an int is never converted to float)."""
    if not isinstance(value, int):
        value = float(value)  # a float, or a bounded Fraction (a receptive field behind upsampling)
        if not math.isfinite(value):
            return str(value)
    from decimal import Decimal  # only beyond the SI suffixes: not on every command's start-up path

    return f"{Decimal(value):.{digits}e}"


def si(value: float, digits: int = 2) -> str:
    """3 significant-ish digits with an SI suffix (K, M, G, T); small values unchanged; beyond 1000T
    (and for counts past what a float holds), scientific notation.

    >>> si(10**400)
    '1.00e+400'
    """
    if not abs(value) < 1e15:
        return _sci(value, digits)
    for factor, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "K")):
        if abs(value) >= factor:
            return f"{value / factor:.{digits}f}{suffix}"
    return f"{value:g}" if isinstance(value, float) else str(value)


def count(value: int) -> str:
    """An exact count with thousands separators: 138,357,544 (scientific past 40 digits)."""
    if value.bit_length() > 128:
        return _sci(value, 3)
    return f"{value:,}"


def human_bytes(value: float) -> str:
    """Decimal units (MB = 10⁶ bytes), as the CS231n slides and datasheets use.

    >>> human_bytes(10**400)
    '1.00e+400 B'
    """
    if not abs(value) < 1e15:
        return f"{_sci(value, 2)} B"
    for factor, suffix in ((1e12, "TB"), (1e9, "GB"), (1e6, "MB"), (1e3, "KB")):
        if abs(value) >= factor:
            return f"{value / factor:.2f} {suffix}"
    return f"{value:.0f} B"


# ---- spec text is data, never markup ---------------------------------------------------------------------
#: the characters with a meaning somewhere in CommonMark or GitHub's tables and math; ':' ',' '(' '.' stay
#: (a pattern, compiled by ``re`` where first used: most runs write no markdown)
_MARKDOWN = "([" + re.escape("\\`*_{}[]<>#!&|$~^") + "])"
_LATEX = {"\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "$": r"\$", "&": r"\&", "#": r"\#",
          "^": r"\^{}", "_": r"\_", "%": r"\%", "~": r"\textasciitilde{}"}


def escape(text: str, fmt: str) -> str:
    r"""Spec text (a name, a description) made inert in a markup format, so it reads as written:
    markdown/github escape every mark that could open markup (CommonMark allows escaping any punctuation),
    latex its ten specials.

    >>> print(escape("[x](y) <b>: 1, 2", "markdown"), escape("50% of $x_1$", "latex"))
    \[x\](y) \<b\>: 1, 2 50\% of \$x\_1\$
    """
    if fmt in ("markdown", "github"):
        return re.sub(_MARKDOWN, r"\\\1", text)
    if fmt == "latex":
        return "".join(_LATEX.get(c, c) for c in text)
    return text


@contextmanager
def literal_text() -> Iterator[None]:
    """Inside it, matplotlib draws '$' as a dollar sign, not the start of mathtext: a spec named
    'a$\\frac{$b' crashed plot and diagram. Rich consoles get the same from ``markup=False``."""
    try:
        import matplotlib
    except ImportError:  # nothing will be drawn
        yield
        return
    with matplotlib.rc_context({"text.parse_math": False}):
        yield


def shape(dims: Sequence[int | float]) -> str:
    return "×".join(str(d) for d in dims)


_UNITS = {"": 1, "b": 1, "k": 10**3, "kb": 10**3, "m": 10**6, "mb": 10**6, "g": 10**9, "gb": 10**9,
          "t": 10**12, "tb": 10**12, "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}


#: The largest memory size an option takes (8 EiB): beyond it no machine, and no 64-bit count.
MAX_BYTES = 2**63 - 1


def parse_bytes(text: str) -> int:
    """'80GB', '80 GiB', '512MB', '1e9' → bytes (GB = 10⁹, GiB = 2³⁰), at most 8 EiB."""
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:[eE][0-9]+)?)\s*([A-Za-z]*)\s*", text)
    if not m or m.group(2).lower() not in _UNITS:
        raise OptionError(f"cannot read memory size '{text}' (try 80GB, 16GiB or 512MB)")
    from decimal import Decimal  # only when an option names a size

    try:
        amount = Decimal(m.group(1)) * _UNITS[m.group(2).lower()]  # exact: a float overflows at 1e309
    except ArithmeticError:  # an exponent beyond what Decimal's context holds
        amount = Decimal(MAX_BYTES + 1)
    if amount > MAX_BYTES:
        raise OptionError(f"memory size '{text[:40]}' is larger than 8 EiB")
    return int(amount)


def json_number(value: Num) -> int | float:
    """A receptive-field quantity for JSON: an int, or the float nearest an exact fraction (behind
    upsampling; the text renderers print the fraction itself, 7/2)."""
    return value if isinstance(value, int) else float(value)
