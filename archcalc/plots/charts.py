"""Charts of the calculator's numbers: per-layer bars, receptive-field growth, and a zoo comparison.

Each ``*_data`` function picks the numbers to draw straight from the Report (never recomputing them),
and each ``plot_*`` function draws that data with matplotlib's object API (no pyplot, so no global
backend state and no display needed) and returns it, so a test can hold the plotted data against the
calculator. matplotlib is the optional ``plot`` extra, imported only here, inside the functions.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from archcalc.analysis import Analysis
from archcalc.errors import OptionError
from archcalc.plots import output_format, write_atomic
from archcalc.report.fmt import human_bytes, si
from archcalc.report.model import Report, Row, build_report

#: Above this many bars the chart folds blocks (a coarser display depth) unless a depth is given.
MAX_BARS = 90

#: bar colours by layer family, so "conv memory, fc params" reads from the colours alone
FAMILY_COLOURS = {
    "conv": "#4C72B0", "fc": "#DD8452", "pool": "#8C8C8C", "norm": "#CCB974", "input": "#55A868",
    "join": "#937860", "block": "#64B5CD", "other": "#B07AA1",
}


def _family(row: Row) -> str:
    """The colour family: the layer's own (``Row.family``), 'block' for a folded group, else 'other'."""
    if row.group:
        return "block"
    return row.family if row.family in FAMILY_COLOURS else "other"


@dataclass
class BarData:
    """The per-layer figures a bar chart shows, in layer order (values exactly the Report's)."""

    spec: str
    depth: int | None
    names: list[str]
    types: list[str]
    families: list[str]
    params: list[int]
    macs: list[int]
    activations: list[int]
    memory_bytes: list[int]
    totals: dict[str, int] = field(default_factory=dict)


@dataclass
class RFCurve:
    """Receptive field along the network's main path (the widest-seeing input at each merge)."""

    spec: str
    names: list[str]
    size_h: list[int | float]
    size_w: list[int | float]
    jump_h: list[int | float]
    input_h: int
    input_w: int


@dataclass
class ComparePoint:
    """One network in a comparison: total MACs, params, activation memory, published top-5 error."""

    name: str
    macs: int
    params: int
    activation_bytes: int
    depth: int
    top5_error: float | None
    top5_source: str | None
    #: where its label was drawn, in pixels (x0, y0, x1, y1); None: left unlabelled (no free spot)
    label_box: tuple[float, float, float, float] | None = None


def _is_drawn(row: Row) -> bool:
    """Rows carrying something to draw; in-place activations, views and dropout add nothing."""
    return bool(row.params or row.macs or row.activations or row.group)


def _max_scope(analysis: Analysis) -> int:
    return max((len(n.scope) for n in analysis.graph.nodes), default=0)


def bar_data(analysis: Analysis, depth: int | None = None, max_bars: int = MAX_BARS) -> BarData:
    """Per-layer params, MACs and activation memory, folded to ``depth`` (or the finest depth that fits)."""
    chosen = depth
    report = build_report(analysis, depth=depth)
    rows = [r for r in report.rows if _is_drawn(r)]
    if depth is None:
        d = _max_scope(analysis)
        while len(rows) > max_bars and d > 0:
            d -= 1
            report = build_report(analysis, depth=d)
            rows = [r for r in report.rows if _is_drawn(r)]
            chosen = d
    return BarData(
        spec=report.spec["name"], depth=chosen,
        names=[r.name for r in rows], types=[r.type for r in rows], families=[_family(r) for r in rows],
        params=[r.params for r in rows], macs=[r.macs for r in rows],
        activations=[r.activations for r in rows], memory_bytes=[r.memory_bytes for r in rows],
        totals={"params": report.totals["params"], "macs": report.totals["macs"],
                "activation_bytes": report.totals["activation_bytes"]},
    )


