"""``archcalc list``: the zoo, one line per spec."""

from __future__ import annotations

import json
from typing import Any

import click

from archcalc.analysis import Analysis
from archcalc.cli.options import gc_paused
from archcalc.cli.output import stdout_console
from archcalc.report.fmt import count, shape, si
from archcalc.report.model import weight_depth
from archcalc.spec import load, zoo


@click.command("list")
@click.argument("pattern", required=False)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def list_command(pattern: str | None, fmt: str) -> None:
    """List the zoo specs (optionally those whose name contains PATTERN, e.g. 'resnet')."""
    with gc_paused():
        rows: list[dict[str, Any]] = []
        for name in zoo.names():
            if pattern and pattern.lower() not in name.lower():
                continue
            analysis = Analysis(load(name))
            # Only parameters and MACs are listed: skip the memory passes that `totals` would run.
            results = analysis.results.values()
            meta = analysis.graph.meta
            rows.append({"name": name, "params": sum(r.params.total for r in results),
                         "macs": sum(r.cost.macs for r in results), "input": list(analysis.graph.input_shape),
                         "depth": weight_depth(analysis), "description": " ".join(meta.description.split())})
        if fmt == "json":
            click.echo(json.dumps(rows, indent=2))
            return
        from rich.table import Table

        table = Table(header_style="bold", caption=f"{len(rows)} specs · MACs are multiply-accumulates per image",
                      caption_justify="left")
        for col in ("Name", "Params", "MACs", "Input", "Depth", "Description"):
            table.add_column(col, justify="right" if col in ("Params", "MACs", "Depth") else "left",
                             no_wrap=True, overflow="ellipsis", max_width=70 if col == "Description" else None)
        for r in rows:
            table.add_row(r["name"], count(r["params"]), si(r["macs"]), shape(r["input"]), str(r["depth"]),
                          r["description"])
        stdout_console().print(table)
