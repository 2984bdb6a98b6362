"""From a zoo name or a YAML file to the graph IR."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from archcalc.ir import Graph, Shape
from archcalc.spec import zoo
from archcalc.spec.expand import Expander, parse_shape
from archcalc.spec.loader import parse_file, parse_text


def resolve(ref: str) -> tuple[Path, str]:
    """A spec reference (a path to a .yaml file, or a zoo name) → (file, name shown in messages)."""
    candidate = Path(ref)
    if candidate.suffix in (".yaml", ".yml") or candidate.is_file():
        return candidate, ref
    found = zoo.path(ref)
    return found, f"{ref}.yaml"


def load(ref: str, overrides: Mapping[str, Any] | None = None, input_shape: Shape | None = None) -> Graph:
    """Load and expand a spec by zoo name or path."""
    file, display = resolve(ref)
    doc = parse_file(file, display)
    return Expander(doc, display, overrides, input_shape).expand()


def load_text(text: str, filename: str = "<spec>", overrides: Mapping[str, Any] | None = None,
              input_shape: Shape | None = None) -> Graph:
    """Load and expand a spec given as YAML text (tests, generated specs)."""
    return Expander(parse_text(text, filename), filename, overrides, input_shape).expand()


__all__ = ["load", "load_text", "parse_shape", "resolve"]
