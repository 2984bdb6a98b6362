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

import re
from collections.abc import Sequence

from archcalc.arith import Num
from archcalc.errors import OptionError


def si(value: float, digits: int = 2) -> str:
    """3 significant-ish digits with an SI suffix (K, M, G, T); small values unchanged."""
    for factor, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "K")):
        if abs(value) >= factor:
            return f"{value / factor:.{digits}f}{suffix}"
    return f"{value:g}" if isinstance(value, float) else str(value)


def count(value: int) -> str:
    """An exact count with thousands separators: 138,357,544."""
    return f"{value:,}"


def human_bytes(value: float) -> str:
    """Decimal units (MB = 10⁶ bytes), as the CS231n slides and datasheets use."""
    for factor, suffix in ((1e12, "TB"), (1e9, "GB"), (1e6, "MB"), (1e3, "KB")):
        if abs(value) >= factor:
            return f"{value / factor:.2f} {suffix}"
    return f"{value:.0f} B"


def shape(dims: Sequence[int | float]) -> str:
    return "×".join(str(d) for d in dims)


_UNITS = {"": 1, "b": 1, "k": 10**3, "kb": 10**3, "m": 10**6, "mb": 10**6, "g": 10**9, "gb": 10**9,
          "t": 10**12, "tb": 10**12, "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}


def parse_bytes(text: str) -> int:
    """'80GB', '80 GiB', '512MB', '1e9' → bytes (GB = 10⁹, GiB = 2³⁰)."""
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:[eE][0-9]+)?)\s*([A-Za-z]*)\s*", text)
    if not m or m.group(2).lower() not in _UNITS:
        raise OptionError(f"cannot read memory size '{text}' (try 80GB, 16GiB or 512MB)")
    return int(float(m.group(1)) * _UNITS[m.group(2).lower()])


def json_number(value: Num) -> int | float:
    """A receptive-field quantity for JSON: an int, or the float nearest an exact fraction (behind
    upsampling; the text renderers print the fraction itself, 7/2)."""
    return value if isinstance(value, int) else float(value)
