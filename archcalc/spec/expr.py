"""Variables in specs: ``$name`` and ``${expression}``, evaluated safely.

A scalar that is exactly ``$x`` or ``${...}`` takes the value (an int stays an int); any other string
containing references is interpolated (``conv${stage}_$i`` → ``conv3_2``). Expressions allow numbers,
names, + − * / // % **, comparisons, and/or/not, ``a if c else b``, min, max, round, int, abs, ceil,
floor, log; and lists: literals ``[1, 2]``, comprehensions ``[f(i) for i in range(n) if c]``, ``xs[i]``,
``x in xs``, ``xs + ys``, len, sum, range, unique (first occurrences, in order) and count — nothing else.

Typed and bounded, so a hostile expression costs little and fails in one located line: arithmetic and
ordering take numbers only (strings may be compared for equality, ``shortcut == 'B'``); every number an
operator computes stays within the spec's 64-bit range, checked before a power is computed; the
expression's text, its nesting and any interpolated string are capped in length; a list holds at most
MAX_LIST elements and one evaluation takes at most MAX_EXPR_WORK steps (nodes and elements).
"""

from __future__ import annotations

import ast
import keyword
import math
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
_MEMBERSHIP = (ast.In, ast.NotIn)
#: Functions of numbers: name → (fewest, most arguments). min and max also take one list.
_NUMERIC: dict[str, tuple[Callable[..., Any], int, int]] = {
    "min": (min, 2, 64), "max": (max, 2, 64), "round": (round, 1, 2), "int": (int, 1, 1),
    "abs": (abs, 1, 1), "ceil": (math.ceil, 1, 1), "floor": (math.floor, 1, 1), "log": (math.log, 1, 2),
}
#: Functions of lists (and range): name → (fewest, most arguments).
_LISTWISE: dict[str, tuple[int, int]] = {
    "len": (1, 1), "sum": (1, 1), "range": (1, 3), "unique": (1, 1), "count": (2, 2),
}
FUNCTIONS = (*_NUMERIC, *_LISTWISE)
#: Most elements one list may hold: a spec's lists are per-block or per-stage tables.
MAX_LIST = 10_000
#: Most steps one evaluation may take: nodes visited, plus elements built, iterated or scanned.
MAX_EXPR_WORK = 200_000
_UNSUPPORTED = ("numbers, variables, arithmetic, comparisons, lists, [x for x in range(n)], xs[i], "
                + "/".join(FUNCTIONS) + " only")


def has_refs(text: str) -> bool:
    return "$" in text and not _form(text).plain


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


def _scalar(value: Any) -> bool:
    """A value unique() and count() compare: a number, string or boolean."""
    return is_number(value) or isinstance(value, str | bool)


def _same(a: Any, b: Any) -> bool:
    """Equal, with booleans apart from numbers as everywhere in a spec (true is not 1)."""
    return isinstance(a, bool) == isinstance(b, bool) and bool(a == b)


#: the operators of the short way for integer arithmetic (:func:`_quick_of`)
_INT_BINOPS: dict[type[ast.operator], Callable[[int, int], int]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
}

#: ``a + b``, ``a - b`` or ``a * b`` of names and literals: the operator, then each operand as (name, None) or
#: (None, literal)
Quick = tuple[Callable[[int, int], int], str | None, Any, str | None, Any]


def _quick_of(node: ast.expr) -> Quick | None:
    """``node`` as a :data:`Quick` form, where it is one (a repeat names each block by one: ``block${i + 1}``)."""
    if type(node) is not ast.BinOp or type(node.op) not in _INT_BINOPS:
        return None
    operands: list[Any] = []
    for operand in (node.left, node.right):
        if type(operand) is ast.Name:
            operands += (operand.id, None)
        elif type(operand) is ast.Constant:
            operands += (None, operand.value)
        else:
            return None
    return (_INT_BINOPS[type(node.op)], *operands)


def _quick_value(quick: Quick, env: Mapping[str, Any]) -> int | None:
    """A :data:`Quick` form of two in-range integers (names or literals, not booleans) with an in-range
    result: what the tree walk would give, a few times faster; None for everything else, which the walk
    evaluates, errors included."""
    op, a_name, a, b_name, b = quick
    if a_name is not None:
        a = env.get(a_name)
    if b_name is not None:
        b = env.get(b_name)
    if type(a) is not int or type(b) is not int or abs(a) > MAX_INT or abs(b) > MAX_INT:
        return None
    value = op(a, b)
    return value if abs(value) <= MAX_INT else None


