"""The option-misuse matrix (issue 15): every command × every option × bad values — no traceback, no hang.

The commands and their options are read from the CLI itself (``COMMANDS`` and each click command's
parameters), so an option added later is tried too. Each value is one a user can type by mistake: empty,
not a number, negative, zero, nan, ±inf, 10³⁰, and for paths a directory, a folder inside /proc, a missing
folder and a path under a file. Each case runs in process under a CPU deadline; it must end with exit 0 (a
value that is valid there) or exit 2 with one line (click's usage errors end in one ``Error:`` line) —
never a traceback, another exit code, or a run that does not end (``bench --seconds nan``,
``train --epochs 10**30`` were such runs).
"""

from __future__ import annotations

import importlib
from pathlib import Path

import click
import pytest

from archcalc.cli.main import COMMANDS
from tests.fuzz_driver import run_one
from tests.fuzz_support import Deadline, deadline

HUGE = "9" * 30
NUMBERS = ["", "abc", "-1", "0", "nan", "inf", "1e999", HUGE, "-" + HUGE]
CHOICES = ["", "bogus", HUGE]
#: options whose value is a path to write, whatever their click type
OUTPUTS = {"out", "output", "run_dir", "heatmap"}
#: what each command is run on (a zoo spec unless said), and what keeps a case small where a value is valid
SPEC = {"list": [], "schema": [], "compare": ["lenet5", "vgg11"], "import": ["no_such_file.py:build"]}
SMALL = {"train": ["--data", "synthetic", "--epochs", "1"], "bench": ["--iters", "2", "--warmup", "0"]}
TORCH = {"verify", "export", "bench", "train"}
#: seconds of CPU a case may take: a valid value runs the command for real on LeNet-5
CPU_LIMIT = 60


def _paths(tmp: Path) -> list[str]:
    (tmp / "adir.png").mkdir(parents=True, exist_ok=True)
    (tmp / "afile").write_text("x")
    return [str(tmp / "adir.png"), "/proc/x/y.png", str(tmp / "missing" / "dir" / "x.png"),
            str(tmp / "afile" / "x.png"), ""]


def _cases(name: str, tmp: Path) -> list[list[str]]:
    module, attr = COMMANDS[name].split(":")
    command = getattr(importlib.import_module(module), attr)
    cases = []
    for param in command.params:
        if not isinstance(param, click.Option) or param.is_flag or param.name == "help":
            continue
        option = max(param.opts, key=len)
        if isinstance(param.type, click.Path) or param.name in OUTPUTS:
            values = _paths(tmp / option.strip("-"))
        elif isinstance(param.type, click.Choice):
            values = CHOICES
        else:
            values = NUMBERS
        for value in values:
            argv = [name, *SPEC.get(name, ["lenet5"]), option, value]
            small = [a for i, a in enumerate(SMALL.get(name, []))
                     if SMALL[name][i - (i % 2)] != option]  # the option under test is not overridden
            if name == "train" and param.name != "run_dir":
                small += ["--run-dir", str(tmp / "run")]
            cases.append(argv + small)
    return cases


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_option_of_every_command_takes_bad_values_in_one_line(name: str, tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    if name in TORCH:
        pytest.importorskip("torch")
    monkeypatch.chdir(tmp_path)
    failures = []
    cases = _cases(name, tmp_path)
    assert cases or name == "schema", f"{name} has no options to try"
    for argv in cases:
        try:
            with deadline(CPU_LIMIT, cpu=True):
                code, _, err, _ = run_one(argv)
        except Deadline:
            failures.append(f"{' '.join(argv[:4])[:90]}: still running after {CPU_LIMIT} s of CPU")
            continue
        # warnings before the error are their own lines (bench's busy-CPU warning); click's usage errors are
        # Usage, Try, then one Error line
        lines = [line for line in err.strip().splitlines() if line.strip() and not line.startswith("warning:")]
        one_line = len(lines) <= 1 or lines[-1].startswith("Error: ")
        if code is None or code not in (0, 2) or (code == 2 and not one_line):
            failures.append(f"{' '.join(argv[:4])[:90]}: exit {code}: {err.strip()[-300:]}")
    assert not failures, "\n".join(failures)
