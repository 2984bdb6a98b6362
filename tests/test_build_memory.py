"""A network whose weights cannot fit in memory is refused before torch allocates them (issue 15, defect 10:
a 10⁶-wide conv asked torch for 36 TB and ended in an allocator traceback in verify, bench, export, train).
The figure in the message is archcalc's own prediction; ``--force-build`` skips the check."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("torch")

from archcalc.analysis import Analysis
from archcalc.backends.torch import fits
from archcalc.errors import BackendError
from archcalc.report.fmt import human_bytes
from archcalc.spec import load

#: two 10⁶-wide convs (the review's spec), then a classifier so that train gets as far as building it
WIDE = """\
name: wide
input: 3x32x32
layers: [{conv: {out: 1000000, k: 3}}, {conv: {out: 1000000, k: 3}}, gap, flatten, {fc: 10}]
"""


@pytest.fixture
def wide(tmp_path: Path) -> Path:
    path = tmp_path / "wide.yaml"
    path.write_text(WIDE)
    return path


def _need(path: Path) -> str:
    totals = Analysis(load(str(path))).totals
    return human_bytes((totals.params + totals.buffers) * fits.BUILT_BYTES)


@pytest.mark.parametrize("argv", [("verify",), ("export", "-o", "{tmp}/w.pt2"), ("bench", "--batch", "1"),
                                  ("train", "--data", "synthetic", "--epochs", "1", "--run-dir", "{tmp}/run"),
                                  ("rf", "--effective", "--heatmap", "none")],
                         ids=["verify", "export", "bench", "train", "rf-effective"])
def test_weights_larger_than_memory_are_refused_in_one_line(cli_main, wide: Path, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                            argv: tuple[str, ...]) -> None:
    code, _, err = cli_main(argv[0], str(wide), *(a.format(tmp=tmp_path) for a in argv[1:]))
    lines = [line for line in err.splitlines() if not line.startswith("warning: the CPU is busy")]
    assert code == 2 and "Traceback" not in err, err[-500:]
    assert len(lines) == 1 and f"building wide needs {_need(wide)} for its weights alone" in lines[0], err
    assert "--force-build" in lines[0]
    assert not (tmp_path / "w.pt2").exists() and not (tmp_path / "run").exists()


def test_the_check_compares_the_prediction_with_the_memory() -> None:
    analysis = Analysis(load("lenet5"))
    need = (analysis.totals.params + analysis.totals.buffers) * fits.BUILT_BYTES
    fits.check_fits(analysis, memory=need)  # exactly enough
    with pytest.raises(BackendError, match=f"needs {human_bytes(need)}"):
        fits.check_fits(analysis, memory=need - 1)
    fits.force(True)
    try:
        fits.check_fits(analysis, memory=1)
    finally:
        fits.force(False)
    assert (fits.machine_memory() or 1) > 0


def test_force_build_reaches_the_build(cli_main, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    """With --force-build the check is skipped (here the machine is made tiny, and lenet5 still builds)."""
    monkeypatch.setattr(fits, "machine_memory", lambda: 1000)
    code, _, err = cli_main("verify", "lenet5", "--no-rf", "--no-fvcore")
    assert code == 2 and "more than this machine's 1.00 KB of memory" in err, err
    code, _, err = cli_main("verify", "lenet5", "--no-rf", "--no-fvcore", "--force-build")
    assert code == 0, err
    code, _, err = cli_main("verify", "lenet5", "--no-rf", "--no-fvcore")  # the flag does not linger
    assert code == 2 and "--force-build to try anyway" in err, err


def test_verify_refuses_a_training_pass_larger_than_memory(cli_main, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    """The weights fit, the measured pass does not (verify resnet18 --input 3x30000x30000 was a traceback)."""
    analysis = Analysis(load("lenet5"))
    weights = (analysis.totals.params + analysis.totals.buffers) * fits.BUILT_BYTES
    need = analysis.with_dtype("fp32").training_memory(2, "sgd").total
    assert need > weights
    monkeypatch.setattr(fits, "machine_memory", lambda: weights)
    code, _, err = cli_main("verify", "lenet5", "--no-rf", "--no-fvcore")
    assert code == 2 and err.count("\n") == 1, err
    assert f"a training pass of lenet5 at batch 2 needs {human_bytes(need)}" in err, err
