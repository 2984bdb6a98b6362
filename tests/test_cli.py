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


def test_summary_csv_is_one_row_per_layer_with_numbers(cli_main) -> None:  # type: ignore[no-untyped-def]
    # the review: a TOTAL row in the data doubled pandas' params.sum() (51,114,064 for ResNet-50)
    code, out, _ = cli_main("summary", "resnet50", "--format", "csv")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert all(r["name"] != "TOTAL" for r in rows)
    assert sum(int(r["params"]) for r in rows) == 25_557_032
    conv1 = next(r for r in rows if r["name"] == "conv1")
    assert (conv1["out_c"], conv1["out_h"], conv1["out_w"]) == ("64", "112", "112")
    assert (conv1["rf_h"], conv1["rf_w"], conv1["jump_h"], conv1["start_h"]) == ("7", "7", "2", "-3")
    fc = next(r for r in rows if r["name"] == "fc")
    assert fc["out_c"] == "1000" and fc["out_h"] == ""
    for r in rows:  # every numeric column parses as a number
        for key in ("depth", "params", "macs", "activations", "memory_bytes"):
            int(r[key])


@pytest.mark.parametrize("fmt", ["markdown", "github"])
def test_markdown_has_a_header_row_for_every_table_and_right_aligned_numbers(cli_main, fmt: str) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = cli_main("summary", "resnet50", "--format", fmt, "--depth", "2")
    assert code == 0
    lines = out.splitlines()
    separators = [i for i, line in enumerate(lines) if line.startswith("|:") or line.startswith("|-")]
    assert len(separators) == 3  # layers, totals, published figures
    for i in separators:
        assert lines[i - 1].startswith("| "), "a table without its header row does not render"
    assert "---:|" in lines[separators[0]]  # numbers right-aligned
    assert "| layer1.block1 (12 layers)" in out  # full names: leading spaces are lost in markup


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
    folded = json.loads(cli_main("summary", str(spec), "--format", "json", "--depth", "1")[1])
    assert full["totals"] == folded["totals"]
    assert [r["name"] for r in folded["rows"]] == ["input", "conv1", "basic1", "basic2", "basic3", "gap1",
                                                   "flatten1", "fc1"]
    basic1 = folded["rows"][2]
    assert basic1["group"] and basic1["layers"] == 7
    assert basic1["params"] == 2 * (16 * 16 * 9 + 16) + 2 * 2 * 16
    assert sum(r["params"] for r in folded["rows"]) == full["totals"]["params"]


def test_depth_1_is_one_row_per_stage_and_groups_show_subtotals(cli_main) -> None:  # type: ignore[no-untyped-def]
    # README: "archcalc summary resnet50 --depth 1  # fold blocks: one row per stage"
    code, out, _ = cli_main("summary", "resnet50", "--depth", "1", "--format", "text")
    assert code == 0
    names = [line.split()[0] for line in out.splitlines()[3:] if line and not line.startswith(" ")]
    assert [n for n in names if n.startswith("layer")] == ["layer1", "layer2", "layer3", "layer4"]
    assert not any(line.lstrip().startswith("block") for line in out.splitlines())
    # full depth: group rows name the hierarchy, each with its subtotal, before its layers
    code, out, _ = cli_main("summary", "resnet50", "--format", "text")
    lines = out.splitlines()
    i = next(k for k, line in enumerate(lines) if line.startswith("layer1 "))
    assert lines[i].split()[:2] == ["layer1", "stage"] and "215,808" in lines[i]
    assert lines[i + 1].split()[:2] == ["block1", "bottleneck"] and "75,008" in lines[i + 1]
    assert lines[i + 2].split()[:2] == ["residual", "branch"]
    shortcut = next(line for line in lines[i:] if line.strip().startswith("shortcut"))
    assert "16,896" in shortcut  # its subtotal: conv 16,384 + bn 512
    # the peak's layer named in the totals is findable in the table's tree
    assert "at layer1.block1.shortcut.bn" in out


