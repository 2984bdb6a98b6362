"""Laws of the calculator, checked on random specs (hypothesis)."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archcalc.analysis import analyze
from archcalc.errors import ArchcalcError, SpecError
from archcalc.report import build_report
from archcalc.spec import load_text

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def window_layers(draw: st.DrawFn) -> list[dict[str, Any]]:
    n = draw(st.integers(1, 5))
    items = []
    for _ in range(n):
        kind = draw(st.sampled_from(["conv", "maxpool", "avgpool"]))
        k = draw(st.integers(1, 4))
        s = draw(st.integers(1, 3))
        p = draw(st.integers(0, k // 2))
        item: dict[str, Any] = {"k": k, "s": s, "pad": p}
        if kind == "conv":
            item["out"] = draw(st.sampled_from([2, 4]))
            item["dilation"] = draw(st.integers(1, 2))
        items.append({kind: item})
    return items


def _spec(items: list[dict[str, Any]], size: int = 64, channels: int = 2) -> str:
    return f"input: {channels}x{size}x{size}\nlayers: {json.dumps(items)}\n"


def _brute_force_field(items: list[dict[str, Any]]) -> tuple[int, int]:
    """Input positions reached from output unit 0 by explicit index arithmetic, 1-D: (start, size)."""
    positions = {0}
    for item in reversed(items):
        (_, a), = item.items()
        k, s, p, d = a["k"], a["s"], a["pad"], a.get("dilation", 1)
        positions = {o * s - p + j * d for o in positions for j in range(k)}
    return min(positions), max(positions) - min(positions) + 1


@SETTINGS
@given(window_layers())
def test_receptive_field_matches_index_arithmetic(items: list[dict[str, Any]]) -> None:
    try:
        a = analyze(load_text(_spec(items)))
    except SpecError:
        return  # collapsed to nothing: covered elsewhere
    last = list(a.results.values())[-1].rf
    assert last is not None
    start, size = _brute_force_field(items)
    assert (last.h.start, last.h.size) == (start, size)
    jump = 1
    for item in items:
        (_, attrs), = item.items()
        jump *= attrs["s"]
    assert last.h.jump == jump


@st.composite
def block_specs(draw: st.DrawFn) -> str:
    c = draw(st.sampled_from([4, 8]))
    reps = draw(st.integers(1, 3))
    if draw(st.booleans()):
        body: list[Any] = [{"concat": [[{"conv": {"out": "$c", "k": 1}}],
                                       [{"conv": {"out": "$c", "k": 3, "pad": 1}}, "relu"]]},
                           {"conv": {"out": "$c", "k": 1}}]
    else:
        body = [{"add": [[{"conv": {"out": "$c", "k": 3, "pad": 1}}, "bn", "relu",
                          {"conv": {"out": "$c", "k": 3, "pad": 1}}], []]}, "relu"]
    spec = {"input": "3x16x16", "blocks": {"unit": {"args": ["c"], "body": body}},
            "layers": [{"conv": {"out": c, "k": 3, "pad": 1}}, {"repeat": reps, "body": [{"unit": [c]}]},
                       {"maxpool": {"k": 2}}, {"unit": [c]}, "gap", "flatten", {"fc": 10}]}
    return json.dumps(spec)


@SETTINGS
@given(block_specs(), st.integers(0, 3))
def test_rows_sum_to_totals_at_any_depth(text: str, depth: int) -> None:
    a = analyze(load_text(text))
    full = build_report(a)
    folded = build_report(a, depth=depth)
    assert full.totals == folded.totals
    for key in ("params", "macs", "ops", "bwd_macs", "activations"):
        assert sum(getattr(r, key) for r in full.rows) == sum(getattr(r, key) for r in folded.rows)
    assert sum(r.params for r in full.rows) == full.totals["params"]
    assert sum(r.macs for r in full.rows) == full.totals["macs"]
    assert sum(r.activations for r in full.rows) == full.totals["activations"]


_LAYER_WORDS = ["conv", "maxpool", "avgpool", "fc", "relu", "bn", "lrn", "flatten", "gap", "dropout", "concat",
                "add", "repeat", "softmax", "convv", "stage", "tanh", "identity", "side", "seq", "rbf"]
_VALUES = st.one_of(st.integers(-3, 40), st.sampled_from(["same", "valid", "$x", "${x*2}", "abc", "$nope"]),
                    st.booleans(), st.none(), st.floats(allow_nan=False, allow_infinity=False),
                    st.lists(st.integers(-1, 5), max_size=4))
_ATTRS = st.dictionaries(st.sampled_from(["out", "k", "s", "pad", "dilation", "groups", "p", "ceil", "bias",
                                          "size", "table", "name", "when", "kernal", "body", "index"]),
                         _VALUES, max_size=4)
_ITEM = st.one_of(st.sampled_from(_LAYER_WORDS),
                  st.builds(lambda w, a: {w: a}, st.sampled_from(_LAYER_WORDS), st.one_of(_ATTRS, _VALUES)))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(_ITEM, st.lists(_ITEM, max_size=3)), max_size=6),
       st.sampled_from(["3x16x16", "1x8x8", "0x4x4", "16", "abc"]))
def test_random_specs_fail_only_with_spec_errors(items: list[Any], shape: str) -> None:
    text = f"input: {shape}\nvars: {{x: 3}}\nlayers: {json.dumps(items)}\n"
    try:
        a = analyze(load_text(text))
        build_report(a)
    except ArchcalcError as exc:
        assert isinstance(exc, SpecError)
        line = exc.format()
        assert "\n" not in line
