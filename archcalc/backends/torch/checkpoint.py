"""Checkpoints: written atomically, read without running code.

A checkpoint is written to a temporary file in the same directory, flushed and fsync'ed, then renamed
over the old one, so a crash or ``kill -9`` at any instant leaves either the old or the new file, never a
torn one. It holds only tensors and plain containers (RNG states included), so ``torch.load`` runs with
``weights_only=True``: loading a checkpoint cannot execute code.

Torch's zip reader does not check its CRCs, so bytes damaged on disk would load silently (issue 15: 4 KiB
flipped in a ``last.pt`` resumed and evaluated). Each checkpoint therefore carries a sha256 of everything it
holds (:func:`digest`), recomputed on every load. Checkpoints written before the digest load with a warning.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import pickle
import random
import sys
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
#: the keys outside the digest: the envelope, and the digest itself
_ENVELOPE = ("format", "version", "digest")


class CheckpointError(OptionError):
    """A checkpoint that is missing, torn, or not one of ours."""


def save(state: Mapping[str, Any], path: Path) -> None:
    """Write ``state`` to ``path`` atomically and durably (temp file in the same folder, fsync, rename)."""
    body = {k: v for k, v in state.items() if k not in _ENVELOPE}
    with atomic_path(path, durable=True, make_parents=True) as tmp:
        torch.save({"format": FORMAT, "version": VERSION, "digest": digest(body), **body}, tmp)


def digest(state: Mapping[str, Any]) -> str:
    """``sha256:HEX`` over every value in ``state`` but the envelope, in the order written: each tensor's
    place, dtype, shape and bytes, and every other value's repr (so an edited number counts too)."""
    h = hashlib.sha256()
    _feed(h, "", {k: v for k, v in state.items() if k not in _ENVELOPE})
    return "sha256:" + h.hexdigest()


def _feed(h: Any, where: str, value: Any) -> None:
    if isinstance(value, torch.Tensor):
        flat = value.detach().to("cpu").contiguous().reshape(-1)
        h.update(f"{where}=tensor {flat.dtype} {tuple(value.shape)}\n".encode())
        h.update(flat.view(torch.uint8).numpy())
    elif isinstance(value, Mapping):
        h.update(f"{where}=map {len(value)}\n".encode())
        for key, item in value.items():
            _feed(h, f"{where}/{key!r}", item)
    elif isinstance(value, list | tuple):
        h.update(f"{where}=list {len(value)}\n".encode())
        for i, item in enumerate(value):
            _feed(h, f"{where}/{i}", item)
    else:
        h.update(f"{where}={type(value).__name__} {value!r}\n".encode())


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
    state = load_tensors_only(path, CheckpointError, "a checkpoint may not run code when loaded",
                              "is truncated or corrupt, or not a torch checkpoint", map_location)
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not an archcalc checkpoint",
                              hint="archcalc train writes last.pt and best.pt in its run directory")
    if state.get("version") != VERSION:
        raise CheckpointError(f"{path} has checkpoint version {state.get('version')}; "
                              f"this archcalc reads version {VERSION}")
    missing = [k for k in REQUIRED if k not in state]
    if missing:
        raise CheckpointError(f"{path} is incomplete: no {missing[0]!r}")
    check_digest(state, path)
    problem = structure_problem(state)
    if problem:
        raise CheckpointError(f"{path} is not a checkpoint archcalc wrote: {problem}",
                              hint="was it edited or damaged? train again, or resume from another checkpoint")
    check_finite(state["model"], path)
    return state


def check_finite(model: Mapping[str, torch.Tensor], path: Path, error: type[OptionError] = CheckpointError) -> None:
    """Refuse weights holding NaN or infinity: evaluating or resuming them only prints ``nan``."""
    for name, tensor in model.items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise error(f"{path} holds NaN or infinite weights ({name!r})",
                        hint="did the run diverge? use best.pt or an earlier checkpoint, with a lower --lr")


def check_digest(state: Mapping[str, Any], path: Path, error: type[OptionError] = CheckpointError) -> None:
    """Refuse a checkpoint whose contents differ from the digest :func:`save` stored; warn if it has none."""
    stored = state.get("digest")
    if stored is None:
        sys.stderr.write(f"archcalc: warning: {path} has no digest (written by an older archcalc), so damage to"
                         " its weights cannot be detected\n")
        return
    try:
        actual = digest(state)
    except (RecursionError, RuntimeError, TypeError, ValueError):
        actual = None
    if stored != actual:
        raise error(f"{path} is corrupt: its weights do not match the digest stored when it was written",
                    hint="resume from another checkpoint (best.pt or a copy), or train again")


# ---- the structure save() writes, checked before any of it is used ----------------------------------------
#: keys and what each holds, for the messages
_HISTORY_KEYS = ("epoch", "lr", "train_loss", "train_top1", "train_top5", "val_loss", "val_top1", "val_top5",
                 "time_s", "images_per_s")
_LIMIT = 2**62  # epochs, steps, classes: anything near 64 bits is not a count a run wrote


def _count(value: Any) -> bool:
    return type(value) is int and 0 <= value < _LIMIT


def _number(value: Any) -> bool:
    return type(value) in (int, float) and math.isfinite(value) and abs(value) < 1e300


