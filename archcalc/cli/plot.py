"""``archcalc plot``: charts of a network's per-layer numbers, or a comparison of several networks."""

from __future__ import annotations

import click

from archcalc.analysis import Analysis
from archcalc.cli.completion import spec_argument_completion
from archcalc.cli.options import load_analysis, spec_options
from archcalc.errors import OptionError
from archcalc.report.fmt import literal_text


@click.command("plot", epilog="""\b
Examples:
  archcalc plot vgg16 -o vgg16.png
  archcalc plot resnet50 --kind all --depth 2 --dpi 300 -o resnet50.png
  archcalc plot --compare -o zoo.png                   # the whole zoo: MACs against parameters
  archcalc plot --compare resnet18 resnet50 vgg16 -o three.svg""")
@click.argument("specs", nargs=-1, metavar="[SPEC]...", shell_complete=spec_argument_completion)
@spec_options
@click.option("--compare", is_flag=True,
              help="One scatter of MACs against parameters, a point per spec (no SPEC: the whole zoo).")
@click.option("--kind", type=click.Choice(["bars", "rf", "all"]), default="bars", show_default=True,
              help="bars: params, MACs and activation memory per layer; rf: receptive-field growth; all: both.")
@click.option("--log", is_flag=True, help="Logarithmic value axes for the bars (small layers become visible).")
@click.option("--depth", type=click.IntRange(min=1), default=None,
              help="Show this many levels of nesting, a bar per group below (1: the top level, as summary's"
                   " --depth; default: fold only large networks).")
@click.option("--dpi", type=click.IntRange(min=50, max=1200), default=100, show_default=True,
              help="PNG resolution (300 for print; SVG is resolution-free).")
@click.option("-o", "--output", metavar="FILE.png|FILE.svg", default=None,
              help="Image to write; the extension picks the format (default: NAME-KIND.png).")
@literal_text()
def plot_command(specs: tuple[str, ...], input_text: str | None, assignments: tuple[str, ...], strict: bool,
                 compare: bool, kind: str, log: bool, depth: int | None, dpi: int, output: str | None) -> None:
    """Draw SPEC's per-layer parameters, MACs and memory (or its receptive field) as PNG or SVG.

    With --compare, draw every SPEC as one point: MACs against parameters, marker area for activation
    memory, colour for depth, and the published top-5 error where the spec cites one.
    """
    from archcalc.plots import charts

    def analysis(ref: str) -> Analysis:
        return load_analysis(ref, input_text, assignments, strict)

    if compare:
        if not specs:
            from archcalc.spec import zoo

            specs = tuple(zoo.names())
        out = output or "compare.png"
        points = charts.plot_compare([analysis(s) for s in specs], out, dpi)
        click.echo(f"wrote {out}: {len(points)} networks")
        return
    if not specs:
        raise OptionError("plot needs a SPEC (a zoo name or a YAML file)",
                          hint="or --compare for the whole zoo")
    if len(specs) > 1:
        raise OptionError(f"{len(specs)} specs given: plot draws one network at a time",
                          hint="add --compare to draw them side by side")
    a = analysis(specs[0])
    fold = None if depth is None else depth - 1  # the report's folding depth (0: the top level)
    out = output or f"{a.graph.meta.name}-{kind}.png"
    if kind == "rf":
        curve = charts.plot_rf(a, out, dpi)
        click.echo(f"wrote {out}: receptive field {curve.size_h[-1]} px at {curve.names[-1]}"
                   f" (input {curve.input_h})")
        return
    if kind == "all":
        data, _ = charts.plot_all(a, out, log=log, depth=fold, dpi=dpi)
    else:
        data = charts.plot_bars(a, out, log=log, depth=fold, dpi=dpi)
    folded = "" if data.depth is None else f", {data.depth + 1} level{'s' if data.depth else ''} of nesting"
    click.echo(f"wrote {out}: {len(data.names)} layers{folded}; {charts.describe(data)}")
