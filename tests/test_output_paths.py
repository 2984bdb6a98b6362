"""Output files (issue 15, defects 2 and 6): a bad ``-o``/``--out``/``--heatmap`` is one line before any work,
and a spec's ``name:`` never decides where a default file goes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from archcalc.cli.paths import check_output, default_output, safe_stem
from archcalc.errors import OptionError

#: each command with its output option; the spec does not exist, so an error about it means the output
#: was not checked first
COMMANDS = {
    "plot": ("plot", "no_such_spec", "-o"),
    "diagram": ("diagram", "no_such_spec", "-o"),
    "report": ("report", "no_such_spec", "-o"),
    "export": ("export", "no_such_spec", "-o"),
    "rf_heatmap": ("rf", "no_such_spec", "--effective", "--heatmap"),
    "bench": ("bench", "no_such_spec", "--out"),
}
SUFFIX = {"plot": ".png", "diagram": ".svg", "report": ".html", "export": ".pt2", "rf_heatmap": ".png",
          "bench": ".jsonl"}


def _one_line(cli_main, argv: tuple[str, ...]) -> str:  # type: ignore[no-untyped-def]
    code, out, err = cli_main(*argv)
    assert code == 2 and out == "" and "Traceback" not in err, (code, err[-500:])
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "no_such_spec" not in lines[0], err
    return lines[0]


@pytest.mark.parametrize("command", COMMANDS)
def test_missing_folder_is_refused_before_the_spec_is_read(cli_main, tmp_path: Path, command: str) -> None:  # type: ignore[no-untyped-def]
    target = tmp_path / "missing" / f"out{SUFFIX[command]}"
    line = _one_line(cli_main, (*COMMANDS[command], str(target)))
    assert "does not exist" in line and str(tmp_path / "missing") in line


@pytest.mark.parametrize("command", COMMANDS)
def test_a_folder_as_the_file_is_refused_before_the_spec_is_read(cli_main, tmp_path: Path, command: str) -> None:  # type: ignore[no-untyped-def]
    assert "is a folder" in _one_line(cli_main, (*COMMANDS[command], str(tmp_path)))


@pytest.mark.parametrize(("path", "message"), [
    ("/dev/null", "not a regular file"), ("x" * 300 + ".png", "longer than 255 bytes"), ("", "not a file name"),
    ("picture.pdf", "should end in .png or .svg")])
def test_other_unwritable_outputs(cli_main, path: str, message: str) -> None:  # type: ignore[no-untyped-def]
    assert message in _one_line(cli_main, ("plot", "no_such_spec", "-o", path))


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes in a read-only folder")
def test_read_only_folder_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir(mode=0o500)
    with pytest.raises(OptionError, match="no permission to write"):
        check_output(str(folder / "x.png"))


def test_an_existing_file_may_be_replaced(tmp_path: Path) -> None:
    (tmp_path / "old.png").write_bytes(b"x")
    assert check_output(str(tmp_path / "old.png"), suffixes=(".png",)) == tmp_path / "old.png"


@pytest.mark.parametrize(("name", "stem"), [
    ("../x", "x"), ("../../etc/cron.d/x", "etc_cron.d_x"), ("/etc/passwd", "etc_passwd"), ("..", "network"),
    ("a\nb", "a_b"), ("-rf", "rf"), (".hidden", "hidden"), ("C:\\x", "C_x"), ("resnet50_v1.5", "resnet50_v1.5"),
    ("y" * 1000, "y" * 120), ("名" * 100, "名" * 40)])
def test_default_names_stay_in_the_current_folder(name: str, stem: str) -> None:
    assert safe_stem(name) == stem
    out = default_output(name, "-diagram.svg")
    assert Path(out).name == out and len(out.encode()) <= 255


@pytest.mark.parametrize("command", [("diagram",), ("report",), ("plot", "--kind", "rf")])
def test_a_spec_named_with_a_path_writes_here(cli_main, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
                                              command: tuple[str, ...]) -> None:
    if command[0] == "plot":
        pytest.importorskip("matplotlib")
    work = tmp_path / "a" / "b"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    (work / "n.yaml").write_text("name: ../../escaped\ninput: 3x8x8\nlayers: [{conv: {out: 4, k: 3}}, relu]\n")
    code, _, err = cli_main(command[0], "n.yaml", *command[1:])
    assert code == 0, err[-300:]
    written = sorted(p.name for p in work.iterdir() if p.name != "n.yaml")
    assert len(written) == 1 and written[0].startswith("escaped-"), written
    assert sorted(p.name for p in tmp_path.rglob("*escaped*")) == written


# ---- train --run-dir (issue 15, defect 6: '--run-dir /proc/x' was a FileNotFoundError after the build)

def _train_run_dir(run_dir: str) -> str:
    """``archcalc train lenet5 --run-dir RUN_DIR`` through click's runner; its one-line error."""
    pytest.importorskip("torch")
    from click.testing import CliRunner

    from archcalc.cli.train import train_command

    result = CliRunner().invoke(train_command, ["lenet5", "--epochs", "1", "--data", "synthetic", "--device",
                                                "cpu", "--run-dir", run_dir])
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output[-500:]
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "training" not in lines[0], result.output  # refused before any training
    return lines[0]


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs procfs")
def test_run_dir_in_proc_is_refused() -> None:
    assert "--run-dir '/proc/x': cannot write there" in _train_run_dir("/proc/x")


def test_run_dir_naming_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("x")
    assert "exists and is not a folder" in _train_run_dir(str(tmp_path / "afile"))
    assert "is not a folder" in _train_run_dir(str(tmp_path / "afile" / "run"))


def test_unwritable_run_dir_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if Path(p) == locked else real_access(p, mode))
    line = _train_run_dir(str(locked / "run"))  # root may write anywhere: the permission is simulated
    assert "no permission to write in" in line and str(locked) in line
    assert not (locked / "run").exists()
