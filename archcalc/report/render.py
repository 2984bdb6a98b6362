"""Renderers of a Report: the layer table (with its group rows), the totals and the published figures,
in every table format (``archcalc.report.table``), and as JSON, CSV and HTML.

Adding a format means adding it to ``archcalc.report.table`` once: every table command gets it.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
from typing import TYPE_CHECKING, Any

from archcalc.gc_pause import gc_paused
from archcalc.report.fmt import count, human_bytes, shape, si
from archcalc.report.model import RECORD_COLUMNS, Report, RFData, Row, record_values, row_dict
from archcalc.report.table import MARKUP, Column, Table, render

if TYPE_CHECKING:
    from json import JSONEncoder

    from archcalc.report.json_rows import Memo

# json, csv and html are imported by the renderers that use them: a text summary needs none of them (7 ms of
# a cold start)

HEADER = ("MACs are multiply-accumulates (1 fused multiply-add = 1 MAC; the papers' ResNet/VGG 'FLOPs' and"
          " GoogLeNet 'ops' are MACs). FLOPs = 2·MACs + other ops.")

COLUMNS = [
    Column("Layer", shrink=True, min_width=12),
    Column("Type", drop=1),
    Column("Output", drop=4),
    Column("Params", right=True),
    Column("MACs", right=True),
    Column("Activations", right=True, drop=3),
    Column("RF /jump", right=True, drop=2),
]

#: the marks beside a published figure: reproduced (exactly, within rounding, if truncated), not, measured
MARKS = {"reproduced": "✓", "reproduced within the publication's rounding": "✓",
         "reproduced if the publication truncated": "✓ if truncated", "not reproduced": "✗"}


def rf_text(rf: RFData | dict[str, Any] | None) -> str:
    if rf is None:
        return "n/a"
    if isinstance(rf, dict):
        rf = RFData(**rf)
    size, jump = rf.size, rf.jump
    text = f"{size[0]}" if size[0] == size[1] else f"{size[0]}×{size[1]}"
    text = ("≤" if rf.envelope else "") + text  # behind upsampling: an envelope
    text += f" /{jump[0]}" if jump[0] == jump[1] else f" /{jump[0]}×{jump[1]}"
    return text + ("" if rf.aligned else " ⚠")


def _cells(row: Row, header: bool = False, memo: dict[tuple[object, ...], tuple[str, ...]] | None = None) -> list[str]:
    """A row's cells. Deep specs repeat their layers: pass one ``memo`` for a table and rows with the same
    type, shape and figures share the formatting of those cells (keyed on values of exact kinds only)."""
    label = row.name.rsplit(".", 1)[-1]
    if row.group and not header:
        label += f" ({row.layers} layers)"
    kind, dims, params, trainable = row.type, row.shape, row.params, row.trainable
    macs, acts = row.macs, row.activations
    key: tuple[object, ...] | None = None
    if (memo is not None and type(kind) is str and type(params) is int and type(trainable) is bool
            and type(macs) is int and type(acts) is int and type(dims) is list):
        key = (kind, params, trainable, macs, acts, *dims)
        for d in dims:
            if type(d) is not int:
                key = None
                break
        middle = memo.get(key) if key is not None else None
        if middle is not None:
            return ["  " * row.depth + label, *middle, rf_text(row.rf)]
    middle = (kind, shape(dims), count(params) + ("" if trainable or not params else " (frozen)"),
              si(macs) if macs else "0", si(acts) if acts else "—")
    if key is not None and memo is not None:
        memo[key] = middle
    return ["  " * row.depth + label, *middle, rf_text(row.rf)]


def _group_row(g: dict[str, Any]) -> Row:
    rf = g.get("rf")
    return Row(name=g["path"], type=str(g["kind"]).removeprefix("block:"), family="block",
               depth=g["path"].count("."), shape=list(g.get("shape") or []), params=g.get("params", 0),
               weights=0, biases=0, trainable=True, macs=g.get("macs", 0), ops=g.get("ops", 0), flops=0,
               bwd_macs=0, activations=g.get("activations", 0), memory_bytes=0,
               rf=RFData(**rf) if rf else None, rf_note=None, location=None, group=True,
               layers=g.get("layers", 0))


def tree(report: Report) -> Iterator[tuple[Row, bool]]:
    """The rows with a header row (its subtotals) before the first row of every group: (row, is_header).

    Like torchinfo's tree: ``layer1``, then ``block1``, then ``residual``, then its layers. A group whose
    rows are not contiguous (a side output between two branches) gets its header again where it resumes.
    """
    groups = {g["path"]: g for g in report.groups if "shape" in g}
    opened: list[str] = []
    chains: dict[str, list[str]] = {}  # a parent path → the groups enclosing it, outermost first
    for row in report.rows:
        parent = row.name.rpartition(".")[0]
        chain = chains.get(parent)
        if chain is None:
            chain = chains[parent] = _enclosing(parent, groups)
        k = 0
        while k < len(opened) and k < len(chain) and opened[k] == chain[k]:
            k += 1
        del opened[k:]
        for path in chain[k:]:
            opened.append(path)
            yield _group_row(groups[path]), True
        yield row, False


def _enclosing(parent: str, groups: dict[str, Any]) -> list[str]:
    """The groups among ``parent`` and its prefixes, outermost first."""
    chain: list[str] = []
    prefix = ""
    for part in parent.split(".") if parent else []:
        prefix = f"{prefix}.{part}" if prefix else part
        if prefix in groups:
            chain.append(prefix)
    return chain


def layer_table(report: Report) -> Table:
    rows: list[list[str]] = []
    full: list[str] = []
    bold: set[int] = set()
    styles: dict[int, dict[int, str]] = {}
    memo: dict[tuple[object, ...], tuple[str, ...]] = {}
    for row, header in tree(report):
        i = len(rows)
        rows.append(_cells(row, header, memo))
        full.append(row.name + (f" ({row.layers} layers)" if row.group and not header else ""))
        if row.group:
            bold.add(i)
        if row.rf is not None and not row.rf.aligned:
            styles[i] = {6: "yellow"}
    title = f"{report.spec['name']}: input {shape(report.spec['input'])}, {report.dtype}"
    return Table(COLUMNS, rows, title=title, caption=HEADER, bold=bold, full=full, styles=styles)


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
        lines.append(("Receptive field", f"{shape(rf['size'])} at {rf['layer']}, the last feature map"
                                         f" (jump {shape(rf['jump'])}, unit 0 starts at {tuple(rf['start'])})"))
    if "max_batch" in t:
        lines.append(("Largest batch", f"{count(t['max_batch'])} fits {human_bytes(t['memory_budget'])}"
                                       f" (training, {tm['optimizer']})"))
    if t["partial"]:
        lines.append(("Partial", "; ".join(t["partial"])))
    return lines


def totals_table(report: Report) -> Table:
    return Table([Column("Total"), Column("Value", shrink=True, min_width=30)],
                 [[label, value] for label, value in totals_lines(report)])


def short_source(source: str) -> str:
    """'Simonyan & Zisserman 2015, Table 2: configuration D, 138 million' → 'Simonyan & Zisserman 2015, Table 2'."""
    head = source.split(": ", 1)[0].split("; ", 1)[0]
    if head.count("(") > head.count(")"):  # cut inside a parenthesis: drop the unfinished aside
        head = head[:head.rindex("(")].rstrip()
    return head if len(head) <= 60 else head[:59] + "…"


def figure_line(f: dict[str, Any]) -> list[str]:
    """One published figure: what, as published (source), the mark, archcalc's value, why (if not ✓)."""
    verdict = str(f.get("verdict", ""))
    mark = MARKS.get(verdict, "·")
    why = str(f.get("explanation") or "")
    if mark == "✓" and verdict == "reproduced within the publication's rounding":
        why = why or "within the publication's rounding"
    return [str(f.get("what") or f.get("label")), f"{f.get('as_published', '')}",
            short_source(str(f.get("source", ""))), mark, str(f.get("computed_text", "")), why]


