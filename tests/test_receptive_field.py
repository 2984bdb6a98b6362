"""Receptive fields on tiny hand-computed graphs, including merges (aligned and not)."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archcalc.analysis import receptive
from archcalc.analysis.receptive import MAX_FIELD, RF, propagate
from archcalc.arith import AxisRF
from archcalc.layers import Identity, Union, Window
from tests.conftest import analyse_text


def test_chain_with_stride_and_dilation() -> None:
    a = analyse_text("""
        input: 1x64x64
        layers:
          - conv: {out: 4, k: 7, s: 2, pad: 3, name: c1}          # size 7, jump 2, start -3
          - maxpool: {k: 3, s: 2, pad: 1, name: p1}               # 7 + 2*2 = 11, jump 4, start -3 - 1*2 = -5
          - conv: {out: 4, k: 3, dilation: 2, pad: 2, name: c2}   # extent 5: 11 + 4*4 = 27, start -5 - 2*4 = -13
    """)
    r = a.results
    assert (r["c1"].rf.h, r["p1"].rf.h, r["c2"].rf.h) == (AxisRF(7, 2, -3), AxisRF(11, 4, -5), AxisRF(27, 4, -13))


def test_rectangular_kernels_keep_axes_apart() -> None:
    a = analyse_text("""
        input: 1x32x32
        layers: [{conv: {out: 2, k: [1, 7], pad: [0, 3], name: a}}, {conv: {out: 2, k: [7, 1], pad: [3, 0], name: b}}]
    """)
    assert a.results["a"].rf.size == (1, 7)
    assert a.results["b"].rf.size == (7, 7)


def test_aligned_branches_union_is_the_largest() -> None:
    a = analyse_text("""
        input: 1x32x32
        layers:
          - concat:
              - [{conv: {out: 2, k: 1}}]
              - [{conv: {out: 2, k: 3, pad: 1}}]
              - [{conv: {out: 2, k: 5, pad: 2}}]
            name: cat
    """)
    rf = a.results["cat"].rf
    assert rf.h == AxisRF(5, 1, -2) and rf.aligned
    assert a.results["cat"].rf_note is None


def test_misaligned_merge_is_reported() -> None:
    # branch 1 sees [0, 2] (3x3, no pad); branch 2 sees [0, 0] shifted: 1x1 on a cropped... use an
    # asymmetric pad: [top 0, bottom 2] gives unit 0 the window [0, 2] vs a centred 3x3 at [-1, 1].
    a = analyse_text("""
        input: 1x16x16
        layers:
          - add:
              - [{conv: {out: 2, k: 3, pad: [0, 2, 0, 2]}}]
              - [{conv: {out: 2, k: 3, pad: 1}}]
            name: sum
    """)
    r = a.results["sum"]
    assert r.rf.h == AxisRF(size=4, jump=1, start=-1)  # union of [0, 2] and [-1, 1]
    assert not r.rf.aligned
    assert "misaligned" in (r.rf_note or "")


def test_residual_identity_keeps_the_longer_path() -> None:
    a = analyse_text("""
        input: 4x16x16
        layers:
          - add: [[{conv: {out: 4, k: 3, pad: 1}}, {conv: {out: 4, k: 3, pad: 1}}], []]
            name: res
    """)
    assert a.results["res"].rf.h == AxisRF(5, 1, -2) and a.results["res"].rf.aligned


def test_unequal_jumps_are_unavailable_with_reason() -> None:
    # 3x3 stride 2 on 5x5 → 2x2; 2x2 pool stride 2 on 5x5 → 2x2: same shape, equal jumps here, so build
    # a case with different jumps but the same output size: 1x1 stride 1 on 2x2 vs 2x2/2 on 4x4 is not
    # possible in one graph; instead stride 3 vs stride 2 with padding.
    a = analyse_text("""
        input: 1x7x7
        layers:
          - add:
              - [{conv: {out: 1, k: 1, s: 3}}]            # 7 → 3, jump 3
              - [{conv: {out: 1, k: 3, s: 2}}]            # 7 → 3, jump 2
            name: sum
    """)
    r = a.results["sum"]
    assert r.rf is None and "different effective strides" in (r.rf_note or "")


@pytest.mark.parametrize("field", [
    RF(AxisRF(7, 2, -3), AxisRF(1, 1, 0)),
    RF(AxisRF(11, 4, -5), AxisRF(3, 2, 1), aligned=False, context=True, envelope=True),
    RF(AxisRF(Fraction(3, 2), Fraction(1, 2), Fraction(-1, 2)), AxisRF(5, 1, -2)),
])
@pytest.mark.parametrize("window", [
    Window((3, 5), (1, 2), (1, 2)),
    Window((7, 1), (2, 1), (0, 3)),
    Window((Fraction(3, 2), 3), (Fraction(1, 2), 1), (Fraction(1, 2), 1)),
])
def test_a_window_gives_the_recurrence_with_the_flags_carried(field: RF, window: Window) -> None:
    # whole numbers take a short way through propagate: it must give what the recurrence and the flags say
    h = field.h.through(window.kernel[0], window.stride[0], window.pad_before[0])
    w = field.w.through(window.kernel[1], window.stride[1], window.pad_before[1])
    upsampling = any(isinstance(v, Fraction) for v in (*window.kernel, *window.stride, *window.pad_before))
    want = RF(h, w, field.aligned, field.context, field.fractional or upsampling)
    got, note = propagate(window, [field])
    assert (got, note) == (want, None)
    # ints stay ints (JSON prints 7, not 7.0) and fractions stay exact
    assert [type(v) for v in (*got.size, *got.jump, *got.start)] == [type(v) for v in (h.size, w.size, h.jump,
                                                                                      w.jump, h.start, w.start)]


def test_a_field_past_max_field_is_unavailable_on_every_way() -> None:
    field = RF(AxisRF(1, MAX_FIELD // 2, 0), AxisRF())
    rf, note = propagate(Window((1, 1), (2, 1), (0, 0)), [field])
    assert rf is not None and rf.h.jump == MAX_FIELD and note is None  # at the limit: still given
    rf, note = propagate(Window((1, 1), (4, 1), (0, 0)), [field])
    assert rf is None and note is not None and "beyond" in note
    rf, note = propagate(Window((3, 1), (1, 1), (0, 0)), [RF(AxisRF(MAX_FIELD, 1, 0), AxisRF())])
    assert rf is None and note is not None and "beyond" in note


def test_an_identity_passes_the_field_on_and_an_unavailable_input_says_so() -> None:
    field = RF(AxisRF(3, 1, -1), AxisRF(3, 1, -1), context=True)
    assert propagate(Identity(), [field]) == (field, None)
    assert propagate(Identity(), [None]) == (None, "an input's receptive field is unavailable")
    assert propagate(Window((3, 3), (1, 1), (1, 1)), [None]) == (None, "an input's receptive field is unavailable")


JOINED = [
    RF(AxisRF(7, 2, -3), AxisRF(5, 1, -2)),
    RF(AxisRF(3, 2, -1), AxisRF(5, 1, -1)),  # centres differ: misaligned
    RF(AxisRF(9, 2, -4), AxisRF(3, 1, -1), aligned=False),
    RF(AxisRF(5, 4, -2), AxisRF(5, 1, -2)),  # another jump
    RF(AxisRF(7, 2, -3), AxisRF(5, 1, -2), context=True),
    RF(AxisRF(1, 0, 0), AxisRF(1, 0, 0)),  # broadcast
    RF(AxisRF(Fraction(3, 2), 2, Fraction(-1, 2)), AxisRF(5, 1, -2)),
    RF(AxisRF(7, 2, -3), AxisRF(5, 1, -2), envelope=True),
    None,
]


@pytest.mark.parametrize("context", [(), (1,)])
@pytest.mark.parametrize("picks", [(0, 0), (0, 1), (0, 2), (1, 2), (0, 3), (0, 4), (0, 5), (5, 0), (0, 6), (0, 7),
                                   (0, 8), (0, 1, 2), (2, 1, 0, 0)])
def test_a_join_of_whole_fields_gives_what_the_general_way_gives(picks: tuple[int, ...], context: tuple[int, ...],
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    # whole numbers take a short way through propagate for joins too: it must agree with the general way
    fields = [JOINED[i] for i in picks]
    rule = Union(context=context)
    short = propagate(rule, fields)
    monkeypatch.setattr(receptive, "_whole_union", lambda _: None)
    general = propagate(rule, fields)
    assert short == general
    if general[0] is not None and short[0] is not None:  # and ints stay ints (Fraction(3) == 3)
        assert [type(v) for v in (*short[0].size, *short[0].jump, *short[0].start)] == [
            type(v) for v in (*general[0].size, *general[0].jump, *general[0].start)]


_AXES = st.builds(AxisRF, st.integers(1, 40), st.sampled_from([0, 1, 2, 4]), st.integers(-20, 5))
# (context and envelope given: builds() fills in a record's defaulted fields too)
_FIELDS = st.builds(RF, _AXES, _AXES, st.booleans(), st.just(False), st.just(False))


@settings(max_examples=300, deadline=None)
@given(fields=st.lists(_FIELDS, min_size=2, max_size=4), copies=st.booleans())
def test_random_joins_of_whole_fields_give_what_the_general_way_gives(fields: list[RF], copies: bool) -> None:
    # whole-number fields with jumps that often agree (and centres that sometimes do): the short way's union,
    # alignment and note are the general way's, and its figures stay ints
    if copies:  # a join of one field with itself (and equal fields): aligned
        fields = [fields[0], fields[0], *fields[1:2]]
    rule = Union(context=())
    short = receptive._whole_union(fields)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(receptive, "_whole_union", lambda _: None)
        general = propagate(rule, fields)
    if short is None:  # declined: only where a jump differs or a field is broadcast
        assert any(f.h.jump != fields[0].h.jump or f.w.jump != fields[0].w.jump or f.broadcast for f in fields)
        return
    assert short == general
    assert all(type(v) is int for v in (*short[0].size, *short[0].jump, *short[0].start))
