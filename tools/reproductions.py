"""The text of docs/reproductions.md: every figure the zoo's publications give, recomputed by archcalc.

A documentation tool, not part of the package: the figures, metrics and verdicts come from
``archcalc.analysis.published`` (the logic ``summary`` uses too); this module lays them out as a page,
with the essay sections that explain the famous disagreements.

Regenerate the page with ``python -m tools.reproductions > docs/reproductions.md`` from the repository
root; tests/test_reproductions.py fails when the committed page differs from this module's output.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from functools import cache
from typing import Any

from archcalc.analysis import Analysis, NodeResult
from archcalc.analysis.published import (
    EXACT,
    MEASURED,
    NOT,
    ROUNDED,
    TRUNCATED,
    Figure,
    figure_name,
    figures_of,
    metric_value,
)
from archcalc.layers import Family, numel
from archcalc.spec import load, zoo


@cache
def _analysis(name: str, vars_key: tuple[tuple[str, Any], ...] = ()) -> Analysis:
    return Analysis(load(name, dict(vars_key) or None))


@cache
def figures() -> tuple[Figure, ...]:
    """Every published figure of every zoo spec, in zoo order then the spec's order."""
    out: list[Figure] = []
    for name in zoo.names():
        def reanalyse(variables: Mapping[str, Any], name: str = name) -> Analysis:
            return _analysis(name, tuple(sorted(variables.items())))

        out.extend(figures_of(name, _analysis(name), reanalyse))
    return tuple(out)


def _under_group(a: Analysis, group: str) -> list[NodeResult]:
    return [r for r in a.results.values() if group in r.name.split(".")]


# ---- the page --------------------------------------------------------------------------------------

def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return lines


_AUTHORS = re.compile(r"^((?:[A-Z]\.\s)+[^\W\d_][\w'\-]*(?:,\s(?:[A-Z]\.\s)+[^\W\d_][\w'\-]*)*)\.")


def _short_cite(paper: str) -> str:
    """'A. Krizhevsky, I. Sutskever, G. Hinton. ImageNet ... NIPS 2012' → 'Krizhevsky et al. 2012'."""
    m = _AUTHORS.match(paper)
    if not m:
        return paper
    surnames = [a.split()[-1] for a in m.group(1).split(", ")]
    years = re.findall(r"\b(?:19|20)\d\d\b", paper)
    who = surnames[0] if len(surnames) == 1 else (" & ".join(surnames) if len(surnames) == 2
                                                   else f"{surnames[0]} et al.")
    return f"{who} {years[-1]}" if years else who


def _summary_section() -> list[str]:
    rows = []
    for name in zoo.names():
        a = _analysis(name)
        t = a.totals
        source = a.graph.meta.source
        cite = _short_cite(str(source.get("paper") or ""))
        if source.get("code"):
            cite = "torchvision" + (f" (after {cite})" if cite else "")
        where = source.get("table") or source.get("section") or ""
        rows.append([f"`{name}`", f"{t.params:,}", f"{t.macs:,}", cite + (f", {where}" if where else "")])
    return ["## The zoo", "", *_table(["spec", "parameters", "MACs", "source"], rows), ""]


def _figures_section() -> list[str]:
    rows = []
    for f in figures():
        rows.append([f"`{f.spec}`", figure_name(f), f.as_published, f.source, f.computed_text, f.verdict,
                     f.explanation])
    counts: dict[str, int] = {}
    for f in figures():
        counts[f.verdict] = counts.get(f.verdict, 0) + 1
    tally = ", ".join(f"{n} {v}" for v, n in sorted(counts.items(), key=lambda kv: -kv[1]))
    return ["## Every published figure", "", f"{len(figures())} figures: {tally}.", "",
            *_table(["spec", "figure", "as published", "source", "archcalc", "verdict", "explanation"], rows),
            ""]


