"""Block diagrams like the lecture slides', generated from the graph IR: no hand-placed coordinates.

The graph the expander builds is series-parallel: sequences, ``concat``/``add`` joins over branches, and
side outputs. :func:`structure` recovers that nesting from the nodes alone (each join's fork is the
nearest common ancestor of its inputs on the dominator chain), :func:`layout` stacks it vertically
(branches side by side, residual shortcuts as arcs), and the result is written as SVG by string building
(no dependency) or as PNG by replaying the same primitives through matplotlib where it is installed.

Activations, batch norm, dropout and flatten are left out by default as the slides do (``show_all``
brings them back); blocks nested deeper than ``depth`` fold into one box; runs of identical blocks
(ResNet's 35 identical bottlenecks of a stage) collapse into one drawing marked ×N.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from archcalc.analysis import Analysis
from archcalc.errors import OptionError
from archcalc.ir import Node
from archcalc.layers import Family, JoinKind, Resolved
from archcalc.plots import output_format, write_atomic
from archcalc.report.fmt import si
from archcalc.report.model import build_report

#: Above this many boxes (after collapsing repeats) the diagram folds blocks unless a depth is given.
MAX_BOXES = 120
#: Agg cannot rasterise beyond 2**16 pixels a side.
MAX_PNG_PIXELS = 60_000


# geometry, in pixels
BOX_H = 26
GAP = 16       # arrow between consecutive items
FAN = 18       # room for fan-out / fan-in lines around branches
COL_GAP = 18   # between branch columns
ARC = 16       # horizontal reach of an identity shortcut arc
SIDE_GAP = 36  # between the main column and a side output's column
REPEAT_W = 44  # room for a ×N mark on each side
MARGIN = 20
FONT = 12
SMALL = 10
TITLE = 14
JOIN_R = 9

#: box fill by layer family (``Family`` values) and for folded blocks
FILL = {
    "input": "#eeeeee", "conv": "#cfe2f3", "pool": "#f4cccc", "fc": "#d9d2e9", "norm": "#fff2cc",
    "act": "#d9ead3", "softmax": "#b6d7a8", "block": "#e3e3e3", "join": "#ffffff", "reshape": "#f3f3f3",
    "other": "#f3f3f3",
}


# ---- structure ----------------------------------------------------------------------------------

@dataclass
class Box:
    """One drawn layer, or a folded group (``layers`` > 1)."""

    names: list[str]
    label: str
    detail: str
    kind: str
    layers: int = 1
    group: str = ""  # the folded group's kind ('bottleneck', 'inception'); empty for a layer

    def signature(self) -> tuple[Any, ...]:
        label = self.group or self.label  # folded blocks compare by kind, not by name
        return ("box", label, self.detail, self.kind, self.layers)


@dataclass
class Parallel:
    """Branches from one fork into a join (``concat``, ``add``, ...); an empty branch is the identity.

    ``elementwise`` joins (add) are drawn as a circle holding ``symbol`` with shortcuts as arcs; the
    others (concat) as a box under side-by-side columns.
    """

    names: list[str]
    op: str
    detail: str
    branches: list[list[Item]]
    repeat: int = 1
    elementwise: bool = False
    symbol: str = ""

    def signature(self) -> tuple[Any, ...]:
        return ("par", self.op, self.detail, tuple(tuple(i.signature() for i in b) for b in self.branches))


@dataclass
class Side:
    """An extra output (an auxiliary classifier) leaving the main path."""

    items: list[Item]

    def signature(self) -> tuple[Any, ...]:
        return ("side", id(self))


Item = Box | Parallel | Side


def label_of(rec: Resolved) -> tuple[str, str]:
    """The slides' wording for a layer ('3×3 conv, 64, /2', 'FC 1000') and its colour family."""
    return rec.label, rec.family.value


def _shape_text(shape: tuple[int, ...] | list[int]) -> str:
    return "×".join(str(d) for d in shape)


