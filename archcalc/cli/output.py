"""Where output goes: a stdout console for results, a stderr console for warnings and progress."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import click

from archcalc.report.model import Report
from archcalc.report.render import FORMATS, TEXT_RENDERERS, render_rich

if TYPE_CHECKING:
    from rich.console import Console

FORMAT_OPTION = click.option(
    "--format", "fmt", type=click.Choice(["auto", *FORMATS]), default="auto", show_default=True,
    help="auto: rich in a terminal, aligned text otherwise; tabulate's formats (plain, simple, github,"
         " markdown, latex, grid, rst); json or csv for scripts.")


def plain_console(**options: Any) -> Console:
    """A rich console that prints strings as they are: spec text is data, so no markup ('[/x]' raised
    MarkupError, '[link=…]' made a hyperlink) and no emoji codes. Styling goes through Text objects."""
    from rich.console import Console

    return Console(markup=False, emoji=False, **options)


def stdout_console() -> Console:
    return plain_console(soft_wrap=False, width=None if sys.stdout.isatty() else 200)


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
