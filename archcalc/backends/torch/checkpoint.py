"""Checkpoints: written atomically, read without running code.

A checkpoint is written to a temporary file in the same directory, flushed and fsync'ed, then renamed
over the old one, so a crash or ``kill -9`` at any instant leaves either the old or the new file, never a
torn one. It holds only tensors and plain containers (RNG states included), so ``torch.load`` runs with
``weights_only=True``: loading a checkpoint cannot execute code.
"""

from __future__ import annotations

import contextlib
import pickle
import random
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from archcalc.errors import OptionError
from archcalc.fileio import atomic_path

FORMAT = "archcalc-checkpoint"
VERSION = 1
REQUIRED = ("model", "epoch", "config")


class CheckpointError(OptionError):
    """A checkpoint that is missing, torn, or not one of ours."""


def save(state: Mapping[str, Any], path: Path) -> None:
    """Write ``state`` to ``path`` atomically and durably (temp file in the same folder, fsync, rename)."""
    with atomic_path(path, durable=True, make_parents=True) as tmp:
        torch.save({"format": FORMAT, "version": VERSION, **state}, tmp)


def remove_stale_temps(directory: Path) -> None:
    """Delete temporary files left by a process killed while writing a checkpoint."""
    for tmp in directory.glob(".*.pt.*.tmp"):
        with contextlib.suppress(OSError):
            tmp.unlink()


def load(path: Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint written by :func:`save`, with a one-line error for anything else."""
    if not path.exists():
        raise CheckpointError(f"checkpoint {path} does not exist")
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} is not a file")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        if "Unsupported global" in str(exc) or "GLOBAL" in str(exc):
            raise CheckpointError(f"{path} holds Python objects, not just tensors; refusing to load it",
                                  hint="a checkpoint may not run code when loaded") from None
        raise CheckpointError(f"{path} is truncated or corrupt ({_first_line(exc)})") from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError) as exc:
        raise CheckpointError(f"{path} is truncated or corrupt, or not a torch checkpoint "
                              f"({_first_line(exc)})") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not an archcalc checkpoint",
                              hint="archcalc train writes last.pt and best.pt in its run directory")
    if state.get("version") != VERSION:
        raise CheckpointError(f"{path} has checkpoint version {state.get('version')}; "
                              f"this archcalc reads version {VERSION}")
    missing = [k for k in REQUIRED if k not in state]
    if missing:
        raise CheckpointError(f"{path} is incomplete: no {missing[0]!r}")
    return state


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__


def rng_state() -> dict[str, Any]:
    """Python, numpy, torch and CUDA RNG states as tensors and plain lists (weights_only-loadable)."""
    version, internal, gauss = random.getstate()
    np_state: tuple[Any, ...] = tuple(np.random.get_state(legacy=True))
    state: dict[str, Any] = {
        "python": [version, list(internal), gauss],
        "numpy": [str(np_state[0]), torch.from_numpy(np.asarray(np_state[1], dtype=np.int64)),
                  int(np_state[2]), int(np_state[3]), float(np_state[4])],
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():  # type: ignore[no-untyped-call]
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: Mapping[str, Any]) -> None:
    """Restore what :func:`rng_state` captured."""
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        cuda_states = state["cuda"]
        if len(cuda_states) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(cuda_states)
