"""The torch backend: build, verify, export, effective receptive field, bench and train.

Importing this package does not import torch; ``build_model`` and friends load it on first use, so
the symbolic commands stay torch-free.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from archcalc.backends.torch.build import BUILDERS, build_model

__all__ = ["BUILDERS", "build_model"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from archcalc.backends.torch import build

        return getattr(build, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
