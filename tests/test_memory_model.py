"""The memory model follows the same in-place plan as the torch backend."""

from __future__ import annotations

import pytest

from tests.conftest import analyse_text

SPEC = """
input: 3x16x16
layers:
  - conv: {out: 4, k: 3, pad: 1, name: c1}
  - relu: {name: r1}                 # after a conv: safe, in place
  - sigmoid: {name: s1}
  - relu: {name: r2}                 # sigmoid saved its output for backward: must not be overwritten
  - concat:
      - [{relu: {name: r3}}]         # r2's output is also read by the other branch: out of place
      - [{conv: {out: 4, k: 1, name: c2}}]
    name: cat
"""


def test_unsafe_in_place_requests_allocate() -> None:
    a = analyse_text(SPEC)
    plan = a.inplace_plan
    assert plan["r1"] == 0 and plan["r2"] is None and plan["b1.r3"] is None
    r = a.results
    assert r["r1"].alloc_elems == 0
    assert r["r2"].alloc_elems == 4 * 16 * 16 and r["b1.r3"].alloc_elems == 4 * 16 * 16
    # CS231n sum: input + c1 + s1 + r2 + r3 + c2 + cat (r1 in place)
    assert a.totals.activation_elems == 3 * 256 + 4 * 256 * 5 + 8 * 256


def test_saved_bytes_match_torch_with_unsafe_in_place_requests() -> None:
    torch = pytest.importorskip("torch")
    from archcalc.backends.torch.bench_memory import saved_tensor_bytes
    from archcalc.backends.torch.build import build_model

    a = analyse_text(SPEC)
    model = build_model(a.graph)
    measured = saved_tensor_bytes(model, torch.randn(2, 3, 16, 16))
    assert measured.nbytes == a.saved_bytes(2), measured.described
