"""The spec's published figures beside archcalc's values and verdicts, for the report page.

The verdict logic is ``archcalc.analysis.published`` (the same as docs/reproductions.md's).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from archcalc.analysis import Analysis


def published_figures(ref: str, published: Mapping[str, Any], analysis: Analysis | None = None
                      ) -> list[dict[str, Any]]:
    """One dict per ``published:`` entry of spec ``ref`` (a zoo name or a file): as published, computed, verdict.

    Figures are computed on the spec as published (its own input and variables, plus each entry's
    ``vars``), not with the command line's overrides: they are the paper's numbers. ``analysis`` is that
    spec's analysis when the caller already has it (no override given), so it is not analysed twice.
    """
    if not published:
        return []
    from archcalc.analysis import Analysis
    from archcalc.analysis.published import FAILED, figure, figure_name
    from archcalc.spec import load

    base = analysis.with_dtype("fp32") if analysis is not None else Analysis(load(ref))

    def reanalyse(variables: Mapping[str, Any]) -> Analysis:
        return Analysis(load(ref, dict(variables)))

    out = []
    for label, raw in published.items():
        entry = raw if isinstance(raw, Mapping) else {"value": raw}
        try:
            computed = figure(ref, str(label), entry, base, reanalyse)
            out.append({**vars(computed), "what": figure_name(computed)})
        except (KeyError, TypeError, ValueError) as exc:  # a malformed entry: say so, keep the page
            out.append({"label": str(label), "what": str(label), "as_published": str(entry.get("value", "")),
                        "source": str(entry.get("source", "")), "computed_text": "—",
                        "verdict": FAILED, "explanation": f"cannot read this entry ({exc})"})
    return out


__all__ = ["published_figures"]