def rf_data(analysis: Analysis) -> RFCurve:
    """Receptive field layer by layer up to the last feature map, following the widest path at merges."""
    report = build_report(analysis)
    rows = {r.name: r for r in report.rows}
    graph = analysis.graph
    end = report.totals["rf"]["layer"]

    def size(name: str) -> float:
        rf = rows[name].rf
        return rf.size[0] * rf.size[-1] if rf is not None else 0

    path: list[str] = []
    name: str | None = end
    while name is not None:
        path.append(name)
        inputs = graph.node(name).inputs
        name = max(inputs, key=size) if inputs else None
    path.reverse()
    names: list[str] = []
    size_h: list[int | float] = []
    size_w: list[int | float] = []
    jump_h: list[int | float] = []
    last: tuple[int | float, ...] | None = None
    for name in path:
        rf = rows[name].rf
        if rf is None:
            continue
        key = (*rf.size, *rf.jump)
        if key == last:  # activations, norms: the field does not change; one point per change
            continue
        last = key
        names.append(name)
        size_h.append(rf.size[0])
        size_w.append(rf.size[-1])
        jump_h.append(rf.jump[0])
    if not names or all(len(rows[n].shape) != 3 for n in names):
        raise OptionError(f"'{report.spec['name']}' has no feature maps, so no receptive field to draw",
                          hint="--kind bars draws its layers")
    spec_in = report.spec["input"]
    return RFCurve(spec=report.spec["name"], names=names, size_h=size_h, size_w=size_w, jump_h=jump_h,
                   input_h=spec_in[-2] if len(spec_in) >= 2 else spec_in[-1], input_w=spec_in[-1])


def _top5(report: Report) -> tuple[float | None, str | None]:
    entry = report.spec.get("published", {}).get("top5_error")
    if isinstance(entry, dict) and isinstance(entry.get("value"), int | float):
        return float(entry["value"]), str(entry.get("source", "")) or None
    if isinstance(entry, int | float) and not isinstance(entry, bool):
        return float(entry), None
    return None, None


def compare_data(analyses: list[Analysis]) -> list[ComparePoint]:
    """One point per network: totals straight from each Report, with the spec's cited top-5 error."""
    points = []
    for a in analyses:
        report = build_report(a)
        err, src = _top5(report)
        points.append(ComparePoint(name=report.spec["name"], macs=report.totals["macs"],
                                   params=report.totals["params"],
                                   activation_bytes=report.totals["activation_bytes"],
                                   depth=report.totals["depth"], top5_error=err, top5_source=src))
    return points


# ---- drawing --------------------------------------------------------------------------------------

