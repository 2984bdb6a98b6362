"""``archcalc rf --effective`` through the CLI: measured radii beside the theoretical field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("torch")


def test_effective_field_is_inside_the_theoretical_one(cli_main, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    png = tmp_path / "erf.png"
    code, out, err = cli_main("rf", "lenet5", "--effective", "--heatmap", str(png), "--format", "json")
    assert code == 0, err
    data = json.loads(out)
    assert data["theoretical"]["size"] == [32, 32]  # conv 5, pool 2, conv 5, pool 2, conv 5 on 32×32
    radii = [data["effective"][k]["radius"] for k in ("50%", "90%", "99%")]
    assert radii == sorted(radii) and radii[0] >= 1
    assert data["effective"]["50%"]["share_of_theoretical_area"] < 1.0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_picture_is_written_by_default(cli_main, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    # README: "archcalc rf resnet50 --effective" used to draw nothing without --heatmap
    monkeypatch.chdir(tmp_path)
    code, out, err = cli_main("rf", "lenet5", "--effective", "--dpi", "72")
    assert code == 0, err
    assert "heat map: lenet5-erf.png" in out
    assert (tmp_path / "lenet5-erf.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    code, out, err = cli_main("rf", "lenet5", "--effective", "--heatmap", "none", "--format", "json")
    assert code == 0 and json.loads(out)["png"] is None and json.loads(out)["schema_version"] == 1
