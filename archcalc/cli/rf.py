"""``archcalc rf``: receptive fields of every layer, of one layer, of one unit, or of a quick stack."""

from __future__ import annotations

import re

import click

from archcalc.analysis import NodeResult
from archcalc.arith import AxisRF, Num
from archcalc.cli.completion import spec_argument_completion
from archcalc.cli.options import force_build_option, load_analysis, spec_options
from archcalc.cli.output import FORMAT_OPTION, emit_any, emit_json, warn
from archcalc.cli.paths import check_output
from archcalc.errors import OptionError, did_you_mean
from archcalc.gc_pause import gc_paused
from archcalc.report.fmt import json_number, shape
from archcalc.report.table import Column, Table

#: sizes of at most 18 digits: within 64 bits (a 5,000-digit size was a ValueError from int())
_TOKEN = re.compile(r"(?:(pool|p|conv|c))?(\d{1,18})(?:x(\d{1,18}))?(?:/(\d{1,18}))?(?:d(\d{1,18}))?")


def parse_stack(text: str) -> list[tuple[str, int, int, int, int]]:
    """'3x3,3x3,pool2/2,3x3d2' → [(kind, kh, kw, stride, dilation), ...]."""
    out = []
    for raw in text.split(","):
        token = raw.strip().lower()
        m = _TOKEN.fullmatch(token)
        if not m:
            shown = raw if len(raw) <= 40 else raw[:39] + "…"
            raise OptionError(f"--stack item '{shown}' is not KxK[/S][dD] (e.g. 3x3, 7x7/2, pool2/2, 3x3d2)",
                              hint="each size a whole number of at most 18 digits")
        kind = "pool" if m.group(1) in ("pool", "p") else "conv"
        kh = int(m.group(2))
        kw = int(m.group(3) or kh)
        stride = int(m.group(4) or (kh if kind == "pool" and m.group(4) is None else 1))
        dil = int(m.group(5) or 1)
        if min(kh, kw, stride, dil) < 1:
            raise OptionError(f"--stack item '{raw}': sizes must be ≥ 1")
        out.append((kind, kh, kw, stride, dil))
    return out


def stack_fields(items: list[tuple[str, int, int, int, int]]) -> list[tuple[AxisRF, AxisRF]]:
    """Field after each item of a quick stack (padding does not change size or jump)."""
    h, w = AxisRF(), AxisRF()
    fields = []
    for _, kh, kw, s, d in items:
        h = h.through(d * (kh - 1) + 1, s, 0)
        w = w.through(d * (kw - 1) + 1, s, 0)
        fields.append((h, w))
    return fields


def _size(h: Num, w: Num) -> str:
    return str(h) if h == w else f"{h}×{w}"


@click.command("rf", epilog="""\b
Examples:
  archcalc rf vgg16
  archcalc rf vgg16 --layer conv5_3 --at 3,4     # the input region one unit sees
  archcalc rf --stack 3x3,3x3,3x3                # prints 7
  archcalc rf resnet50 --effective               # measured field; writes resnet50-erf.png""")
@click.argument("spec", required=False, shell_complete=spec_argument_completion)
@spec_options
@force_build_option
@click.option("--layer", help="Show only this layer (full dotted name).")
@click.option("--at", "at", metavar="Y,X", help="With --layer: the input region seen by output unit (Y, X).")
@click.option("--stack", metavar="K,K,...", help="Quick form without a spec: 3x3,3x3,3x3 or 7x7/2,pool3/2.")
@click.option("--effective", is_flag=True, help="Also measure the effective receptive field (needs torch).")
@click.option("--weights", "--checkpoint", "checkpoint", type=click.Path(dir_okay=False), metavar="FILE",
              help="With --effective: weights to measure (archcalc checkpoint or state dict, .pt/.safetensors).")
@click.option("--heatmap", metavar="FILE.png|none",
              help="With --effective: the heat map's file [NAME-erf.png; 'none' writes none].")
@click.option("--dpi", type=click.IntRange(min=50, max=1200), default=None,
              help="With --effective: the heat map's resolution (e.g. 300 for print) [100].")
@FORMAT_OPTION
def rf_command(spec: str | None, input_text: str | None, assignments: tuple[str, ...], strict: bool,
               layer: str | None, at: str | None, stack: str | None, effective: bool, checkpoint: str | None,
               heatmap: str | None, dpi: int | None, fmt: str) -> None:
    """Receptive field (size, jump, start) of every layer of SPEC, or of a --stack of kernels."""
    with gc_paused(command=True):
        if stack is not None:
            if spec is not None:
                raise OptionError("give either a SPEC or --stack, not both")
            items = parse_stack(stack)
            fields = stack_fields(items)
            h, w = fields[-1]
            if fmt == "json":
                emit_json("rf_stack", {"size": [h.size, w.size], "jump": [h.jump, w.jump],
                                       "growth": [[f[0].size, f[1].size] for f in fields]})
                return
            click.echo(_size(h.size, w.size))
            growth = " → ".join(_size(f[0].size, f[1].size) for f in fields)
            click.echo(f"receptive field {_size(h.size, w.size)}, jump {_size(h.jump, w.jump)}"
                       f" (growth: {growth})", err=True)
            return
        if spec is None:
            raise OptionError("rf needs a SPEC (zoo name or YAML file) or --stack")
        if effective and heatmap is not None and heatmap.lower() != "none":
            check_output(heatmap, "--heatmap", suffixes=(".png",))  # before the network is loaded or measured
        analysis = load_analysis(spec, input_text, assignments, strict)
        graph = analysis.graph
        for w_ in analysis.warnings:
            warn(w_.format())
        results = list(analysis.results.values())
        if layer is not None:
            if layer not in analysis.results:
                raise OptionError(f"no layer '{layer}' in {graph.meta.name}", None,
                                  did_you_mean(layer, analysis.results))
            results = [analysis.results[layer]]
        if at is not None:
            if layer is None:
                raise OptionError("--at needs --layer")
            _show_unit(results[0], at, graph.input_shape, fmt)
            return
        if effective:
            from archcalc.cli.rf_effective import show_effective

            show_effective(analysis, layer, checkpoint, heatmap, fmt, dpi)
            return
        emit_any(fmt, "rf", lambda: {"spec": graph.meta.name, "input": list(graph.input_shape),
                                     "layers": [_as_dict(r) for r in results]},
                 CSV_COLUMNS, lambda: [_record(r) for r in results], lambda: [_table(results)])