def figures_table(report: Report) -> Table:
    cols = [Column("Published figure", shrink=True, min_width=16), Column("As published", right=True),
            Column("Source", shrink=True, min_width=12, drop=2), Column(""), Column("archcalc", right=True),
            Column("Why", shrink=True, min_width=12, drop=1)]
    return Table(cols, [figure_line(f) for f in report.figures],
                 caption="✓ reproduced (exactly, or within the publication's rounding), ✗ not reproduced;"
                         " the same verdicts as docs/reproductions.md")


def tables(report: Report) -> list[Table]:
    out = [layer_table(report), totals_table(report)]
    if report.figures:
        out.append(figures_table(report))
    return out


def render_tables(report: Report, fmt: str, console: Any = None) -> str:
    """The report in a table format: the layer table, the totals, the published figures."""
    ts = tables(report)
    if fmt == "text":
        # totals as 'Label:  value' lines rather than a table: the familiar plain summary
        from archcalc.report.table import aligned, to_text

        totals = aligned([[label + ":", value] for label, value in totals_lines(report)], None, set())
        parts = [to_text(ts[0]), totals + "\n"] + [to_text(t) for t in ts[2:]]
        return "\n".join(parts)
    if fmt == "rich":
        render_rich(report, console)
        return ""
    if fmt in MARKUP or fmt in ("plain", "simple", "grid"):
        return render(ts, fmt)
    raise ValueError(fmt)