def _figure(width: float, height: float, constrained: bool = True) -> Any:
    """A matplotlib Figure detached from pyplot (headless), or a one-line error naming the extra."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise OptionError("plots need matplotlib", hint="install archcalc[plot]") from None
    return Figure(figsize=(width, height), dpi=100, layout="constrained" if constrained else None)


def _margins(fig: Any, labels: list[str], fontsize: float, legend: bool) -> None:
    """Fixed margins sized from the rotated tick labels: constrained layout costs more than the drawing."""
    width, height = fig.get_size_inches()
    bottom = max((len(s) for s in labels), default=4) * fontsize * 0.62 / 72 + 0.3
    fig.subplots_adjust(left=0.85 / width, right=1 - (1.0 if legend else 0.3) / width, top=1 - 0.7 / height,
                        bottom=min(bottom, height * 0.45) / height, hspace=0.3)


def _save(fig: Any, out: str | Path, dpi: int = 100) -> None:
    """Write a figure by ``out``'s extension; ``dpi`` is the PNG's resolution (300 for print; SVG has none)."""
    fmt = output_format(out)
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, dpi=dpi)
    write_atomic(out, buf.getvalue())


def _trim(text: str) -> str:
    """Drop trailing zeros of a figure: '750.0M' → '750M', '2.50 MB' → '2.5 MB', '12.05 MB' unchanged."""
    text = re.sub(r"(\d+\.\d*?)0+(?=\D|$)", r"\1", text)
    return re.sub(r"(?<=\d)\.(?=\D|$)", "", text)


def _si_formatter(bytes_: bool = False) -> Any:
    from matplotlib.ticker import FuncFormatter

    def fmt(value: float, _pos: int) -> str:
        if value <= 0:
            return "0"
        return tick_text(value, bytes_)

    return FuncFormatter(fmt)


def tick_text(value: float, bytes_: bool = False) -> str:
    """A tick label that says the tick's value: 1.25G at 1.25G (not '1.2G'), 1.5G, 750M, 2 MB.

    >>> tick_text(1.25e9), tick_text(1.75e9), tick_text(1.5e9), tick_text(7.5e8), tick_text(2e6, True)
    ('1.25G', '1.75G', '1.5G', '750M', '2 MB')
    """
    for factor, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "K"), (1, "")):
        if abs(value) >= factor or factor == 1:
            scaled = value / factor
            for digits in range(4):
                if abs(round(scaled, digits) - scaled) <= 1e-9 * max(abs(scaled), 1):
                    break
            number = f"{scaled:.{digits}f}"
            if bytes_:
                unit = {"T": " TB", "G": " GB", "M": " MB", "K": " KB", "": " B"}[suffix]
                return number + unit
            return number + suffix
    return f"{value:g}"


def _short(name: str) -> str:
    """Readable tick labels: 'layer3.block5.residual.conv2' → 'l3.b5.r.conv2' stays unique enough."""
    parts = name.split(".")
    if len(parts) <= 2:
        return name
    return ".".join(p if i in (0, len(parts) - 1) else p.replace("block", "b") for i, p in enumerate(parts))


def _draw_bars(axes: list[Any], data: BarData, log: bool) -> None:
    n = len(data.names)
    xs = list(range(n))
    colours = [FAMILY_COLOURS[f] for f in data.families]
    panels = (
        ("Parameters", data.params, data.totals["params"], False),
        ("MACs (multiply-accumulates)", data.macs, data.totals["macs"], False),
        ("Activation memory (forward, per image)", data.memory_bytes, data.totals["activation_bytes"], True),
    )
    for ax, (title, values, total, is_bytes) in zip(axes, panels, strict=True):
        _bars(ax, xs, [float(v) for v in values], colours, log)  # ints past 2⁶³ overflow numpy
        total_text = human_bytes(total) if is_bytes else si(total)
        ax.set_title(f"{title} — total {total_text}", loc="left", fontsize=11)
        if log:
            ax.set_yscale("log")
        else:
            ax.yaxis.set_major_formatter(_si_formatter(is_bytes))
        ax.grid(axis="y", alpha=0.3)
        ax.set_xlim(-0.7, n - 0.3)
        ax.margins(y=0.05)
        ax.tick_params(axis="x", labelbottom=False)
    bottom = axes[-1]
    step = max(1, -(-n // 120))  # at most ~120 tick labels
    bottom.set_xticks(xs[::step])
    bottom.set_xticklabels([_short(s) for s in data.names[::step]], rotation=90, fontsize=_tick_size(n))
    bottom.tick_params(axis="x", labelbottom=True)
    from matplotlib.patches import Patch

    present = [f for f in FAMILY_COLOURS if f in data.families]
    axes[0].legend(handles=[Patch(color=FAMILY_COLOURS[f], label=f) for f in present], fontsize=8,
                   loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)


#: past this many bars a panel is one PolyCollection: 3 panels of 3,000 Rectangles took 12 s to add and 6 s
#: to draw (a flat 100k-layer spec ran past 180 s and 2.8 GB, issue 15 defect 11)
BARS_AS_ONE = 500


def _bars(ax: Any, xs: list[int], heights: list[float], colours: list[str], log: bool) -> None:
    if len(xs) <= BARS_AS_ONE:
        ax.bar(xs, heights, color=colours, width=0.8)
        return
    from matplotlib.collections import PolyCollection

    base = 0.5 if log else 0.0  # a log axis has no 0: the bars start below 1, as ax.bar's are clipped
    tops = [max(h, base) for h in heights]
    verts = [[(x - 0.4, base), (x - 0.4, t), (x + 0.4, t), (x + 0.4, base)] for x, t in zip(xs, tops, strict=True)]
    ax.add_collection(PolyCollection(verts, facecolors=colours, edgecolors="none"), autolim=True)
    ax.autoscale_view()


def _draw_rf(ax: Any, curve: RFCurve) -> None:
    xs = list(range(len(curve.names)))
    ax.step(xs, curve.size_h, where="mid", marker="o", markersize=3, color="#4C72B0",
            label="receptive field (height)")
    if curve.size_w != curve.size_h:
        ax.step(xs, curve.size_w, where="mid", marker="s", markersize=3, color="#C44E52",
                label="receptive field (width)")
    ax.axhline(curve.input_h, color="#55A868", linestyle="--", label=f"input size ({curve.input_h})")
    covered = next((i for i, s in enumerate(curve.size_h) if s >= curve.input_h), None)
    if covered is not None:
        late = covered > len(curve.names) / 2
        ax.annotate(f"covers the input at {curve.names[covered]}", (covered, curve.size_h[covered]),
                    xytext=(-10, 12) if late else (8, -14), textcoords="offset points", fontsize=8,
                    ha="right" if late else "left")
    ax.set_title(f"Receptive field through the network — {curve.size_h[-1]} px at {curve.names[-1]}",
                 loc="left", fontsize=11)
    ax.set_ylabel("pixels")
    ax.set_ylim(0, max([*curve.size_h, *curve.size_w, curve.input_h]) * 1.1)
    n = len(xs)
    step = max(1, -(-n // 80))
    ax.set_xticks(xs[::step])
    ax.set_xticklabels([_short(s) for s in curve.names[::step]], rotation=90, fontsize=_tick_size(n))
    ax.set_xlim(-0.7, n - 0.3)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")


def _tick_size(n: int) -> float:
    return 9 if n <= 40 else 7


def _bars_width(n: int) -> float:
    return min(30.0, max(9.0, 2.5 + 0.22 * n))


def _subtitle(data: BarData) -> str:
    fold = "every layer" if data.depth is None else f"{data.depth + 1} level{'s' if data.depth else ''} of nesting"
    return f"{data.spec} — {len(data.names)} layers with weights, work or memory ({fold})"


def plot_bars(analysis: Analysis, out: str | Path, log: bool = False, depth: int | None = None,
              dpi: int = 100) -> BarData:
    """Per-layer bars of parameters, MACs and activation memory; returns the plotted data."""
    data = bar_data(analysis, depth)
    labels = [_short(s) for s in data.names]
    fig = _figure(_bars_width(len(data.names)), 9.0 + max(map(len, labels)) * 0.08, constrained=False)
    axes = list(fig.subplots(3, 1, sharex=True))
    _draw_bars(axes, data, log)
    _margins(fig, labels, _tick_size(len(labels)), legend=True)
    fig.suptitle(_subtitle(data), fontsize=13)
    _save(fig, out, dpi)
    return data


def plot_rf(analysis: Analysis, out: str | Path, dpi: int = 100) -> RFCurve:
    """Receptive-field growth beside the input size; returns the plotted curve."""
    curve = rf_data(analysis)
    labels = [_short(s) for s in curve.names]
    fig = _figure(_bars_width(len(curve.names)), 4.0 + max(map(len, labels)) * 0.08, constrained=False)
    _draw_rf(fig.subplots(1, 1), curve)
    _margins(fig, labels, _tick_size(len(labels)), legend=False)
    fig.suptitle(f"{curve.spec} — input {curve.input_h}×{curve.input_w}", fontsize=13)
    _save(fig, out, dpi)
    return curve


def plot_all(analysis: Analysis, out: str | Path, log: bool = False,
             depth: int | None = None, dpi: int = 100) -> tuple[BarData, RFCurve | None]:
    """Bars and receptive field in one figure (bars alone for a network without feature maps)."""
    data = bar_data(analysis, depth)
    try:
        curve: RFCurve | None = rf_data(analysis)
    except OptionError:
        curve = None
    n = max(len(data.names), len(curve.names) if curve else 0)
    fig = _figure(_bars_width(n), 13.0 if curve else 9.5)
    axes = list(fig.subplots(4 if curve else 3, 1, height_ratios=[1, 1, 1, 1.2] if curve else None))
    for ax in axes[1:3]:
        ax.sharex(axes[0])
    _draw_bars(axes[:3], data, log)
    if curve is not None:
        _draw_rf(axes[3], curve)
    fig.suptitle(_subtitle(data), fontsize=13)
    _save(fig, out, dpi)
    return data, curve


def _place_labels(fig: Any, ax: Any, points: list[ComparePoint], xs: Sequence[float], ys: Sequence[float],
                  labels: list[str], order: list[int], radii_pt: list[float]) -> list[str]:
    """Place each label at the first spot around its point that overlaps no other label, no marker centre
    and stays inside the axes, measured on the drawn text (pixels); a label with no free spot is left
    out and returned, never drawn over another. Sets each point's ``label_box``."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas: Any = FigureCanvasAgg(fig)
    canvas.draw()  # the constrained layout settles the axes first: positions are measured on it
    renderer = canvas.get_renderer()
    frame = ax.get_window_extent(renderer)
    to_px = ax.transData.transform
    centres = [tuple(to_px((x, y))) for x, y in zip(xs, ys, strict=True)]
    scale = fig.dpi / 72
    placed: list[tuple[float, float, float, float]] = []
    dirs = [(1, 1), (1, -1), (-1, 1), (-1, -1), (1, 0), (-1, 0), (0, 1), (0, -1)]
    left_out = []

    def free(box: tuple[float, float, float, float], own: int) -> bool:
        x0, y0, x1, y1 = box
        if x0 < frame.x0 or y0 < frame.y0 or x1 > frame.x1 or y1 > frame.y1:
            return False
        if any(x0 < b[2] and b[0] < x1 and y0 < b[3] and b[1] < y1 for b in placed):
            return False
        return not any(k != own and x0 - 2 < cx < x1 + 2 and y0 - 2 < cy < y1 + 2
                       for k, (cx, cy) in enumerate(centres))

    for i in order:
        bold = points[i].top5_error is not None
        text = ax.text(0, 0, labels[i], fontsize=8, fontweight="bold" if bold else "normal")
        bbox = text.get_window_extent(renderer)
        text.remove()
        w, h = bbox.width, bbox.height
        cx, cy = centres[i]
        found = None
        for reach_pt in (2, 6, 14, 24, 36, 52, 72, 96):
            reach = (reach_pt + radii_pt[i] * 0.75) * scale
            for ux, uy in dirs:
                x0 = cx + ux * reach - (w if ux < 0 else (w / 2 if ux == 0 else 0))
                y0 = cy + uy * reach - (h if uy < 0 else (h / 2 if uy == 0 else 0))
                box = (x0, y0, x0 + w, y0 + h)
                if free(box, i):
                    found = (box, ux, uy, reach)
                    break
            if found:
                break
        if found is None:
            left_out.append(points[i].name)
            continue
        box, ux, uy, reach = found
        placed.append(box)
        points[i].label_box = box
        dx, dy = ux * reach / scale, uy * reach / scale
        far = reach_pt > 14
        ax.annotate(labels[i], (xs[i], ys[i]), xytext=(dx, dy), textcoords="offset points",
                    ha="left" if ux > 0 else ("right" if ux < 0 else "center"),
                    va="bottom" if uy > 0 else ("top" if uy < 0 else "center"), fontsize=8,
                    fontweight="bold" if bold else "normal",
                    arrowprops={"arrowstyle": "-", "color": "#777777", "lw": 0.6} if far else None, zorder=4)
    return left_out


