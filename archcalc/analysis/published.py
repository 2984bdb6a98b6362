"""Published figures beside archcalc's: the metrics, the verdict logic, and one Figure per entry.

A spec lists the figures its publication prints under ``published:``; an entry is

    label: {value: 3.6e9, rounding: 0.1e9, rule: round, source: "...", metric: macs, layer: conv1, unit: 1024,
            vars: {aux: true}, as_published: "2.7K", note: "...", option_a: true}

``metric`` defaults to the label. ``value`` is in units of ``unit`` (default 1); ``rounding`` is the
publication's last printed digit in the same units (none: the figure is exact). ``layer`` restricts the
figure to one layer or group (its name and everything under it); ``vars`` sets spec variables first.
``rule`` (round or truncate) is the convention the publication follows for the figure, where its other
figures show it (GoogLeNet's ops column rounds); without it, either is accepted and the verdict says which.
``option_a`` (CIFAR ResNets) counts the network without its projection shortcuts (groups named
``shortcut``), i.e. with the paper's parameter-free option A shortcuts.

Metrics: params, trainable_params, weights, macs (archcalc's MACs: conv, fc, LRN window sums),
conv_fc_macs (conv and fc only), connections (LeNet's: inputs plus bias per output unit), neurons
(outputs of conv and fc layers), output (the layer's output elements; ``as_published`` gives the
printed H×W×C), depth (weight layers on the longest path through the layer), activation_elems,
activation_bytes (fp32); measured results (top5_error, top1_error, test_error, miou: a segmentation's mean
intersection over union) are listed, not computed.

The same logic gives ``docs/reproductions.md`` (``tools/reproductions.py``) and the verdicts that
``summary`` and the report page print.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from archcalc.analysis import Analysis, NodeResult
from archcalc.errors import ArchcalcError
from archcalc.frozen import Frozen
from archcalc.layers import Family, numel

EXACT = "reproduced"
ROUNDED = "reproduced within the publication's rounding"
TRUNCATED = "reproduced if the publication truncated"
NOT = "not reproduced"
MEASURED = "not computable (a measured result)"
FAILED = "not computable (archcalc error)"

MEASURED_METRICS = ("top5_error", "top1_error", "test_error", "miou")
METRIC_LABELS = {
    "params": "parameters", "trainable_params": "trainable parameters", "weights": "weights",
    "macs": "multiply-adds", "conv_fc_macs": "multiply-adds (conv + fc)", "connections": "connections",
    "neurons": "neurons", "output": "output size", "depth": "depth",
    "activation_elems": "forward activations (values)", "activation_bytes": "forward activations (bytes, fp32)",
    "top5_error": "top-5 error (%)", "top1_error": "top-1 error (%)", "test_error": "test error (%)",
    "miou": "mean IoU (%)",
}
#: the families whose layers papers count as "weight layers" for MACs and neurons (conv, fc)
_WEIGHT_FAMILIES = (Family.CONV, Family.FC)

#: analyses the same spec with some variables set (for entries with ``vars``)
Reanalyse = Callable[[Mapping[str, Any]], Analysis]


class Figure(Frozen):
    """One published figure and what archcalc computes for it."""

    spec: str
    label: str
    metric: str
    layer: str | None
    as_published: str
    source: str
    published: float | None  # in absolute units
    tolerance: float | None  # the rounding, absolute units
    computed: float | None
    computed_text: str
    verdict: str
    explanation: str


# ---- computing one metric --------------------------------------------------------------------------

def selected(a: Analysis, layer: str | None, option_a: bool = False) -> list[NodeResult]:
    """The nodes a figure covers: the whole network or one layer or group; option A drops projections."""
    rs = list(a.results.values()) if layer is None else a.under(layer)
    if option_a:
        rs = [r for r in rs if "shortcut" not in r.name.split(".")]
    return rs


def depth_of(rs: list[NodeResult]) -> int:
    """Weight layers on the longest path through ``rs`` (how papers count depth)."""
    names = {r.name for r in rs}
    depth: dict[str, int] = {}
    for r in rs:
        here = 1 if r.rec.counts_depth else 0
        depth[r.name] = here + max((depth[i] for i in r.node.inputs if i in names), default=0)
    return max(depth.values(), default=0)


def metric_value(a: Analysis, metric: str, layer: str | None = None, option_a: bool = False) -> int:
    """The value of ``metric`` over the whole network or one layer/group of it."""
    rs = selected(a, layer, option_a)
    if metric == "params":
        return sum(r.params.total for r in rs)
    if metric == "trainable_params":
        return sum(r.params.total for r in rs if r.params.trainable)
    if metric == "weights":
        return sum(r.params.weights for r in rs)
    if metric == "macs":
        return sum(r.cost.macs for r in rs)
    if metric == "conv_fc_macs":
        return sum(r.cost.macs for r in rs if r.rec.family in _WEIGHT_FAMILIES)
    if metric == "connections":
        return sum(r.rec.connections for r in rs)
    if metric == "neurons":
        return sum(numel(r.shape) for r in rs if r.rec.family in _WEIGHT_FAMILIES)
    if metric == "output":
        last = next((r for r in rs if r.name == layer), rs[-1])
        return numel(last.shape)
    if metric == "depth":
        return depth_of(rs)
    if metric in ("activation_elems", "activation_bytes"):
        if layer is not None:
            raise KeyError(f"metric '{metric}' is for the whole network")
        elems = a.totals.activation_elems
        return elems * 4 if metric == "activation_bytes" else elems
    raise KeyError(f"unknown metric '{metric}'")


def output_shape(a: Analysis, layer: str) -> tuple[int, ...]:
    rs = selected(a, layer)
    return next((r for r in rs if r.name == layer), rs[-1]).shape


# ---- formatting ------------------------------------------------------------------------------------

_SCALES = ((1e9, "B"), (1e6, "M"), (1e3, "K"))


def _decimals(step: float) -> int:
    return max(0, -math.floor(math.log10(step) + 1e-9))


def format_published(value: float, rounding: float | None, unit: float = 1) -> str:
    """A figure as the publication would print it: 3.6B, 138M, 0.27M, 60,000."""
    if rounding is None:
        v = value * unit
        return f"{int(v):,}" if float(v).is_integer() else f"{v:g}"
    absolute = rounding * unit
    for scale, suffix in _SCALES:
        if scale <= absolute * 100 and value * unit >= scale / 10:
            return f"{value * unit / scale:,.{_decimals(absolute / scale)}f}{suffix}"
    return f"{value * unit:,.{_decimals(absolute)}f}"


def format_computed(value: int, rounding: float | None, unit: float = 1, unit_name: str = "") -> str:
    """The exact value, and beside it the value in the publication's units with one more digit."""
    text = f"{value:,}"
    if unit != 1:
        step = (rounding or 1) / 10
        return f"{text} ({value / unit:,.{_decimals(step)}f}{unit_name})"
    if rounding is None or value < 1000:
        return text
    absolute = rounding / 10
    for scale, suffix in _SCALES:
        if scale <= absolute * 1000 and value >= scale / 10:
            return f"{text} ({value / scale:,.{_decimals(absolute / scale)}f}{suffix})"
    return text