class _Builder:
    """Recovers the series-parallel nesting of a graph (see the module docstring)."""

    def __init__(self, analysis: Analysis, depth: int | None, show_all: bool):
        graph = analysis.graph
        self.graph = graph
        self.results = analysis.results
        self.nodes = graph.by_name
        self.index = {n.name: i for i, n in enumerate(graph.nodes)}
        self.shapes = {name: r.shape for name, r in analysis.results.items()}
        self.depth = depth
        self.show_all = show_all
        self.kinds = {g.path: g.kind for g in graph.groups}
        self._back: dict[str, str | None] = {}
        self.sides: dict[str, list[str]] = {}
        main = graph.outputs[0]
        for out in graph.outputs[1:]:
            self.sides.setdefault(self.meet([out, main]), []).append(out)

    def back(self, name: str) -> str | None:
        """The previous node on the dominator chain: a join's fork, otherwise the single input."""
        if name not in self._back:
            inputs = self.nodes[name].inputs
            self._back[name] = (self.meet(list(inputs)) if len(inputs) > 1 else
                                (inputs[0] if inputs else None))
        return self._back[name]

    def meet(self, names: list[str]) -> str:
        """Nearest common node on the chains of ``names`` (walk the latest back until all agree)."""
        current = set(names)
        while len(current) > 1:
            latest = max(current, key=self.index.__getitem__)
            current.discard(latest)
            prev = self.back(latest)
            if prev is None:
                raise OptionError(f"cannot draw: '{latest}' has no path back to the input")
            current.add(prev)
        return current.pop()

    def _fold_group(self, node: Node) -> tuple[str, ...] | None:
        if self.depth is None or len(node.scope) <= self.depth:
            return None
        return node.scope[: self.depth + 1]

    def chain(self, end: str, stop: str | None) -> list[Item]:
        """Items from just after ``stop`` up to and including ``end``, in order."""
        items: list[Item] = []
        name: str | None = end
        while name is not None and name != stop:
            node = self.nodes[name]
            group = self._fold_group(node)
            if group is not None:
                covered = []
                m: str | None = name
                while m is not None and m != stop and self.nodes[m].scope[: len(group)] == group:
                    covered.append(m)
                    m = self.back(m)
                lo = self.index[m] if m is not None else -1
                inside = [n for n in self.graph.nodes[lo + 1: self.index[name] + 1]
                          if n.scope[: len(group)] == group]
                for c in covered:
                    items.extend(Side(self.chain(o, c)) for o in reversed(self.sides.get(c, [])))
                kind = self.kinds.get(group, "group").removeprefix("block:")
                path = ".".join(group)
                label = group[-1] if kind in ("branch", "group", "side") else f"{path}: {kind}"
                detail = f"{len(inside)} layers, {_shape_text(self.shapes[name])}"
                items.append(Box(names=[path], label=label, detail=detail, kind="block", layers=len(inside),
                                 group=kind))
                name = m
                continue
            items.extend(Side(self.chain(o, name)) for o in reversed(self.sides.get(name, [])))
            rec = self.results[name].rec
            if len(node.inputs) > 1:
                fork = self.back(name)
                branches = [self.chain(i, fork) for i in node.inputs]
                items.append(Parallel(names=[name], op=rec.op, detail=_shape_text(self.shapes[name]),
                                      branches=branches, elementwise=rec.join is JoinKind.ELEMENTWISE,
                                      symbol=rec.label))
                name = fork
                continue
            if self.show_all or not rec.minor:
                label, kind = label_of(rec)
                shape = self.shapes[name]
                # 'FC 1000' says its size: a vector output adds nothing to a layer with weights on vectors
                says_size = rec.family is Family.FC and len(shape) == 1
                detail = "" if says_size else _shape_text(shape)
                items.append(Box(names=[name], label=label, detail=detail, kind=kind))
            name = self.back(name)
        items.reverse()
        return items


def _collapse(items: list[Item]) -> list[Item]:
    """Runs of identical blocks become one item with a repeat count (recursively inside branches)."""
    out: list[Item] = []
    for item in items:
        if isinstance(item, Parallel):
            item.branches = [_collapse(b) for b in item.branches]
        elif isinstance(item, Side):
            item.items = _collapse(item.items)
        prev = out[-1] if out else None
        if isinstance(item, Parallel) and isinstance(prev, Parallel) and prev.signature() == item.signature():
            prev.repeat += item.repeat
            prev.names.extend(item.names)
            continue
        if (isinstance(item, Box) and item.group and isinstance(prev, Box)
                and prev.signature() == item.signature()):
            prev.names.extend(item.names)
            prev.label = f"{prev.names[0]}…{_short(prev.names[-1])}: {item.group} ×{len(prev.names)}"
            continue
        out.append(item)
    return out