def test_googlenet_groups_name_the_inception_modules(cli_main) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = cli_main("summary", "googlenet", "--depth", "2", "--format", "text")
    assert code == 0
    for name in ("inception_3a", "inception_5b"):
        assert any(line.startswith(name + " ") for line in out.splitlines())
    assert "b1x1" in out


def test_json_groups_carry_subtotals_that_sum_their_layers(cli_main) -> None:  # type: ignore[no-untyped-def]
    data = json.loads(cli_main("summary", "resnet50", "--format", "json")[1])
    groups = {g["path"]: g for g in data["groups"]}
    layer1 = groups["layer1"]
    under = [r for r in data["rows"] if r["name"].startswith("layer1.")]
    assert layer1["params"] == sum(r["params"] for r in under) == 215_808
    assert layer1["layers"] == len(under) and layer1["shape"] == [256, 56, 56]
    assert layer1["rf"]["size"] == [35, 35]


def test_rich_never_cuts_a_number_at_80_columns() -> None:
    import io

    from rich.console import Console

    from archcalc.cli.options import load_analysis
    from archcalc.report.model import build_report
    from archcalc.report.render import render_rich

    for name in ("vgg16", "resnet50", "googlenet"):
        buf = io.StringIO()
        render_rich(build_report(load_analysis(name, None, ())), Console(file=buf, width=80))
        text = buf.getvalue()
        assert "…" not in text, name
        assert max(len(line) for line in text.splitlines()) <= 80
        assert "102,764,544" in text or name != "vgg16"
        assert "left out to fit 80 columns: Type" in text


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
    assert json.loads(out) == {"schema_version": 1, "kind": "rf_stack", "size": [19, 19], "jump": [4, 4],
                               "growth": [[7, 7], [11, 11], [19, 19]]}


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
    doc = json.loads(out)
    assert doc["schema_version"] == 1 and doc["kind"] == "list"
    names = {r["name"]: r for r in doc["specs"]}
    assert names["vgg16"]["params"] == 138_357_544 and names["vgg16"]["depth"] == 16
    code, out, _ = cli_main("compare", "alexnet", "vgg16", "--format", "json")
    doc = json.loads(out)
    assert doc["schema_version"] == 1 and doc["kind"] == "compare"
    data = {s["name"]: s for s in doc["specs"]}
    assert data["alexnet"]["depth"] == 8 and data["vgg16"]["depth"] == 16
    assert data["vgg16"]["rf"]["size"] == [212, 212]


@pytest.mark.parametrize("argv", [["list"], ["rf", "vgg16"], ["compare", "resnet34", "plain34"],
                                  ["summary", "lenet5"]])
def test_every_table_command_is_plain_text_in_a_pipe_and_speaks_every_format(cli_main, argv: list[str]) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = cli_main(*argv)  # the runner's stdout is not a terminal: aligned text
    assert code == 0
    assert not set("│┃━─┏┡└") & set(out), "box characters in a pipe"
    for fmt in ("markdown", "github", "latex", "grid", "rst", "plain", "simple", "text"):
        code, out, err = cli_main(*argv, "--format", fmt)
        assert code == 0, (fmt, err)
    code, out, _ = cli_main(*argv, "--format", "json")
    assert json.loads(out)["schema_version"] == SCHEMA_VERSION
    code, out, _ = cli_main(*argv, "--format", "csv")
    rows = list(csv.reader(io.StringIO(out)))
    assert len(rows) > 2 and len({len(r) for r in rows}) == 1
    code, out, _ = cli_main(*argv, "--format", "rich")
    assert code == 0 and out.strip()


def test_list_fits_80_columns_without_cutting_numbers() -> None:
    import io as io_

    from rich.console import Console

    from archcalc.cli import output

    buf = io_.StringIO()
    console = Console(file=buf, width=80)
    original = output.stdout_console
    output.stdout_console = lambda: console  # type: ignore[assignment]
    try:
        from archcalc.cli.zoo_list import list_command

        list_command.main(["--format", "rich"], standalone_mode=False)
    finally:
        output.stdout_console = original  # type: ignore[assignment]
    text = buf.getvalue()
    assert "60,965,224" in text and "138,357,544" in text  # alexnet and vgg16, whole
    assert max(len(line) for line in text.splitlines()) <= 80


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