def _numbers(value: Any, n: int | None = None) -> bool:
    return isinstance(value, list) and (n is None or len(value) == n) and all(_number(v) for v in value)


def _rng_problem(rng: Any) -> str | None:
    if not isinstance(rng, Mapping):
        return "'rng' is not a mapping"
    py = rng.get("python")
    if not (isinstance(py, list) and len(py) == 3 and type(py[0]) is int and isinstance(py[1], list)
            and len(py[1]) == 625 and all(type(v) is int and 0 <= v < 2**32 for v in py[1])
            and (py[2] is None or _number(py[2]))):
        return "'rng.python' is not Python's random state"
    np_ = rng.get("numpy")
    if not (isinstance(np_, list) and len(np_) == 5 and np_[0] == "MT19937" and isinstance(np_[1], torch.Tensor)
            and tuple(np_[1].shape) == (624,) and _count(np_[2]) and np_[2] <= 624 and _count(np_[3])
            and _number(np_[4])):
        return "'rng.numpy' is not numpy's random state"
    if not (isinstance(rng.get("torch"), torch.Tensor) and rng["torch"].dtype == torch.uint8):
        return "'rng.torch' is not torch's random state (a byte tensor)"
    cuda = rng.get("cuda")
    if cuda is not None and not (isinstance(cuda, list)
                                 and all(isinstance(t, torch.Tensor) and t.dtype == torch.uint8 for t in cuda)):
        return "'rng.cuda' is not a list of byte tensors"
    return None


def structure_problem(state: Mapping[str, Any]) -> str | None:
    """What in ``state`` is not the way :func:`save` (from ``Run.state``) writes it, or None.

    Every field a resume reads is checked here, so a damaged or hand-edited checkpoint is one line, not a
    TypeError deep in the trainer (issue 15: 37 of 69 wrongly typed fields gave tracebacks).
    """
    model = state["model"]
    if not (isinstance(model, Mapping) and all(isinstance(k, str) and isinstance(v, torch.Tensor)
                                               for k, v in model.items())):
        return "'model' is not a mapping of names to tensors"
    if not _count(state["epoch"]):
        return f"'epoch' is {_show(state['epoch'])}, not a count"
    if not isinstance(state["config"], Mapping) or not all(isinstance(k, str) for k in state["config"]):
        return "'config' is not a mapping of option names to values"
    if "step" in state and not _count(state["step"]):
        return f"'step' is {_show(state['step'])}, not a count"
    for key in ("best", "partial_time"):
        if key in state and not _number(state[key]):
            return f"{key!r} is {_show(state[key])}, not a finite number"
    for key in ("optimizer", "scheduler", "scaler"):
        if state.get(key) is not None and not isinstance(state[key], Mapping):
            return f"{key!r} is {_show(state[key])}, not a state mapping"
    history = state.get("history", [])
    if not isinstance(history, list):
        return "'history' is not a list of epoch records"
    for i, record in enumerate(history):
        if not isinstance(record, Mapping) or not _count(record.get("epoch")):
            return f"'history' record {i} is not an epoch record"
        bad = [k for k in _HISTORY_KEYS[1:] if k in record and not _number(record[k])]
        if bad or "val_top1" not in record:
            return f"'history' record {i}: {(bad or ['val_top1'])[0]!r} is missing or not a finite number"
    if state.get("partial") is not None and not _numbers(state["partial"], 4):
        return "'partial' is not the four running sums of an interrupted epoch"
    if "rng" in state:
        problem = _rng_problem(state["rng"])
        if problem:
            return problem
    stats = state.get("data_stats")
    if stats is not None and not (isinstance(stats, Mapping) and _numbers(stats.get("mean"))
                                  and _numbers(stats.get("std")) and len(stats["mean"]) == len(stats["std"])):
        return "'data_stats' is not per-channel mean and std lists"
    if stats is not None and not all(v > 0 for v in stats["std"]):
        return "'data_stats' has a standard deviation that is not positive (inputs would be divided by it)"
    if "num_classes" in state and not (_count(state["num_classes"]) and state["num_classes"] >= 1):
        return f"'num_classes' is {_show(state['num_classes'])}, not a count"
    return None


def _show(value: Any) -> str:
    text = repr(value) if not isinstance(value, torch.Tensor) else f"a tensor of shape {tuple(value.shape)}"
    return text if len(text) <= 40 else text[:39] + "…"


def load_tensors_only(path: Path, error: type[OptionError], hint: str, unreadable: str,
                      map_location: str | torch.device = "cpu") -> Any:
    """``torch.load`` that cannot run code (``weights_only``), each failure one line of ``error``."""
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        if "Unsupported global" in str(exc) or "GLOBAL" in str(exc):
            raise error(f"{path} holds Python objects, not just tensors; refusing to load it", hint=hint) from None
        raise error(f"{path} is truncated or corrupt ({first_line(exc)})") from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError) as exc:
        raise error(f"{path} {unreadable} ({first_line(exc)})") from None
    except Exception as exc:  # torch's unpickler on arbitrary bytes: KeyError, IndexError, struct.error, ...
        raise error(f"{path} {unreadable} ({type(exc).__name__}: {first_line(exc)})") from None


def first_line(exc: BaseException) -> str:
    """An exception's first line, short enough for a one-line error."""
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
