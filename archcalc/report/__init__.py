"""Reports: plain data built from an analysis, and the renderers that show it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from archcalc.report.model import SCHEMA_VERSION, Report, Row, build_report

_MODEL = ("SCHEMA_VERSION", "Report", "Row", "build_report")


def __getattr__(name: str) -> Any:
    """The model's names, imported on first use: the tables and formatters (``archcalc list`` with its rows
    cached) need no analysis, which the model imports."""
    if name in _MODEL:
        from archcalc.report import model

        return getattr(model, name)
    raise AttributeError(f"module 'archcalc.report' has no attribute {name!r}")


__all__ = ["SCHEMA_VERSION", "Report", "Row", "build_report"]
