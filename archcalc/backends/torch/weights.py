"""Reference-format weights into a spec-built model: read a checkpoint, match its tensors, copy them.

The one place where weights enter a spec-built model: ``--weights`` on verify, bench, export, train and
``rf --effective``, and ``verify --against``, which transplants the reference model's state the same way.
Files are read without running code (``torch.load(weights_only=True)``, or safetensors).

Tensors are matched, in this order:

1. **by key**: the checkpoint's keys are the spec's (a spec written with the reference's layer names);
2. **by structure**: keys that agree (same name, same shape) pair by name; the rest pair in order (the order
   in which the reference's code registers its layers), and their shapes must agree one by one;
3. otherwise the error names what does not fit: the missing, unexpected and mis-shaped keys when the names
   mostly agree, else the first tensor where the two structures part (another architecture).

Batch-norm ``num_batches_tracked`` counters stay out of the order (old checkpoints lack them) and follow
their layer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor, nn

from archcalc.backends.torch import checkpoint
from archcalc.backends.torch.checkpoint import first_line, load_tensors_only
from archcalc.errors import OptionError

if TYPE_CHECKING:
    from archcalc.analysis import Analysis
    from archcalc.ir import Graph

COUNTER = "num_batches_tracked"
_NESTED = ("state_dict", "model", "model_state_dict", "module")


class WeightsError(OptionError):
    """A weights file that cannot be read, or whose tensors do not fit the model."""


class StateMismatch(WeightsError):
    """Two state dicts that neither keys nor structure can pair; ``detail`` says where they part."""

    def __init__(self, detail: str):
        super().__init__(detail)
        self.detail = detail


@dataclass(frozen=True)
class StateMap:
    """How the target's tensors are found in the source: target key → source key."""

    pairs: dict[str, str]
    by: str  # "key" or "structure"
    named: int = 0  # pairs whose two keys are the same
    source_size: int = 0
    notes: list[str] = field(default_factory=list)

    def describe(self) -> str:
        n = len(self.pairs)
        if self.by == "key":
            return f"by key ({n} tensors)"
        return f"by structure ({n} tensors, same shapes in the same order; {self.named} of them share names)"

    def modules(self) -> dict[str, str]:
        """Target module → source module, where every tensor of the one comes from the other."""
        seen: dict[str, str | None] = {}
        for t, s in self.pairs.items():
            tm, sm = owner_of(t), owner_of(s)
            seen[tm] = sm if seen.get(tm, sm) == sm else None
        return {t: s for t, s in seen.items() if s is not None}


# ---- reading --------------------------------------------------------------------------------------------

def read_state(path: Path) -> dict[str, Tensor]:
    """The state dict in ``path``: a ``.pt``/``.pth`` file (a bare state dict, one nested under ``state_dict``
    or ``model``, or an archcalc checkpoint) or a ``.safetensors`` file."""
    if not path.exists():
        raise WeightsError(f"weights file {path} does not exist")
    if not path.is_file():
        raise WeightsError(f"weights file {path} is not a file")
    if path.suffix == ".safetensors":
        try:
            from safetensors.torch import load_file
        except ImportError:
            raise WeightsError(f"{path}: reading safetensors needs the safetensors package",
                               hint="pip install safetensors") from None
        try:
            return dict(load_file(str(path), device="cpu"))
        except Exception as exc:
            raise WeightsError(f"{path} is not a readable safetensors file ({first_line(exc)})") from None
    obj = load_tensors_only(path, WeightsError, "save model.state_dict(), not the model",
                            "is not a torch weights file")
    ours = isinstance(obj, Mapping) and obj.get("format") == checkpoint.FORMAT
    if ours:  # archcalc train's last.pt / best.pt: checked as a resume checks them
        checkpoint.check_digest(obj, path, WeightsError)
    state = _state_dict_in(obj)
    if state is None:
        raise WeightsError(f"{path} holds no state dict (a mapping of names to tensors)")
    if ours:
        checkpoint.check_finite(state, path, WeightsError)
    return _strip_prefix(state, "module.")  # DistributedDataParallel's wrapper


def _state_dict_in(obj: Any) -> dict[str, Tensor] | None:
    if not isinstance(obj, Mapping):
        return None
    if obj and all(isinstance(k, str) and isinstance(v, Tensor) for k, v in obj.items()):
        return dict(obj)
    if obj.get("format") == checkpoint.FORMAT:  # archcalc train's last.pt / best.pt
        return _state_dict_in(obj.get("model"))
    for key in _NESTED:
        if isinstance(obj.get(key), Mapping):
            return _state_dict_in(obj[key])
    return None


def _strip_prefix(state: dict[str, Tensor], prefix: str) -> dict[str, Tensor]:
    if state and all(k.startswith(prefix) for k in state):
        return {k.removeprefix(prefix): v for k, v in state.items()}
    return state


# ---- matching -------------------------------------------------------------------------------------------

