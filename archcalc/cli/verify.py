"""``archcalc verify``: build the spec in torch and hold every symbolic figure against measurement."""

from __future__ import annotations

import click

from archcalc.cli.completion import spec_argument_completion
from archcalc.cli.options import SEED, force_build_option, load_analysis, require_torch, spec_options
from archcalc.cli.output import FORMAT_OPTION, emit_csv, stdout_console, table_format
from archcalc.errors import CheckFailed


@click.command("verify", epilog="""\b
Examples:
  archcalc verify resnet18
  archcalc verify my_net.yaml --failures-only
  archcalc verify googlenet --format json > googlenet-verify.json""")
@click.argument("spec", shell_complete=spec_argument_completion)
@spec_options
@force_build_option
@click.option("--batch", type=click.IntRange(min=1), default=2, show_default=True,
              help="Batch size of the measured training pass (saved-for-backward bytes).")
@click.option("--seed", type=SEED, default=0, show_default=True, help="Seed for weights and inputs.")
@click.option("--rf/--no-rf", default=True, show_default=True, help="Measure receptive fields.")
@click.option("--fvcore/--no-fvcore", "use_fvcore", default=True, show_default=True,
              help="Compare MACs with fvcore's FlopCountAnalysis (when installed).")
@click.option("--failures-only", is_flag=True, help="List only the layers where something disagrees.")
@FORMAT_OPTION
@click.option("--against", metavar="REF", default=None,
              help="Instead, check that SPEC computes REF's function: torchvision:NAME[,key=value…],"
                   " FILE.py:factory or package.module:factory (outputs, every layer, one training step).")
@click.option("--weights", type=click.Path(dir_okay=False), default=None, metavar="FILE",
              help="Load a state dict (.pt/.pth/.safetensors, the reference's names or structure) first;"
                   " with --against, into the reference.")
@click.option("--dtype", type=click.Choice(["fp32", "fp64", "bf16"]), default="fp32", show_default=True,
              help="With --against: the precision of the comparison (tolerance 1e-5, 1e-12, 2e-2 relative).")
def verify_command(spec: str, input_text: str | None, assignments: tuple[str, ...], strict: bool, batch: int,
                   seed: int, rf: bool, use_fvcore: bool, failures_only: bool, fmt: str, against: str | None,
                   weights: str | None, dtype: str) -> None:
    """Build SPEC in torch, run it, and check shapes, params, MACs, saved memory and receptive fields.

    With --against REF, check instead that SPEC is REF: the reference's weights are transplanted into the
    spec-built model and outputs, every intermediate layer and one training step are compared; the first
    divergent layer is named. Exits with status 1 when anything disagrees (marked ✗).
    """
    analysis = load_analysis(spec, input_text, assignments, strict)
    graph = analysis.graph
    require_torch()
    fmt = table_format(fmt)
    if against is not None:
        from archcalc.backends.torch import parity_report
        from archcalc.backends.torch.parity import check_against

        parity = check_against(graph, against, batch=batch, seed=seed, dtype=dtype, weights=weights)
        # the parity table is one tabulate table: rich and csv are shown as aligned text
        click.echo(parity_report.render(parity, "simple" if fmt in ("rich", "csv", "text") else fmt), nl=False)
        if not parity.ok:
            first = parity.first_divergent("eval") or parity.first_divergent("train")
            raise CheckFailed(f"{graph.meta.name} differs from {against}: " + ", ".join(parity.failures())
                              + (f"; first divergent layer {first.diff.spec}" if first else ""))
        return
    from archcalc.backends.torch import verify as v
    from archcalc.backends.torch.weights import build_with_weights

    given = {"model": build_with_weights(analysis, weights, seed=seed)[0]} if weights is not None else {}
    report = v.verify(analysis, batch=batch, seed=seed, rf=rf, use_fvcore=use_fvcore, **given)
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
