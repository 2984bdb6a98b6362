"""Variables in specs: ``$name`` and ``${expression}``, evaluated safely.

A scalar that is exactly ``$x`` or ``${...}`` takes the value (an int stays an int); any other string
containing references is interpolated (``conv${stage}_$i`` → ``conv3_2``). Expressions allow numbers,
names, + − * / // % **, comparisons, and/or/not, ``a if c else b``, min, max, round — nothing else.
"""

from __future__ import annotations

import ast
import operator
import re
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

from archcalc.errors import SourceLocation, SpecError, did_you_mean

_WHOLE = re.compile(r"^\$(?:([A-Za-z_]\w*)|\{(.*)\})$", re.S)
_REF = re.compile(r"\$(?:([A-Za-z_]\w*)|\{([^}]*)\})")

_BINOPS: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow,
}
_CMPOPS: dict[type[ast.cmpop], Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
    ast.Gt: operator.gt, ast.GtE: operator.ge,
}
_FUNCS: dict[str, Callable[..., Any]] = {"min": min, "max": max, "round": round, "int": int}


def has_refs(text: str) -> bool:
    return "$" in text and _REF.search(text) is not None


def _normalise(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


@lru_cache(maxsize=4096)
def _parse(expr: str) -> ast.Expression | None:
    """Parse once per distinct expression (specs repeat the same few thousands of times)."""
    try:
        return ast.parse(expr, mode="eval")
    except SyntaxError:
        return None


def evaluate(expr: str, env: Mapping[str, Any], where: SourceLocation | None) -> Any:
    """Evaluate one expression over ``env``; every failure is a SpecError at ``where``."""
    tree = _parse(expr.strip())
    if tree is None:
        raise SpecError(f"cannot parse expression '{expr}'", where)
    if isinstance(tree.body, ast.Name):  # the common case, $name: skip the tree walk
        name = tree.body.id
        if name in env:
            return env[name]

    def ev(node: ast.AST) -> Any:
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float | str | bool):
            return node.value
        if isinstance(node, ast.Name):
            if node.id not in env:
                raise SpecError(f"undefined variable '{node.id}'", where, did_you_mean(node.id, env))
            return env[node.id]
        if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
            left, right = ev(node.left), ev(node.right)
            if isinstance(node.op, ast.Pow) and isinstance(right, int | float) and abs(right) > 64:
                raise SpecError(f"exponent too large in '{expr}'", where)
            try:
                return _normalise(_BINOPS[type(node.op)](left, right))
            except (ZeroDivisionError, TypeError) as exc:
                raise SpecError(f"cannot evaluate '{expr}': {exc}", where) from None
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd | ast.Not):
            value = ev(node.operand)
            if isinstance(node.op, ast.Not):
                return not value
            return -value if isinstance(node.op, ast.USub) else +value
        if isinstance(node, ast.BoolOp):
            values = [ev(v) for v in node.values]
            return all(values) if isinstance(node.op, ast.And) else any(values)
        if isinstance(node, ast.Compare) and all(type(op) in _CMPOPS for op in node.ops):
            left = ev(node.left)
            for op, comp in zip(node.ops, node.comparators, strict=True):
                right = ev(comp)
                if not _CMPOPS[type(op)](left, right):
                    return False
                left = right
            return True
        if isinstance(node, ast.IfExp):
            return ev(node.body) if ev(node.test) else ev(node.orelse)
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _FUNCS
                and not node.keywords):
            try:
                return _FUNCS[node.func.id](*[ev(a) for a in node.args])
            except (TypeError, ValueError) as exc:
                raise SpecError(f"cannot evaluate '{expr}': {exc}", where) from None
        raise SpecError(f"unsupported expression '{expr}' (numbers, variables, arithmetic,"
                        " comparisons, min/max only)", where)

    return ev(tree)


def substitute(text: str, env: Mapping[str, Any], where: SourceLocation | None) -> Any:
    """Resolve ``$`` references in one scalar string (value for a whole reference, else a string)."""
    whole = _WHOLE.match(text)
    if whole:
        return evaluate(whole.group(1) or whole.group(2), env, where)

    def repl(m: re.Match[str]) -> str:
        return str(evaluate(m.group(1) or m.group(2), env, where))

    return _REF.sub(repl, text)
