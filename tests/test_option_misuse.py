"""Option values torch cannot take are refused before any work (issue 15, defect 10's smaller cases: each was
a traceback, or, for ``--lr nan``, a run that trained on NaN)."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("torch")

HUGE = "9" * 30

CASES = [
    (("train", "lenet5", "--seed", HUGE), "--seed"),
    (("verify", "lenet5", "--seed", HUGE), "--seed"),
    (("export", "lenet5", "--seed", HUGE, "-o", "{tmp}/x.pt2"), "--seed"),
    (("bench", "lenet5", "--seed", HUGE), "--seed"),
    (("bench", "lenet5", "--threads", "100000"), "--threads"),
    (("bench", "lenet5", "--batch", HUGE), "--batch sizes must be at most"),
    (("bench", "lenet5", "--compile", "--compile-backend", "bogus", "--batch", "1"),
     "--compile-backend 'bogus' is not a torch.compile backend"),
    (("train", "lenet5", "--lr", "1e308"), "--lr 1e+308 must be a finite number"),
    (("train", "lenet5", "--lr", "nan"), "--lr nan must be a finite number"),
    (("train", "lenet5", "--lr", "inf"), "--lr inf must be a finite number"),
    (("train", "lenet5", "--clip", "nan"), "--clip nan must be ≥ 0"),
]


@pytest.mark.parametrize(("argv", "message"), CASES, ids=[" ".join(a[:4])[:40] for a, _ in CASES])
def test_option_values_torch_cannot_take_are_refused(cli_main, tmp_path: Path, argv: tuple[str, ...],  # type: ignore[no-untyped-def]
                                                     message: str) -> None:
    if argv[0] == "train":
        argv = (*argv, "--data", "synthetic", "--epochs", "1", "--run-dir", str(tmp_path / "run"))
    code, _, err = cli_main(*(a.format(tmp=tmp_path) for a in argv))
    assert code == 2 and "Traceback" not in err, err[-800:]
    assert message in err, err
    assert not (tmp_path / "run").exists() and not (tmp_path / "x.pt2").exists()


def test_a_batch_past_what_torch_can_size_is_out_of_memory(cli_main) -> None:  # type: ignore[no-untyped-def]
    """2**62 images: torch's 'Storage size calculation overflowed' is an allocator failure like any other."""
    code, _, err = cli_main("bench", "lenet5", "--batch", str(2**62), "--iters", "1", "--warmup", "0",
                            "--threads", "1")
    assert code in (1, 2) and "Traceback" not in err, err[-800:]
    assert f"out of memory at batch {2**62}" in err and "archcalc predicts" in err, err
