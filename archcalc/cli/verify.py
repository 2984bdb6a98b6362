"""``archcalc verify``: build the spec in torch and hold every symbolic figure against measurement."""

from __future__ import annotations

import click

from archcalc.cli.completion import spec_argument_completion
from archcalc.cli.options import load_analysis, require_torch, spec_options
from archcalc.cli.output import FORMAT_OPTION, emit_csv, stdout_console, table_format
from archcalc.errors import CheckFailed


@click.command("verify", epilog="""\b
Examples:
  archcalc verify resnet18
  archcalc verify my_net.yaml --failures-only
  archcalc verify googlenet --format json > googlenet-verify.json""")
@click.argument("spec", shell_complete=spec_argument_completion)
@spec_options
@click.option("--batch", type=click.IntRange(min=1), default=2, show_default=True,
              help="Batch size of the measured training pass (saved-for-backward bytes).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for weights and inputs.")
@click.option("--rf/--no-rf", default=True, show_default=True, help="Measure receptive fields.")
@click.option("--fvcore/--no-fvcore", "use_fvcore", default=True, show_default=True,
              help="Compare MACs with fvcore's FlopCountAnalysis (when installed).")
@click.option("--failures-only", is_flag=True, help="List only the layers where something disagrees.")
@FORMAT_OPTION
def verify_command(spec: str, input_text: str | None, assignments: tuple[str, ...], strict: bool, batch: int,
                   seed: int, rf: bool, use_fvcore: bool, failures_only: bool, fmt: str) -> None:
    """Build SPEC in torch, run it, and check shapes, params, MACs, saved memory and receptive fields.

    Exits with status 1 when any figure disagrees (marked ✗).
    """
    analysis = load_analysis(spec, input_text, assignments, strict)
    graph = analysis.graph
    require_torch()
    from archcalc.backends.torch import verify as v

    report = v.verify(analysis, batch=batch, seed=seed, rf=rf, use_fvcore=use_fvcore)
    fmt = table_format(fmt)
    if fmt == "rich":
        from archcalc.report.table import render

        console = stdout_console()
        render(v.tables(report, failures_only), "rich", console)
        for line in v.closing_lines(report):
            console.print(line, highlight=False, markup=False)
    elif fmt == "csv":
        emit_csv(v.CSV_COLUMNS, v.records(report))
    else:
        click.echo(v.render(report, fmt, failures_only), nl=False)
    if not report.ok:
        raise CheckFailed(f"verify {graph.meta.name}: {len(report.failures())} disagreement(s): "
                          + ", ".join(report.failures()[:5]))