def evaluate(expr: str, env: Mapping[str, Any], where: SourceLocation | None,
             spend: Callable[[int], None] | None = None) -> Any:
    """Evaluate one expression over ``env``; every failure is a SpecError at ``where``.

    ``spend`` (if given) is charged with the steps of an expression that built or read lists (nodes
    visited, elements built, iterated or scanned), so that an expander's own budget sees a
    comprehension evaluated in every iteration of a repeat.
    """
    if len(expr) > MAX_EXPR_CHARS:
        raise SpecError(f"expression is longer than {MAX_EXPR_CHARS} characters", where)
    tree = _parse(expr.strip())
    if tree is None:
        raise SpecError(f"cannot parse expression '{expr}'", where)
    body = tree.body
    if isinstance(body, ast.Name):  # the common case, $name: skip the tree walk
        name = body.id
        if name in env:
            return env[name]
    elif type(body) is ast.BinOp:  # the next most common: a name and a number (block${i + 1})
        form = _quick_of(body)
        quick = None if form is None else _quick_value(form, env)
        if quick is not None:
            return quick
    work = 0
    lists = False  # whether list work was done: then the caller's budget is charged with all of it

    def fail(why: str) -> SpecError:
        return SpecError(f"cannot evaluate '{expr}': {why}", where)

    def charge(steps: int) -> None:
        nonlocal work
        work += steps
        if work > MAX_EXPR_WORK:
            raise SpecError(f"expression '{expr[:60]}' takes more than {MAX_EXPR_WORK:,} steps", where,
                            f"lists hold at most {MAX_LIST:,} elements; nest fewer loops")

    def number(value: Any, what: str) -> int | float:
        if not is_number(value):
            raise fail(f"{what} needs numbers, got {_kind(value)}")
        return value  # type: ignore[no-any-return]

    def integer(value: Any, what: str) -> int:
        if not isinstance(value, int) or isinstance(value, bool):
            raise fail(f"{what} needs an integer, got {_kind(value) if not is_number(value) else value}")
        return value

    def sequence(value: Any, what: str) -> list[Any]:
        nonlocal lists
        if not isinstance(value, list):
            raise fail(f"{what} needs a list, got {_kind(value)}")
        lists = True
        charge(len(value))
        return value

    def sized(items: list[Any]) -> list[Any]:
        nonlocal lists
        lists = True
        if len(items) > MAX_LIST:
            raise fail(f"a list may hold at most {MAX_LIST:,} elements")
        return items

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

    def lookup(name: str, local: Mapping[str, Any]) -> Any:
        if name in local:
            return local[name]
        if name not in env:
            raise SpecError(f"undefined variable '{name}'", where, did_you_mean(name, [*env, *local]))
        return env[name]

    def span(args: list[Any]) -> list[int]:
        bounds = [integer(a, "range()") for a in args]
        start, stop, step = [0, *bounds, 1] if len(bounds) == 1 else [*bounds, 1] if len(bounds) == 2 else bounds
        if step == 0:
            raise fail("range()'s step must not be zero")
        length = max(0, (stop - start + step - (1 if step > 0 else -1)) // step)
        if length > MAX_LIST:
            raise fail(f"range() of {length:,} elements (a list may hold at most {MAX_LIST:,})")
        charge(length)
        return sized(list(range(start, stop, step)))

    def call(func: str, node: ast.Call, depth: int, local: Mapping[str, Any]) -> Any:
        low, high = _NUMERIC[func][1:] if func in _NUMERIC else _LISTWISE[func]
        raw = [ev(a, depth, local) for a in node.args]
        if func in ("min", "max") and len(raw) == 1 and isinstance(raw[0], list):
            items = sequence(raw[0], f"{func}()")
            if not items:
                raise fail(f"{func}() of an empty list")
            raw = items
        elif not low <= len(raw) <= high:
            raise fail(f"{func}() takes {low}" + (f" to {high}" if high > low else "") + " arguments"
                       + (" (or one list)" if func in ("min", "max") else ""))
        if func == "len":
            if not isinstance(raw[0], list | str):
                raise fail(f"len() needs a list or a string, got {_kind(raw[0])}")
            return len(raw[0])
        if func == "range":
            return span(raw)
        if func == "sum":
            total: int | float = 0
            for item in sequence(raw[0], "sum()"):
                total = bounded(total + number(item, "sum()"))
            return total
        if func in ("unique", "count"):
            items = sequence(raw[0], f"{func}()")
            if not all(_scalar(v) for v in items):
                raise fail(f"{func}() needs a list of numbers, strings or booleans")
            if func == "count":
                return sum(1 for v in items if _same(v, raw[1]))
            seen: list[Any] = []
            keys: set[tuple[bool, Any]] = set()
            for v in items:  # booleans apart from numbers, as everywhere in a spec (true is not 1)
                key = (isinstance(v, bool), v)
                if key not in keys:
                    keys.add(key)
                    seen.append(v)
            return seen
        args = [number(a, f"{func}()") for a in raw]
        if func == "round" and len(args) == 2 and (not isinstance(args[1], int) or abs(args[1]) > 30):
            raise fail("round()'s digits must be an integer between -30 and 30")
        if func == "log" and (args[0] <= 0 or (len(args) == 2 and (args[1] <= 0 or args[1] == 1))):
            raise fail("log() needs a positive number (and a positive base other than 1)")
        try:
            return bounded(_NUMERIC[func][0](*args))
        except (OverflowError, ValueError) as exc:
            raise fail(str(exc)) from None

    def comprehension(node: ast.ListComp, depth: int, local: Mapping[str, Any]) -> list[Any]:
        out: list[Any] = []

        def loop(level: int, scope: Mapping[str, Any]) -> None:
            if level == len(node.generators):
                out.append(ev(node.elt, depth, scope))
                if len(out) > MAX_LIST:
                    raise fail(f"a list may hold at most {MAX_LIST:,} elements")
                return
            gen = node.generators[level]
            if not isinstance(gen.target, ast.Name) or gen.is_async:
                raise fail("a comprehension's loop variable must be one name ('for i in range(n)')")
            for value in sequence(ev(gen.iter, depth, scope), "a comprehension"):
                inner = {**scope, gen.target.id: value}
                if all(ev(cond, depth, inner) for cond in gen.ifs):
                    loop(level + 1, inner)

        try:
            loop(0, local)
        finally:
            loop = None  # type: ignore[assignment]  # (it calls itself through its cell: no cycle is left)
        return out

    def ev(node: ast.AST, depth: int, local: Mapping[str, Any]) -> Any:
        if depth > MAX_EXPR_DEPTH:
            raise SpecError(f"expression nests deeper than {MAX_EXPR_DEPTH} levels", where)
        depth += 1
        charge(1)
        if isinstance(node, ast.Expression):
            return ev(node.body, depth, local)
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float | str | bool):
            return checked(node.value, where)
        if isinstance(node, ast.Name):
            return lookup(node.id, local)
        if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
            left, right = ev(node.left, depth, local), ev(node.right, depth, local)
            if isinstance(node.op, ast.Add) and isinstance(left, list) and isinstance(right, list):
                charge(len(left) + len(right))
                return sized(left + right)
            left, right = number(left, "arithmetic"), number(right, "arithmetic")
            try:
                if isinstance(node.op, ast.Pow):
                    return bounded(power(left, right))
                return bounded(_BINOPS[type(node.op)](left, right))
            except (ZeroDivisionError, OverflowError, ValueError) as exc:
                raise fail(str(exc) if not isinstance(exc, OverflowError) else "the result is out of range") \
                    from None
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd | ast.Not):
            value = ev(node.operand, depth, local)
            if isinstance(node.op, ast.Not):
                return not value
            value = number(value, "a sign")
            return -value if isinstance(node.op, ast.USub) else +value
        if isinstance(node, ast.BoolOp):
            values = [ev(v, depth, local) for v in node.values]
            return all(values) if isinstance(node.op, ast.And) else any(values)
        if isinstance(node, ast.Compare) and all(type(op) in _CMPOPS or isinstance(op, _MEMBERSHIP)
                                                 for op in node.ops):
            left = ev(node.left, depth, local)
            for op, comp in zip(node.ops, node.comparators, strict=True):
                right = ev(comp, depth, local)
                if isinstance(op, _MEMBERSHIP):
                    found = any(_same(v, left) for v in sequence(right, "'in'"))
                    holds = found if isinstance(op, ast.In) else not found
                else:
                    if not isinstance(op, _EQUALITY) and not (is_number(left) and is_number(right)) \
                            and not (isinstance(left, str) and isinstance(right, str)):
                        raise fail(f"cannot order {_kind(left)} and {_kind(right)}")
                    if isinstance(left, list) or isinstance(right, list):
                        charge(min(len(left) if isinstance(left, list) else 0,
                                   len(right) if isinstance(right, list) else 0))
                    holds = _CMPOPS[type(op)](left, right)
                if not holds:
                    return False
                left = right
            return True
        if isinstance(node, ast.IfExp):
            return ev(node.body, depth, local) if ev(node.test, depth, local) else ev(node.orelse, depth, local)
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in FUNCTIONS
                and not node.keywords and not any(isinstance(a, ast.Starred) for a in node.args)):
            return call(node.func.id, node, depth, local)
        if isinstance(node, ast.List) and not any(isinstance(e, ast.Starred) for e in node.elts):
            return sized([ev(e, depth, local) for e in node.elts])
        if isinstance(node, ast.ListComp):
            return comprehension(node, depth, local)
        if isinstance(node, ast.Subscript) and not isinstance(node.slice, ast.Slice):
            items = ev(node.value, depth, local)
            if not isinstance(items, list):
                raise fail(f"only a list can be indexed, not {_kind(items)}")
            index = integer(ev(node.slice, depth, local), "an index")
            if not -len(items) <= index < len(items):
                raise fail(f"index {index} is out of range for a list of {len(items)}")
            return items[index]
        raise SpecError(f"unsupported expression '{expr}' ({_UNSUPPORTED})", where)

    try:
        result = ev(tree, 0, {})
    finally:
        # the functions above call each other through their cells: emptied, they are freed by reference
        # counting, and an evaluation leaves no cycle for the collector (see archcalc.gc_pause)
        fail = charge = number = integer = sequence = sized = bounded = power = lookup = span = call = None  # type: ignore[assignment]
        comprehension = ev = None  # type: ignore[assignment]
    if spend is not None and lists:
        spend(work)
    return result


