"""``archcalc compare``: totals of several specs side by side."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import click

from archcalc.cli.options import BATCH, gc_paused, load_analysis, spec_options
from archcalc.cli.output import stdout_console
from archcalc.report.fmt import count, human_bytes, shape, si
from archcalc.report.model import build_report

ROWS: list[tuple[str, Callable[[dict[str, Any]], str]]] = [
    ("Input", lambda t: shape(t["input"])),
    ("Parameters", lambda t: f"{count(t['params'])} ({si(t['params'])})"),
    ("MACs / image", lambda t: si(t["macs"])),
    ("FLOPs / image", lambda t: si(t["flops"])),
    ("Activations / image", lambda t: f"{si(t['activations'])} ({human_bytes(t['activation_bytes'])})"),
    ("Peak inference memory", lambda t: human_bytes(t["peak_activation_bytes"])),
    ("Training memory", lambda t: human_bytes(t["training_memory"]["total"])),
    ("Receptive field", lambda t: f"{shape(t['rf']['size'])} at {t['rf']['layer']}" if t["rf"]["size"] else "n/a"),
    ("Depth (weight layers)", lambda t: str(t["depth"])),
]


@click.command("compare")
@click.argument("specs", nargs=-1, required=True)
@spec_options
@click.option("--batch", type=BATCH, default=1, show_default=True)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def compare_command(specs: tuple[str, ...], input_text: str | None, assignments: tuple[str, ...], strict: bool,
                    batch: int, fmt: str) -> None:
    """Compare the totals of SPECS (zoo names or files): params, MACs, memory, receptive field, depth."""
    with gc_paused():
        columns = []
        for ref in specs:
            report = build_report(load_analysis(ref, input_text, assignments, strict), batch=batch)
            columns.append((report.spec["name"], {**report.totals, "input": report.spec["input"]}))
        if fmt == "json":
            click.echo(json.dumps(dict(columns), indent=2))
            return
        from rich.table import Table

        table = Table(header_style="bold", caption=f"per image unless stated; memory at fp32, batch {batch}",
                      caption_justify="left")
        table.add_column("")
        for name, _ in columns:
            table.add_column(name, justify="right")
        for label, fn in ROWS:
            table.add_row(label, *[fn(t) for _, t in columns])
        stdout_console().print(table)
