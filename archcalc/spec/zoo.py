"""The zoo: the bundled specs, found inside the installed package or beside a source checkout.

A spec file is one network (``vgg16.yaml``) or one family with named ``variants:`` (``efficientnet.yaml``
holds efficientnet_b0 … efficientnet_b7). A family's variants are zoo names; its file's own stem is not.
A variant is found from its name's prefix (the family file whose stem begins it), so loading one reads
one file.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from archcalc.errors import ZooError, did_you_mean

_PACKAGE = Path(__file__).resolve().parent.parent
#: a top-level 'variants:' mapping and its keys (two-space indented), read without parsing the YAML
_VARIANTS = re.compile(r"^variants:[ \t]*(?:#.*)?\n((?:(?:[ \t]+.*|[ \t]*#.*)?\n)*)", re.MULTILINE)
_VARIANT_KEY = re.compile(r"^  ([A-Za-z0-9_][A-Za-z0-9_.\-]*)[ \t]*:", re.MULTILINE)


@cache
def zoo_dir() -> Path:
    """``archcalc/specs`` in a wheel; the repository's top-level ``specs/`` in a source checkout."""
    for candidate in (_PACKAGE / "specs", _PACKAGE.parent / "specs"):
        if candidate.is_dir():
            return candidate
    return _PACKAGE / "specs"


def variants_of(file: Path) -> list[str]:
    """The variant names a spec file declares (its ``variants:`` keys), in order; [] for one network."""
    text = file.read_text(encoding="utf-8", errors="replace")
    found = _VARIANTS.search(text)
    return _VARIANT_KEY.findall(found.group(1)) if found else []


@cache
def index() -> dict[str, tuple[Path, str | None]]:
    """Every zoo name → (its file, its variant or None)."""
    out: dict[str, tuple[Path, str | None]] = {}
    for file in sorted(zoo_dir().glob("*.yaml")):
        variants = variants_of(file)
        if variants:
            out.update({v: (file, v) for v in variants})
        else:
            out[file.stem] = (file, None)
    return out


def names() -> list[str]:
    """Every zoo name (networks and families' variants), sorted."""
    return sorted(index())


def locate(name: str) -> tuple[Path, str | None]:
    """The file of zoo name ``name`` and the variant it names (None for a one-network file)."""
    folder = zoo_dir()
    candidate = folder / f"{name}.yaml"
    if candidate.is_file() and not variants_of(candidate):
        return candidate, None
    # a variant: its family's file is named by a prefix of it (efficientnet_b3 → efficientnet.yaml)
    for cut in range(len(name) - 1, 0, -1):
        family = folder / f"{name[:cut]}.yaml"
        if family.is_file() and name in variants_of(family):
            return family, name
    found = index().get(name)
    if found is not None:
        return found
    raise ZooError(f"unknown zoo spec '{name}' and no such file", None,
                   did_you_mean(name, names()) or "run 'archcalc list' to see the zoo")


def path(name: str) -> Path:
    """The file of zoo spec ``name``, or a ZooError with a suggestion."""
    return locate(name)[0]