def _short(name: str) -> str:
    return name.rsplit(".", 1)[-1]


def count_boxes(items: list[Item]) -> int:
    """Boxes and joins drawn (a collapsed repeat counts once)."""
    n = 0
    for item in items:
        if isinstance(item, Box):
            n += 1
        elif isinstance(item, Parallel):
            n += 1 + sum(count_boxes(b) for b in item.branches)
        else:
            n += count_boxes(item.items)
    return n


def structure(analysis: Analysis, depth: int | None = None, show_all: bool = False,
              collapse: bool = True) -> list[Item]:
    """The nested items of the network's main path, with side outputs attached where they leave it."""
    items = _Builder(analysis, depth, show_all).chain(analysis.graph.outputs[0], None)
    return _collapse(items) if collapse else items


# ---- layout -------------------------------------------------------------------------------------

@dataclass
class Rect:
    x: float
    y: float
    w: float
    h: float
    fill: str
    title: str = ""
    dashed: bool = False
    double: bool = False
    layer: str = ""  # the names of the layers/groups it stands for, space-separated (SVG data-layer)


@dataclass
class Circle:
    x: float
    y: float
    r: float
    title: str = ""
    layer: str = ""


@dataclass
class Line:
    """A path: 'M', 'L' take one point, 'Q' two (control, end); optional arrowhead at the end."""

    cmds: list[tuple[str, tuple[float, ...]]]
    arrow: bool = False
    dashed: bool = False
    colour: str = "#444444"


@dataclass
class Text:
    x: float
    y: float
    text: str
    size: float = FONT
    anchor: str = "middle"
    colour: str = "#111111"
    bold: bool = False


Prim = Rect | Circle | Line | Text


@dataclass
class Diagram:
    """A laid-out diagram: size in pixels, primitives, and the item tree it was drawn from."""

    title: str
    width: float
    height: float
    prims: list[Prim]
    items: list[Item]
    depth: int | None
    boxes: int = 0


def _text_w(text: str, size: float = FONT) -> float:
    return len(text) * size * 0.6


def _box_w(box: Box) -> float:
    return max(120.0, _text_w(box.label) + _text_w(box.detail, SMALL) + 30 + (12 if box.group else 0))


#: the left-hand column naming the stages and modules (layer1…layer4, inception_3a…5b), in pixels
GUTTER = 96


