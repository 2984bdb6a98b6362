"""The report page: one self-contained HTML file a teacher can hand to a class.

Python gathers the data and fills a template; the hand-written script in ``archcalc/report/assets``
draws everything (the foldable table, the links to the block diagram, the receptive-field explorer, the
charts) from the embedded JSON report, the same JSON ``summary --format json`` prints. Nothing is
fetched when the page is opened: style, script, diagram, data and the optional picture are all inline.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping, Sequence
from html import escape
from importlib import resources
from pathlib import Path
from typing import Any

from archcalc import __version__
from archcalc.analysis import Analysis
from archcalc.errors import ArchcalcError, OptionError
from archcalc.report.model import Report

#: picture types a browser shows from a data URI, by their first bytes
_IMAGE_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"BM", "image/bmp"),
)

_SLOT = re.compile(r"\{\{(\w+)\}\}")


def asset(name: str) -> str:
    """A file of the page (template, style, script) shipped inside the package."""
    return resources.files("archcalc.report").joinpath("assets").joinpath(name).read_text(encoding="utf-8")


def script_json(data: Any) -> str:
    """JSON that is safe inside ``<script type="application/json">``: no ``</script>``, no ``<!--``.

    Every ``<``, ``>`` and ``&`` is written as a JSON unicode escape, which JSON.parse turns back into
    the character; U+2028/2029 are escaped too (harmless in JSON, not in older JavaScript parsers).
    """
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    for char, code in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"),
                       ("\u2029", "\\u2029")):
        text = text.replace(char, code)
    return text


def fill(template: str, slots: Mapping[str, str]) -> str:
    """Replace each ``{{name}}`` in one pass, so text put into one slot is never read as another slot."""
    return _SLOT.sub(lambda m: slots[m.group(1)], template)


def image_data_uri(path: str | Path) -> str:
    """A picture (PNG, JPEG, GIF, BMP or WebP) as a data URI, or a one-line error."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise OptionError(f"cannot read --image '{path}': {exc.strerror or exc}") from None
    mime = next((m for magic, m in _IMAGE_MAGIC if data.startswith(magic)), None)
    if mime is None and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        mime = "image/webp"
    if mime is None:
        raise OptionError(f"--image '{path}' is not a PNG, JPEG, GIF, BMP or WebP picture")
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def rf_path(analysis: Analysis, layer: str | None) -> list[str]:
    """Layer names from the input to ``layer`` along the widest-seeing input at each merge (the RF chart)."""
    results = analysis.results
    if layer is None or layer not in results:
        return []

    def area(name: str) -> float:
        rf = results[name].rf
        return float(rf.size[0] * rf.size[-1]) if rf is not None else 0.0

    path: list[str] = []
    name: str | None = layer
    while name is not None:
        path.append(name)
        inputs = results[name].node.inputs
        name = max(inputs, key=area) if inputs else None
    path.reverse()
    return path


def diagram_svg(analysis: Analysis) -> tuple[str, str]:
    """The block diagram as inline SVG (its boxes carry data-layer), or ('', why not)."""
    from archcalc.plots import diagram

    try:
        return diagram.to_svg(diagram.layout(analysis)), ""
    except ArchcalcError as exc:
        return "", exc.message


def _page(template: str, script: str, title: str, slots: Mapping[str, str]) -> str:
    common = asset("common.js")
    code = common + "\n" + asset(script)
    if "</script" in code.lower() or "<!--" in code:
        raise RuntimeError(f"archcalc's page script {script} would end its own <script> element")
    return fill(asset(template), {"title": escape(title), "style": asset("page.css"), "script": code,
                                  "version": escape(__version__), **slots})


def report_page(analysis: Analysis, report: Report, figures: Sequence[Mapping[str, Any]] = (),
                image: str | None = None) -> str:
    """The page for one network: ``report`` (all rows, unfolded) is embedded once as JSON."""
    svg, why = diagram_svg(analysis)
    extra = {"figures": list(figures), "rf_path": rf_path(analysis, report.totals.get("rf", {}).get("layer")),
             "image": image, "diagram_note": why, "version": __version__}
    name = str(report.spec.get("name", "network"))
    return _page("report.html", "report.js", f"{name} — archcalc report", {
        "name": escape(name), "diagram": svg, "report": script_json(report.to_dict()), "extra": script_json(extra),
    })


def compare_page(reports: Sequence[Report]) -> str:
    """Totals of several networks side by side, and params against MACs (rows are left out)."""
    data = [{k: v for k, v in r.to_dict().items() if k not in ("rows", "groups")} for r in reports]
    names = ", ".join(str(r.spec.get("name", "?")) for r in reports)
    return _page("compare.html", "compare.js", f"{names} — archcalc comparison", {
        "name": escape(names), "reports": script_json(data),
    })


__all__ = ["asset", "compare_page", "diagram_svg", "fill", "image_data_uri", "report_page", "rf_path",
           "script_json"]
