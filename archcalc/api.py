"""The Python API: ``archcalc.analyze``, ``archcalc.rf`` and ``archcalc.load`` (documented in docs/api.md).

Each takes a spec as a zoo name, a path to a YAML file, or the YAML text itself, with the command line's
overrides as keywords (``input=``, ``set=``). Nothing here imports torch, rich or tabulate.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any

from archcalc.analysis import Analysis
from archcalc.errors import OptionError
from archcalc.ir import Graph, Shape
from archcalc.report.model import Report, build_report

SpecLike = str | Path


def _shape(value: str | tuple[int, ...] | list[int] | None) -> Shape | None:
    if value is None:
        return None
    from archcalc.spec import parse_shape

    return parse_shape(list(value) if isinstance(value, tuple) else value, None, "input")


def _is_text(spec: SpecLike) -> bool:
    return isinstance(spec, str) and ("\n" in spec or spec.lstrip().startswith(("{", "input:", "name:", "layers:")))


def load(spec: SpecLike, *, input: str | tuple[int, ...] | list[int] | None = None,
         set: Mapping[str, Any] | None = None) -> Graph:
    """The expanded graph of a spec: a zoo name ('vgg16'), a path ('my_net.yaml') or YAML text.

    ``input`` overrides the input shape ('3x32x32' or (3, 32, 32)); ``set`` the spec's variables.
    """
    from archcalc.spec import load as load_ref
    from archcalc.spec import load_text

    overrides = dict(set) if set else None
    if _is_text(str(spec)):
        return load_text(str(spec), "<text>", overrides, _shape(input))
    return load_ref(str(spec), overrides, _shape(input))


def analysis(spec: SpecLike | Graph, *, input: str | tuple[int, ...] | list[int] | None = None,
             set: Mapping[str, Any] | None = None, dtype: str = "fp32",
             strict: bool = False) -> Analysis:
    """The :class:`archcalc.analysis.Analysis` of a spec (per-node records, totals, memory models)."""
    graph = spec if isinstance(spec, Graph) else load(spec, input=input, set=set)
    return Analysis(graph, dtype=dtype, strict=strict)


def analyze(spec: SpecLike | Graph, *, input: str | tuple[int, ...] | list[int] | None = None,
            set: Mapping[str, Any] | None = None, dtype: str = "fp32", batch: int = 1,
            depth: int | None = None, optimizer: str = "momentum", memory_budget: int | None = None,
            published: bool = True, strict: bool = False) -> Report:
    """Everything ``archcalc summary`` prints, as a :class:`archcalc.report.Report`.

    ``.rows`` (one per layer, or per group when ``depth`` folds them: 1 is the top level), ``.totals``,
    ``.groups`` (with subtotals), ``.figures`` (the spec's published figures and their verdicts),
    ``.to_dict()`` (the JSON document), ``.records()``, ``.to_dataframe()`` (with pandas), and a table in
    Jupyter.
    """
    if depth is not None and depth < 1:
        raise OptionError(f"depth counts the levels shown and starts at 1, got {depth}")
    a = analysis(spec, input=input, set=set, dtype=dtype, strict=strict)
    report = build_report(a, depth=None if depth is None else depth - 1, batch=batch, optimizer=optimizer,
                          memory_budget=memory_budget)
    meta = a.graph.meta
    if published and meta.published and not isinstance(spec, Graph) and not _is_text(str(spec)):
        from archcalc.report.published import published_figures

        report.figures = published_figures(str(spec), meta.published, a if not (input or set) else None)
    return report


@dataclass
class RFTable:
    """Receptive fields of a network's layers: ``rows`` (one dict per layer), looked up by name with ``[]``."""

    spec: str
    input: list[int]
    rows: list[dict[str, Any]]

    def __getitem__(self, layer: str) -> dict[str, Any]:
        for row in self.rows:
            if row["layer"] == layer:
                return row
        raise KeyError(layer)

    def to_dict(self) -> dict[str, Any]:
        """The JSON document of ``archcalc rf --format json``."""
        return {"schema_version": 1, "kind": "rf", "spec": self.spec, "input": list(self.input),
                "layers": [dict(r) for r in self.rows]}

    def to_dataframe(self) -> Any:
        """The rows as a pandas DataFrame (pandas is not a dependency: install it to use this)."""
        try:
            import pandas as pd
        except ImportError:
            raise OptionError("to_dataframe() needs pandas, which is not installed (pip install pandas)") from None
        return pd.DataFrame.from_records(self.rows)

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{h}</th>" for h in ("Layer", "Type", "Output", "Size", "Jump", "Start", "Note"))
        body = "".join(
            "<tr>" + "".join(f"<td>{escape(str(v))}</td>" for v in (
                r["layer"], r["type"], "×".join(map(str, r["shape"])), _pair(r["size"]), _pair(r["jump"]),
                _pair(r["start"]), r["note"] or "")) + "</tr>" for r in self.rows)
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _pair(v: list[int] | None) -> str:
    if v is None:
        return "n/a"
    return str(v[0]) if v[0] == v[-1] else f"{v[0]}×{v[-1]}"


def rf(spec: SpecLike | Graph, layer: str | None = None, *, at: tuple[int, int] | None = None,
       input: str | tuple[int, ...] | list[int] | None = None,
       set: Mapping[str, Any] | None = None) -> Any:
    """Receptive fields: every layer's (an :class:`RFTable`), one layer's (a dict), or with ``at=(y, x)``
    the input region that unit of ``layer`` sees (rows, cols, clipped to the image, padding share)."""
    a = analysis(spec, input=input, set=set)
    results = list(a.results.values())
    if layer is not None:
        if layer not in a.results:
            from archcalc.errors import did_you_mean

            raise OptionError(f"no layer '{layer}' in {a.graph.meta.name}", None, did_you_mean(layer, a.results))
        results = [a.results[layer]]
    rows = [{"layer": r.node.name, "type": r.rec.op, "shape": list(r.shape),
             "size": list(r.rf.size) if r.rf else None, "jump": list(r.rf.jump) if r.rf else None,
             "start": list(r.rf.start) if r.rf else None, "aligned": r.rf.aligned if r.rf else None,
             "note": r.rf_note} for r in results]
    if layer is None:
        return RFTable(a.graph.meta.name, list(a.graph.input_shape), rows)
    if at is None:
        return rows[0]
    node = results[0]
    if node.rf is None:
        raise OptionError(f"{layer}: receptive field unavailable ({node.rf_note})")
    (r0, r1), (c0, c1) = node.rf.region(*at)
    _, height, width = a.graph.input_shape
    cr0, cr1, cc0, cc1 = max(r0, 0), min(r1, height - 1), max(c0, 0), min(c1, width - 1)
    full = (r1 - r0 + 1) * (c1 - c0 + 1)
    inside = max(cr1 - cr0 + 1, 0) * max(cc1 - cc0 + 1, 0)
    return {"layer": layer, "unit": list(at), "rows": [r0, r1], "cols": [c0, c1], "clipped_rows": [cr0, cr1],
            "clipped_cols": [cc0, cc1], "padding_fraction": (full - inside) / full}


__all__ = ["RFTable", "analysis", "analyze", "load", "rf"]