def _vgg16_memory_section() -> list[str]:
    a = _analysis("vgg16")
    rs = a.results
    # the slide's rows: INPUT, CONV3, POOL2 and FC (the ReLUs run in place)
    column = [r for r in rs.values() if r.rec.family in (Family.INPUT, Family.CONV, Family.POOL, Family.FC)]
    total = sum(numel(r.shape) for r in column)
    elems = a.totals.activation_elems
    relu = sum(numel(r.shape) for r in rs.values() if r.rec.family is Family.ACT)
    slide = 24_000_000
    return [
        "## The VGG16 memory line of the CS231n table", "",
        "The slide (seeds 002) lists, for one 224×224 image, the output of every layer of VGG16 (INPUT, 13 CONV3,"
        " 5 POOL2, 3 FC) and closes with `TOTAL memory: 24M * 4 bytes ~= 96MB / image (only forward!)`.", "",
        f"- Its own column sums to **{total:,} values** ({len(column)} entries: the input and every"
        f" conv, pool and fc output), i.e. {total * 4:,} bytes = **{total * 4 / 1e6:.1f} MB** in fp32.",
        f"- archcalc's forward activation total for `vgg16` (the input plus every newly allocated output;"
        f" ReLU in place) is {elems:,} values: the same count.",
        f"- 24M is {slide / total:.2f}× the column's sum. Counting the ReLU outputs as separate tensors"
        f" would add {relu:,} values ({(total + relu) / 1e6:.1f}M in all), which is not 24M either: no"
        " counting of the listed layers gives the printed total. Verdict: the 15.2M of the column is"
        " reproduced; the printed 24M (and 96MB) is not.", "",
    ]


def _resnet_section() -> list[str]:
    rows = []
    matches: dict[str, list[int]] = {"round": [], "trunc": [], "round_a": []}
    for depth in (18, 34, 50, 101, 152):
        a = _analysis(f"resnet{depth}")
        pub = float(a.graph.meta.published["macs"]["value"]) / 1e9  # Table 1's FLOPs row, from the spec
        exact = metric_value(a, "conv_fc_macs")
        proj = sum(r.cost.macs for r in _under_group(a, "shortcut") if r.rec.family is Family.CONV)
        rounded = round(exact / 1e8) / 10
        trunc = math.floor(exact / 1e8) / 10
        option_a = exact - proj
        rounded_a = round(option_a / 1e8) / 10
        if rounded == pub:
            matches["round"].append(depth)
        if trunc == pub:
            matches["trunc"].append(depth)
        if rounded_a == pub and depth in (18, 34):
            matches["round_a"].append(depth)
        a_text = f"{option_a / 1e9:.3f} → {rounded_a:g}" if depth in (18, 34) else "— (bottlenecks use B)"
        rows.append([f"ResNet-{depth}", f"{pub:g}", f"{exact:,}", f"{exact / 1e9:.3f}", f"{rounded:g}",
                     f"{trunc:g}", a_text])

    def names(ds: list[int]) -> str:
        return ", ".join(str(d) for d in ds) or "none"

    return [
        "## The rounding of the ResNet table", "",
        "Table 1 of He et al. 2016 prints the FLOPs (multiply-adds) of the five ImageNet ResNets to one decimal"
        " of 10⁹. archcalc's exact conv + fc multiply-accumulates of the paper's networks (stride 2 in the"
        " first 1×1 of a downsampling bottleneck, projection shortcuts where the shape changes; batch norm,"
        " ReLU, pooling and additions not counted):", "",
        *_table(["network", "published ×10⁹", "exact", "×10⁹", "rounded", "truncated",
                 "option A shortcuts (no projection), rounded"], rows), "",
        f"- Plain rounding of the exact counts reproduces ResNet-{names(matches['round'])};"
        f" truncation reproduces ResNet-{names(matches['trunc'])}. Neither rule gives all five.",
        f"- ResNet-34 is 3.6 only if its three projection shortcuts are left out: with the paper's option A"
        f" (identity shortcuts, zero-padded channels, no parameters: the setting of its Table 2 comparison"
        f" with the plain net) the count rounds to the printed value for ResNet-{names(matches['round_a'])}.",
        "- ResNet-50 stays unexplained: its exact 3.858×10⁹ rounds to 3.9, and only truncation gives 3.8,"
        " while truncating ResNet-101 and ResNet-152 would give 7.5 and 11.2 instead of the printed 7.6 and"
        " 11.3. (torchvision's v1.5, with the stride on the 3×3, has 4.09×10⁹.)",
        "- The golden tests therefore check each Table 1 figure exactly against the rule it follows (rounded"
        " half-up, or truncated), and this page states which.", "",
    ]


