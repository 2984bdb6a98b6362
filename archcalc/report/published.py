"""The spec's published figures beside archcalc's values and verdicts, for the report page.

The one place the page reaches into :mod:`archcalc.reproductions` (which computes the same table for
docs/reproductions.md): when that module moves, only :func:`published_figures` changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from typing import Any


def published_figures(ref: str, published: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One dict per ``published:`` entry of spec ``ref`` (a zoo name or a file): as published, computed, verdict.

    Figures are computed on the spec as published (its own input and variables, plus each entry's
    ``vars``), not with the command line's overrides: they are the paper's numbers.
    """
    if not published:
        return []
    from archcalc import reproductions

    out = []
    for label, raw in published.items():
        entry = raw if isinstance(raw, Mapping) else {"value": raw}
        try:
            computed = reproductions._entry_figure(ref, str(label), entry)
            figure = {**asdict(computed), "what": reproductions._figure_name(computed)}
        except (KeyError, TypeError, ValueError) as exc:  # a malformed entry: say so, keep the page
            figure = {"label": str(label), "what": str(label), "as_published": str(entry.get("value", "")),
                      "source": str(entry.get("source", "")), "computed_text": "—",
                      "verdict": reproductions.FAILED, "explanation": f"cannot read this entry ({exc})"}
        out.append(figure)
    return out


__all__ = ["published_figures"]
