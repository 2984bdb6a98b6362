"""Measured memory for the bench: autograd's saved tensors and the process's peak RSS.

On CPU there is no allocator peak counter, so the bench measures the quantity archcalc predicts
exactly, ``Analysis.saved_bytes(batch)``: the distinct storages autograd keeps for backward, seen
through ``torch.autograd.graph.saved_tensors_hooks``. Parameters and buffers are excluded (archcalc
counts them apart as weights); everything else (the input, activations, indices, masks, cast copies)
is counted once per storage.
"""

from __future__ import annotations

import os
import resource
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

_CLEAR_REFS = "/proc/self/clear_refs"
_STATUS = "/proc/self/status"


@dataclass
class SavedTensors:
    """What one forward pass left for backward: distinct storages and their bytes."""

    storages: dict[tuple[str, int], int] = field(default_factory=dict)
    #: (shape, dtype) of each distinct storage, in the order first seen, for diagnosing mismatches
    described: list[tuple[tuple[int, ...], str, int]] = field(default_factory=list)
    #: bytes of half-precision copies of parameters that autocast made and autograd kept (not in
    #: ``storages``: archcalc's activation model does not count them; the bench reports them apart)
    weight_casts: int = 0

    @property
    def nbytes(self) -> int:
        return sum(self.storages.values())


def _storage_key(t: torch.Tensor) -> tuple[str, int] | None:
    try:
        st = t.untyped_storage()
    except (RuntimeError, NotImplementedError):
        return None  # sparse or otherwise storage-less tensors: nothing archcalc models
    return (str(t.device), st.data_ptr()) if st.nbytes() else None


_VIEWS = frozenset({"TBackward0", "TransposeBackward0", "PermuteBackward0", "ViewBackward0",
                    "AliasBackward0", "ExpandBackward0", "UnsqueezeBackward0", "SqueezeBackward0"})


def _is_parameter_cast(t: torch.Tensor, params: set[int]) -> bool:
    """Whether ``t`` is (a view of) a dtype copy of a parameter: autocast's cast weight.

    Seen in the autograd graph as ToCopyBackward0 (behind views such as Linear's transpose) whose
    input is the AccumulateGrad node of one of the model's parameters.
    """
    fn = t.grad_fn
    for _ in range(4):
        if fn is None:
            return False
        name = fn.name()
        if name == "ToCopyBackward0":
            return any(id(getattr(nxt, "variable", None)) in params for nxt, _ in fn.next_functions)
        if name not in _VIEWS or not fn.next_functions:
            return False
        fn = fn.next_functions[0][0]
    return False


def saved_tensor_bytes(model: nn.Module, x: torch.Tensor, autocast: Any | None = None) -> SavedTensors:
    """Run one training-mode forward of ``model`` on ``x`` and measure what autograd saves.

    The forward's outputs are kept alive until the measurement ends, so no storage is freed and its
    address reused under a different tensor. ``autocast`` is a context manager factory (or None).
    """
    excluded = {k for k in (_storage_key(p) for p in model.parameters()) if k is not None}
    excluded |= {k for k in (_storage_key(b) for b in model.buffers()) if k is not None}
    params = {id(p) for p in model.parameters()}
    seen = SavedTensors()
    casts: set[tuple[str, int]] = set()
    keep: list[torch.Tensor] = []

    def pack(t: torch.Tensor) -> torch.Tensor:
        key = _storage_key(t)
        if key is not None and key not in casts and _is_parameter_cast(t, params):
            casts.add(key)
            seen.weight_casts += t.untyped_storage().nbytes()
        elif key is not None and key not in excluded and key not in seen.storages and key not in casts:
            nbytes = t.untyped_storage().nbytes()
            seen.storages[key] = nbytes
            seen.described.append((tuple(t.shape), str(t.dtype).replace("torch.", ""), nbytes))
        # Keep the storage, not the tensor: a tensor packed as itself holds its own grad_fn, which holds
        # it, a cycle the garbage collector cannot see (measured: every model measured stayed alive).
        detached = t.detach()
        keep.append(detached)
        return detached

    def unpack(t: torch.Tensor) -> torch.Tensor:
        return t

    was_training = model.training
    model.train()
    try:
        with torch.autograd.graph.saved_tensors_hooks(pack, unpack):
            if autocast is not None:
                with autocast():
                    out = model(x)
            else:
                out = model(x)
        del out
    finally:
        keep.clear()
        model.train(was_training)
    return seen


def reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS mark (Linux ≥ 4.0); False where that is not possible."""
    try:
        with open(_CLEAR_REFS, "w") as f:
            f.write("5")
    except OSError:
        return False
    return True


def peak_rss_bytes() -> int:
    """The process's peak resident set: VmHWM (resettable) where readable, else getrusage's maximum."""
    try:
        with open(_STATUS) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss if os.uname().sysname == "Darwin" else rss * 1024  # macOS reports bytes, Linux KiB
