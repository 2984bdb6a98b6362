"""Shared helpers: load a spec from text, run the CLI through click's runner."""

from __future__ import annotations

import textwrap
from typing import Any

import pytest
from click.testing import CliRunner, Result

from archcalc.analysis import Analysis, analyze
from archcalc.cli.main import cli
from archcalc.spec import load_text, zoo


def analyse_text(text: str, **overrides: Any) -> Analysis:
    return analyze(load_text(textwrap.dedent(text), "test.yaml", overrides or None))


def zoo_sample() -> list[str]:
    """Every one-network zoo spec and the first variant of each family (its smallest, by the zoo's habit).

    The whole-zoo tests that build and run torch models (verify, saved bytes, drawing the bars) take these:
    a family's other variants differ only in widths, depths and resolution, which the symbolic whole-zoo
    tests, each family's golden tests and ``make parity`` (every variant against torchvision) check.
    """
    firsts: dict[str, str] = {}
    for name in zoo.names():
        file, variant = zoo.locate(name)
        if variant is None:
            firsts[name] = name
        else:
            firsts.setdefault(str(file), zoo.variants_of(file)[0])
    return sorted(firsts.values())


def run_cli(*args: str, input: str | None = None) -> Result:
    """Invoke the CLI as a user would (errors rendered by archcalc.cli.main.main)."""
    from archcalc.cli import main as main_module

    runner = CliRunner()
    return runner.invoke(main_module.cli, list(args), input=input, standalone_mode=False,
                         catch_exceptions=True)


@pytest.fixture
def cli_main(capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    """Run ``archcalc.cli.main.main(argv)``; returns (exit code, stdout, stderr)."""
    from archcalc.cli.main import main

    def invoke(*argv: str) -> tuple[int, str, str]:
        code = 0
        try:
            main(list(argv))
        except SystemExit as exc:
            code = int(exc.code or 0)
        out, err = capsys.readouterr()
        return code, out, err

    return invoke


__all__ = ["analyse_text", "cli", "run_cli", "zoo_sample"]
