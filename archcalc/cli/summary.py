"""``archcalc summary``: the per-layer table and the totals."""

from __future__ import annotations

import click

from archcalc.cli.options import BATCH, gc_paused, load_analysis, spec_options
from archcalc.cli.output import FORMAT_OPTION, emit
from archcalc.report.fmt import parse_bytes
from archcalc.report.model import build_report
from archcalc.vocab import DTYPE_BYTES, OPTIMIZERS


@click.command("summary")
@click.argument("spec")
@spec_options
@click.option("--depth", type=click.IntRange(min=0), default=None,
              help="Fold blocks nested deeper than this into one row (0: top level only).")
@click.option("--batch", type=BATCH, default=1, show_default=True,
              help="Batch size for memory figures.")
@click.option("--dtype", type=click.Choice(sorted(DTYPE_BYTES)), default="fp32", show_default=True,
              help="Activation data type for memory figures.")
@click.option("--optimizer", type=click.Choice(OPTIMIZERS),
              default="momentum", show_default=True, help="Optimizer whose state the training memory counts.")
@click.option("--memory-budget", metavar="SIZE", help="Report the largest training batch fitting SIZE (80GB).")
@click.option("--bars", is_flag=True, help="Add inline bars of params, MACs and activations (rich).")
@FORMAT_OPTION
def summary_command(spec: str, input_text: str | None, assignments: tuple[str, ...], strict: bool,
                    depth: int | None, batch: int, dtype: str, optimizer: str, memory_budget: str | None,
                    bars: bool, fmt: str) -> None:
    """Analyse SPEC (a zoo name or a YAML file) and print every layer and the totals."""
    with gc_paused():
        budget = parse_bytes(memory_budget) if memory_budget else None
        analysis = load_analysis(spec, input_text, assignments, strict, dtype)
        report = build_report(analysis, depth=depth, batch=batch, optimizer=optimizer, memory_budget=budget)
        emit(report, fmt, bars=bars)
