"""What ``verify --against`` found, as plain data, and its renderings (a table like verify's, or JSON).

Kept apart from the comparison itself (``archcalc.backends.torch.parity``) so that the measurements and
their presentation change independently, as ``summary``'s report and renderers do.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

OK, BAD, NA = "✓", "✗", "·"
SCHEMA_VERSION = 1


@dataclass
class Diff:
    """One tensor held against its reference counterpart: a layer's output, a gradient, a buffer."""

    spec: str
    reference: str
    spec_shape: tuple[int, ...] | None
    ref_shape: tuple[int, ...] | None
    max_abs: float | None = None
    rel: float | None = None
    ok: bool = True
    note: str = ""
    firm: bool = True  # False: a group paired by structure alone (a guide, never a failure by itself)

    def to_dict(self) -> dict[str, Any]:
        return {"spec": self.spec, "reference": self.reference, "firm": self.firm,
                "spec_shape": list(self.spec_shape) if self.spec_shape is not None else None,
                "reference_shape": list(self.ref_shape) if self.ref_shape is not None else None,
                "max_abs": _finite(self.max_abs), "rel": _finite(self.rel), "ok": self.ok, "note": self.note}


@dataclass
class Divergence:
    """The first layer (in the spec's topological order) whose output differs in one pass."""

    where: str  # "eval" or "train"
    diff: Diff
    hint: str = ""

    def line(self) -> str:
        d = self.diff
        ref = f" (reference: {d.reference})" if d.reference != d.spec else ""
        size = f"max |Δ| {_num(d.max_abs)}" if d.max_abs is not None else "shapes differ"
        return f"first divergent layer ({self.where}): {d.spec}{ref}: {size}" + (f" — {self.hint}" if self.hint else "")

    def to_dict(self) -> dict[str, Any]:
        return {"pass": self.where, **self.diff.to_dict(), "hint": self.hint}


@dataclass
class Check:
    """One row of the table: a figure of the spec-built model beside the reference's, and the verdict."""

    name: str
    spec: str
    reference: str
    ok: bool | None
    max_abs: float | None = None
    rel: float | None = None
    tol: float | None = None
    note: str = ""

    @property
    def mark(self) -> str:
        return NA if self.ok is None else (OK if self.ok else BAD)

    def to_dict(self) -> dict[str, Any]:
        return {"check": self.name, "spec": self.spec, "reference": self.reference, "ok": self.ok,
                "max_abs": _finite(self.max_abs), "rel": _finite(self.rel), "tol": self.tol, "note": self.note}


@dataclass
class ParityReport:
    """Everything ``verify --against`` measured."""

    spec: str
    reference: str
    dtype: str
    batch: int
    seed: int
    checks: list[Check] = field(default_factory=list)
    mapping: str = ""
    layers: dict[str, list[Diff]] = field(default_factory=dict)
    gradients: list[Diff] = field(default_factory=list)
    divergences: list[Divergence] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.ok is not False for c in self.checks)

    def failures(self) -> list[str]:
        return [c.name for c in self.checks if c.ok is False]

    def first_divergent(self, where: str = "eval") -> Divergence | None:
        return next((d for d in self.divergences if d.where == where), None)


def _finite(v: float | None) -> float | str | None:
    if v is None or math.isfinite(v):
        return v
    return str(v)  # JSON has no inf or nan


def _num(v: float | None) -> str:
    if v is None:
        return ""
    if v == 0:
        return "0"
    return f"{v:.3g}" if 1e-3 <= abs(v) < 1e4 else f"{v:.2e}"


def render(report: ParityReport, fmt: str = "simple") -> str:
    """The report as a table (a tabulate format) or JSON."""
    if fmt == "json":
        return json.dumps(to_json(report), indent=2, ensure_ascii=False) + "\n"
    from tabulate import tabulate

    out = [f"verify {report.spec} --against {report.reference} ({report.dtype}, batch {report.batch},"
           f" seed {report.seed}): spec │ reference"]
    rows = [[c.name, f"{c.spec} │ {c.reference} {c.mark}", _num(c.max_abs), _num(c.rel), _num(c.tol), c.note]
            for c in report.checks]
    out.append(tabulate(rows, headers=["check", "spec │ reference", "max |Δ|", "rel", "tol", "note"],
                        tablefmt=fmt, disable_numparse=True))
    out.extend(d.line() for d in report.divergences)
    out.extend(f"note: {n}" for n in report.notes)
    fails = report.failures()
    out.append(f"{OK} the spec computes the reference's function" if not fails
               else f"{BAD} {len(fails)} difference(s): " + ", ".join(fails))
    return "\n".join(out) + "\n"


def to_json(report: ParityReport) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION, "kind": "parity", "spec": report.spec, "reference": report.reference,
        "dtype": report.dtype, "batch": report.batch, "seed": report.seed, "ok": report.ok,
        "mapping": report.mapping, "checks": [c.to_dict() for c in report.checks],
        "first_divergent": {d.where: d.to_dict() for d in report.divergences},
        "layers": {k: [d.to_dict() for d in v] for k, v in report.layers.items()},
        "gradients": [d.to_dict() for d in report.gradients],
        "notes": report.notes, "failures": report.failures(),
    }