class _Layout:
    def __init__(self, gutter: float = 0.0) -> None:
        self.prims: list[Prim] = []
        self._sizes: dict[int, tuple[float, float]] = {}
        self.gutter = gutter  # x of the names' column (0: no names)
        self._named = ""
        self.dashed = self.solid = False  # which kinds of shortcut were drawn (the legend's entries)

    def name_group(self, names: list[str], y: float) -> None:
        """Write the top-level group of ``names`` in the left column when it changes (a stage, a module)."""
        if not self.gutter or not names:
            return
        first = names[0].split(".")[0]
        if "." not in names[0] or first == self._named:
            return
        self._named = first
        self.prims.append(Text(self.gutter, y + 17, first, SMALL, "start", "#555555", True))

    # measuring: (width, height); a sequence's width is its column width plus side outputs' reach
    def size(self, item: Item) -> tuple[float, float]:
        key = id(item)
        if key not in self._sizes:
            self._sizes[key] = self._measure(item)
        return self._sizes[key]

    def _measure(self, item: Item) -> tuple[float, float]:
        if isinstance(item, Box):
            return _box_w(item), BOX_H
        if isinstance(item, Side):
            w, h = self.seq_size(item.items)
            return 2 * (SIDE_GAP + w), FAN + h
        cols = [self.seq_size(b) for b in item.branches if b]
        idents = len(item.branches) - len(cols)
        inner_h = max((h for _, h in cols), default=0.0)
        mark = 2 * REPEAT_W if item.repeat > 1 else 0
        if item.elementwise and cols:
            main_w = cols[0][0] if len(cols) == 1 else max(w for w, _ in cols)
            extra = sum(COL_GAP + w for w, _ in cols) - COL_GAP - main_w + idents * ARC + (ARC if idents else 0)
            join_h = 2 * JOIN_R
            return main_w + 2 * max(extra, 0) + mark, FAN + inner_h + FAN + join_h
        total = sum(w for w, _ in cols) + COL_GAP * max(len(cols) - 1, 0) + idents * (ARC + COL_GAP)
        join_h = 2 * JOIN_R if item.elementwise else BOX_H
        return max(total, 80) + mark, FAN + inner_h + FAN + join_h

    def seq_size(self, items: list[Item]) -> tuple[float, float]:
        col = max((self.size(i)[0] for i in items if not isinstance(i, Side)), default=0.0)
        side = max((self.size(i)[0] for i in items if isinstance(i, Side)), default=0.0)
        h = sum(self.size(i)[1] for i in items) + GAP * max(len(items) - 1, 0)
        return col + side, h

    def col_width(self, items: list[Item]) -> float:
        return max((self.size(i)[0] for i in items if not isinstance(i, Side)), default=0.0)

    # drawing: every item is centred on x, starting at y
    def seq(self, items: list[Item], x: float, y: float) -> float:
        """Draw a sequence centred on ``x`` from ``y``; returns the bottom y."""
        col = max((self.size(i)[0] for i in items if isinstance(i, Box)), default=0.0)
        for k, item in enumerate(items):
            if k:
                self.prims.append(Line([("M", (x, y)), ("L", (x, y + GAP))], arrow=True))
                y += GAP
            y = self.item(item, x, y, col)
        return y

    def item(self, item: Item, x: float, y: float, box_col: float) -> float:
        """Draw one item; boxes of a sequence share its widest box's width, as on the slides."""
        w, h = self.size(item)
        if isinstance(item, Box):
            self._box(item, x, y, max(w, box_col))
            return y + h
        if isinstance(item, Side):
            scol = self.col_width(item.items)
            sx = x + box_col / 2 + SIDE_GAP + scol / 2
            self.prims.append(Line([("M", (x, y)), ("L", (x, y + h))]))
            self.prims.append(Line([("M", (x, y + 2)), ("Q", (sx, y + 2, sx, y + FAN))], arrow=True, dashed=True))
            self.seq(item.items, sx, y + FAN)
            self.prims.append(Text(sx + scol / 2 + 4, y + FAN + 12, "side output", SMALL, "start", "#666666"))
            return y + h
        return self._parallel(item, x, y, w, h)

    def _box(self, box: Box, x: float, y: float, w: float) -> None:
        if box.group:
            self.name_group(box.names, y)
        title = ", ".join(box.names) + (f" ({box.layers} layers)" if box.group else "")
        self.prims.append(Rect(x - w / 2, y, w, BOX_H, FILL.get(box.kind, FILL["other"]), title,
                               double=bool(box.group), layer=" ".join(box.names)))
        label_w = _text_w(box.label)
        detail_w = _text_w(box.detail, SMALL)
        left = x - (label_w + 10 + detail_w) / 2
        self.prims.append(Text(left, y + 17, box.label, FONT, "start"))
        self.prims.append(Text(left + label_w + 10, y + 17, box.detail, SMALL, "start", "#666666"))

    def _parallel(self, par: Parallel, x: float, y: float, w: float, h: float) -> float:
        cols = [(b, self.seq_size(b)) for b in par.branches if b]
        idents = len(par.branches) - len(cols)
        inner_h = max((s[1] for _, s in cols), default=0.0)
        top = y + FAN
        bottom = top + inner_h
        join_y = bottom + FAN
        title = ", ".join(par.names)
        self.name_group(par.names, y)
        if par.elementwise and cols:
            main_i = max(range(len(cols)), key=lambda i: (len(cols[i][0]), -i))
            order = [cols[main_i], *[c for i, c in enumerate(cols) if i != main_i]]
            centres = [x]
            right = x + order[0][1][0] / 2
            for _, (cw, _) in order[1:]:
                centres.append(right + COL_GAP + cw / 2)
                right += COL_GAP + cw
            for k, ((items, (_, _ch)), cx) in enumerate(zip(order, centres, strict=True)):
                if k == 0:
                    self.prims.append(Line([("M", (x, y)), ("L", (x, top))], arrow=True))
                    end = self.seq(items, x, top)
                    self.prims.append(Line([("M", (x, end)), ("L", (x, join_y))], arrow=True))
                else:  # a shortcut with layers on it: round the corner out, down through them, back in
                    self.dashed = True
                    self.prims.append(Line([("M", (x, y)), ("Q", (cx, y, cx, top))], arrow=True, dashed=True))
                    end = self.seq(items, cx, top)
                    self.prims.append(Line([("M", (cx, end)), ("L", (cx, join_y)),
                                            ("Q", (cx, join_y + JOIN_R, x + JOIN_R, join_y + JOIN_R))],
                                           arrow=True, dashed=True))
            for j in range(idents):
                self.solid = True
                ax = right + ARC * (j + 1)
                self.prims.append(Line([("M", (x, y)), ("Q", (ax, y, ax, top)), ("L", (ax, join_y)),
                                        ("Q", (ax, join_y + JOIN_R, x + JOIN_R, join_y + JOIN_R))], arrow=True))
            self._join_circle(x, join_y, title, par.symbol, " ".join(par.names))
            self._repeat_mark(par, x - order[0][1][0] / 2, y, join_y + 2 * JOIN_R)
            return join_y + 2 * JOIN_R
        # concat (or an add of identities only): columns side by side, fanned out and back in
        widths = [s[0] for _, s in cols] + [ARC] * idents
        total = sum(widths) + COL_GAP * max(len(widths) - 1, 0)
        cx = x - total / 2
        centres = []
        for cw in widths:
            centres.append(cx + cw / 2)
            cx += cw + COL_GAP
        for k, c in enumerate(centres):
            self.prims.append(Line([("M", (x, y)), ("L", (c, top))], arrow=True))
            end = self.seq(cols[k][0], c, top) if k < len(cols) else top
            self.prims.append(Line([("M", (c, end)), ("L", (c, join_y))], arrow=True))
        if par.elementwise:
            self._join_circle(x, join_y, title, par.symbol, " ".join(par.names))
            end_y = join_y + 2 * JOIN_R
        else:
            jw = max(total, 80.0)
            self.prims.append(Rect(x - jw / 2, join_y, jw, BOX_H, FILL["join"], title, layer=" ".join(par.names)))
            self.prims.append(Text(x, join_y + 17, f"{par.symbol}  {par.detail}", FONT))
            end_y = join_y + BOX_H
        self._repeat_mark(par, x - total / 2, y, end_y)
        return end_y

    def _join_circle(self, x: float, y: float, title: str, symbol: str, layer: str = "") -> None:
        self.prims.append(Circle(x, y + JOIN_R, JOIN_R, title, layer))
        self.prims.append(Text(x, y + JOIN_R + 5, symbol, 14, bold=True))

    def _repeat_mark(self, par: Parallel, left: float, y: float, bottom: float) -> None:
        if par.repeat <= 1:
            return
        bx = left - 12
        self.prims.append(Line([("M", (bx + 6, y)), ("L", (bx, y)), ("L", (bx, bottom)), ("L", (bx + 6, bottom))],
                               colour="#888888"))
        self.prims.append(Text(bx - 6, (y + bottom) / 2 + 5, f"×{par.repeat}", 14, "end", "#333333", True))


