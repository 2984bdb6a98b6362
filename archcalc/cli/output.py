"""Where output goes: a stdout console for results, a stderr console for warnings and progress."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from archcalc.report.model import Report
from archcalc.report.render import FORMATS, TEXT_RENDERERS, render_rich

if TYPE_CHECKING:
    from rich.console import Console

FORMAT_OPTION = click.option(
    "--format", "fmt", type=click.Choice(["auto", *FORMATS]), default="auto", show_default=True,
    help="auto: rich in a terminal, aligned text otherwise; tabulate's formats (plain, simple, github,"
         " markdown, latex, grid, rst); json or csv for scripts.")


def stdout_console() -> Console:
    from rich.console import Console

    return Console(soft_wrap=False, width=None if sys.stdout.isatty() else 200)


def warn(message: str) -> None:
    """One line on stderr, never mixed into the results on stdout."""
    click.echo(message, err=True)


def emit(report: Report, fmt: str, bars: bool = False) -> None:
    """Render a report in the requested format (auto: rich on a terminal, plain text otherwise)."""
    for w in report.warnings:
        warn(w)
    if fmt == "auto":
        fmt = "rich" if sys.stdout.isatty() else "text"
    if fmt == "rich":
        render_rich(report, stdout_console(), bars=bars)
        return
    click.echo(TEXT_RENDERERS[fmt](report), nl=False)
