"""Renderers of a Report: rich (terminal), tabulate text formats, JSON and CSV.

Each takes a Report and returns text (rich renders to a Console). Adding a format means adding one
function here and one entry in ``FORMATS``.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from typing import Any

from archcalc.report.fmt import count, escape, human_bytes, shape, si
from archcalc.report.model import Report, Row

TEXT_FORMATS = ("plain", "simple", "github", "markdown", "latex", "grid", "rst")
FORMATS = ("rich", "text", *TEXT_FORMATS, "json", "csv")

HEADER = ("MACs are multiply-accumulates (1 fused multiply-add = 1 MAC; the papers' ResNet/VGG 'FLOPs' and"
          " GoogLeNet 'ops' are MACs). FLOPs = 2·MACs + other ops.")


def rf_text(row: Row) -> str:
    if row.rf is None:
        return "n/a"
    size, jump = row.rf.size, row.rf.jump
    text = f"{size[0]}" if size[0] == size[1] else f"{size[0]}×{size[1]}"
    text += f" /{jump[0]}" if jump[0] == jump[1] else f" /{jump[0]}×{jump[1]}"
    return text + ("" if row.rf.aligned else " ⚠")


def _cells(row: Row) -> list[str]:
    indent = "  " * row.depth
    label = row.name.rsplit(".", 1)[-1] if row.depth else row.name
    return [
        indent + label + (f" ({row.layers} layers)" if row.group else ""),
        row.type,
        shape(row.shape),
        count(row.params) + ("" if row.trainable or not row.params else " (frozen)"),
        si(row.macs) if row.macs else "0",
        si(row.activations) if row.activations else "—",
        rf_text(row),
    ]


COLUMNS = ["Layer", "Type", "Output", "Params", "MACs", "Activations", "RF /jump"]


def totals_lines(report: Report) -> list[tuple[str, str]]:
    """The totals as (label, value) pairs, in reading order."""
    t = report.totals
    tm = t["training_memory"]
    bpe = report.dtype
    lines = [
        ("Parameters", f"{count(t['params'])} ({si(t['params'])}; weights {count(t['weights'])},"
                       f" biases {count(t['biases'])}; trainable {count(t['trainable_params'])})"),
        ("Parameter memory", f"{human_bytes(t['param_bytes'])} (fp32)"),
        ("MACs / image", f"{count(t['macs'])} ({si(t['macs'])})"),
        ("Other ops / image", f"{count(t['ops'])} ({si(t['ops'])})"),
        ("FLOPs / image", f"{si(t['flops'])} forward; {si(t['train_flops'])} forward+backward"
                          f" (backward MACs {si(t['bwd_macs'])})"),
        ("Activations / image", f"{count(t['activations'])} values = {human_bytes(t['activation_bytes'])}"
                                f" at {bpe} (forward, CS231n sum incl. input)"),
        ("Peak inference memory", f"{human_bytes(t['peak_activation_bytes'])} for batch {report.batch}"
                                  f" (liveness, at {t['peak_at']})"),
        ("Training memory", f"{human_bytes(tm['total'])} for batch {tm['batch']} with {tm['optimizer']}:"
                            f" params {human_bytes(tm['params'])} + grads {human_bytes(tm['grads'])}"
                            f" + optimizer {human_bytes(tm['optimizer_state'])}"
                            f" + saved activations {human_bytes(tm['activations'])}"),
        ("Depth", f"{t['depth']} weight layers on the longest path; {t['layers']} layers in all"),
    ]
    rf = t["rf"]
    if rf["size"] is not None:
        lines.append(("Receptive field", f"{shape(rf['size'])} at {rf['layer']} (jump {shape(rf['jump'])},"
                                         f" unit 0 starts at {tuple(rf['start'])})"))
    if "max_batch" in t:
        lines.append(("Largest batch", f"{count(t['max_batch'])} fits {human_bytes(t['memory_budget'])}"
                                       f" (training, {tm['optimizer']})"))
    if t["partial"]:
        lines.append(("Partial", "; ".join(t["partial"])))
    return lines


def render_text(report: Report, fmt: str) -> str:
    """tabulate formats: plain, simple, github, markdown (pipe), latex, grid, rst."""
    from tabulate import tabulate

    table_fmt = {"markdown": "pipe", "latex": "latex_booktabs"}.get(fmt, fmt)
    body = tabulate([_cells(r) for r in report.rows], headers=COLUMNS, tablefmt=table_fmt,
                    disable_numparse=True)
    totals = tabulate(totals_lines(report), tablefmt=table_fmt if fmt != "plain" else "plain",
                      disable_numparse=True)
    title = f"{escape(report.spec['name'], fmt)}: input {shape(report.spec['input'])}, {report.dtype}"
    if fmt in ("markdown", "github"):
        return f"### {title}\n\n{body}\n\n{totals}\n\n_{HEADER}_\n"
    return f"{title}\n{body}\n\n{totals}\n\n{HEADER}\n"


def aligned(rows: list[list[str]], headers: list[str] | None, right: set[int]) -> str:
    """A column-aligned text table (the look of tabulate's 'simple'), linear in the number of rows.

    The default output when stdout is not a terminal: it must stay fast for 10,000-layer networks and
    cheap to import, where tabulate's per-cell type inference dominates.
    """
    table = [headers, *rows] if headers else rows
    widths = [max(len(r[i]) for r in table) for i in range(len(table[0]))]

    def line(cells: list[str]) -> str:
        return "  ".join(c.rjust(w) if i in right else c.ljust(w)
                         for i, (c, w) in enumerate(zip(cells, widths, strict=True))).rstrip()

    out = [line(r) for r in rows]
    if headers:
        out = [line(headers), "  ".join("-" * w for w in widths), *out]
    return "\n".join(out)


def render_fast_text(report: Report) -> str:
    """Plain text without tabulate: the non-terminal default."""
    body = aligned([_cells(r) for r in report.rows], COLUMNS, right={3, 4, 5, 6})
    totals = aligned([[label + ":", value] for label, value in totals_lines(report)], None, set())
    title = f"{report.spec['name']}: input {shape(report.spec['input'])}, {report.dtype}"
    return f"{title}\n{body}\n\n{totals}\n\n{HEADER}\n"


def render_json(report: Report) -> str:
    return json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n"


def render_csv(report: Report) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["name", "type", "depth", "shape", "params", "weights", "biases", "trainable", "macs",
                     "ops", "flops", "bwd_macs", "activations", "memory_bytes", "rf_size", "rf_jump",
                     "rf_start"])
    for r in report.rows:
        rf: list[Any] = ["", "", ""]
        if r.rf is not None:
            rf = [shape(r.rf.size), shape(r.rf.jump), shape(r.rf.start)]
        writer.writerow([r.name, r.type, r.depth, shape(r.shape), r.params, r.weights, r.biases, r.trainable,
                         r.macs, r.ops, r.flops, r.bwd_macs, r.activations, r.memory_bytes, *rf])
    t = report.totals
    writer.writerow(["TOTAL", "", "", "", t["params"], t["weights"], t["biases"], "", t["macs"], t["ops"],
                     t["flops"], t["bwd_macs"], t["activations"], t["activation_bytes"], "", "", ""])
    return out.getvalue()


def render_rich(report: Report, console: Any, bars: bool = False) -> None:
    """A rich table, then the totals; ``bars`` adds inline bars of params, MACs and activations."""
    from rich.table import Table
    from rich.text import Text

    table = Table(title=f"{report.spec['name']} — input {shape(report.spec['input'])}, {report.dtype}",
                  caption=HEADER, caption_justify="left", header_style="bold")
    for i, col in enumerate(COLUMNS):
        table.add_column(col, justify="right" if i >= 3 else "left", no_wrap=i == 0)
    peaks = {k: max((getattr(r, k) for r in report.rows), default=0) or 1
             for k in ("params", "macs", "activations")}
    if bars:
        table.add_column("params | MACs | activations", no_wrap=True)
    for row in report.rows:
        cells: list[Any] = _cells(row)
        if row.group:
            cells[0] = Text(cells[0], style="bold")
        if row.rf is not None and not row.rf.aligned:
            cells[6] = Text(cells[6], style="yellow")
        if bars:
            cells.append(_bars(row, peaks))
        table.add_row(*cells)
    console.print(table)
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    for label, value in totals_lines(report):
        grid.add_row(label, value)
    console.print(grid)


def _bars(row: Row, peaks: dict[str, float]) -> Any:
    from rich.text import Text

    width = 10
    text = Text()
    for key, style in (("params", "magenta"), ("macs", "cyan"), ("activations", "green")):
        filled = round(width * getattr(row, key) / peaks[key])
        text.append("█" * filled, style=style)
        text.append("·" * (width - filled), style="dim")
        text.append(" ")
    return text


TEXT_RENDERERS: dict[str, Callable[[Report], str]] = {
    **{f: (lambda r, f=f: render_text(r, f)) for f in TEXT_FORMATS},  # type: ignore[misc]
    "text": render_fast_text,
    "json": render_json,
    "csv": render_csv,
}