def layout(analysis: Analysis, depth: int | None = None, show_all: bool = False,
           collapse: bool = True, max_boxes: int = MAX_BOXES) -> Diagram:
    """Lay out ``analysis``'s network top to bottom; fold blocks if it would exceed ``max_boxes``."""
    graph = analysis.graph
    items = structure(analysis, depth, show_all, collapse)
    chosen = depth
    if depth is None:
        d = max((len(n.scope) for n in graph.nodes), default=0)
        while count_boxes(items) > max_boxes and d > 0:
            d -= 1
            items = structure(analysis, d, show_all, collapse)
            chosen = d
    report = build_report(analysis)
    t = report.totals
    title = (f"{graph.meta.name}: {t['depth']} weight layers, {si(t['params'])} params,"
             f" {si(t['macs'])} MACs")
    gutter = GUTTER if analysis.group_kinds else 0.0
    lay = _Layout(MARGIN if gutter else 0.0)
    w, _h = lay.seq_size(items)
    width = max(w + gutter, _text_w(title, TITLE)) + 2 * MARGIN
    top = MARGIN + TITLE + 14
    lay.prims.append(Text(width / 2, MARGIN + TITLE, title, TITLE, bold=True))
    x = MARGIN + gutter + (width - 2 * MARGIN - gutter) / 2
    if any(isinstance(i, Side) for i in items):  # side columns hang to the right: shift the main line left
        x = MARGIN + gutter + lay.col_width(items) / 2 + max(0.0, (width - 2 * MARGIN - gutter - w) / 2)
    bottom = lay.seq(items, x, top)
    bottom = _legend(lay, bottom + 10)
    return Diagram(title=title, width=math.ceil(width), height=math.ceil(bottom + MARGIN), prims=lay.prims,
                   items=items, depth=chosen, boxes=count_boxes(items))


