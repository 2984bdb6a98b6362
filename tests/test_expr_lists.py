"""List expressions in specs: literals, comprehensions, subscripts and the functions of lists and
numbers (what a generator spec such as RegNet's needs), each bounded and failing in one located line."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archcalc.errors import SourceLocation, SpecError
from archcalc.spec import load_text
from archcalc.spec.expr import MAX_EXPR_WORK, MAX_LIST, evaluate
from archcalc.spec.numbers import MAX_INT

WHERE = SourceLocation("e.yaml", 3, 6)


def ev(expr: str, **env: Any) -> Any:
    return evaluate(expr, env, WHERE)


@pytest.mark.parametrize(("expr", "value"), [
    ("[1, 2.5, 'a', True]", [1, 2.5, "a", True]),
    ("[]", []),
    ("[[1, 2], [3]]", [[1, 2], [3]]),
    ("[i * i for i in range(5)]", [0, 1, 4, 9, 16]),
    ("[i for i in range(10) if i % 3 == 0]", [0, 3, 6, 9]),
    ("[i for i in range(4) if i > 0 if i < 3]", [1, 2]),
    ("[i * 10 + j for i in range(2) for j in range(i + 1)]", [0, 10, 11]),
    ("[w // 2 for w in xs]", [32, 64]),
    ("range(3)", [0, 1, 2]),
    ("range(2, 5)", [2, 3, 4]),
    ("range(10, 0, -4)", [10, 6, 2]),
    ("range(0)", []),
    ("range(5, 1)", []),
    ("xs[0]", 64),
    ("xs[-1]", 128),
    ("[[1, 2], [3]][0][1]", 2),
    ("len(xs)", 2),
    ("len('abc')", 3),
    ("len([])", 0),
    ("sum(xs)", 192),
    ("sum([0.5, 1])", 1.5),
    ("sum([])", 0),
    ("unique([3, 1, 3, 2, 1])", [3, 1, 2]),
    ("unique([1, True, 1.0, 'a', 'a'])", [1, True, "a"]),
    ("count([8, 8, 16, 8], 8)", 3),
    ("count([1, True, 1], True)", 1),
    ("count(['a', 'b'], 'c')", 0),
    ("[count(ws, w) for w in unique(ws)]", [1, 3, 2]),
    ("min(xs)", 64),
    ("max([3, 9, 4])", 9),
    ("min(3, 4)", 3),
    ("abs(-2.5)", 2.5),
    ("ceil(2.1)", 3),
    ("floor(-2.1)", -3),
    ("log(8, 2)", 3),
    ("round(log(100) / log(10))", 2),
    ("2 in xs", False),
    ("64 in xs", True),
    ("1 not in [True]", True),
    ("[1] + xs", [1, 64, 128]),
    ("xs == [64, 128]", True),
    ("[j for j in range(3)][j]", 1),  # the loop variable is local: the outer j is still 1
])
def test_list_expressions(expr: str, value: Any) -> None:
    result = ev(expr, xs=[64, 128], ws=[8, 16, 16, 16, 24, 24], j=1)
    assert result == value and type(result) is type(value)


@pytest.mark.parametrize(("expr", "message"), [
    ("xs[2]", "index 2 is out of range for a list of 2"),
    ("xs[-3]", "index -3 is out of range for a list of 2"),
    ("xs[0.5]", "an index needs an integer, got 0.5"),
    ("xs[True]", "an index needs an integer, got a boolean"),
    ("xs['a']", "an index needs an integer, got a string"),
    ("n[0]", "only a list can be indexed, not a number"),
    ("xs[0:1]", "unsupported expression"),
    ("range(1.5)", "range() needs an integer, got 1.5"),
    ("range(1, 2, 0)", "range()'s step must not be zero"),
    ("range(1, 2, 3, 4)", "range() takes 1 to 3 arguments"),
    (f"range({MAX_LIST + 1})", f"range() of {MAX_LIST + 1:,} elements"),
    ("range(-2**62, 2**62)", "range() of"),
    ("len(3)", "len() needs a list or a string, got a number"),
    ("sum(3)", "sum() needs a list, got a number"),
    ("sum(['a'])", "sum() needs numbers, got a string"),
    ("sum([2**62, 2**62])", "the result is out of range"),
    ("unique(3)", "unique() needs a list, got a number"),
    ("unique([[1], [1]])", "unique() needs a list of numbers, strings or booleans"),
    ("count(xs)", "count() takes 2 arguments"),
    ("min([])", "min() of an empty list"),
    ("min(xs, 1)", "min() needs numbers, got a list"),
    ("max(1)", "max() takes 2 to 64 arguments (or one list)"),
    ("log(0)", "log() needs a positive number"),
    ("log(8, 1)", "a positive base other than 1"),
    ("ceil('a')", "ceil() needs numbers, got a string"),
    ("ceil(1e300 * 1e8)", "out of range"),
    ("abs(xs)", "abs() needs numbers, got a list"),
    ("xs * 2", "arithmetic needs numbers, got a list"),
    ("xs + 1", "arithmetic needs numbers, got a list"),
    ("xs < [1]", "cannot order a list and a list"),
    ("1 in 2", "'in' needs a list, got a number"),
    ("[i for (i, j) in xs]", "a comprehension's loop variable must be one name"),
    ("[i for i in 3]", "a comprehension needs a list, got a number"),
    ("[*xs]", "unsupported expression"),
    ("{1: 2}", "unsupported expression"),
    ("(1, 2)", "unsupported expression"),
    ("[x for x in range(3)] + y", "undefined variable 'y'"),
    ("[i for i in range(3) if k]", "undefined variable 'k'"),
    ("len(xs=1)", "unsupported expression"),
    ("[sum(range(9000)) for i in range(100)]", f"takes more than {MAX_EXPR_WORK:,} steps"),
    ("[i for i in range(6000)] + [i for i in range(6000)]", f"a list may hold at most {MAX_LIST:,} elements"),
])
def test_list_expression_errors(expr: str, message: str) -> None:
    with pytest.raises(SpecError) as info:
        ev(expr, xs=[64, 128], n=3)
    assert message in info.value.message, info.value.message
    assert info.value.location == WHERE
    assert "\n" not in info.value.format()


def test_list_work_is_charged_to_the_caller() -> None:
    steps: list[int] = []
    evaluate("[i for i in range(100)]", {}, None, steps.append)
    assert steps and steps[0] >= 200  # the range's 100 elements and 100 visits of the element
    evaluate("1 + 2", {}, None, steps.append)  # scalar expressions are not charged twice
    assert len(steps) == 1


# ---- in a spec --------------------------------------------------------------------------------------------
STAGES = """\
input: 3x32x32
vars:
  depth: 6
  w0: 8
  block_w: "${[w0 * 2 ** (j // 2) for j in range(depth)]}"
  stage_w: "${unique(block_w)}"
  stage_d: "${[count(block_w, w) for w in stage_w]}"
