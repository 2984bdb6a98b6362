"""Shared helpers: load a spec from text, run the CLI through click's runner."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import textwrap
from typing import Any

import pytest
from click.testing import CliRunner, Result

from archcalc.analysis import Analysis, analyze
from archcalc.cli.main import cli
from archcalc.spec import load_text

# `archcalc list` caches per-spec rows in the user's cache folder (archcalc.cache): the tests, and the
# commands they start, use a folder of their own rather than the user's ~/.cache
os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="archcalc-test-cache-")
atexit.register(shutil.rmtree, os.environ["XDG_CACHE_HOME"], True)


def analyse_text(text: str, **overrides: Any) -> Analysis:
    return analyze(load_text(textwrap.dedent(text), "test.yaml", overrides or None))


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


__all__ = ["analyse_text", "cli", "run_cli"]
