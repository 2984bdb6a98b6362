"""One optimizer factory for ``bench`` and ``train``: the names of ``archcalc.vocab.OPTIMIZERS``.

The memory model counts each optimizer's state by the same names (SGD 0, momentum 1, Adam 2 copies of
the trainable parameters), so what is predicted and what runs cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch

from archcalc.errors import OptionError
from archcalc.vocab import OPTIMIZERS


def make_optimizer(name: str, params: Iterable[torch.nn.Parameter], lr: float, *, momentum: float = 0.9,
                   weight_decay: float = 0.0, foreach: bool | None = None) -> torch.optim.Optimizer:
    """``sgd`` (plain), ``momentum`` and ``nesterov`` (SGD with ``momentum``), ``rmsprop``, ``adam``, ``adamw``."""
    trainable = [p for p in params if p.requires_grad]
    if name in ("sgd", "momentum", "nesterov"):
        return torch.optim.SGD(trainable, lr=lr, momentum=0.0 if name == "sgd" else momentum,
                               nesterov=name == "nesterov", weight_decay=weight_decay, foreach=foreach)
    if name == "rmsprop":
        return torch.optim.RMSprop(trainable, lr=lr, weight_decay=weight_decay, foreach=foreach)
    if name == "adam":
        return torch.optim.Adam(trainable, lr=lr, weight_decay=weight_decay, foreach=foreach)
    if name == "adamw":
        return torch.optim.AdamW(trainable, lr=lr, weight_decay=weight_decay, foreach=foreach)
    raise OptionError(f"unknown optimizer '{name}' (choose from {', '.join(OPTIMIZERS)})")
