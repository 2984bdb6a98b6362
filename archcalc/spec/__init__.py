"""From a zoo name or a YAML file to the graph IR."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from archcalc.gc_pause import gc_paused
from archcalc.spec import zoo
from archcalc.spec.loader import parse_file, parse_text

if TYPE_CHECKING:
    from pathlib import Path

    from archcalc.ir import Graph, Shape
    from archcalc.spec.expand import parse_shape


def __getattr__(name: str) -> Any:
    """``parse_shape``, imported on first use: the expander (and with it every layer type) is imported only
    to expand a spec, so that zoo lookups and ``archcalc list`` with its rows cached never pay for it."""
    if name == "parse_shape":
        from archcalc.spec.expand import parse_shape

        return parse_shape
    raise AttributeError(f"module 'archcalc.spec' has no attribute {name!r}")


def resolve(ref: str) -> tuple[Path, str, str | None]:
    """A spec reference → (file, name shown in messages, variant).

    The reference is a path to a .yaml file (``FILE.yaml:VARIANT`` picks one of its variants) or a zoo
    name (a network, or a family's variant such as efficientnet_b3).
    """
    from pathlib import Path

    candidate = Path(ref)
    if candidate.suffix in (".yaml", ".yml") or candidate.is_file():
        return candidate, ref, None
    stem, sep, variant = ref.rpartition(":")
    if sep and Path(stem).suffix in (".yaml", ".yml"):
        return Path(stem), stem, variant
    found, variant_name = zoo.locate(ref)
    return found, f"{found.stem}.yaml", variant_name


#: the characters of a reference that can only be a zoo name (no folder, no ':VARIANT'; checked without a
#: regular expression, whose compiling would cost start-up)
_ZOO_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")


def _resolve(ref: str) -> tuple[str | Path, str, str | None]:
    """:func:`resolve`, with a zoo name's file found as a string (no pathlib on a zoo command's start-up).

    Only a reference that :func:`resolve` would send to the zoo takes the short way: a plain name that is
    not a file here; anything else goes through :func:`resolve` itself.
    """
    if (ref and ref[0] not in ".-" and _ZOO_CHARS.issuperset(ref) and not ref.endswith((".yaml", ".yml"))
            and not os.path.isfile(ref)):
        file, variant = zoo.find(ref)
        return file, os.path.basename(file), variant  # (every zoo file is NAME.yaml)
    return resolve(ref)


def load(ref: str, overrides: Mapping[str, Any] | None = None, input_shape: Shape | None = None) -> Graph:
    """Load and expand a spec by zoo name or path."""
    from archcalc.spec.expand import Expander

    file, display, variant = _resolve(ref)
    with gc_paused():  # many small acyclic objects (archcalc.gc_pause)
        doc = parse_file(file, display)
        return Expander(doc, display, overrides, input_shape, variant).expand()


def load_text(text: str, filename: str = "<spec>", overrides: Mapping[str, Any] | None = None,
              input_shape: Shape | None = None) -> Graph:
    """Load and expand a spec given as YAML text (tests, generated specs)."""
    from archcalc.spec.expand import Expander

    with gc_paused():
        return Expander(parse_text(text, filename), filename, overrides, input_shape).expand()


__all__ = ["load", "load_text", "parse_shape", "resolve"]