class _Form:
    """A string's references, found once (:func:`_form`): ``variable`` for a whole reference to one variable
    (``$width``, ``${ width }``), ``whole`` for any other whole reference (``${i + 1}``), else ``pieces``:
    the text between references and, at odd positions, each reference's expression, its own text and its
    :func:`_quick` form (only the text where ``plain``: no reference)."""

    __slots__ = ("pieces", "plain", "variable", "whole")

    def __init__(self, text: str) -> None:
        self.variable: str | None = None
        self.whole: str | None = None
        self.pieces: list[Any] = []
        self.plain = False  # no reference at all (every whole reference is one)
        whole = _WHOLE.match(text)
        if whole:
            self.whole = whole.group(1) or whole.group(2)
            name = self.whole.strip()
            # only a name the evaluator would look up (True, None and the like parse as constants; an
            # identifier outside ASCII is normalised by the parser)
            if (len(self.whole) <= MAX_EXPR_CHARS and name.isascii() and name.isidentifier()
                    and not keyword.iskeyword(name)):
                self.variable = name
            return
        last = 0
        for m in _REF.finditer(text):
            expr = m.group(1) or m.group(2)
            self.pieces += [text[last:m.start()], (expr, m.group(), _quick(expr))]
            last = m.end()
        self.pieces.append(text[last:])
        self.plain = len(self.pieces) == 1


