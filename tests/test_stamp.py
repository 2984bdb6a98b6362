"""A block call replayed from an earlier one (archcalc.spec.stamp) must leave the expander exactly as
expanding it would: the same nodes, groups, names, group ends, outputs and work, and the same error at the
same place. Each case is expanded twice, with replays and with every call expanded, and compared."""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path
from typing import Any
from unittest.mock import patch

import pytest

from archcalc.errors import SpecError
from archcalc.spec import expand, zoo
from archcalc.spec.loader import parse_file, parse_text
from archcalc.spec.stamp import Replayed

HOSTILE = sorted((Path(__file__).parent / "hostile").glob("*.yaml"))

CASES = {
    # identical calls in a repeat, a branch every call drops by 'when' (ResNet's identity shortcut)
    "dropped_branch": """input: 8x8x8
blocks:
  unit:
    args: {proj: false}
    body:
      - add:
          - [conv: {out: 8, k: 3, pad: 1}, relu]
          - name: shortcut
            seq: [{conv: {out: 8, k: 1, when: proj}}]
      - relu
layers:
  - repeat: 5
    body: [unit]
  - unit: {proj: true}
  - repeat: 3
    body: [{unit: {name: "u$i"}}]
""",
    # a block whose body reads an outer layer by 'from:': never replayed
    "reads_outside": """input: 8x8x8
blocks:
  tail:
    body:
      - concat:
          - [relu]
          - [{identity: {from: stem}}]
layers:
  - conv: {out: 8, k: 3, pad: 1, name: stem}
  - repeat: 3
    body: [tail]
  - conv: {out: 8, k: 1}
""",
    # blocks calling blocks, repeated: a replay inside a call being recorded; a side output in a block
    "nested": """input: 4x16x16
blocks:
  inner:
    args: [w]
    body: [{conv: {out: $w, k: 3, pad: 1}}, bn, relu]
  outer:
    args: {w: 4}
    body:
      - repeat: 2
        body: [{inner: [$w]}]
      - side: [gap, flatten, {fc: 3}]
      - inner: [$w]
layers:
  - repeat: 3
    body: [outer]
  - outer: {w: 8}
  - outer: {w: 8, name: again}
""",
    # a dotted name written before the group that a later call opens: that call is expanded, not replayed
    "dotted_name_first": """input: 4x8x8
blocks:
  unit:
    body: [{conv: {out: 4, k: 3, pad: 1}}, relu]
layers:
  - unit
  - relu: {name: unit3.relu9}
  - repeat: 3
    body: [unit]
""",
    # a name a replay would take is taken: the duplicate-name error, from the expansion
    "taken_name": """input: 4x8x8
blocks:
  unit:
    body: [{conv: {out: 4, k: 3, pad: 1}}, relu]
layers:
  - unit
  - relu: {name: unit2.conv1}
  - unit
""",
    # arguments that differ in type only are different calls
    "typed_arguments": """input: 4x8x8
blocks:
  unit:
    args: [k]
    body: [{relu: {name: "r$k"}}]
layers:
  - unit: [1]
  - unit: [true]
  - unit: [1.0]
  - unit: [1]
""",
}


def expanded(doc: Any, name: str, replays: bool) -> dict[str, Any]:
    """The expander's whole result (or its error), with replays or with every block call expanded."""
    with nullcontext() if replays else patch.object(expand, "call_key", lambda *_: None):
        try:
            expander = expand.Expander(doc, name)
            graph = expander.expand()
        except SpecError as exc:
            return {"error": str(exc), "location": exc.location}
    recordings = [r for r in expander.recordings.values() if r is not None and r.stamp is not None]
    return {"graph": graph, "names": expander.names, "ends": expander.group_ends, "work": expander.work,
            "list_work": expander.list_work, "replayed": len(recordings),
            "nested": sum(isinstance(e, Replayed) for r in recordings for e in r.events)}


def same_either_way(doc: Any, name: str) -> dict[str, Any]:
    stamped = expanded(doc, name, replays=True)
    plain = expanded(doc, name, replays=False)
    counts = {k: stamped.pop(k, None) for k in ("replayed", "nested")}
    plain.pop("replayed", None)
    plain.pop("nested", None)
    assert stamped == plain
    return {**stamped, **counts}


@pytest.mark.parametrize("name", sorted(CASES))
def test_replayed_calls_equal_expanded_ones(name: str) -> None:
    same_either_way(parse_text(CASES[name], f"{name}.yaml"), f"{name}.yaml")


def test_the_cases_exercise_replays_and_their_refusals() -> None:
    """The comparison above means something only if replays happen (and are refused where they must be)."""
    result = {n: same_either_way(parse_text(t, n), n) for n, t in CASES.items()}
    assert result["dropped_branch"]["replayed"] >= 1
    assert result["nested"]["replayed"] >= 2
    assert result["nested"]["nested"] >= 1  # a replayed call holding replays of its own
    assert result["reads_outside"]["replayed"] == 0
    assert "duplicate layer name 'unit2.conv1'" in result["taken_name"]["error"]
    assert [n.name for n in result["dotted_name_first"]["graph"].nodes].count("unit3.relu9") == 1
    names = [n.name for n in result["typed_arguments"]["graph"].nodes][1:]
    assert len(set(names)) == 4 and len({n.split(".", 1)[1] for n in names}) == 3, names


@pytest.mark.parametrize("name", zoo.names())
def test_zoo_specs_expand_the_same_with_replays(name: str) -> None:
    same_either_way(parse_file(zoo.path(name)), name)


@pytest.mark.parametrize("path", HOSTILE, ids=lambda p: p.stem)
def test_hostile_specs_fail_or_expand_the_same_with_replays(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for limit in ("MAX_WORK", "MAX_GROUPS", "MAX_LAYERS"):  # the same rules, sooner (as the fuzz driver does)
        monkeypatch.setattr(expand, limit, getattr(expand, limit) // 20)
    try:
        doc = parse_file(path, path.name)
    except SpecError:
        return  # refused before any expansion
    same_either_way(doc, path.name)


@pytest.mark.parametrize("limit", ["MAX_LAYERS", "MAX_GROUPS", "MAX_WORK"])
def test_a_replay_past_a_limit_gives_the_expansions_error(limit: str, monkeypatch: pytest.MonkeyPatch) -> None:
    text = "input: 4x8x8\nblocks:\n  unit:\n    body: [{conv: {out: 4, k: 3, pad: 1}}, relu]\n" \
           "layers:\n  - repeat: 500\n    body: [unit]\n"
    monkeypatch.setattr(expand, limit, {"MAX_LAYERS": 301, "MAX_GROUPS": 150, "MAX_WORK": 900}[limit])
    result = same_either_way(parse_text(text, "w.yaml"), "w.yaml")
    assert "error" in result and result["location"] is not None