def plot_compare(analyses: list[Analysis], out: str | Path, dpi: int = 100) -> list[ComparePoint]:
    """MACs against parameters (log-log: the zoo spans five orders), one point per network.

    Marker area follows activation memory, colour the depth in weight layers (the revolution of depth),
    and the label carries the published top-5 error where the spec cites one.
    """
    import math

    if not analyses:
        raise OptionError("nothing to compare", hint="name at least one spec")
    points = compare_data(analyses)
    width, height = 11.0, 7.5
    fig = _figure(width, height)
    ax = fig.subplots(1, 1)
    biggest = max(p.activation_bytes for p in points) or 1

    def area(nbytes: float) -> float:
        return 40 + 1400 * (nbytes / biggest)

    xs = [max(p.macs, 1) for p in points]
    ys = [max(p.params, 1) for p in points]
    lx = (math.log10(min(xs)) - 0.6, math.log10(max(xs)) + 0.6)
    ly = (math.log10(min(ys)) - 0.6, math.log10(max(ys)) + 0.6)
    from matplotlib.colors import LogNorm

    d_lo = max(1, min(p.depth for p in points))
    d_hi = max(d_lo + 1, *(p.depth for p in points))
    art = ax.scatter(xs, ys, s=[area(p.activation_bytes) for p in points],
                     c=[max(p.depth, 1) for p in points],
                     cmap="viridis", norm=LogNorm(vmin=d_lo, vmax=d_hi), alpha=0.65, edgecolors="black",
                     linewidths=0.6, zorder=3)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(10 ** lx[0], 10 ** lx[1])
    ax.set_ylim(10 ** ly[0], 10 ** ly[1])
    ax.xaxis.set_major_formatter(_si_formatter())
    ax.yaxis.set_major_formatter(_si_formatter())
    ax.set_xlabel("MACs per image (multiply-accumulates)")
    ax.set_ylabel("parameters")
    ax.grid(alpha=0.3, which="major")
    fig.colorbar(art, ax=ax, label="depth (weight layers on the longest path)", shrink=0.8)
    refs = sorted({10 ** round(math.log10(max(p.activation_bytes, 1))) for p in points})
    handles = [ax.scatter([], [], s=area(r), color="#cccccc", edgecolors="black", linewidths=0.6,
                          label=_trim(human_bytes(r))) for r in refs[-3:]]
    ax.legend(handles=handles, title="forward activations / image", loc="upper left", fontsize=8,
              title_fontsize=8, labelspacing=1.6, borderpad=1.0, frameon=True)
    ax.set_title("Networks compared: work against size; marker area ∝ activation memory", loc="left",
                 fontsize=11)
    labels = [p.name + (f" · top-5 {p.top5_error:g}%" if p.top5_error is not None else "") for p in points]
    order = sorted(range(len(points)), key=lambda i: (points[i].top5_error is None, -points[i].params))
    radii_pt = [math.sqrt(area(p.activation_bytes) / math.pi) for p in points]
    unlabelled = _place_labels(fig, ax, points, xs, ys, labels, order, radii_pt)
    if unlabelled:
        ax.text(0.99, 0.01, "no room for a label: " + ", ".join(unlabelled), transform=ax.transAxes,
                ha="right", va="bottom", fontsize=7, color="#555555", wrap=True)
    _save(fig, out, dpi)
    return points


def describe(data: BarData) -> str:
    """A one-line summary of what the bar chart shows (for the CLI)."""
    i_mem = max(range(len(data.names)), key=lambda i: data.memory_bytes[i])
    i_par = max(range(len(data.names)), key=lambda i: data.params[i])
    return (f"most activation memory: {data.names[i_mem]} ({human_bytes(data.memory_bytes[i_mem])});"
            f" most parameters: {data.names[i_par]} ({si(data.params[i_par])})")


__all__ = ["BarData", "ComparePoint", "RFCurve", "bar_data", "compare_data", "describe", "plot_all",
           "plot_bars", "plot_compare", "plot_rf", "rf_data"]
