"""``archcalc compare``: totals of several specs side by side."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from archcalc.cli.completion import spec_argument_completion
from archcalc.cli.options import BATCH, load_analysis, spec_options
from archcalc.cli.output import FORMAT_OPTION, emit_any
from archcalc.gc_pause import gc_paused
from archcalc.report.fmt import count, human_bytes, shape, si
from archcalc.report.model import build_report
from archcalc.report.table import Column, Table

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

CSV_COLUMNS = ("name", "in_c", "in_h", "in_w", "params", "trainable_params", "macs", "ops", "flops", "train_flops",
               "activations", "activation_bytes", "peak_activation_bytes", "training_memory", "rf_h", "rf_w",
               "rf_layer", "depth")


def _record(name: str, t: dict[str, Any]) -> dict[str, Any]:
    dims = [*t["input"], None, None][:3]
    size = t["rf"]["size"] or [None, None]
    return {"name": name, "in_c": dims[0], "in_h": dims[1], "in_w": dims[2], **{k: t[k] for k in (
        "params", "trainable_params", "macs", "ops", "flops", "train_flops", "activations", "activation_bytes",
        "peak_activation_bytes", "depth")}, "training_memory": t["training_memory"]["total"],
            "rf_h": size[0], "rf_w": size[-1], "rf_layer": t["rf"]["layer"]}


@click.command("compare", epilog="""\b
Examples:
  archcalc compare resnet34 plain34 vgg19
  archcalc compare resnet18 resnet50 --batch 32 --format markdown""")
@click.argument("specs", nargs=-1, required=True, shell_complete=spec_argument_completion)
@spec_options
@click.option("--batch", type=BATCH, default=1, show_default=True)
@FORMAT_OPTION
def compare_command(specs: tuple[str, ...], input_text: str | None, assignments: tuple[str, ...], strict: bool,
                    batch: int, fmt: str) -> None:
    """Compare the totals of SPECS (zoo names or files): params, MACs, memory, receptive field, depth."""
    with gc_paused(command=True):
        columns = []
        for ref in specs:
            report = build_report(load_analysis(ref, input_text, assignments, strict), batch=batch)
            columns.append((report.spec["name"], {**report.totals, "input": report.spec["input"]}))

        def tables() -> list[Table]:
            cols = [Column(""), *(Column(name, right=True) for name, _ in columns)]
            return [Table(cols, [[label, *(fn(t) for _, t in columns)] for label, fn in ROWS],
                          caption=f"per image unless stated; memory at fp32, batch {batch}", continued=True)]

        emit_any(fmt, "compare", lambda: {"batch": batch, "specs": [{"name": n, **t} for n, t in columns]},
                 CSV_COLUMNS, lambda: [_record(n, t) for n, t in columns], tables)