def _googlenet_section() -> list[str]:
    figs = {f.label: f for f in figures() if f.spec == "googlenet" and f.label.startswith("t1_")}
    rows_order: list[str] = []
    for label in figs:
        row = label[3:].rsplit("_", 1)[0]
        if row not in rows_order:
            rows_order.append(row)
    rows = []
    for row in rows_order:
        cells = [row]
        for what in ("output", "depth", "params", "ops"):
            f = figs.get(f"t1_{row}_{what}")
            if f is None:
                cells.append("")
                continue
            mark = "" if f.verdict in (EXACT, ROUNDED, TRUNCATED) else " ✗"
            computed = f.computed_text.split(" (")[-1].rstrip(")") if "(" in f.computed_text else f.computed_text
            cells.append(f"{f.as_published} / {computed}{mark}")
        rows.append(cells)
    return [
        "## GoogLeNet, Table 1 cell by cell", "",
        "Each cell: as printed / archcalc (params in K = 1,024 weights, biases not counted, which is the"
        " convention the self-consistent rows follow: 3×3 reduce 64 + 3×3 192 = 114,688 weights = 112.0K;"
        " ops in 10⁶ multiply-adds). ✗ marks a printed cell the row's own filter counts do not give; the"
        " table above explains each.", "",
        *_table(["row", "output size", "depth", "params", "ops"], rows), "",
    ]


def _googlenet_tv_section() -> list[str]:
    paper, tv = _analysis("googlenet"), _analysis("googlenet_tv")

    five = sum(r.params.weights for n, r in paper.results.items() if n.endswith(".b5x5.conv"))
    three = sum(r.params.weights for n, r in tv.results.items() if n.endswith(".branch3.conv.conv"))
    conv_biases = sum(r.params.biases for r in paper.results.values() if r.rec.family is Family.CONV)
    bn = sum(r.params.total for r in tv.results.values() if r.rec.family is Family.NORM)
    p, t = paper.totals.params, tv.totals.params
    assert p - (five - three) - conv_biases + bn == t, "the reconciliation below must add up"
    return [
        "## GoogLeNet: torchvision against the paper",
        "",
        "`googlenet_tv` follows torchvision's code, which differs from Table 1 (`googlenet`): batch norm after"
        " every convolution and no convolution biases; no LRN; a 3×3 convolution where the paper's inception"
        " modules have the 5×5 (a quirk torchvision keeps for its pretrained weights); ceil-mode pooling in the"
        " pool branch; 2×2/2 pooling between 4e and 5a; 20% dropout instead of 40%; auxiliary heads with 4×4"
        " adaptive pooling and a 2048→1024 fc. The parameter counts reconcile exactly:",
        "",
        *_table(["", "parameters"], [
            ["paper (Table 1 filters, with biases)", f"{p:,}"],
            ["the nine 5×5 convolutions become 3×3 (weights)", f"−{five - three:,} ({five:,} → {three:,})"],
            ["convolution biases dropped", f"−{conv_biases:,}"],
            ["batch norm γ and β added", f"+{bn:,}"],
            ["torchvision (GoogLeNet_Weights num_params: 6,624,904)", f"{t:,}"],
        ]),
        "",
    ]


def render() -> str:
    """The whole of docs/reproductions.md."""
    lines = [
        "# Reproductions: what the papers print, and what archcalc computes", "",
        "<!-- Generated by `python -m tools.reproductions > docs/reproductions.md`; do not edit by hand."
        " tests/test_reproductions.py checks that this file matches. -->", "",
        "Every figure below is listed under `published:` in the zoo spec it belongs to (the spec's `source:`"
        " names the paper, section and table). archcalc recomputes it from the spec; the verdict says how the"
        " two compare:", "",
        f"- **{EXACT}**: the same number (parameter counts of the torchvision variants are exact);",
        f"- **{ROUNDED}**: the exact count, rounded to the publication's last printed digit, is the printed"
        " figure;",
        f"- **{TRUNCATED}**: the printed figure is the exact count cut (not rounded) at its last digit;",
        f"- **{NOT}**: the explanation gives the arithmetic;",
        f"- **{MEASURED}**: error rates, listed for completeness.", "",
        "Counting conventions: MACs are multiply-accumulates; the papers' multiply-adds (ResNet, VGG) and"
        " GoogLeNet's ops are the same unit. archcalc's MAC total counts convolutions, fully connected layers"
        " and LRN window sums; batch norm, activations, pooling and additions are element-wise ops, not MACs."
        " Parameters include biases and batch-norm γ/β; running statistics are buffers, not parameters.", "",
        *_figures_section(),
        *_resnet_section(),
        *_vgg16_memory_section(),
        *_googlenet_section(),
        *_googlenet_tv_section(),
        *_summary_section(),
    ]
    return "\n".join(lines).rstrip("\n") + "\n"


def main() -> None:
    print(render(), end="")


if __name__ == "__main__":
    main()
