"""Hostile specs (issue 15, ../shared/reviews/reliability.md): each reproducer is bounded, located and inert.

One test per defect, each failing before its fix. The fuzz test (test_fuzz.py) runs the same seeds, and
many mutants, through the CLI under time and memory limits.
"""

from __future__ import annotations

import re
from pathlib import Path

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
