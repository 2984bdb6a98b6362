"""``archcalc summary``: the per-layer table, the totals, and the spec's published figures."""

from __future__ import annotations

import click

from archcalc.cli.completion import spec_argument_completion
from archcalc.cli.options import BATCH, load_analysis, spec_options
from archcalc.cli.output import FORMAT_OPTION, emit
from archcalc.gc_pause import gc_paused
from archcalc.report.fmt import parse_bytes
from archcalc.report.model import build_report
from archcalc.vocab import DTYPE_BYTES, OPTIMIZERS


@click.command("summary", epilog="""\b
Examples:
  archcalc summary vgg16
  archcalc summary resnet50 --depth 1          # one row per stage
  archcalc summary googlenet --format json     # the document the report page reads
  archcalc summary vgg16 --batch 64 --dtype bf16 --memory-budget 80GB
  archcalc summary my_net.yaml --input 3x32x32 --set num_classes=10""")
@click.argument("spec", shell_complete=spec_argument_completion)
@spec_options
@click.option("--depth", type=click.IntRange(min=1), default=None,
              help="Show this many levels of nesting, folding the groups below into one row each"
                   " (1: the top level, e.g. one row per ResNet stage; default: every layer).")
@click.option("--batch", type=BATCH, default=1, show_default=True,
              help="Batch size for memory figures.")
@click.option("--dtype", type=click.Choice(sorted(DTYPE_BYTES)), default="fp32", show_default=True,
              help="Activation data type for memory figures (parameters are counted at fp32).")
@click.option("--optimizer", type=click.Choice(OPTIMIZERS),
              default="momentum", show_default=True, help="Optimizer whose state the training memory counts.")
@click.option("--memory-budget", metavar="SIZE", help="Report the largest training batch fitting SIZE (80GB).")
@click.option("--published/--no-published", default=True, show_default=True,
              help="End with the spec's published figures, each beside archcalc's value and its verdict.")
@click.option("--bars", is_flag=True, help="Add inline bars of params, MACs and activations (rich).")
@FORMAT_OPTION
def summary_command(spec: str, input_text: str | None, assignments: tuple[str, ...], strict: bool,
                    depth: int | None, batch: int, dtype: str, optimizer: str, memory_budget: str | None,
                    published: bool, bars: bool, fmt: str) -> None:
    """Analyse SPEC (a zoo name or a YAML file) and print every layer and the totals."""
    with gc_paused(command=True):
        budget = parse_bytes(memory_budget) if memory_budget else None
        analysis = load_analysis(spec, input_text, assignments, strict, dtype)
        report = build_report(analysis, depth=None if depth is None else depth - 1, batch=batch,
                              optimizer=optimizer, memory_budget=budget)
        if published and analysis.graph.meta.published:
            from archcalc.report.published import published_figures

            # the paper's numbers are figures of the spec as published: reuse this analysis if it is that
            as_published = analysis if not (input_text or assignments) else None
            report.figures = published_figures(spec, analysis.graph.meta.published, as_published)
            del as_published
        del analysis  # the report holds all it prints: free the graph and its records before rendering
        emit(report, fmt, bars=bars)