def _as_dict(r: NodeResult) -> dict[str, object]:
    rf = r.rf
    return {"layer": r.node.name, "type": r.rec.op, "shape": list(r.shape),
            "size": [json_number(v) for v in rf.size] if rf else None,
            "jump": [json_number(v) for v in rf.jump] if rf else None,
            "start": [json_number(v) for v in rf.start] if rf else None, "aligned": rf.aligned if rf else None,
            "note": r.rf_note}


CSV_COLUMNS = ("layer", "type", "out_c", "out_h", "out_w", "rf_h", "rf_w", "jump_h", "jump_w", "start_h", "start_w",
               "aligned", "note")


def _record(r: NodeResult) -> dict[str, object]:
    dims = [*r.shape, None, None][:3]
    rf = r.rf
    return {"layer": r.node.name, "type": r.rec.op, "out_c": dims[0], "out_h": dims[1], "out_w": dims[2],
            "rf_h": rf.size[0] if rf else None, "rf_w": rf.size[-1] if rf else None,
            "jump_h": rf.jump[0] if rf else None, "jump_w": rf.jump[-1] if rf else None,
            "start_h": rf.start[0] if rf else None, "start_w": rf.start[-1] if rf else None,
            "aligned": rf.aligned if rf else None, "note": r.rf_note}


def _table(results: list[NodeResult]) -> Table:
    cols = [Column("Layer", shrink=True, min_width=14), Column("Type", drop=1), Column("Output", drop=2),
            Column("Size", right=True), Column("Jump", right=True), Column("Start", right=True)]
    notes = any(r.rf_note for r in results)  # the column only when some layer has a note
    if notes:
        cols.append(Column("Note", shrink=True, min_width=12, drop=3))
    rows = []
    for r in results:
        rf = r.rf
        cells = ([r.node.name, r.rec.op, shape(r.shape), "n/a", "", ""] if rf is None else
                 [r.node.name, r.rec.op, shape(r.shape), _size(*rf.size), _size(*rf.jump),
                  f"{rf.start[0]},{rf.start[1]}"])
        rows.append(cells + ([r.rf_note or ""] if notes else []))
    return Table(cols, rows, title="Receptive fields (input pixels)", full=[r.node.name for r in results],
                 caption="size: pixels one unit sees · jump: input distance between adjacent units ·"
                         " start: first input index of unit 0 (negative = padding)")


def _show_unit(r: NodeResult, at: str, image: tuple[int, ...], fmt: str) -> None:
    try:
        y, x = (int(v) for v in at.split(","))
    except ValueError:
        raise OptionError(f"--at expects Y,X (two integers), got '{at}'") from None
    if r.rf is None:
        raise OptionError(f"{r.node.name}: receptive field unavailable ({r.rf_note})")
    if len(r.shape) == 3 and not (0 <= y < r.shape[1] and 0 <= x < r.shape[2]):
        raise OptionError(f"--at {y},{x} is outside {r.node.name}'s {r.shape[1]}×{r.shape[2]} output")
    (r0, r1), (c0, c1) = r.rf.region(y, x)
    height, width = image[1], image[2]
    cr0, cr1, cc0, cc1 = max(r0, 0), min(r1, height - 1), max(c0, 0), min(c1, width - 1)
    full = (r1 - r0 + 1) * (c1 - c0 + 1)
    inside = max(cr1 - cr0 + 1, 0) * max(cc1 - cc0 + 1, 0)
    padding = full - inside
    if fmt == "json":
        emit_json("rf_unit", {"layer": r.node.name, "unit": [y, x], "rows": [r0, r1], "cols": [c0, c1],
                              "clipped_rows": [cr0, cr1], "clipped_cols": [cc0, cc1],
                              "padding_fraction": padding / full})
        return
    click.echo(f"{r.node.name} unit ({y}, {x}) sees input rows {r0}..{r1}, cols {c0}..{c1}"
               f" ({r1 - r0 + 1}×{c1 - c0 + 1})")
    click.echo(f"clipped to the {height}×{width} image: rows {cr0}..{cr1}, cols {cc0}..{cc1};"
               f" {padding / full:.1%} of the field ({padding} of {full} positions) is padding")
