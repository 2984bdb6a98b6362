"""One table model for every table command, and the renderers all of them share.

``summary``, ``list``, ``rf``, ``compare`` and ``verify`` each build :class:`Table` values (cells already
formatted) and hand them to :func:`render`; the ``--format`` vocabulary is :data:`FORMATS` everywhere:

* ``auto``: ``rich`` on a terminal, ``text`` otherwise (a pipe, a file);
* ``rich``: fitted to the terminal's width; a number is never cut: columns are left out in a stated
  order (the caption says which) and only names and descriptions are shortened;
* ``text``: aligned plain text, linear in the rows and without tabulate (the fast default in pipes);
* tabulate's ``plain``, ``simple``, ``github``, ``markdown`` (pipe tables), ``latex`` (booktabs),
  ``grid``, ``rst``: numbers right-aligned, every table with a header row;
* ``json`` and ``csv`` are data, not tables: each command writes its own (``docs/json-output.md``).

Nothing here imports rich or tabulate until a format needs it.
"""

from __future__ import annotations

from collections.abc import Sequence
from operator import itemgetter
from typing import Any

from archcalc.frozen import Frozen
from archcalc.report.fmt import escape
from archcalc.slotted import Slotted

TABULATE_FORMATS = {"plain": "plain", "simple": "simple", "github": "pipe", "markdown": "pipe",
                    "latex": "latex_booktabs", "grid": "grid", "rst": "rst"}
TABLE_FORMATS = ("rich", "text", *TABULATE_FORMATS)
FORMATS = ("auto", *TABLE_FORMATS, "json", "csv")
#: formats whose cells lose leading spaces: rows are named by their full dotted path there
MARKUP = ("github", "markdown", "latex", "rst")

FORMAT_HELP = ("auto: rich in a terminal, aligned text in a pipe; rich; text; tabulate's plain, simple, github,"
               " markdown, latex, grid, rst; json (with schema_version, see docs/json-output.md); csv.")


class Column(Frozen):
    """A column: its header, alignment, and how it gives way in a narrow terminal."""

    header: str
    right: bool = False
    #: order in which a too-narrow terminal leaves the column out (1 first); 0: always shown
    drop: int = 0
    #: text that may be shortened with '…' (names, descriptions); numbers never are
    shrink: bool = False
    min_width: int = 10


class Table(Slotted):
    """Formatted cells, one list per row; ``full`` names the rows where indentation is lost (markup)."""

    __slots__ = ("bold", "caption", "columns", "continued", "full", "rows", "styles", "title")

    columns: list[Column]
    rows: list[list[str]]
    title: str
    caption: str
    #: rows shown in bold (group rows with their subtotals)
    bold: set[int]
    #: the first cell of each row without indentation, for the markup formats
    full: list[str] | None
    #: rows styled in rich only (e.g. a misaligned receptive field), row → column → style
    styles: dict[int, dict[int, str]]
    #: too wide for the terminal: continue the columns in further tables, each repeating the first
    #: column (compare's specs), instead of leaving columns out
    continued: bool

    def __init__(self, columns: list[Column], rows: list[list[str]], title: str = "", caption: str = "",
                 bold: set[int] | None = None, full: list[str] | None = None,
                 styles: dict[int, dict[int, str]] | None = None, continued: bool = False) -> None:
        self.columns, self.rows, self.title, self.caption = columns, rows, title, caption
        self.bold = set() if bold is None else bold
        self.full = full
        self.styles = {} if styles is None else styles
        self.continued = continued


def resolve(fmt: str, is_terminal: bool) -> str:
    """``auto`` → ``rich`` on a terminal, ``text`` otherwise."""
    if fmt == "auto":
        return "rich" if is_terminal else "text"
    return fmt


# ---- aligned text ---------------------------------------------------------------------------------

def aligned(rows: Sequence[Sequence[str]], headers: Sequence[str] | None, right: set[int]) -> str:
    """A column-aligned text table (the look of tabulate's 'simple'), linear in the number of rows.

    The default output when stdout is not a terminal: it must stay fast for 100,000-layer networks and
    cheap to import, where tabulate's per-cell type inference dominates.
    """
    table = [headers, *rows] if headers else list(rows)
    if not table:
        return ""
    n = len(table[0])
    widths = [max(map(len, map(itemgetter(i), table))) for i in range(n)]
    # one format per line, built once: each cell padded as str.rjust / str.ljust would (spaces)
    template = "  ".join(f"{{{i}:{'>' if i in right else '<'}{w}}}" for i, w in enumerate(widths))
    fill = template.format

    def line(cells: Sequence[str]) -> str:
        if len(cells) != n:
            raise ValueError(f"a row of {len(cells)} cells in a table of {n} columns")
        return fill(*cells).rstrip()

    out = [line(r) for r in rows]
    if headers:
        out = [line(headers), "  ".join("-" * w for w in widths), *out]
    return "\n".join(out)


def to_text(table: Table) -> str:
    right = {i for i, c in enumerate(table.columns) if c.right}
    body = aligned(table.rows, [c.header for c in table.columns], right)
    parts = [p for p in (table.title, body, table.caption) if p]
    return "\n".join(parts) + "\n"


# ---- tabulate -------------------------------------------------------------------------------------

