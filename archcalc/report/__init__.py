"""Reports: plain data built from an analysis, and the renderers that show it."""

from archcalc.report.model import SCHEMA_VERSION, Report, Row, build_report

__all__ = ["SCHEMA_VERSION", "Report", "Row", "build_report"]
