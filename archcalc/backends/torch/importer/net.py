"""The imported network: one record per archcalc layer, named after the module path it came from.

The interpreter (``interpret.py``) appends layers as it walks the traced graph; the spec writer
(``nesting.py``, ``blocks.py``, ``spec_text.py``) reads them. Names are full dotted paths — a module's own
path for a layer a module computes (``layer1.0.conv1``), the calling module's path and the op for a
functional one (``layer1.0.add``) — so that the spec's ``state_dict`` keys are the module's.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from archcalc.errors import BackendError
from archcalc.ir import INPUT

#: the pseudo-type of one part of a channel split (torch.chunk, split, a channel slice): the spec writes
#: it as ``split:`` on the join its parts meet in, never as a layer
SPLIT_PART = "split_part"
_SEGMENT = re.compile(r"[A-Za-z0-9_-]+")


class NotExpressible(Exception):
    """An op (or a use of one) that archcalc's vocabulary cannot write: ``op`` is what the model calls."""

    def __init__(self, op: str, why: str = ""):
        super().__init__(f"{op}: {why}" if why else op)
        self.op = op
        self.why = why


@dataclass
class Layer:
    """One archcalc layer of the imported network.

    ``attrs`` are spec attributes in the form a spec writes them, defaults left out; ``out`` is the traced
    output shape without the batch; ``op`` the torch op it maps (for messages and the opaque layer).
    """

    name: str
    key: str
    attrs: dict[str, Any]
    inputs: tuple[str, ...]
    out: tuple[int, ...]
    op: str
    params: int = 0

    @property
    def group(self) -> str:
        return self.name.rpartition(".")[0]


@dataclass
class Net:
    """The imported layers in the traced (topological) order, and the network's output."""

    input_shape: tuple[int, ...]
    layers: dict[str, Layer] = field(default_factory=dict)
    output: str = INPUT
    notes: list[str] = field(default_factory=list)

    def add(self, layer: Layer) -> Layer:
        self.layers[layer.name] = layer
        return layer

    def consumers(self) -> dict[str, list[str]]:
        readers: dict[str, list[str]] = defaultdict(list)
        for layer in self.layers.values():
            for i in dict.fromkeys(layer.inputs):
                readers[i].append(layer.name)
        return readers

    def shape(self, name: str) -> tuple[int, ...]:
        return self.input_shape if name == INPUT else self.layers[name].out

    def rewire(self, old: str, new: str) -> None:
        """Every reader of ``old`` reads ``new`` instead (a layer found to be a no-op)."""
        for layer in self.layers.values():
            if old in layer.inputs:
                layer.inputs = tuple(new if i == old else i for i in layer.inputs)
        if self.output == old:
            self.output = new

    def prune(self) -> list[str]:
        """Drop layers nothing reads (their value was computed and thrown away); returns those with parameters."""
        dropped_with_params: list[str] = []
        while True:
            readers = self.consumers()
            dead = [n for n in self.layers if n != self.output and not readers.get(n)]
            if not dead:
                return dropped_with_params
            for name in dead:
                if self.layers[name].params:
                    dropped_with_params.append(name)
                del self.layers[name]


class Namer:
    """Unique spec names from module paths: a module's path, ``path_1`` for its second call, and
    ``scope.base`` (``layer1.0.add``, ``layer1.0.add_1``) for functional ops, clear of every module,
    parameter and buffer path of the model (so that no later layer or group can collide)."""

    def __init__(self, reserved: set[str]):
        self.reserved = set(reserved) | {INPUT}
        self.used: set[str] = {INPUT}

    def claim(self, path: str, *, own: bool = False) -> str:
        """``path`` itself if free (``own``: it is the module or parameter the layer stands for), else with
        the first free suffix ``_1``, ``_2``, …"""
        for seg in path.split("."):
            if not _SEGMENT.fullmatch(seg):
                raise BackendError(f"module path '{path}': '{seg}' cannot be a spec name (letters, digits, _ and -)")
        candidate = path
        k = 0
        while candidate in self.used or (candidate in self.reserved and not (own and k == 0)):
            k += 1
            candidate = f"{path}_{k}"
        self.used.add(candidate)
        return candidate

    def functional(self, scope: str, base: str) -> str:
        base = re.sub(r"(_\d+)+$", "", base).strip("_") or "op"
        return self.claim(f"{scope}.{base}" if scope else base)
