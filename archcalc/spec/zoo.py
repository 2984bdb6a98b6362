"""The zoo: the bundled specs, found inside the installed package or beside a source checkout.

A spec file is one network (``vgg16.yaml``) or one family with named ``variants:`` (``efficientnet.yaml``
holds efficientnet_b0 … efficientnet_b7). A family's variants are zoo names; its file's own stem is not.
A variant is found from its name's prefix (the family file whose stem begins it), so loading one reads
one file.

Finding a zoo name's file works on strings (:func:`find`): a zoo command's start-up then imports no
pathlib (16M instructions, 6% of a cold ``archcalc summary vgg16``); the functions that hand out paths
return ``Path`` as before.
"""

from __future__ import annotations

import os
import re
from functools import cache
from typing import TYPE_CHECKING

from archcalc.errors import ZooError, did_you_mean

if TYPE_CHECKING:
    from pathlib import Path

_PACKAGE = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
#: a top-level 'variants:' mapping and its keys (two-space indented), read without parsing the YAML
_VARIANTS = re.compile(r"^variants:[ \t]*(?:#.*)?\n((?:(?:[ \t]+.*|[ \t]*#.*)?\n)*)", re.MULTILINE)
#: (a pattern, compiled by ``re`` where first used: a one-network file has no variants)
_VARIANT_KEY = r"(?m)^  ([A-Za-z0-9_][A-Za-z0-9_.\-]*)[ \t]*:"


@cache
def zoo_folder() -> str:
    """``archcalc/specs`` in a wheel; the repository's top-level ``specs/`` in a source checkout."""
    for candidate in (os.path.join(_PACKAGE, "specs"), os.path.join(os.path.dirname(_PACKAGE), "specs")):
        if os.path.isdir(candidate):
            return candidate
    return os.path.join(_PACKAGE, "specs")


def zoo_dir() -> Path:
    """:func:`zoo_folder` as a Path."""
    from pathlib import Path

    return Path(zoo_folder())


def variants_of(file: str | Path) -> list[str]:
    """The variant names a spec file declares (its ``variants:`` keys), in order; [] for one network."""
    with open(file, encoding="utf-8", errors="replace") as fh:
        text = fh.read()
    found = _VARIANTS.search(text)
    return re.findall(_VARIANT_KEY, found.group(1)) if found else []


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
    from pathlib import Path

    file, variant = find(name)
    return Path(file), variant


def find(name: str) -> tuple[str, str | None]:
    """:func:`locate` with the file as a string."""
    folder = zoo_folder()
    candidate = os.path.join(folder, f"{name}.yaml")
    if os.path.isfile(candidate) and not variants_of(candidate):
        return candidate, None
    # a variant: its family's file is named by a prefix of it (efficientnet_b3 → efficientnet.yaml)
    for cut in range(len(name) - 1, 0, -1):
        family = os.path.join(folder, f"{name[:cut]}.yaml")
        if os.path.isfile(family) and name in variants_of(family):
            return family, name
    found = index().get(name)
    if found is not None:
        return str(found[0]), found[1]
    raise ZooError(f"unknown zoo spec '{name}' and no such file", None,
                   did_you_mean(name, names()) or "run 'archcalc list' to see the zoo")


def path(name: str) -> Path:
    """The file of zoo spec ``name``, or a ZooError with a suggestion."""
    return locate(name)[0]
