"""Hostile specs (issue 15, ../shared/reviews/reliability.md): each reproducer is bounded, located and inert.

One test per defect, each failing before its fix. The fuzz test (test_fuzz.py) runs the same seeds, and
many mutants, through the CLI under time and memory limits.
"""

from __future__ import annotations

import os
import re
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from archcalc.errors import SourceLocation, SpecError

HOSTILE = Path(__file__).parent / "hostile"
LOCATED = re.compile(r"^[^\n]*\.yaml:\d+:\d+: [^\n]+$")


def _run(cli_main, path: Path | str, *args: str) -> tuple[int, str, str]:  # type: ignore[no-untyped-def]
    code, out, err = cli_main("summary", str(path), "--format", "json", *args)
    assert "Traceback" not in err
    return code, out, err


def _located(cli_main, path: Path | str, *args: str) -> str:  # type: ignore[no-untyped-def]
    """Run ``summary`` on a spec that must fail; return its one located error line."""
    code, out, err = _run(cli_main, path, *args)
    assert code == 2, (out[:300], err[:300])
    lines = err.strip().splitlines()
    assert len(lines) == 1, err[:1000]
    assert LOCATED.match(lines[0]), lines[0]
    return lines[0]


# ---- error lines --------------------------------------------------------------------------------------
def test_error_quoting_a_huge_value_is_one_short_line(cli_main, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # R22: an attribute holding a 1 MB string used to give a 1 MB error line.
    spec = tmp_path / "long.yaml"
    spec.write_text('input: 3x8x8\nlayers: [{conv: {out: 4, k: "' + "x" * 1_000_000 + '"}}]\n')
    line = _located(cli_main, spec)
    assert len(line) < 400 + len(str(spec)), len(line)
    assert line.endswith("…")


def test_error_line_escapes_control_characters() -> None:
    err = SpecError("invalid layer name 'c1\n\x1b[31m'", SourceLocation("a.yaml", 1, 2), "hint\nmore")
    assert err.format() == r"a.yaml:1:2: invalid layer name 'c1\n\x1b[31m' (hint\nmore)"


def run_limited(*argv: str, timeout: float = 30, memory: int = 1 << 30, cwd: Path | None = None
                ) -> subprocess.CompletedProcess[str]:
    """``python -m archcalc ARGV`` in a child with an address-space cap, so a blow-up cannot hurt the
    machine; a hang shows up as ``subprocess.TimeoutExpired``."""
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))

    return subprocess.run([sys.executable, "-m", "archcalc", *argv], capture_output=True, text=True,
                          timeout=timeout, preexec_fn=limit, cwd=cwd, check=False)


# ---- reading the file -----------------------------------------------------------------------------------
def test_latin1_file_is_located(cli_main, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    spec = tmp_path / "latin1.yaml"
    spec.write_bytes("name: café\ninput: 3x8x8\nlayers: [relu]\n".encode("latin-1"))
    line = _located(cli_main, spec)
    assert "latin1.yaml:1:10: spec file is not UTF-8 text: byte 0xe9" in line


def test_control_character_is_located(cli_main, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    spec = tmp_path / "ctrl.yaml"
    spec.write_bytes(b"input: 3x8x8\nlayers: [relu, \x01relu]\n")  # libyaml said 'position 28', two lines
    assert "ctrl.yaml:2:16: control character U+0001" in _located(cli_main, spec)


@pytest.mark.parametrize("kind", ["fifo", "dev_zero", "directory"])
def test_non_regular_file_is_refused_before_reading(tmp_path: Path, kind: str) -> None:
    spec = tmp_path / "spec.yaml"
    if kind == "fifo":
        os.mkfifo(spec)  # used to block forever
    elif kind == "dev_zero":
        spec.symlink_to("/dev/zero")  # used to be read whole: MemoryError at the cap
    else:
        spec.mkdir()
    proc = run_limited("summary", str(spec), timeout=30, memory=2 << 30)
    assert proc.returncode == 2, proc.stderr[-500:]
    assert proc.stderr.strip() == f"{spec}:1:1: not a regular file (a directory, device or pipe)"


def test_oversized_file_is_refused(cli_main, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    spec = tmp_path / "big.yaml"
    spec.write_text("input: 3x8x8\nlayers: [relu]\n" + "#" * (5 << 20) + "\n")
    assert "big.yaml:1:1: spec file is larger than 4 MiB" in _located(cli_main, spec)