def _legend(lay: _Layout, y: float) -> float:
    """What the two kinds of shortcut line mean, under the drawing (only those drawn)."""
    x = float(MARGIN)
    for drawn, dashed, text in ((lay.solid, False, "identity shortcut"),
                                (lay.dashed, True, "shortcut with layers (projection)")):
        if not drawn:
            continue
        lay.prims.append(Line([("M", (x, y)), ("L", (x + 28, y))], dashed=dashed))
        lay.prims.append(Text(x + 34, y + 4, text, SMALL, "start", "#444444"))
        x += 34 + _text_w(text, SMALL) + 24
    return y + 12 if (lay.solid or lay.dashed) else y


# ---- output -------------------------------------------------------------------------------------

def _arrowhead(cmds: list[tuple[str, tuple[float, ...]]]) -> list[tuple[float, float]]:
    """A small triangle at the end of a path, pointing along its last segment."""
    pts: list[tuple[float, float]] = []
    for _, p in cmds:
        pts.extend((p[i], p[i + 1]) for i in range(0, len(p), 2))
    (x0, y0), (x1, y1) = pts[-2], pts[-1]
    d = math.hypot(x1 - x0, y1 - y0) or 1.0
    ux, uy = (x1 - x0) / d, (y1 - y0) / d
    size = 6.0
    return [(x1, y1), (x1 - ux * size - uy * size * 0.5, y1 - uy * size + ux * size * 0.5),
            (x1 - ux * size + uy * size * 0.5, y1 - uy * size - ux * size * 0.5)]


def _f(v: float) -> str:
    return f"{v:.1f}".rstrip("0").rstrip(".")


def _data_layer(names: str) -> str:
    """``data-layer`` on a box or join: the layer/group names it stands for (the report page links them)."""
    return f" data-layer={quoteattr(names)}" if names else ""