def _quick(expr: str) -> Quick | None:
    """An interpolated expression's :data:`Quick` form, read once (substitute computes it without the call to
    :func:`evaluate`, whose short way it is); None for any other, which evaluate takes (errors included)."""
    if len(expr) > MAX_EXPR_CHARS:
        return None
    tree = _parse(expr.strip())
    return None if tree is None else _quick_of(tree.body)


def _form_uncached(text: str) -> _Form:
    return _Form(text)


_form_cached = lru_cache(maxsize=4096)(_form_uncached)


def _form(text: str) -> _Form:
    """Found once per distinct short text: a block's arguments and names are substituted at every call."""
    return _form_cached(text) if len(text) <= _CACHED_CHARS else _Form(text)


def substitute(text: str, env: Mapping[str, Any], where: SourceLocation | None,
               spend: Callable[[int], None] | None = None) -> Any:
    """Resolve ``$`` references in one scalar string (value for a whole reference, else a string)."""
    form = _form(text)
    if form.variable is not None and form.variable in env:  # $name: what evaluate would look up
        return env[form.variable]
    if form.whole is not None:
        return evaluate(form.whole, env, where, spend)
    pieces = form.pieces
    out = [pieces[0]]
    built = len(text)
    for k in range(1, len(pieces), 2):
        expr, written, quick = pieces[k]
        value = None if quick is None else _quick_value(quick, env)
        if value is None:
            value = evaluate(expr, env, where, spend)
        if not isinstance(value, str | int | float | bool | None):
            raise SpecError(f"cannot interpolate {_kind(value)} into text ('{written}')", where)
        piece = value if isinstance(value, str) else str(value)
        built += len(piece)
        if built > MAX_STRING:
            raise SpecError(f"interpolated text is longer than {MAX_STRING} characters", where)
        out += (piece, pieces[k + 1])
    return "".join(out)

