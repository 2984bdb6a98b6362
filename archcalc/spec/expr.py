"""Variables in specs: ``$name`` and ``${expression}``, evaluated safely.

A scalar that is exactly ``$x`` or ``${...}`` takes the value (an int stays an int); any other string
containing references is interpolated (``conv${stage}_$i`` → ``conv3_2``). Expressions allow numbers,
names, + − * / // % **, comparisons, and/or/not, ``a if c else b``, min, max, round, int — nothing else.

Typed and bounded, so a hostile expression costs little and fails in one located line: arithmetic and
ordering take numbers only (strings may be compared for equality, ``shortcut == 'B'``); every number an
operator computes stays within the spec's 64-bit range, checked before a power is computed; the
expression's text, its nesting and any interpolated string are capped in length.
"""

from __future__ import annotations

import ast
import operator
import re
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

from archcalc.errors import SourceLocation, SpecError, did_you_mean
from archcalc.spec.numbers import MAX_INT, RANGE, checked, is_number, too_large

_WHOLE = re.compile(r"^\$(?:([A-Za-z_]\w*)|\{(.*)\})$", re.S)
_REF = re.compile(r"\$(?:([A-Za-z_]\w*)|\{([^}]*)\})")

#: Longest expression text: a spec's own expressions are a few dozen characters.
MAX_EXPR_CHARS = 1000
#: Deepest nesting of operators an expression may have.
MAX_EXPR_DEPTH = 50
#: Longest string an interpolation (``conv${s}_$i``) may build: names and labels are short.
MAX_STRING = 10_000
#: Longest expression whose parse is cached (longer ones are rare, and their trees large).
_CACHED_CHARS = 200

_BINOPS: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow,
}
_CMPOPS: dict[type[ast.cmpop], Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
    ast.Gt: operator.gt, ast.GtE: operator.ge,
}
_EQUALITY = (ast.Eq, ast.NotEq)
_FUNCS: dict[str, Callable[..., Any]] = {"min": min, "max": max, "round": round, "int": int}
#: How many arguments each function takes (round: the number and, optionally, its digits).
_ARITY = {"min": (2, 64), "max": (2, 64), "round": (1, 2), "int": (1, 1)}


def has_refs(text: str) -> bool:
    return "$" in text and _REF.search(text) is not None


