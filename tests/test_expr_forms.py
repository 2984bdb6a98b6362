"""``substitute`` finds a string's references once per distinct text (``expr._Form``), looks a whole
``$name`` up directly and computes ``${i + 1}`` without a call. The law: for any text and variables, it
gives what the plain regular-expression substitution gives (value or error, message included), which is
kept here as the reference."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archcalc.errors import SourceLocation, SpecError
from archcalc.spec.expr import MAX_STRING, _kind, evaluate, has_refs, substitute
from archcalc.spec.numbers import MAX_INT

WHERE = SourceLocation("f.yaml", 2, 4)
_WHOLE = re.compile(r"^\$(?:([A-Za-z_]\w*)|\{(.*)\})$", re.S)
_REF = re.compile(r"\$(?:([A-Za-z_]\w*)|\{([^}]*)\})")


def reference(text: str, env: dict[str, Any]) -> Any:
    """The substitution as it was written before the forms: one regular-expression pass per call."""
    whole = _WHOLE.match(text)
    if whole:
        return evaluate(whole.group(1) or whole.group(2), env, WHERE)
    built = len(text)

    def repl(m: re.Match[str]) -> str:
        nonlocal built
        value = evaluate(m.group(1) or m.group(2), env, WHERE)
        if not isinstance(value, str | int | float | bool | None):
            raise SpecError(f"cannot interpolate {_kind(value)} into text ('{m.group()}')", WHERE)
        piece = value if isinstance(value, str) else str(value)
        built += len(piece)
        if built > MAX_STRING:
            raise SpecError(f"interpolated text is longer than {MAX_STRING} characters", WHERE)
        return piece

    return _REF.sub(repl, text)


def outcome(fn: Any, text: str, env: dict[str, Any]) -> tuple[str, Any]:
    try:
        value = fn(text, env)
    except SpecError as e:
        return "error", str(e)
    return "value", (type(value), value)


NAMES = ["i", "w", "True", "None", "x1", "ﬁ", "fi", "len", "if", "_"]
VALUES = st.one_of(st.integers(-10, 10**6), st.booleans(), st.none(), st.text("ab", max_size=3),
                   st.lists(st.integers(0, 3), max_size=2), st.floats(allow_nan=False, width=32),
                   st.sampled_from(["a" * 4990, "a" * 9990]),  # near MAX_STRING, with the text around it
                   st.sampled_from([MAX_INT, -MAX_INT, MAX_INT + 1, MAX_INT // 2 + 1]))  # at the range's ends
PIECES = st.one_of(st.sampled_from(["conv", "_", "-", " ", "$", "}", "{", "x"]),
                   st.sampled_from(NAMES).map(lambda n: f"${n}"),
                   st.sampled_from(NAMES).map(lambda n: f"${{ {n} }}"),
                   st.sampled_from(["${i + 1}", "${w * 2}", "${2 * i}", "${i - w}", "${i - 1.5}", "${True + 1}",
                                    "${i // 2}", "${ i*w }", "${x1 * x1}", "${i if True else w}", "${}", "${len(i)}",
                                    "${'a' * 9999}", "${" + "1+" * 600 + "1}", "${True}", "${ None }"]))


@settings(max_examples=400, deadline=None)
@given(st.lists(PIECES, min_size=1, max_size=4).map("".join),
       st.dictionaries(st.sampled_from(NAMES), VALUES, max_size=4))
def test_substitute_is_the_plain_substitution(text: str, env: dict[str, Any]) -> None:
    assert has_refs(text) is (_REF.search(text) is not None)
    assert outcome(lambda t, e: substitute(t, e, WHERE), text, env) == outcome(reference, text, env)


def test_whole_names_the_parser_reads_otherwise_are_evaluated() -> None:
    # True parses as a constant, and a non-ASCII identifier is normalised (NFKC) by the parser: a
    # variable spelled so is not what the expression reads
    env = {"True": 5, "ﬁ": 7, "fi": 8}
    assert substitute("$True", env, WHERE) is True
    assert substitute("${ﬁ}", env, WHERE) == 8
    assert substitute("${ fi }", env, WHERE) == 8


@pytest.mark.parametrize("text", ["b${i + 1}", "b${i * w}", "b${2 * i}x", "${i - w}b", "b${w * w}"])
@pytest.mark.parametrize("i", [0, 7, MAX_INT, -MAX_INT, MAX_INT + 1, MAX_INT // 2 + 1, True, 1.5, "s"])
def test_interpolated_arithmetic_at_the_range_ends(text: str, i: Any) -> None:
    # the short way's own range checks: operands and result within the spec's 64-bit range, ints only
    for w in (2, MAX_INT // 2 + 1, -3):
        env = {"i": i, "w": w}
        assert outcome(lambda t, e: substitute(t, e, WHERE), text, env) == outcome(reference, text, env)
