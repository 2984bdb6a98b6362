"""Effective receptive field (Luo, Li, Urtasun & Zemel 2016): how much of its field a unit really uses.

The gradient of one output unit (the centre of a layer's map) with respect to the input, in absolute
value, averaged over random inputs (and, at initialisation, over random weights), shows where the
unit's output actually comes from. It concentrates near the centre and fades quickly: a Gaussian-like
blob much smaller than the theoretical field. We report the radii of the centred squares holding
50, 90 and 99% of the gradient mass beside the theoretical field, and can draw the map as a PNG.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from archcalc.analysis import Analysis
from archcalc.backends.torch.build import initialize, node_modules, recipe_init
from archcalc.backends.torch.weights import build_with_weights
from archcalc.errors import BackendError, OptionError, did_you_mean
from archcalc.fileio import atomic_path
from archcalc.ir import Graph

LEVELS = (0.5, 0.9, 0.99)


@dataclass
class ERFResult:
    """The measured effective field of one unit beside its theoretical field (input pixels)."""

    spec: str
    layer: str
    unit: tuple[int, int]
    centre: tuple[int, int]
    theoretical_size: tuple[int, int]
    theoretical_region: tuple[tuple[int, int], tuple[int, int]]
    radii: dict[float, int]
    runs: int
    source: str
    grid: list[list[float]] = field(repr=False, default_factory=list)
    png: str | None = None

    def square(self, radius: int) -> tuple[int, int]:
        """Rows and columns of the square of ``radius`` about the centre, clipped to the input."""
        h, w = len(self.grid), len(self.grid[0]) if self.grid else 0
        cy, cx = self.centre
        if not h:
            return 2 * radius + 1, 2 * radius + 1
        return min(cy + radius, h - 1) - max(cy - radius, 0) + 1, min(cx + radius, w - 1) - max(cx - radius, 0) + 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "spec": self.spec, "layer": self.layer, "unit": list(self.unit), "centre": list(self.centre),
            "theoretical": {"size": list(self.theoretical_size),
                            "region": [list(self.theoretical_region[0]), list(self.theoretical_region[1])]},
            "effective": {f"{int(p * 100)}%": {"radius": r, "diameter": 2 * r + 1,
                                               "share_of_theoretical_area":
                                               round(min(1.0, (2 * r + 1) ** 2 / (self.theoretical_size[0]
                                                                                  * self.theoretical_size[1])), 4)}
                          for p, r in self.radii.items()},
            "runs": self.runs, "weights": self.source, "png": self.png,
        }

    def render(self) -> str:
        th, tw = self.theoretical_size
        rows, cols = self.theoretical_region
        lines = [f"effective receptive field of {self.spec} {self.layer}, unit {self.unit}"
                 f" ({self.source}, mean |∂y/∂x| over {self.runs} runs)",
                 f"  theoretical field: {th}×{tw} (rows {rows[0]}..{rows[1]}, cols {cols[0]}..{cols[1]})"]
        for p, r in self.radii.items():
            dh, dw = self.square(r)
            share = min(1.0, dh * dw / (th * tw))
            lines.append(f"  {int(p * 100):>2}% of gradient mass within radius {r} ({dh}×{dw},"
                         f" {share:.1%} of the theoretical area)")
        if self.png:
            lines.append(f"  heat map: {self.png}")
        return "\n".join(lines) + "\n"


def effective_rf(network: Analysis | Graph, *, layer: str | None = None, checkpoint: str | Path | None = None,
                 init: str | None = None, seed: int = 0, runs: int = 4, png: str | Path | None = None,
                 dtype: torch.dtype = torch.float64, dpi: int = 100) -> ERFResult:
    """Measure the effective receptive field of the centre unit of ``layer`` (default: the last map).

    ``checkpoint``: an archcalc checkpoint (``train``'s ``best.pt``) or a state dict in the spec's or a
    reference's layout (see ``archcalc.backends.torch.weights``); without one
    the network is at initialisation (``init``, seeded) and each run also draws new weights.
    ``png``: where to write the heat map (matplotlib, Agg backend).
    """
    if runs < 1:
        raise OptionError("--runs must be at least 1")
    if png is not None and not Path(png).parent.is_dir():  # refused now, not after the measurement
        raise OptionError(f"cannot write '{png}': folder '{Path(png).parent}' does not exist")
    analysis = network if isinstance(network, Analysis) else Analysis(network)
    graph = analysis.graph
    results = analysis.results
    if layer is None:
        last = analysis.last_spatial
        if last is None:
            raise OptionError(f"{graph.meta.name} has no spatial layer to measure")
        layer = last.node.name
    if layer not in results:
        raise OptionError(f"no layer '{layer}' in {graph.meta.name}", hint=did_you_mean(layer, results))
    res = results[layer]
    if len(res.shape) != 3 or len(graph.input_shape) != 3:
        raise OptionError(f"layer '{layer}' has no spatial map (shape {res.shape}); pick a conv or pool layer")
    if res.rf is None:
        raise OptionError(f"layer '{layer}' has no single theoretical field: {res.rf_note}")
    model, _ = build_with_weights(analysis, checkpoint, init=init, seed=seed)
    source = "at initialisation" if checkpoint is None else f"weights from {checkpoint}"
    model = model.to(dtype).eval()
    modules = node_modules(model, graph)
    target = _module_for(layer, analysis, modules)
    _, ho, wo = res.shape
    unit = (ho // 2, wo // 2)
    c, h, w = graph.input_shape
    acc = torch.zeros(h, w, dtype=dtype)
    gen = torch.Generator().manual_seed(seed)
    captured: list[Tensor] = []

    def hook(_m: nn.Module, _i: Any, out: Tensor) -> None:
        captured.append(out)
        raise _Stop

    handle = target.register_forward_hook(hook) if target is not None else None
    try:
        for run in range(runs):
            if checkpoint is None and run > 0:
                initialize(model, analysis, init if init is not None else recipe_init(graph), seed + run)
            x = torch.randn(1, c, h, w, generator=gen, dtype=dtype).requires_grad_(True)
            captured.clear()
            if target is None:
                captured.append(x)
            else:
                with contextlib.suppress(_Stop):
                    model(x)
            out = captured[0]
            (grad,) = torch.autograd.grad(out[0, :, unit[0], unit[1]].sum(), x, allow_unused=True)
            if grad is not None:
                acc += grad[0].abs().sum(0).detach()
    finally:
        if handle is not None:
            handle.remove()
    total = float(acc.sum())
    if total == 0.0:
        raise BackendError(f"the gradient of {layer} vanished everywhere (dead units?); try another --seed")
    rows, cols = res.rf.region(*unit)
    centre = (min(max((rows[0] + rows[1]) // 2, 0), h - 1), min(max((cols[0] + cols[1]) // 2, 0), w - 1))
    radii = _radii(acc / total, centre)
    size = (math.ceil(res.rf.h.size), math.ceil(res.rf.w.size))
    result = ERFResult(graph.meta.name, layer, unit, centre, size, (rows, cols), radii, runs, source,
                       grid=(acc / acc.max()).tolist())
    if png is not None:
        result.png = str(write_png(result, Path(png), dpi))
    return result


class _Stop(Exception):
    """Raised by the hook once the measured layer has run: the rest of the network is not needed."""


def _module_for(layer: str, analysis: Analysis, modules: dict[str, nn.Module]) -> nn.Module | None:
    """The module whose output is ``layer``'s (a node without a module passes its input on)."""
    name = layer
    while name not in modules:
        inputs = analysis.graph.node(name).inputs
        if not inputs:
            return None  # the input itself
        name = inputs[0]
    return modules[name]


def _radii(mass: Tensor, centre: tuple[int, int]) -> dict[float, int]:
    """Smallest Chebyshev radius about ``centre`` whose square holds each share of the mass."""
    h, w = mass.shape
    cy, cx = centre
    out: dict[float, int] = {}
    limit = max(cy, h - 1 - cy, cx, w - 1 - cx)
    levels = list(LEVELS)
    for r in range(limit + 1):
        held = float(mass[max(0, cy - r):cy + r + 1, max(0, cx - r):cx + r + 1].sum())
        while levels and held >= levels[0] - 1e-12:
            out[levels.pop(0)] = r
        if not levels:
            break
    for p in levels:
        out[p] = limit
    return out


def write_png(result: ERFResult, path: Path, dpi: int = 100) -> Path:
    """The gradient heat map, written atomically: a perceptual colour map on a log scale with its colour
    bar (the mass falls off by orders of magnitude: a linear scale shows a dot on black), the probed
    unit's centre marked, the theoretical field (clipped to the image, and said so) and the 50/90/99%
    squares, the legend outside the picture."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.colors import LogNorm
        from matplotlib.patches import Rectangle
    except ImportError:
        raise BackendError("the heat map needs matplotlib (pip install 'archcalc[plot]')") from None
    grid = torch.tensor(result.grid, dtype=torch.float64)
    h, w = grid.shape
    positive = grid[grid > 0]
    floor = max(float(positive.min()) if positive.numel() else 1e-6, 1e-6)
    fig, ax = plt.subplots(figsize=(6.4, 4.8), dpi=dpi)
    image = ax.imshow(grid.clamp(min=floor).tolist(), cmap="viridis", interpolation="nearest",
                      norm=LogNorm(vmin=floor, vmax=1.0))
    bar = fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    bar.set_label("mean |∂y/∂x|, relative to its maximum (log scale)", fontsize=7)
    bar.ax.tick_params(labelsize=7)
    (r0, r1), (c0, c1) = result.theoretical_region
    cr0, cr1, cc0, cc1 = max(r0, 0), min(r1, h - 1), max(c0, 0), min(c1, w - 1)
    th, tw = result.theoretical_size
    clipped = (cr0, cr1, cc0, cc1) != (r0, r1, c0, c1)
    ax.add_patch(Rectangle((cc0 - 0.5, cr0 - 0.5), cc1 - cc0 + 1, cr1 - cr0 + 1, fill=False, ec="white", lw=1.6,
                           label=f"theoretical {th}×{tw}" + (" (clipped to the image)" if clipped else "")))
    cy, cx = result.centre
    styles = (("#ff7f0e", (0, (4, 2))), ("#d62728", (0, (2, 2))), ("#e377c2", (0, (1, 1.5))))
    for (p, r), (colour, dash) in zip(result.radii.items(), styles, strict=False):
        ax.add_patch(Rectangle((cx - r - 0.5, cy - r - 0.5), 2 * r + 1, 2 * r + 1, fill=False, ec=colour, lw=1.3,
                               ls=dash, label=f"{int(p * 100)}% of the mass: {'×'.join(map(str, result.square(r)))}"))
    ax.plot([cx], [cy], marker="+", color="white", markersize=9, mew=1.5, ls="none",
            label=f"probed unit {result.unit} (centre)")
    ax.set_xlim(-0.5, w - 0.5)
    ax.set_ylim(h - 0.5, -0.5)
    ax.set_title(f"{result.spec} {result.layer}: effective receptive field", fontsize=9)
    # white and pale marks are drawn on the dark map: the legend gets a dark face so that they show there too
    ax.legend(loc="upper left", bbox_to_anchor=(1.32, 1.0), fontsize=7, frameon=True, facecolor="0.25",
              edgecolor="none", labelcolor="white", framealpha=1.0)
    try:
        with atomic_path(path) as tmp:  # a missing folder is refused, as plot's and diagram's
            fig.savefig(tmp, format="png", bbox_inches="tight", dpi=dpi)
    finally:
        plt.close(fig)
    return path
