"""``archcalc verify``: build the spec in torch and hold every symbolic figure against measurement."""

from __future__ import annotations

import click

from archcalc.cli.options import load_analysis, require_torch, spec_options
from archcalc.errors import CheckFailed

#: --format value → tabulate format (or json)
VERIFY_FORMATS = {"plain": "simple", "simple": "simple", "github": "github", "markdown": "pipe",
                  "grid": "grid", "json": "json"}


@click.command("verify")
@click.argument("spec")
@spec_options
@click.option("--batch", type=click.IntRange(min=1), default=2, show_default=True,
              help="Batch size of the measured training pass (saved-for-backward bytes).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for weights and inputs.")
@click.option("--rf/--no-rf", default=True, show_default=True, help="Measure receptive fields.")
@click.option("--fvcore/--no-fvcore", "use_fvcore", default=True, show_default=True,
              help="Compare MACs with fvcore's FlopCountAnalysis (when installed).")
@click.option("--format", "fmt", type=click.Choice(sorted(VERIFY_FORMATS)), default="plain", show_default=True,
              help="Table format, or json for scripts.")
def verify_command(spec: str, input_text: str | None, assignments: tuple[str, ...], strict: bool, batch: int,
                   seed: int, rf: bool, use_fvcore: bool, fmt: str) -> None:
    """Build SPEC in torch, run it, and check shapes, params, MACs, saved memory and receptive fields.

    Exits with status 1 when any figure disagrees (marked ✗).
    """
    analysis = load_analysis(spec, input_text, assignments, strict)
    graph = analysis.graph
    require_torch()
    from archcalc.backends.torch.verify import render, verify

    report = verify(analysis, batch=batch, seed=seed, rf=rf, use_fvcore=use_fvcore)
    click.echo(render(report, VERIFY_FORMATS[fmt]), nl=False)
    if not report.ok:
        raise CheckFailed(f"verify {graph.meta.name}: {len(report.failures())} disagreement(s): "
                          + ", ".join(report.failures()[:5]))
