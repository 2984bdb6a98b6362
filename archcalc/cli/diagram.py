"""``archcalc diagram``: a block diagram of the network, like the lecture slides'."""

from __future__ import annotations

import click

from archcalc.cli.completion import spec_argument_completion
from archcalc.cli.options import load_analysis, spec_options
from archcalc.report.fmt import literal_text


@click.command("diagram", epilog="""\b
Examples:
  archcalc diagram googlenet -o googlenet.svg
  archcalc diagram resnet50 -o resnet50.png""")
@click.argument("spec", shell_complete=spec_argument_completion)
@spec_options
@click.option("-o", "--output", metavar="FILE.svg|FILE.png|-", default=None,
              help="Image to write; the extension picks the format; '-' prints SVG (default: NAME-diagram.svg).")
@click.option("--depth", type=click.IntRange(min=1), default=None,
              help="Show this many levels of nesting, a box per group below (1: the top level, as summary's"
                   " --depth; default: fold only when it gets long).")
@click.option("--all-layers", "show_all", is_flag=True,
              help="Also draw activations, batch norm, dropout and flatten (the slides leave them out).")
@click.option("--no-collapse", "no_collapse", is_flag=True,
              help="Draw every block, not one block marked ×N for a run of identical ones.")
@click.option("--dpi", type=click.IntRange(min=50, max=1200), default=100, show_default=True,
              help="PNG resolution (300 for print; SVG is resolution-free).")
@literal_text()
def diagram_command(spec: str, input_text: str | None, assignments: tuple[str, ...], strict: bool,
                    output: str | None, depth: int | None, show_all: bool, no_collapse: bool, dpi: int) -> None:
    """Draw SPEC as a vertical stack of boxes: branches side by side, residual shortcuts as arcs.

    SVG needs nothing extra; PNG is rendered with matplotlib (install archcalc[plot]).
    """
    from archcalc.plots import diagram

    analysis = load_analysis(spec, input_text, assignments, strict)
    drawing = diagram.layout(analysis, depth=None if depth is None else depth - 1, show_all=show_all,
                             collapse=not no_collapse)
    if output == "-":
        click.echo(diagram.to_svg(drawing), nl=False)
        return
    out = output or f"{analysis.graph.meta.name}-diagram.svg"
    diagram.write(drawing, out, dpi)
    levels = None if drawing.depth is None else drawing.depth + 1
    folded = "" if levels is None else f", {levels} level{'s' if levels > 1 else ''} of nesting shown"
    click.echo(f"wrote {out}: {drawing.boxes} boxes, {drawing.width:.0f}×{drawing.height:.0f} px{folded}")
