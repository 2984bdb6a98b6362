"""Files archcalc creates get the permissions a plain ``open()`` gives (0666 less the umask), not mkstemp's
private 0600 (issue 15, defect 13: the heat map and ``export``'s file were 0600, checkpoints and plots 0644);
and the heat map, like ``plot`` and ``diagram``, refuses a missing folder instead of creating it."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from archcalc.errors import OptionError
from archcalc.fileio import atomic_path, write_atomic


@pytest.fixture
def umask() -> Iterator[object]:
    """Set a umask for one test; the old one comes back after."""
    old = os.umask(0o022)
    os.umask(old)

    def set_mask(mask: int) -> None:
        os.umask(mask)

    yield set_mask
    os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("mask", [0o022, 0o027, 0o002])
def test_atomic_writes_get_the_plain_mode(umask, tmp_path: Path, mask: int) -> None:  # type: ignore[no-untyped-def]
    umask(mask)
    write_atomic(tmp_path / "a.txt", "x")
    with atomic_path(tmp_path / "b.pt", durable=True) as tmp:
        tmp.write_bytes(b"y")
    assert mode(tmp_path / "a.txt") == mode(tmp_path / "b.pt") == 0o666 & ~mask


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
@pytest.mark.parametrize("mask", [0o022, 0o002])
def test_bench_result_files_get_the_plain_mode(umask, tmp_path: Path, suffix: str, mask: int) -> None:  # type: ignore[no-untyped-def]
    from archcalc.backends.torch.bench_out import append_results

    umask(mask)
    out = tmp_path / f"results{suffix}"
    append_results(str(out), [{"spec": "lenet5", "ms": 1.5}])
    assert mode(out) == 0o666 & ~mask


def test_the_heat_map_refuses_a_missing_folder(cli_main, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("torch")
    from archcalc.backends.torch.erf import effective_rf
    from archcalc.spec import load

    png = tmp_path / "missing" / "dir" / "h.png"
    code, out, err = cli_main("rf", "lenet5", "--effective", "--heatmap", str(png))
    assert code == 2 and out == "" and err.count("\n") == 1 and "does not exist" in err, err
    with pytest.raises(OptionError, match="does not exist"):
        effective_rf(load("lenet5"), png=png, runs=1)
    assert not (tmp_path / "missing").exists()


def test_the_heat_map_gets_the_plain_mode(umask, cli_main, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("torch")
    umask(0o002)
    png = tmp_path / "h.png"
    code, _, err = cli_main("rf", "lenet5", "--effective", "--heatmap", str(png), "--dpi", "50")
    assert code == 0, err
    assert mode(png) == 0o664
