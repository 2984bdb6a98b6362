"""Build the model a SOURCE names and trace its forward into a graph of torch ops.

The model is built on the meta device when its factory allows (no memory, no initialisation time: a
640M-parameter RegNet traces in seconds), else on the CPU. Tracing is ``torch.fx`` symbolic tracing with the
torch.nn layers the importer maps kept whole (``ops.is_leaf``); where symbolic tracing fails (a branch on a
tensor's shape, Python that a proxy cannot pass through), ``torch.export`` traces the model on the example
input instead and its ATen ops are read, grouped back into the module calls that made them. Both are traced in
eval mode: the inference graph, without the auxiliary heads some classifiers run only in training.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import fx, nn

from archcalc.backends.torch.importer import ops
from archcalc.backends.torch.importer.values import BATCH
from archcalc.backends.torch.reference import Reference, build_reference, parse_reference
from archcalc.errors import ArchcalcError, BackendError, OptionError

FX = "torch.fx symbolic trace"
EXPORT = "torch.export"


@dataclass
class Traced:
    """A traced model: its graph, the example it was traced for, and how it was traced."""

    model: nn.Module
    graph: fx.GraphModule
    example: torch.Tensor
    how: str
    device: str
    fallback_reason: str | None = None


class _Tracer(fx.Tracer):
    """Symbolic tracing that keeps the layers the importer maps whole, and every other torch.nn layer too
    (so that one outside the vocabulary is named by its class, not by the ops inside it)."""

    def is_leaf_module(self, m: nn.Module, module_qualified_name: str) -> bool:
        return ops.is_leaf(m)


def load(source: str, seed: int = 0) -> tuple[nn.Module, Reference, str]:
    """The model SOURCE names, in eval mode, on the meta device when its factory allows, else the CPU."""
    with _as_import():
        ref = parse_reference(source)
        try:
            with torch.device("meta"), contextlib.redirect_stderr(io.StringIO()):
                model = build_reference(ref, seed)
            device = "meta"
        except OptionError:
            raise
        except Exception:  # a factory that needs real tensors (initialisation from data, .item())
            model = build_reference(ref, seed)
            device = "cpu"
    return model.eval(), ref, device


def build(ref: Reference, seed: int = 0) -> nn.Module:
    """The model on the CPU (for ops the meta device cannot run)."""
    with _as_import():
        return build_reference(ref, seed).eval()


@contextlib.contextmanager
def _as_import() -> Iterator[None]:
    """reference.py speaks of ``--against REF``; here the model is the SOURCE of an import."""
    try:
        yield
    except ArchcalcError as exc:
        exc.message = exc.message.replace("--against ", "import ", 1).replace("--against", "import", 1)
        raise


def trace(model: nn.Module, input_shape: tuple[int, ...], device: str) -> Traced:
    """Trace ``model`` for inputs of ``input_shape`` (no batch): torch.fx first, torch.export where it fails."""
    example = torch.zeros(BATCH, *input_shape, device=device)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            graph = _Tracer().trace(model)
        gm = fx.GraphModule(model, graph)
        return Traced(model, gm, example, FX, device)
    except Exception as exc:
        reason = _first_line(exc)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
            warnings.simplefilter("ignore")
            exported = torch.export.export(model, (example,), strict=False)
        gm = exported.module()
    except Exception as exc:
        raise BackendError(f"cannot trace the model: torch.fx: {reason}; torch.export: {_first_line(exc)}") from None
    return Traced(model, gm, example, EXPORT, device, fallback_reason=reason)


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    return f"{type(exc).__name__}: {lines[0][:160]}" if lines else type(exc).__name__