def _shape_text(shape: tuple[int, ...]) -> str:
    if len(shape) == 3:
        c, h, w = shape
        return f"{h}×{w}×{c}"
    return f"1×1×{shape[0]}"


# ---- verdicts --------------------------------------------------------------------------------------

def verdict(computed: float, published: float, tolerance: float | None, rule: str | None = None) -> str:
    """Exact, within rounding, truncated, or not reproduced.

    Rounding is half-up: ``v`` is ``x`` rounded when v − r/2 ≤ x < v + r/2, so an exact half above
    (GoogLeNet 3a: 159.5K) rounds away from the printed 159K and only truncation gives it. ``rule``
    ("round" or "truncate") is the convention the publication is known to follow for this figure (a
    table column that rounds everywhere else); None accepts either.
    """
    eps = 1e-9 * max(abs(published), 1.0)
    if abs(computed - published) <= eps:
        return EXACT
    if tolerance is None:
        return NOT
    if rule != "truncate" and published - tolerance / 2 - eps <= computed < published + tolerance / 2 - eps:
        return ROUNDED
    if rule != "round" and published - eps <= computed < published + tolerance - eps:
        return TRUNCATED
    return NOT


def figure(spec: str, label: str, entry: Mapping[str, Any], analysis: Analysis, reanalyse: Reanalyse) -> Figure:
    """One ``published:`` entry of ``spec`` held against ``analysis`` (or a re-analysis with its ``vars``)."""
    metric = str(entry.get("metric", label))
    layer = entry.get("layer")
    unit = float(entry.get("unit", 1))
    rounding = entry.get("rounding")
    value = float(entry["value"])
    source = str(entry.get("source", ""))
    note = str(entry.get("note", ""))
    as_published = str(entry.get("as_published") or "")
    if metric == "output":
        as_published = as_published.replace("x", "×")
    unit_name = {1024.0: "K", 1e3: "K", 1e6: "M", 1e9: "B"}.get(unit, "")
    if not as_published:
        as_published = format_published(value, rounding, unit)
        if metric in MEASURED_METRICS:
            as_published = f"{value:g}%"
        elif unit != 1:
            as_published += unit_name
    published = value * unit
    tolerance = float(rounding) * unit if rounding is not None else None
    base = {"spec": spec, "label": label, "metric": metric, "layer": layer, "as_published": as_published,
            "source": source, "published": published, "tolerance": tolerance}
    if metric in MEASURED_METRICS:
        return Figure(**base, computed=None, computed_text="—", verdict=MEASURED,  # type: ignore[arg-type]
                      explanation=note or f"{'a mean IoU' if metric == 'miou' else 'an error rate'} is measured by"
                                  " training and testing the network")
    variables = dict(sorted((entry.get("vars") or {}).items()))
    try:
        a = reanalyse(variables) if variables else analysis
        computed = metric_value(a, metric, layer, bool(entry.get("option_a", False)))
    except (ArchcalcError, KeyError) as exc:
        return Figure(**base, computed=None, computed_text="—", verdict=FAILED,  # type: ignore[arg-type]
                      explanation=str(exc).removeprefix("archcalc: "))
    if metric == "output":
        text = _shape_text(output_shape(a, str(layer)))
        v = EXACT if text == as_published else NOT
        return Figure(**base, computed=computed, computed_text=text, verdict=v,  # type: ignore[arg-type]
                      explanation=note if v == EXACT or note else f"archcalc gives {text}")
    rule = entry.get("rule")
    if rule not in (None, "round", "truncate"):
        raise ValueError(f"rule must be 'round' or 'truncate', not {rule!r}")
    v = verdict(computed, published, tolerance, rule)
    text = format_computed(computed, rounding, unit, unit_name)
    parts = []
    if entry.get("option_a"):
        full = metric_value(a, metric, layer)
        parts.append(f"option A count: the spec's {full:,} (option B projections) minus its"
                     f" {full - computed:,} projection-shortcut parameters")
    if variables:
        parts.append("with " + ", ".join(f"{k}={str(v_).lower()}" for k, v_ in variables.items()))
    if v == TRUNCATED:
        parts.append(f"rounding gives {_round_to(computed, tolerance, unit, unit_name)}")  # type: ignore[arg-type]
    if v == NOT and note == "":
        parts.append(f"off by {computed - published:+,.0f}")
    if note:
        parts.append(note)
    return Figure(**base, computed=computed, computed_text=text, verdict=v,  # type: ignore[arg-type]
                  explanation="; ".join(parts))


def _round_to(value: float, tolerance: float, unit: float, unit_name: str) -> str:
    rounded = round(value / tolerance) * tolerance
    if unit != 1:
        return format_published(rounded / unit, tolerance / unit, 1) + unit_name
    return format_published(rounded, tolerance)


def figure_name(f: Figure) -> str:
    """What a figure measures, in words: 'conv1: parameters', 'multiply-adds'."""
    what = METRIC_LABELS.get(f.metric, f.metric)
    return f"{f.layer}: {what}" if f.layer else what


def figures_of(spec: str, analysis: Analysis, reanalyse: Reanalyse) -> list[Figure]:
    """Every ``published:`` figure of the analysed spec, in the spec's order."""
    return [figure(spec, label, entry, analysis, reanalyse)
            for label, entry in analysis.graph.meta.published.items()]
