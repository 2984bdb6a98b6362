"""``archcalc list``: the zoo, one line per spec."""

from __future__ import annotations

from typing import Any

import click

from archcalc.analysis import Analysis
from archcalc.cli.options import gc_paused
from archcalc.cli.output import FORMAT_OPTION, emit_any
from archcalc.report.fmt import count, shape, si
from archcalc.report.model import weight_depth
from archcalc.report.table import Column, Table
from archcalc.spec import load, zoo

CSV_COLUMNS = ("name", "params", "macs", "in_c", "in_h", "in_w", "depth", "description")


@click.command("list", epilog="""\b
Examples:
  archcalc list
  archcalc list resnet                 # names containing 'resnet'
  archcalc list --format csv > zoo.csv""")
@click.argument("pattern", required=False)
@FORMAT_OPTION
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

        def records() -> list[dict[str, Any]]:
            out = []
            for r in rows:
                dims = [*r["input"], None, None][:3]
                out.append({**r, "in_c": dims[0], "in_h": dims[1], "in_w": dims[2]})
            return out

        def tables() -> list[Table]:
            cols = [Column("Name"), Column("Params", right=True), Column("MACs", right=True),
                    Column("Input", drop=2), Column("Depth", right=True, drop=1),
                    Column("Description", shrink=True, min_width=12, drop=3)]
            return [Table(cols, [[r["name"], count(r["params"]), si(r["macs"]), shape(r["input"]), str(r["depth"]),
                                  r["description"]] for r in rows],
                          caption=f"{len(rows)} specs · MACs are multiply-accumulates per image")]

        emit_any(fmt, "list", lambda: {"specs": rows}, CSV_COLUMNS, records, tables)