def render_json(report: Report, indent: int | None = None) -> str:
    """The Report as a JSON document: compact by default, indented with ``indent`` (the same data)."""
    with gc_paused():  # a string per row, no cycles (iter_json's caller runs between pieces: not there)
        return "".join(iter_json(report, indent))


def iter_json(report: Report, indent: int | None = None, rows_per_chunk: int = 1000) -> Iterator[str]:
    """The JSON document in pieces (a writer can send each on and forget it), ending with a newline.

    Compact output writes the rows and the groups one at a time (``archcalc.report.json_rows``, the C
    encoder's text), so no row's dict need exist, and reads the report's fields as they are (the copy
    :meth:`Report.head` makes for a caller to change is not needed to encode them); ``indent`` switches to
    the pure-Python encoder (4–5× slower) over the whole document.
    """
    if indent is not None:
        yield dumps_json(report.to_dict(), indent) + "\n"
        return
    from archcalc.report.json_rows import LeafWriter, SubtotalWriter, group_json, row_json

    encode = _compact().encode
    sep = "{"
    tail = ("rows", "groups", "figures")  # last, in this order, as in :meth:`Report.head`
    memo: Memo = {}
    field_texts: dict[int, str] = {}  # a field's text by its identity: the rows' and the groups' writers
    chunks: Iterator[str]
    for key in [*(name for name in report._fields if name not in tail), *tail]:
        if key == "rows":
            yield f'{sep}"rows":['
            leaves = report.unbuilt_rows()
            if leaves is not None:  # rows no one has read: written from what they would be built from
                writer = LeafWriter(leaves, memo, encode, field_texts)
                chunks = (writer.chunk(start, start + rows_per_chunk)
                          for start in range(0, len(leaves.names), rows_per_chunk))
            else:
                rows = report.rows
                chunks = (",".join(row_json(r, memo) or encode(row_dict(r)) for r in rows[start:start + rows_per_chunk])
                          for start in range(0, len(rows), rows_per_chunk))
            for i, chunk in enumerate(chunks):
                yield chunk if i == 0 else "," + chunk
            yield "]"
        elif key == "groups":
            kept: Memo = {}  # the groups' own: a group's key never meets a row's
            yield f'{sep}"groups":['
            subtotals = report.unbuilt_groups()
            if subtotals is not None:  # groups no one has read: written from their sums
                sums = SubtotalWriter(subtotals, kept, field_texts, encode, memo)
                chunks = (sums.chunk(start, start + rows_per_chunk)
                          for start in range(0, len(subtotals.sums), rows_per_chunk))
            else:
                groups = report.groups
                chunks = (",".join(group_json(g, kept) or encode(g) for g in groups[start:start + rows_per_chunk])
                          for start in range(0, len(groups), rows_per_chunk))
            for i, chunk in enumerate(chunks):
                yield chunk if i == 0 else "," + chunk
            yield "]"
        else:
            yield f"{sep}{encode(key)}:{encode(getattr(report, key))}"
        sep = ","
    yield "}\n"