def match_state(target: Mapping[str, Tensor], source: Mapping[str, Tensor], *, target_label: str = "spec",
                source_label: str = "checkpoint") -> StateMap:
    """Pair the target's tensors with the source's: by key, else by structure; :class:`StateMismatch` else."""
    t_keys = [k for k in target if not is_counter(k)]
    s_keys = [k for k in source if not is_counter(k)]
    named = [k for k in t_keys if k in source and _shape(source[k]) == _shape(target[k])]
    pairs: dict[str, str]
    if len(named) == len(t_keys) == len(s_keys):
        pairs, by = {k: k for k in named}, "key"
    else:
        taken = set(named)
        t_rest = [k for k in t_keys if k not in taken]
        s_rest = [k for k in s_keys if k not in taken]
        if _fits(target, t_rest, source, s_rest):
            pairs, by = {**{k: k for k in named}, **dict(zip(t_rest, s_rest, strict=True))}, "structure"
        elif _fits(target, t_keys, source, s_keys):  # names that agree by accident, placed elsewhere
            pairs, by = dict(zip(t_keys, s_keys, strict=True)), "structure"
        else:
            raise StateMismatch(_explain(target, t_keys, source, s_keys, named, target_label, source_label))
    pairs = {k: pairs[k] for k in t_keys}  # the target's order
    modules = StateMap(pairs, by).modules()
    for key in target:
        if is_counter(key):
            owner = modules.get(owner_of(key), owner_of(key))
            candidate = f"{owner}.{COUNTER}" if owner else COUNTER
            if candidate in source:
                pairs[key] = candidate
    return StateMap(pairs, by, sum(1 for t, s in pairs.items() if t == s and not is_counter(t)), len(source))


def _fits(target: Mapping[str, Tensor], t_keys: list[str], source: Mapping[str, Tensor], s_keys: list[str]) -> bool:
    return len(t_keys) == len(s_keys) and all(
        _shape(target[t]) == _shape(source[s]) for t, s in zip(t_keys, s_keys, strict=True))


def _explain(target: Mapping[str, Tensor], t_keys: list[str], source: Mapping[str, Tensor], s_keys: list[str],
             named: list[str], target_label: str, source_label: str) -> str:
    """One line: the keys that do not fit (names mostly agree), or where the structures part."""
    common = [k for k in t_keys if k in source]
    if t_keys and s_keys and len(common) * 2 >= max(len(t_keys), len(s_keys)):  # mostly the same names
        missing = [k for k in t_keys if k not in source]
        unexpected = [k for k in s_keys if k not in target]
        shapes = [f"{k} ({source_label} {_fmt(source[k])}, {target_label} {_fmt(target[k])})"
                  for k in common if _shape(source[k]) != _shape(target[k])]
        parts = []
        if missing:
            parts.append(f"missing from the {source_label}: {_few(missing)}")
        if unexpected:
            parts.append(f"unexpected in the {source_label}: {_few(unexpected)}")
        if shapes:
            parts.append(f"shape mismatches: {_few(shapes)}")
        return "; ".join(parts)
    taken = set(named)
    t_rest = [k for k in t_keys if k not in taken]
    s_rest = [k for k in s_keys if k not in taken]
    for i, (t, s) in enumerate(zip(t_rest, s_rest, strict=False)):
        if _shape(target[t]) != _shape(source[s]):
            return (f"another architecture: the first tensors that differ (in order, #{i + 1}) are"
                    f" {source_label} {s} {_fmt(source[s])} and {target_label} {t} {_fmt(target[t])}")
    if len(t_rest) > len(s_rest):
        t = t_rest[len(s_rest)]
        return (f"another architecture: the {source_label} has {len(s_keys)} tensors, the {target_label}"
                f" {len(t_keys)}; the first without a counterpart is {target_label} {t} {_fmt(target[t])}")
    s = s_rest[len(t_rest)]
    return (f"another architecture: the {source_label} has {len(s_keys)} tensors, the {target_label}"
            f" {len(t_keys)}; the first without a counterpart is {source_label} {s} {_fmt(source[s])}")


def is_counter(key: str) -> bool:
    """Whether a state-dict key is batch norm's step counter (left out of every order)."""
    return key.rsplit(".", 1)[-1] == COUNTER


def owner_of(key: str) -> str:
    """The module path that holds a state-dict key (``layer1.0.conv1.weight`` → ``layer1.0.conv1``)."""
    return key.rpartition(".")[0]


def _shape(t: Tensor) -> tuple[int, ...]:
    return tuple(t.shape)


def _fmt(t: Tensor) -> str:
    return "×".join(str(d) for d in t.shape) if t.dim() else "scalar"


def _few(items: list[str], n: int = 3) -> str:
    shown = ", ".join(items[:n])
    return shown + (f" (+{len(items) - n} more)" if len(items) > n else "")


# ---- copying --------------------------------------------------------------------------------------------

def transplant(model: nn.Module, source: Mapping[str, Tensor], smap: StateMap) -> None:
    """Copy the source's tensors into ``model`` as ``smap`` pairs them (dtype follows the model)."""
    own = model.state_dict()
    state = {k: source[smap.pairs[k]] if k in smap.pairs else v for k, v in own.items()}
    with torch.no_grad():
        model.load_state_dict(state, strict=True)


def load_weights(model: nn.Module, path: str | Path, *, into: str | None = None) -> StateMap:
    """Read ``path`` and copy its tensors into ``model``; a one-line :class:`WeightsError` if they do not fit.

    ``into`` names the model in messages (default: the spec it was built from)."""
    path = Path(path)
    state = read_state(path)
    name = into or getattr(model, "spec_name", "") or "the spec"
    try:
        smap = match_state(model.state_dict(), state, target_label="model" if into else "spec")
    except StateMismatch as exc:
        raise WeightsError(f"weights {path} do not fit {name}: {exc.detail}") from None
    try:
        transplant(model, state, smap)
    except RuntimeError as exc:
        raise WeightsError(f"weights {path} do not fit {name}: {first_line(exc)}") from None
    return smap


def build_with_weights(network: Analysis | Graph, weights: str | Path | None, *, init: str | None = None,
                       seed: int = 0) -> tuple[nn.Module, StateMap | None]:
    """The spec-built model, with ``weights`` loaded when given (the one place that pairs the two)."""
    from archcalc.backends.torch.build import build_model

    model = build_model(network, init=init, seed=seed)
    return model, (load_weights(model, weights) if weights is not None else None)
