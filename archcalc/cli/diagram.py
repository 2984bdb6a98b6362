"""``archcalc diagram``: a block diagram of the network, like the lecture slides'."""

from __future__ import annotations

import click

from archcalc.cli.options import load_analysis, spec_options
from archcalc.report.fmt import literal_text


@click.command("diagram")
@click.argument("spec")
@spec_options
@click.option("-o", "--output", metavar="FILE.svg|FILE.png|-", default=None,
              help="Image to write; the extension picks the format; '-' prints SVG (default: NAME-diagram.svg).")
@click.option("--depth", type=click.IntRange(min=0), default=None,
              help="Fold blocks nested deeper than this into one box (default: fold only when it gets long).")
@click.option("--all-layers", "show_all", is_flag=True,
              help="Also draw activations, batch norm, dropout and flatten (the slides leave them out).")
@click.option("--no-collapse", "no_collapse", is_flag=True,
              help="Draw every block, not one block marked ×N for a run of identical ones.")
@literal_text()
def diagram_command(spec: str, input_text: str | None, assignments: tuple[str, ...], strict: bool,
                    output: str | None, depth: int | None, show_all: bool, no_collapse: bool) -> None:
    """Draw SPEC as a vertical stack of boxes: branches side by side, residual shortcuts as arcs.

    SVG needs nothing extra; PNG is rendered with matplotlib (install archcalc[plot]).
    """
    from archcalc.plots import diagram

    analysis = load_analysis(spec, input_text, assignments, strict)
    drawing = diagram.layout(analysis, depth=depth, show_all=show_all, collapse=not no_collapse)
    if output == "-":
        click.echo(diagram.to_svg(drawing), nl=False)
        return
    out = output or f"{analysis.graph.meta.name}-diagram.svg"
    diagram.write(drawing, out)
    folded = "" if drawing.depth is None else f", blocks folded to depth {drawing.depth}"
    click.echo(f"wrote {out}: {drawing.boxes} boxes, {drawing.width:.0f}×{drawing.height:.0f} px{folded}")