layers:
  - repeat: "${len(stage_w)}"
    index: s
    body:
      - repeat: "${stage_d[s - 1]}"
        index: j
        body:
          - conv: {out: "${stage_w[s - 1]}", k: 3, pad: 1, s: "${2 if j == 1 else 1}", name: "stage${s}-${j - 1}"}
          - relu: {name: "relu${s}-${j - 1}"}
"""


def test_spec_variables_hold_lists_that_repeat_reads() -> None:
    graph = load_text(STAGES, "stages.yaml")
    assert graph.meta.variables["block_w"] == [8, 8, 16, 16, 32, 32]
    assert graph.meta.variables["stage_w"] == [8, 16, 32]
    assert graph.meta.variables["stage_d"] == [2, 2, 2]
    convs = [n for n in graph.nodes if n.name.startswith("stage")]
    assert [n.name for n in convs] == ["stage1-0", "stage1-1", "stage2-0", "stage2-1", "stage3-0", "stage3-1"]
    assert [n.attrs.out for n in convs] == [8, 8, 16, 16, 32, 32]


def test_spec_overrides_recompute_the_lists() -> None:
    graph = load_text(STAGES, "stages.yaml", {"depth": 3})
    assert graph.meta.variables["stage_d"] == [2, 1]


@pytest.mark.parametrize(("body", "line", "message"), [
    ("stage_w[5]", 7, "index 5 is out of range for a list of 3"),
    ("[w for w in range(2**40)]", 7, "range() of"),
    ("sum(stage_w) + 'a'", 7, "arithmetic needs numbers, got a string"),
])
def test_spec_list_errors_are_located(body: str, line: int, message: str) -> None:
    text = STAGES.replace('  stage_d: "${[count(block_w, w) for w in stage_w]}"', f'  stage_d: "${{{body}}}"')
    with pytest.raises(SpecError) as info:
        load_text(text, "stages.yaml")
    assert message in info.value.message
    assert info.value.location is not None and info.value.location.line == line


def test_repeated_list_expressions_spend_a_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    """A comprehension in every iteration of a big repeat is refused by the budget of list work (lowered
    here to keep the test short: the default, 500,000 steps, takes a few seconds to reach)."""
    from archcalc.spec import expand

    monkeypatch.setattr(expand, "MAX_LIST_WORK", 50_000)
    text = ("input: 3x8x8\nlayers:\n- repeat: 100000\n  body:\n"
            "  - {relu: {when: \"${len([i for i in range(9000)]) < 0}\"}}\n")
    with pytest.raises(SpecError, match="list expressions take more than 50,000 steps in all") as info:
        load_text(text, "bomb.yaml")
    assert info.value.location is not None and info.value.location.line == 5
    assert load_text(STAGES, "stages.yaml").meta.variables["stage_d"] == [2, 2, 2]  # a generator's lists fit


def test_layer_names_may_hold_dashes() -> None:
    graph = load_text("input: 3x8x8\nlayers:\n- {seq: [{conv: {out: 4, k: 1, name: block1-0}}], name: b-1.x}\n",
                      "d.yaml")
    assert [n.name for n in graph.nodes][-1] == "b-1.x.block1-0"


_EDGES = [0, 1, -1, 2, MAX_INT, -MAX_INT, MAX_INT - 1, MAX_INT + 1, -MAX_INT - 1, 2**32, 2**31]
_INTS = st.one_of(st.sampled_from(_EDGES), st.integers(-2**64, 2**64), st.booleans(),
                  st.floats(allow_nan=False, allow_infinity=False), st.none())


def _short_way_is_the_walk(expr: str, env: dict[str, Any]) -> None:
    """``evaluate`` computes a name-and-number sum, difference or product without walking the tree: its value,
    or its error, must be the walk's (forced by an ``if`` around the same operation)."""

    def outcome(text: str) -> Any:
        try:
            value = evaluate(text, env, None)
        except SpecError as exc:
            return ("error", exc.message.replace(text, "…"))
        return (type(value), value)

    assert outcome(expr) == outcome(f"({expr}) if 1 else 0"), expr


@settings(max_examples=400, deadline=None)
@given(a=_INTS, b=_INTS, op=st.sampled_from(["+", "-", "*", "//", "%", "/", "**"]),
       form=st.sampled_from(["a {op} b", "{a} {op} b", "a {op} {b}", "a {op} c"]))
def test_integer_arithmetic_on_the_short_way_is_the_tree_walks(a: Any, b: Any, op: str, form: str) -> None:
    _short_way_is_the_walk(form.format(a=a, b=b, op=op), {"a": a, "b": b})


@pytest.mark.parametrize("expr", ["a + b", "a - b", "a * b", "b + a", "-a - b", "a * -b", "a + 1", "1 - a"])
@pytest.mark.parametrize(("a", "b"), [(MAX_INT, 0), (MAX_INT, 1), (MAX_INT - 1, 1), (-MAX_INT, -1), (2**32, 2**31),
                                      (2**31, 2**32), (MAX_INT + 1, 0), (True, 1), (3, 4)])
def test_integer_arithmetic_at_the_range_edges(expr: str, a: int, b: int) -> None:
    _short_way_is_the_walk(expr, {"a": a, "b": b})