def _normalise(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


def _parse_uncached(expr: str) -> ast.Expression | None:
    try:
        return ast.parse(expr, mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


_parse_cached = lru_cache(maxsize=4096)(_parse_uncached)


def _parse(expr: str) -> ast.Expression | None:
    """Parse once per distinct short expression (specs repeat the same few thousands of times)."""
    return _parse_cached(expr) if len(expr) <= _CACHED_CHARS else _parse_uncached(expr)


_KINDS = {bool: "a boolean", str: "a string", list: "a list", dict: "a mapping", type(None): "null"}


def _kind(value: Any) -> str:
    if is_number(value):
        return "a number"
    return next((text for t, text in _KINDS.items() if isinstance(value, t)), type(value).__name__)


def evaluate(expr: str, env: Mapping[str, Any], where: SourceLocation | None) -> Any:
    """Evaluate one expression over ``env``; every failure is a SpecError at ``where``."""
    if len(expr) > MAX_EXPR_CHARS:
        raise SpecError(f"expression is longer than {MAX_EXPR_CHARS} characters", where)
    tree = _parse(expr.strip())
    if tree is None:
        raise SpecError(f"cannot parse expression '{expr}'", where)
    if isinstance(tree.body, ast.Name):  # the common case, $name: skip the tree walk
        name = tree.body.id
        if name in env:
            return env[name]

    def fail(why: str) -> SpecError:
        return SpecError(f"cannot evaluate '{expr}': {why}", where)

    def number(value: Any, what: str) -> int | float:
        if not is_number(value):
            raise fail(f"{what} needs numbers, got {_kind(value)}")
        return value  # type: ignore[no-any-return]

    def bounded(value: Any) -> Any:
        if isinstance(value, complex):
            raise fail("the result is not a real number")
        if is_number(value) and too_large(value):
            raise SpecError(f"cannot evaluate '{expr}': the result is out of range", where, RANGE)
        return _normalise(value)

    def power(base: int | float, exponent: int | float) -> Any:
        if abs(exponent) > 64:
            raise SpecError(f"exponent too large in '{expr}'", where)
        if isinstance(base, int) and isinstance(exponent, int) and exponent > 0 and abs(base) > 1 \
                and (abs(base).bit_length() - 1) * exponent > MAX_INT.bit_length():
            raise SpecError(f"cannot evaluate '{expr}': the result is out of range", where, RANGE)
        return base**exponent  # both bounded: at most 2^(64·64) before the range check, in practice far less

    def ev(node: ast.AST, depth: int) -> Any:
        if depth > MAX_EXPR_DEPTH:
            raise SpecError(f"expression nests deeper than {MAX_EXPR_DEPTH} levels", where)
        depth += 1
        if isinstance(node, ast.Expression):
            return ev(node.body, depth)
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float | str | bool):
            return checked(node.value, where)
        if isinstance(node, ast.Name):
            if node.id not in env:
                raise SpecError(f"undefined variable '{node.id}'", where, did_you_mean(node.id, env))
            return env[node.id]
        if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
            left = number(ev(node.left, depth), "arithmetic")
            right = number(ev(node.right, depth), "arithmetic")
            try:
                if isinstance(node.op, ast.Pow):
                    return bounded(power(left, right))
                return bounded(_BINOPS[type(node.op)](left, right))
            except (ZeroDivisionError, OverflowError, ValueError) as exc:
                raise fail(str(exc) if not isinstance(exc, OverflowError) else "the result is out of range") \
                    from None
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd | ast.Not):
            value = ev(node.operand, depth)
            if isinstance(node.op, ast.Not):
                return not value
            value = number(value, "a sign")
            return -value if isinstance(node.op, ast.USub) else +value
        if isinstance(node, ast.BoolOp):
            values = [ev(v, depth) for v in node.values]
            return all(values) if isinstance(node.op, ast.And) else any(values)
        if isinstance(node, ast.Compare) and all(type(op) in _CMPOPS for op in node.ops):
            left = ev(node.left, depth)
            for op, comp in zip(node.ops, node.comparators, strict=True):
                right = ev(comp, depth)
                if not isinstance(op, _EQUALITY) and not (is_number(left) and is_number(right)) \
                        and not (isinstance(left, str) and isinstance(right, str)):
                    raise fail(f"cannot order {_kind(left)} and {_kind(right)}")
                if not _CMPOPS[type(op)](left, right):
                    return False
                left = right
            return True
        if isinstance(node, ast.IfExp):
            return ev(node.body, depth) if ev(node.test, depth) else ev(node.orelse, depth)
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _FUNCS
                and not node.keywords):
            func = node.func.id
            low, high = _ARITY[func]
            if not low <= len(node.args) <= high:
                raise fail(f"{func}() takes {low}" + (f" to {high}" if high > low else "") + " arguments")
            args = [number(ev(a, depth), f"{func}()") for a in node.args]
            if func == "round" and len(args) == 2 and (not isinstance(args[1], int) or abs(args[1]) > 30):
                raise fail("round()'s digits must be an integer between -30 and 30")
            try:
                return bounded(_FUNCS[func](*args))
            except (OverflowError, ValueError) as exc:
                raise fail(str(exc)) from None
        raise SpecError(f"unsupported expression '{expr}' (numbers, variables, arithmetic,"
                        " comparisons, min/max/round/int only)", where)

    return ev(tree, 0)


def substitute(text: str, env: Mapping[str, Any], where: SourceLocation | None) -> Any:
    """Resolve ``$`` references in one scalar string (value for a whole reference, else a string)."""
    whole = _WHOLE.match(text)
    if whole:
        return evaluate(whole.group(1) or whole.group(2), env, where)
    built = len(text)

    def repl(m: re.Match[str]) -> str:
        nonlocal built
        value = evaluate(m.group(1) or m.group(2), env, where)
        if not isinstance(value, str | int | float | bool | None):
            raise SpecError(f"cannot interpolate {_kind(value)} into text ('{m.group()}')", where)
        piece = value if isinstance(value, str) else str(value)
        built += len(piece)
        if built > MAX_STRING:
            raise SpecError(f"interpolated text is longer than {MAX_STRING} characters", where)
        return piece

    return _REF.sub(repl, text)

