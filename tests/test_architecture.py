"""The house rule that keeps one source of truth per layer type, checked on the source itself.

Outside ``archcalc/layers`` and ``archcalc/spec`` (and the IR that carries them), no code may compare a
layer's type name with a string or read a node's raw attributes: every consumer reads the resolved
record (``archcalc.layers.Resolved``). Looking a type up in a table keyed by its name (the torch
backend's ``BUILDERS``) is allowed; branching on the name is not.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "archcalc"
ALLOWED = ("layers", "spec", "ir.py")
#: The importer writes specs: the attributes it sets are its output in the spec language (checked against the
#: catalogue's declarations), not a node's attributes read back. Its type-name comparisons are still checked.
WRITERS = (("backends", "torch", "importer"),)
#: torch.fx node kinds: a ``.op`` compared with one of these is fx's, not a layer type name
FX_KINDS = frozenset({"placeholder", "get_attr", "call_function", "call_module", "call_method", "output"})


def _consumers() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if p.relative_to(PACKAGE).parts[0] not in ALLOWED)


def _writes_specs(path: Path) -> bool:
    return any(path.relative_to(PACKAGE).parts[:len(w)] == w for w in WRITERS)


def _is_str(node: ast.expr) -> bool:
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str) and node.value not in FX_KINDS
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        return any(_is_str(e) for e in node.elts)
    return False


def _is_op(node: ast.expr) -> bool:
    return isinstance(node, ast.Attribute) and node.attr == "op"


def violations(source: str, where: str, writes_specs: bool = False) -> list[str]:
    """Type-name comparisons with strings and raw-attribute reads in one module's source."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
            if any(_is_op(s) for s in sides) and any(_is_str(s) for s in sides):
                found.append(f"{where}:{node.lineno}: compares a type name with a string")
        elif isinstance(node, ast.Attribute) and node.attr == "attrs" and not writes_specs:
            found.append(f"{where}:{node.lineno}: reads a node's raw attributes")
    return found


def test_the_guard_catches_what_it_forbids() -> None:
    bad = ('if node.op == "conv": pass\n'
           'if node.op in ("add", "concat"): pass\n'
           'k = node.attrs["k"]\n')
    assert len(violations(bad, "bad.py")) == 3
    good = 'module = BUILDERS[rec.op]\nif rec.family is Family.CONV: pass\nname = rec.op\n'
    assert violations(good, "good.py") == []


@pytest.mark.parametrize("path", _consumers(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_consumers_read_only_the_resolved_record(path: Path) -> None:
    assert violations(path.read_text(encoding="utf-8"), str(path.relative_to(PACKAGE)), _writes_specs(path)) == []
