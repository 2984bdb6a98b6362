"""The zoo: the bundled specs, found inside the installed package or beside a source checkout."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from archcalc.errors import ZooError, did_you_mean

_PACKAGE = Path(__file__).resolve().parent.parent


@cache
def zoo_dir() -> Path:
    """``archcalc/specs`` in a wheel; the repository's top-level ``specs/`` in a source checkout."""
    for candidate in (_PACKAGE / "specs", _PACKAGE.parent / "specs"):
        if candidate.is_dir():
            return candidate
    return _PACKAGE / "specs"


def names() -> list[str]:
    """Every zoo spec's name, sorted."""
    return sorted(p.stem for p in zoo_dir().glob("*.yaml"))


def path(name: str) -> Path:
    """The file of zoo spec ``name``, or a ZooError with a suggestion."""
    candidate = zoo_dir() / f"{name}.yaml"
    if candidate.is_file():
        return candidate
    known = names()
    raise ZooError(f"unknown zoo spec '{name}' and no such file", None,
                   did_you_mean(name, known) or "run 'archcalc list' to see the zoo")
