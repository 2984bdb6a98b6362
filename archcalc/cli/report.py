"""``archcalc report``: one self-contained HTML page (table, diagram, receptive fields, charts, figures)."""

from __future__ import annotations

import click

from archcalc.cli.completion import spec_argument_completion
from archcalc.cli.options import BATCH, load_analysis, spec_options
from archcalc.cli.output import warn
from archcalc.cli.paths import check_output, default_output
from archcalc.errors import OptionError
from archcalc.gc_pause import gc_paused
from archcalc.vocab import DTYPE_BYTES

PAGE_SUFFIXES = (".html", ".htm")


def _check_output(path: str) -> None:
    if path != "-":
        check_output(path, suffixes=PAGE_SUFFIXES)


@click.command("report", epilog="""\b
Examples:
  archcalc report vgg16 -o vgg16.html
  archcalc report resnet50 --image cat.jpg -o resnet50.html
  archcalc report my_net.yaml --input 3x32x32 --set num_classes=10 -o my_net.html
  archcalc report --compare resnet34 plain34 vgg19 -o compare.html""")
@click.argument("specs", nargs=-1, required=True, metavar="SPEC | --compare SPEC SPEC…",
                shell_complete=spec_argument_completion)
@spec_options
@click.option("-o", "--output", metavar="FILE.html|-", default=None,
              help="Page to write ('-' prints it; default: NAME-report.html, or compare-report.html).")
@click.option("--compare", "compare", is_flag=True,
              help="Compare the SPECs: their totals side by side and params against MACs.")
@click.option("--batch", type=BATCH, default=1, show_default=True,
              help="Batch size for memory figures.")
@click.option("--dtype", type=click.Choice(sorted(DTYPE_BYTES)), default="fp32", show_default=True,
              help="Activation data type for memory figures.")
@click.option("--image", type=click.Path(dir_okay=False), default=None, metavar="FILE",
              help="A picture (PNG, JPEG, GIF, BMP, WebP) to show receptive fields on; embedded in the page.")
def report_command(specs: tuple[str, ...], input_text: str | None, assignments: tuple[str, ...], strict: bool,
                   output: str | None, compare: bool, batch: int, dtype: str, image: str | None) -> None:
    """Write one HTML page about SPEC that opens anywhere, with no network: the layer table with the
    spec's blocks folded (sortable, with totals and the counting conventions), the block diagram linked to
    it, a receptive-field explorer, per-layer charts and the published figures with their verdicts.
    """
    from archcalc.fileio import write_atomic
    from archcalc.report import html
    from archcalc.report.model import build_report
    from archcalc.report.published import published_figures

    if output is not None:
        _check_output(output)
    with gc_paused(command=True):
        if compare:
            if len(specs) < 2:
                raise OptionError("--compare needs at least two SPECs", hint="archcalc report --compare A B -o x.html")
            if image is not None:
                raise OptionError("--image is for the page of one network, not --compare")
            reports = [build_report(load_analysis(ref, input_text, assignments, strict, dtype), depth=0, batch=batch)
                       for ref in specs]
            page = html.compare_page(reports)
            out = output or "compare-report.html"
            what = f"{len(reports)} networks"
        else:
            if len(specs) != 1:
                raise OptionError(f"give one SPEC (got {len(specs)}), or --compare to compare several")
            picture = html.image_data_uri(image) if image is not None else None
            analysis = load_analysis(specs[0], input_text, assignments, strict, dtype)
            graph = analysis.graph
            for w in analysis.warnings:
                warn(w.format())
            report = build_report(analysis, batch=batch)
            # the JSON embedded is the one `summary --format json` prints, published figures included
            as_published = analysis if not (input_text or assignments) else None
            report.figures = published_figures(specs[0], graph.meta.published, as_published)
            page = html.report_page(analysis, report, report.figures, picture)
            out = output or default_output(graph.meta.name, "-report.html")
            what = f"{len(report.rows)} layers, {len(report.groups)} groups"
    if out == "-":
        click.echo(page, nl=False)
        return
    _check_output(out)
    write_atomic(out, page.encode("utf-8"))
    click.echo(f"wrote {out}: {what}, {len(page.encode('utf-8')) / 1e6:.2f} MB, opens with no network")
