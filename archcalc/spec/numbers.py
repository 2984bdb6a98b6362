"""The numbers a spec may hold: integers and finite floats within 64-bit range.

Checked where a number is written (YAML, ``--set``, ``input``) and where an expression computes one, so
no later pass meets a 4,300-digit integer, an infinity or a NaN: arithmetic on bounded numbers stays
cheap, and every figure derived from them stays finite and printable.
"""

from __future__ import annotations

import math
from typing import Any

from archcalc.errors import SourceLocation, SpecError

#: The largest magnitude of a number in a spec (2⁶³ − 1: what torch and every file format can hold).
MAX_INT = 2**63 - 1
RANGE = "numbers in a spec fit in 64 bits: at most 9.2e18"
MAX_FLOAT = float(MAX_INT)
#: Longest integer literal read (more digits could only exceed MAX_INT; int() of them is quadratic).
MAX_DIGITS = 40


def is_number(value: Any) -> bool:
    """An int or float, not a bool (YAML's true is not 1 in a spec)."""
    return type(value) in _NUMBER_TYPES


_NUMBER_TYPES = frozenset({int, float})


def too_large(value: int | float) -> bool:
    """Whether ``value`` is out of the range a spec may hold (or not finite)."""
    if isinstance(value, float):
        return not math.isfinite(value) or abs(value) > MAX_FLOAT
    return abs(value) > MAX_INT


def checked(value: Any, where: SourceLocation | None, what: str = "number") -> Any:
    """``value`` unchanged if it is not a number or is in range; else a located SpecError."""
    if not is_number(value) or not too_large(value):
        return value
    if isinstance(value, float) and not math.isfinite(value):
        raise SpecError(f"{what} {value} is not a finite number", where)
    shown = f"{value:.3g}" if isinstance(value, float) else _short_int(value)
    raise SpecError(f"{what} {shown} is out of range", where, RANGE)


def _short_int(value: int) -> str:
    """A huge integer shown by its size, never converted to decimal whole (that is quadratic)."""
    if value.bit_length() <= 128:
        return str(value)
    return f"{'-' if value < 0 else ''}2^{value.bit_length() - 1}…"


def parse_int(text: str, where: SourceLocation | None) -> int:
    """An integer literal as YAML 1.2's core schema writes it (``12``, ``-3``, ``0o17``, ``0x1f``), bounded."""
    body = text.lstrip("+-")
    if len(body) > MAX_DIGITS:
        raise SpecError(f"integer with {len(body)} digits is out of range", where, RANGE)
    sign = -1 if text.startswith("-") else 1
    if body[:2] == "0o":
        value = int(body[2:], 8)
    elif body[:2] == "0x":
        value = int(body[2:], 16)
    else:
        value = int(body, 10)
    return int(checked(sign * value, where, "integer"))
