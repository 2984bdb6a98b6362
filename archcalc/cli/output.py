"""Where output goes: a stdout console for results, a stderr console for warnings and progress, and the
one ``--format`` option every table command shares (``archcalc.report.table``)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import click

from archcalc.report.table import FORMAT_HELP, FORMATS, Table, render, resolve

if TYPE_CHECKING:
    from rich.console import Console

    from archcalc.report.model import Report

FORMAT_OPTION = click.option("--format", "fmt", type=click.Choice(FORMATS), default="auto", show_default=True,
                             help=FORMAT_HELP)

#: the version of every JSON document archcalc prints (docs/json-output.md)
JSON_SCHEMA_VERSION = 1


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


def table_format(fmt: str) -> str:
    """The format to use: ``auto`` is rich on a terminal (not a dumb one), aligned text otherwise."""
    import os

    return resolve(fmt, sys.stdout.isatty() and os.environ.get("TERM") != "dumb")


def json_indent() -> int | None:
    """JSON layout: indented by 2 on a terminal, to be read; compact in a pipe or a file, for programs (the
    same document either way; Python's C encoder writes only the compact form, 4–5× faster)."""
    return 2 if sys.stdout.isatty() else None


def emit(report: Report, fmt: str, bars: bool = False) -> None:
    """Render a report in the requested format (auto: rich on a terminal, plain text otherwise)."""
    from archcalc.report import render as r

    for w in report.warnings:
        warn(w)
    fmt = table_format(fmt)
    if bars and fmt != "rich":
        warn(f"note: --bars draws in the rich format only (this output is {fmt}); add --format rich")
    if fmt == "rich":
        r.render_rich(report, stdout_console(), bars=bars)
    elif fmt == "json":
        for chunk in r.iter_json(report, json_indent()):
            click.echo(chunk, nl=False)
    elif fmt == "csv":
        click.echo(r.render_csv(report), nl=False)
    else:
        click.echo(r.render_tables(report, fmt), nl=False)


def emit_json(kind: str, data: dict[str, Any]) -> None:
    """A JSON document: ``{"schema_version": 1, "kind": ..., ...}`` (docs/json-output.md)."""
    from archcalc.report.render import dumps_json

    click.echo(dumps_json({"schema_version": JSON_SCHEMA_VERSION, "kind": kind, **data}, json_indent()))


def emit_csv(columns: Sequence[str], records: Sequence[dict[str, Any]]) -> None:
    """Records as CSV: one header row, numbers as numbers, empty cells for missing values."""
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for rec in records:
        writer.writerow(["" if rec.get(c) is None else rec.get(c) for c in columns])
    click.echo(out.getvalue(), nl=False)


def emit_tables(tables: Sequence[Table], fmt: str) -> None:
    """Tables in a table format (rich to the terminal, the others as text)."""
    fmt = table_format(fmt)
    if fmt == "rich":
        render(tables, fmt, stdout_console())
    else:
        click.echo(render(tables, fmt), nl=False)


def emit_any(fmt: str, kind: str, data: Callable[[], dict[str, Any]], columns: Sequence[str],
             records: Callable[[], Sequence[dict[str, Any]]], tables: Callable[[], Sequence[Table]]) -> None:
    """The one dispatch of a table command over the format vocabulary."""
    if fmt == "json":
        emit_json(kind, data())
    elif fmt == "csv":
        emit_csv(columns, records())
    else:
        emit_tables(tables(), fmt)