@cache
def _compact() -> JSONEncoder:
    """The compact encoder (Python's C one), made once."""
    import json

    return json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def dumps_json(data: Any, indent: int | None = None) -> str:
    """JSON text: compact (Python's C encoder) when ``indent`` is None, else indented by ``indent``."""
    if indent is None:
        return _compact().encode(data)
    import json

    return json.dumps(data, indent=indent, ensure_ascii=False)


def render_csv(report: Report) -> str:
    """One row per layer (or folded group), numbers as numbers; no totals row (they are in the JSON)."""
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(RECORD_COLUMNS)
    # the values of Report.records(), without a dict per row
    writer.writerows(["" if v is None else v for v in record_values(r)] for r in report.rows)
    return out.getvalue()


def render_rich(report: Report, console: Any, bars: bool = False) -> None:
    """The tables fitted to the terminal; ``bars`` adds inline bars of params, MACs and activations."""
    from rich.table import Table as RichTable

    if bars:
        table = layer_table(report)
        peaks = {k: max((getattr(r, k) for r in report.rows), default=0) or 1
                 for k in ("params", "macs", "activations")}
        out = RichTable(title=table.title, caption=HEADER, caption_justify="left", header_style="bold")
        for col in table.columns:
            out.add_column(col.header, justify="right" if col.right else "left", no_wrap=True)
        out.add_column("params | MACs | activations", no_wrap=True)
        for (row, _), cells in zip(tree(report), table.rows, strict=True):
            out.add_row(*cells, _bars(row, peaks))
        console.print(out)
    else:
        render([layer_table(report)], "rich", console)
    grid = RichTable.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column()
    for label, value in totals_lines(report):
        grid.add_row(label, value)
    console.print(grid)
    if report.figures:
        console.print()
        render([figures_table(report)], "rich", console)


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


def to_html(report: Report) -> str:
    """A plain HTML table of the rows and the totals (Jupyter's ``_repr_html_``)."""
    from html import escape

    head = "".join(f"<th>{escape(c.header)}</th>" for c in COLUMNS)
    body = []
    for row, header in tree(report):
        cells = _cells(row, header)
        cells[0] = cells[0].strip()
        indent = f' style="padding-left:{row.depth}em"' if row.depth else ""
        tds = [f"<td{indent}>{'<b>' if row.group else ''}{escape(cells[0])}{'</b>' if row.group else ''}</td>"]
        tds += [f'<td style="text-align:{"right" if c.right else "left"}">{escape(v)}</td>'
                for c, v in zip(COLUMNS[1:], cells[1:], strict=True)]
        body.append(f"<tr>{''.join(tds)}</tr>")
    totals = "".join(f"<tr><th style='text-align:left'>{escape(k)}</th>"
                     f"<td style='text-align:left'>{escape(v)}</td></tr>" for k, v in totals_lines(report))
    title = escape(f"{report.spec['name']}: input {shape(report.spec['input'])}, {report.dtype}")
    return (f"<div><b>{title}</b><table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
            f"<table>{totals}</table></div>")


TEXT_RENDERERS = {"json": render_json, "csv": render_csv}

__all__ = ["COLUMNS", "HEADER", "TEXT_RENDERERS", "dumps_json", "figures_table", "iter_json", "layer_table",
           "render_csv", "render_json", "render_rich", "render_tables", "rf_text", "to_html", "totals_lines",
           "totals_table", "tree"]