def test_summary_ends_with_the_published_figures_in_every_format(cli_main) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = cli_main("summary", "vgg16", "--format", "text")
    assert code == 0
    tail = out[out.index("Published figure"):]
    line = next(x for x in tail.splitlines() if x.startswith("parameters") and "138M" in x)
    assert "Simonyan & Zisserman 2015, Table 2" in line and "✓" in line and "138,357,544" in line
    acts = next(x for x in tail.splitlines() if "24M" in x)
    assert "✗" in acts and "15,237,608" in acts
    data = json.loads(cli_main("summary", "vgg16", "--format", "json")[1])
    figures = {f["label"]: f for f in data["figures"]}
    assert figures["params"]["verdict"] == "reproduced within the publication's rounding"
    assert figures["activation_elems"]["verdict"] == "not reproduced"
    assert "Published figure" not in cli_main("summary", "vgg16", "--format", "text", "--no-published")[1]
    assert json.loads(cli_main("summary", "vgg16", "--format", "json", "--no-published")[1])["figures"] == []
    # figures are the paper's numbers: an override of the input does not change them
    data = json.loads(cli_main("summary", "vgg16", "--input", "3x32x32", "--format", "json")[1])
    assert {f["label"]: f for f in data["figures"]}["params"]["computed"] == 138_357_544


def test_every_command_help_has_an_example(cli_main) -> None:  # type: ignore[no-untyped-def]
    for name in COMMANDS:
        if cli.get_command(None, name) is None:  # type: ignore[arg-type]
            continue
        code, out, _ = cli_main(name, "--help")
        assert code == 0 and "Examples:" in out and f"archcalc {name}" in out.split("Examples:")[1], name
    code, out, _ = cli_main("--help")
    assert "_ARCHCALC_COMPLETE=bash_source archcalc" in out


def test_a_mistyped_command_gets_a_suggestion(cli_main) -> None:  # type: ignore[no-untyped-def]
    code, _, err = cli_main("summry", "vgg16")
    assert code == 2 and "no such command 'summry' (did you mean summary?)" in err


def test_shell_completion_offers_zoo_names_and_spec_files(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from click.shell_completion import ShellComplete

    (tmp_path / "my_net.yaml").write_text("input: 1x8x8\nlayers: [flatten]\n")
    (tmp_path / "notes.txt").write_text("")
    monkeypatch.chdir(tmp_path)

    def complete(args: list[str], incomplete: str) -> list[str]:
        return [c.value for c in ShellComplete(cli, {}, "archcalc", "_ARCHCALC_COMPLETE").get_completions(
            args, incomplete)]

    assert complete([], "summ") == ["summary"]
    assert "vgg16" in complete(["summary"], "vg") and "vgg19_bn" in complete(["summary"], "vg")
    assert complete(["rf"], "my") == ["my_net.yaml"]
    assert "notes.txt" not in complete(["summary"], "")
    assert "resnet50" in complete(["compare", "resnet18"], "resnet5")


def test_bars_in_a_pipe_say_why_they_are_missing(cli_main) -> None:  # type: ignore[no-untyped-def]
    code, out, err = cli_main("summary", "lenet5", "--bars")
    assert code == 0 and "█" not in out and "--bars draws in the rich format only" in err


def test_a_dumb_terminal_gets_plain_text(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import sys

    from archcalc.cli import output

    monkeypatch.setattr(sys.stdout, "isatty", lambda: True, raising=False)
    monkeypatch.setenv("TERM", "dumb")
    assert output.table_format("auto") == "text"
    monkeypatch.setenv("TERM", "xterm-256color")
    assert output.table_format("auto") == "rich"
