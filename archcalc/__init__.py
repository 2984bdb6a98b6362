"""archcalc: declare a CNN once as a YAML spec; get shapes, params, MACs, memory and receptive fields.

The symbolic core imports no tensor library; torch lives only under ``archcalc.backends.torch``.

The Python API (docs/api.md)::

    import archcalc
    report = archcalc.analyze("vgg16")          # a zoo name, a path, or YAML text
    report.totals["params"]                     # 138357544
    archcalc.rf("vgg16")["pool5"]["size"]       # [212, 212]
    graph = archcalc.load("resnet50", input="3x160x160")
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from archcalc.api import analyze, load, rf

_API = ("analyze", "load", "rf")


def __getattr__(name: str) -> Any:
    """The API functions, imported on first use: ``import archcalc`` (and the CLI) stays light."""
    if name in _API:
        from archcalc import api

        return getattr(api, name)
    raise AttributeError(f"module 'archcalc' has no attribute {name!r}")


__all__ = ["__version__", "analyze", "load", "rf"]
