"""The symbolic commands through the CLI, as a user runs them."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys

import pytest

from archcalc.cli.main import COMMANDS, cli
from archcalc.report import SCHEMA_VERSION, Report


def test_help_for_every_command(cli_main) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = cli_main("--help")
    assert code == 0
    for name in ("summary", "rf", "list", "compare"):
        assert name in out
    for name in COMMANDS:
        command = cli.get_command(None, name)  # type: ignore[arg-type]
        if command is None:
            continue  # a backend command whose module is not installed
        code, out, err = cli_main(name, "--help")
        assert code == 0, err
        assert "Usage: archcalc" in out or "Usage:" in out


def test_summary_json_round_trips(cli_main) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = cli_main("summary", "vgg16", "--format", "json")
    assert code == 0
    data = json.loads(out)
    assert data["schema_version"] == SCHEMA_VERSION
    assert data["totals"]["params"] == 138_357_544
    report = Report.from_dict(data)
    assert json.loads(json.dumps(report.to_dict())) == data
    assert sum(r["params"] for r in data["rows"]) == data["totals"]["params"]


def test_summary_csv_rows_sum_to_totals(cli_main) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = cli_main("summary", "alexnet", "--format", "csv")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    total = rows[-1]
    assert total["name"] == "TOTAL"
    assert sum(int(r["params"]) for r in rows[:-1]) == int(total["params"]) == 60_965_224
    assert sum(int(r["macs"]) for r in rows[:-1]) == int(total["macs"])


@pytest.mark.parametrize("fmt", ["plain", "simple", "github", "markdown", "latex", "grid", "rst"])
def test_text_formats(cli_main, fmt: str) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = cli_main("summary", "lenet5", "--format", fmt)
    assert code == 0
    assert "conv1" in out and "61,706" in out
    if fmt == "latex":
        assert "\\begin{tabular}" in out
    if fmt in ("markdown", "github"):
        assert "| conv1" in out


def test_rich_output_header_states_the_convention(cli_main) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = cli_main("summary", "vgg16", "--format", "rich", "--bars")
    assert code == 0
    assert "multiply-accumulates" in out
    assert "138,357,544" in out
    assert "█" in out


def test_depth_folds_blocks_without_changing_totals(cli_main, tmp_path) -> None:  # type: ignore[no-untyped-def]
    spec = tmp_path / "res.yaml"
    spec.write_text("""
input: 3x32x32
blocks:
  basic:
    args: [c]
    body:
      - add: [[{conv: {out: $c, k: 3, pad: 1}}, bn, relu, {conv: {out: $c, k: 3, pad: 1}}, bn], []]
      - relu
layers:
  - conv: {out: 16, k: 3, pad: 1}
  - repeat: 3
    body: [basic: [16]]
  - gap
  - flatten
  - fc: 10
""")
    full = json.loads(cli_main("summary", str(spec), "--format", "json")[1])
    folded = json.loads(cli_main("summary", str(spec), "--format", "json", "--depth", "0")[1])
    assert full["totals"] == folded["totals"]
    assert [r["name"] for r in folded["rows"]] == ["input", "conv1", "basic1", "basic2", "basic3", "gap1",
                                                   "flatten1", "fc1"]
    basic1 = folded["rows"][2]
    assert basic1["group"] and basic1["layers"] == 7
    assert basic1["params"] == 2 * (16 * 16 * 9 + 16) + 2 * 2 * 16
    assert sum(r["params"] for r in folded["rows"]) == full["totals"]["params"]


def test_set_and_input_overrides(cli_main) -> None:  # type: ignore[no-untyped-def]
    _, out, _ = cli_main("summary", "vgg16", "--set", "num_classes=10", "--format", "json")
    data = json.loads(out)
    assert data["rows"][-1]["shape"] == [10]
    _code, out, _err = cli_main("summary", "vgg16", "--input", "3x32x32", "--format", "json")
    data = json.loads(out)
    assert data["spec"]["input"] == [3, 32, 32]
    rows = {r["name"]: r for r in data["rows"]}
    assert rows["pool5"]["shape"] == [512, 1, 1]  # 32 / 2^5
    assert rows["fc6"]["params"] == 512 * 4096 + 4096


def test_memory_budget_gives_largest_batch(cli_main) -> None:  # type: ignore[no-untyped-def]
    _code, out, _ = cli_main("summary", "vgg16", "--memory-budget", "80GB", "--format", "json")
    t = json.loads(out)["totals"]
    assert t["memory_budget"] == 80 * 10**9
    assert t["max_batch"] > 0


def test_rf_stack_prints_7(cli_main) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = cli_main("rf", "--stack", "3x3,3x3,3x3")
    assert code == 0 and out.strip() == "7"
    code, out, _ = cli_main("rf", "--stack", "7x7/2,pool3/2,3x3", "--format", "json")
    # 7; +(3-1)*2 = 11; +(3-1)*4 = 19
    assert json.loads(out) == {"size": [19, 19], "jump": [4, 4], "growth": [[7, 7], [11, 11], [19, 19]]}


def test_rf_layer_and_unit(cli_main) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = cli_main("rf", "vgg16", "--layer", "conv1_2", "--at", "0,0", "--format", "json")
    data = json.loads(out)
    # two 3x3 pad-1 convs: unit (0,0) sees rows -2..2, i.e. 5x5, 16 of the 25 positions are padding
    assert data["rows"] == [-2, 2] and data["cols"] == [-2, 2]
    assert data["clipped_rows"] == [0, 2]
    assert data["padding_fraction"] == pytest.approx(16 / 25)
    code, _, err = cli_main("rf", "vgg16", "--layer", "conv1_3")
    assert (code == 2 and "did you mean conv1_2?" in err) or "did you mean" in err


def test_list_and_compare(cli_main) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = cli_main("list", "--format", "json")
    assert code == 0
    names = {r["name"]: r for r in json.loads(out)}
    assert names["vgg16"]["params"] == 138_357_544 and names["vgg16"]["depth"] == 16
    code, out, _ = cli_main("compare", "alexnet", "vgg16", "--format", "json")
    data = json.loads(out)
    assert data["alexnet"]["depth"] == 8 and data["vgg16"]["depth"] == 16
    assert data["vgg16"]["rf"]["size"] == [212, 212]


def test_schema_command(cli_main) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = cli_main("schema")
    assert code == 0 and json.loads(out)["title"] == "archcalc network spec"


@pytest.mark.parametrize(("argv", "printed"), [
    (["summary", "vgg16", "--format", "json"], '"params": 138357544'),
    (["report", "vgg16", "-o", "-"], '"params":138357544'),
])
def test_python_dash_m_and_no_torch_import(argv: list[str], printed: str) -> None:
    code = (f"import sys, runpy; sys.argv=['archcalc', *{argv!r}];"
            "\ntry:\n    runpy.run_module('archcalc', run_name='__main__')\nexcept SystemExit: pass\n"
            "bad=[m for m in sys.modules if m.split('.')[0] in ('torch','fvcore','numpy','matplotlib')]\n"
            "print('HEAVY', bad, file=sys.stderr)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert printed in proc.stdout
    assert "HEAVY []" in proc.stderr, proc.stderr
