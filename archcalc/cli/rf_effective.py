"""``archcalc rf --effective``: the measured (Luo et al. 2016) field beside the theoretical one.

Kept apart from ``archcalc.cli.rf`` so that torch is imported only when this option is used.
"""

from __future__ import annotations

import json

import click

from archcalc.analysis import Analysis
from archcalc.cli.options import require_torch
from archcalc.errors import BackendError
from archcalc.report.fmt import literal_text


@literal_text()
def show_effective(analysis: Analysis, layer: str | None, checkpoint: str | None,
                   heatmap: str | None, fmt: str, dpi: int | None = None) -> None:
    """Measure the effective receptive field of ``layer`` (default: the last feature map) and print it.

    The heat map goes to ``heatmap``, by default NAME-erf.png in the current folder ('none': no picture).
    """
    require_torch()
    from archcalc.backends.torch.erf import effective_rf

    if layer is None and analysis.last_spatial is None:
        raise BackendError(f"{analysis.graph.meta.name} has no feature map to measure")
    if heatmap is None:
        heatmap = f"{analysis.graph.meta.name}-erf.png"
    png = None if heatmap.lower() == "none" else heatmap
    result = effective_rf(analysis, layer=layer, checkpoint=checkpoint, png=png, dpi=dpi or 100)
    if fmt == "json":
        click.echo(json.dumps({"schema_version": 1, "kind": "rf_effective", **result.to_dict()}, indent=2))
    else:
        click.echo(result.render(), nl=False)