def to_tabulate(table: Table, fmt: str) -> str:
    """One of tabulate's formats, with a header row and right-aligned numbers."""
    from tabulate import tabulate

    rows = table.rows
    if fmt in MARKUP and table.full is not None:
        rows = [[name, *row[1:]] for name, row in zip(table.full, table.rows, strict=True)]
    colalign = ["right" if c.right else "left" for c in table.columns]
    body = tabulate(rows, headers=[c.header for c in table.columns], tablefmt=TABULATE_FORMATS[fmt],
                    colalign=colalign, disable_numparse=True)
    heading = escape(" ".join(table.title.split("\n")), fmt)  # spec text: one line, inert in markup
    if fmt in ("markdown", "github"):
        title = f"### {heading}\n\n" if table.title else ""
        caption = f"\n\n_{table.caption}_" if table.caption else ""
    elif fmt == "latex":
        title = f"% {heading}\n" if table.title else ""
        caption = f"\n% {table.caption}" if table.caption else ""
    else:
        title = f"{table.title}\n" if table.title else ""
        caption = f"\n{table.caption}" if table.caption else ""
    return f"{title}{body}{caption}\n"


# ---- rich -----------------------------------------------------------------------------------------

#: rich's cell padding (one space each side) and the column separator of the box used below
_PAD = 3


def natural_widths(table: Table) -> list[int]:
    """Each column's width with nothing cut: its header or its longest cell."""
    return [max([len(c.header), *(len(r[i]) for r in table.rows)]) for i, c in enumerate(table.columns)]


def fit(table: Table, width: int) -> tuple[list[int], list[int]]:
    """The columns kept for a terminal ``width`` and each one's width; numbers keep their full width.

    Columns are left out in their ``drop`` order until the rest fits; then shrinkable text columns
    give up width down to their minimum. Returns (kept column indices, widths).
    """
    n = len(table.columns)
    natural = natural_widths(table)
    kept = list(range(n))

    def total(cols: list[int], widths: list[int]) -> int:
        return sum(widths[i] for i in cols) + _PAD * len(cols)

    widths = list(natural)
    order = sorted((c.drop, i) for i, c in enumerate(table.columns) if c.drop)
    shrinkable = [i for i, c in enumerate(table.columns) if c.shrink]

    def shrink_to_fit() -> None:
        for i in shrinkable:
            if i not in kept:
                continue
            excess = total(kept, widths) - width
            if excess <= 0:
                return
            widths[i] = max(min(table.columns[i].min_width, natural[i]), widths[i] - excess)

    for _, i in order:
        if total(kept, widths) <= width:
            break
        widths = list(natural)
        shrink_to_fit()
        if total(kept, widths) <= width:
            break
        kept.remove(i)
    widths = list(natural)
    shrink_to_fit()
    return kept, widths


def continuations(table: Table, width: int) -> list[Table]:
    """A ``continued`` table cut into tables of whole columns that each fit ``width`` (column 0 in each)."""
    natural = [w + _PAD for w in natural_widths(table)]
    groups: list[list[int]] = [[]]
    for i in range(1, len(table.columns)):
        if groups[-1] and natural[0] + sum(natural[j] for j in groups[-1]) + natural[i] > width:
            groups.append([])
        groups[-1].append(i)
    if len(groups) == 1:
        return [table]
    parts = []
    for n, group in enumerate(groups):
        cols = [0, *group]
        parts.append(Table([table.columns[i] for i in cols], [[row[i] for i in cols] for row in table.rows],
                           title=table.title if n == 0 else "",
                           caption=f"continued below ({n + 1} of {len(groups)})" if n < len(groups) - 1
                           else table.caption, bold=table.bold,
                           styles={r: {cols.index(i): v for i, v in st.items() if i in cols}
                                   for r, st in table.styles.items()}))
    return parts


def to_rich(table: Table, console: Any) -> None:
    """Print a table fitted to the console's width; the caption names the columns left out."""
    if table.continued:
        parts = continuations(table, console.width)
        if len(parts) > 1:
            for part in parts:
                to_rich(part, console)
            return
    from rich import box
    from rich.table import Table as RichTable
    from rich.text import Text

    kept, widths = fit(table, console.width)
    needed = sum(widths[i] for i in kept) + _PAD * len(kept)
    dropped = [table.columns[i].header for i in range(len(table.columns)) if i not in kept]
    caption = table.caption
    if dropped:
        note = (f"left out to fit {console.width} columns: {', '.join(dropped)}"
                " (a wider terminal or --format text shows every column)")
        caption = f"{caption}\n{note}" if caption else note
    out = RichTable(title=table.title or None, caption=caption or None, caption_justify="left",
                    header_style="bold", box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for i in kept:
        col = table.columns[i]
        out.add_column(col.header, justify="right" if col.right else "left", no_wrap=True,
                       overflow="ellipsis" if col.shrink else "fold",
                       width=widths[i] if col.shrink else None, min_width=None if col.shrink else widths[i])
    for r, row in enumerate(table.rows):
        styles = table.styles.get(r, {})
        base = "bold" if r in table.bold else ""
        out.add_row(*(Text(row[i], style=" ".join(s for s in (base, styles.get(i, "")) if s)) for i in kept))
    # a terminal narrower than the numbers themselves: overflow rather than cut a digit
    console.print(out, width=max(console.width, needed))


def render(tables: Sequence[Table], fmt: str, console: Any = None) -> str:
    """Several tables in one of the table formats (rich prints to ``console`` and returns '')."""
    if fmt == "rich":
        for t in tables:
            to_rich(t, console)
        return ""
    if fmt == "text":
        return "\n".join(to_text(t) for t in tables)
    if fmt in TABULATE_FORMATS:
        return "\n".join(to_tabulate(t, fmt) for t in tables)
    raise ValueError(f"not a table format: {fmt}")


__all__ = ["FORMATS", "FORMAT_HELP", "MARKUP", "TABLE_FORMATS", "TABULATE_FORMATS", "Column", "Table", "aligned",
           "fit", "render", "resolve", "to_rich", "to_tabulate", "to_text"]