def to_svg(diagram: Diagram) -> str:
    """The diagram as a standalone SVG document."""
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{_f(diagram.width)}" height="{_f(diagram.height)}"'
           f' viewBox="0 0 {_f(diagram.width)} {_f(diagram.height)}"'
           ' font-family="DejaVu Sans, Helvetica, Arial, sans-serif">',
           f"<title>{escape(diagram.title)}</title>",
           f'<rect width="{_f(diagram.width)}" height="{_f(diagram.height)}" fill="white"/>']
    for p in diagram.prims:
        if isinstance(p, Rect):
            dash = ' stroke-dasharray="4 3"' if p.dashed else ""
            width = "2" if p.double else "1"
            title = f"<title>{escape(p.title)}</title>" if p.title else ""
            out.append(f'<rect x="{_f(p.x)}" y="{_f(p.y)}" width="{_f(p.w)}" height="{_f(p.h)}" rx="4"'
                       f' fill="{p.fill}" stroke="#333333" stroke-width="{width}"{dash}{_data_layer(p.layer)}>'
                       f'{title}</rect>')
        elif isinstance(p, Circle):
            title = f"<title>{escape(p.title)}</title>" if p.title else ""
            out.append(f'<circle cx="{_f(p.x)}" cy="{_f(p.y)}" r="{_f(p.r)}" fill="white"'
                       f' stroke="#333333"{_data_layer(p.layer)}>{title}</circle>')
        elif isinstance(p, Line):
            d = " ".join(c + " " + " ".join(_f(v) for v in pts) for c, pts in p.cmds)
            dash = ' stroke-dasharray="5 3"' if p.dashed else ""
            out.append(f'<path d="{d}" fill="none" stroke="{p.colour}" stroke-width="1.2"{dash}/>')
            if p.arrow:
                tri = " ".join(f"{_f(a)},{_f(b)}" for a, b in _arrowhead(p.cmds))
                out.append(f'<polygon points="{tri}" fill="{p.colour}"/>')
        else:
            weight = ' font-weight="bold"' if p.bold else ""
            out.append(f'<text x="{_f(p.x)}" y="{_f(p.y)}" font-size="{_f(p.size)}" text-anchor="{p.anchor}"'
                       f' fill="{p.colour}"{weight}>{escape(p.text)}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


_ANCHOR = {"start": "left", "middle": "center", "end": "right"}


def to_png(diagram: Diagram, out_dpi: int = 100) -> bytes:
    """The same primitives rasterised by matplotlib (Agg), 1 px = 1 SVG unit at ``out_dpi`` 100 (300: ×3)."""
    if max(diagram.width, diagram.height) > MAX_PNG_PIXELS:
        raise OptionError(f"the diagram is {diagram.width:.0f}×{diagram.height:.0f} px, too large for PNG",
                          hint="write .svg, or fold blocks with --depth")
    try:
        from matplotlib.figure import Figure
        from matplotlib.patches import Circle as MCircle
        from matplotlib.patches import FancyBboxPatch, PathPatch, Polygon
        from matplotlib.path import Path as MPath
    except ImportError:
        return _png_via_cairosvg(diagram)
    dpi = 100
    fig = Figure(figsize=(diagram.width / dpi, diagram.height / dpi), dpi=dpi)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, diagram.width)
    ax.set_ylim(diagram.height, 0)
    ax.axis("off")
    pt = 72 / dpi
    for p in diagram.prims:
        if isinstance(p, Rect):
            ax.add_patch(FancyBboxPatch((p.x, p.y), p.w, p.h, boxstyle="round,pad=0,rounding_size=4",
                                        facecolor=p.fill, edgecolor="#333333",
                                        linewidth=(2 if p.double else 1) * pt,
                                        linestyle="--" if p.dashed else "-"))
        elif isinstance(p, Circle):
            ax.add_patch(MCircle((p.x, p.y), p.r, facecolor="white", edgecolor="#333333", linewidth=pt))
        elif isinstance(p, Line):
            verts: list[tuple[float, float]] = []
            codes: list[Any] = []
            for c, pts in p.cmds:
                pairs = [(pts[i], pts[i + 1]) for i in range(0, len(pts), 2)]
                verts.extend(pairs)
                code = {"M": MPath.MOVETO, "L": MPath.LINETO, "Q": MPath.CURVE3}[c]
                codes.extend([code] * len(pairs))
            ax.add_patch(PathPatch(MPath(verts, codes), facecolor="none", edgecolor=p.colour,
                                   linewidth=1.2 * pt, linestyle="--" if p.dashed else "-"))
            if p.arrow:
                ax.add_patch(Polygon(_arrowhead(p.cmds), closed=True, facecolor=p.colour, edgecolor="none"))
        else:
            ax.text(p.x, p.y, p.text, fontsize=p.size * pt, ha=_ANCHOR[p.anchor], va="baseline", color=p.colour,
                    fontweight="bold" if p.bold else "normal")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=out_dpi)
    return buf.getvalue()


def _png_via_cairosvg(diagram: Diagram) -> bytes:
    """Without matplotlib, cairosvg (if someone installed it) can rasterise the SVG instead."""
    import importlib

    try:
        cairosvg = importlib.import_module("cairosvg")
    except ImportError:
        raise OptionError("PNG diagrams need matplotlib (SVG does not)",
                          hint="install archcalc[plot], or write .svg") from None
    data: bytes = cairosvg.svg2png(bytestring=to_svg(diagram).encode())
    return data


def write(diagram: Diagram, out: str | Path, dpi: int = 100) -> str:
    """Write ``diagram`` as SVG or PNG by ``out``'s extension (``dpi``: the PNG's resolution); returns the format."""
    fmt = output_format(out)
    data = to_svg(diagram).encode() if fmt == "svg" else to_png(diagram, dpi)
    write_atomic(out, data)
    return fmt


__all__ = ["Box", "Diagram", "Parallel", "Side", "count_boxes", "label_of", "layout", "structure", "to_png",
           "to_svg", "write"]
