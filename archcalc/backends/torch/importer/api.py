"""``import_model``: SOURCE → spec text, in four steps kept apart.

1. ``trace.py``: build the model (on the meta device where its factory allows) and trace it (torch.fx, else
   torch.export);
2. ``interpret.py`` with ``ops.py``: run the traced graph once and map each op onto archcalc's layer types;
3. ``nesting.py`` then ``blocks.py``: write the layers as a person would — module groups, joins over branches,
   ``from:`` where needed, blocks for repeated modules, ``repeat`` for runs of identical ones;
4. ``spec_text.py``: the YAML text, with a header citing the source and how it was traced.

The text is then loaded back and analysed (a spec the importer writes must load), and its parameter count held
against the model's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import torch
from torch import nn

from archcalc.analysis import Analysis
from archcalc.backends.torch.importer import trace as tracing
from archcalc.backends.torch.importer.blocks import CONTAINERS, make_blocks
from archcalc.backends.torch.importer.interpret import ImportFailed, Interpreter
from archcalc.backends.torch.importer.nesting import Nester
from archcalc.backends.torch.importer.net import NotExpressible
from archcalc.backends.torch.importer.ops import qualified
from archcalc.backends.torch.importer.spec_text import render_spec
from archcalc.errors import ArchcalcError, BackendError
from archcalc.spec import load_text


@dataclass
class Imported:
    """A written spec and what was learnt on the way."""

    text: str
    name: str
    source: str
    how: str  # the tracer that was used
    device: str  # where the model was built and traced (meta, cpu)
    layers: int
    blocks: int
    params: int  # the model's parameters
    spec_params: int
    opaque: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    fallback_reason: str | None = None
    analysis: Analysis | None = None

    @property
    def lines(self) -> int:
        return self.text.count("\n")


def import_model(source: str, input_shape: tuple[int, ...], *, allow_opaque: bool = False, name: str | None = None,
                 seed: int = 0) -> Imported:
    """Trace the model ``source`` names for inputs of ``input_shape`` (C×H×W) and write it as a spec."""
    model, ref, device = tracing.load(source, seed)
    try:
        return _import(model, source, input_shape, device, allow_opaque, name)
    except ImportFailed:
        raise
    except (NotExpressible, BackendError) as exc:
        if device != "meta":
            raise _failed(exc) from None
    except Exception:
        if device != "meta":
            raise
    # some ops have no meta kernel, or a module checks values: build and trace on the CPU instead
    model = tracing.build(ref, seed)
    try:
        return _import(model, source, input_shape, "cpu", allow_opaque, name)
    except NotExpressible as exc:
        raise _failed(exc) from None


def _failed(exc: BaseException) -> ArchcalcError:
    if isinstance(exc, ArchcalcError):
        return exc
    return ImportFailed(str(exc))


def _import(model: nn.Module, source: str, input_shape: tuple[int, ...], device: str, allow_opaque: bool,
            name: str | None) -> Imported:
    traced = tracing.trace(model, input_shape, device)
    interpreter = Interpreter(traced.graph, model, input_shape, allow_opaque=allow_opaque,
                              exported=traced.how == tracing.EXPORT)
    try:
        net = interpreter.build(traced.example)
    except RuntimeError as exc:
        raise BackendError(f"running the traced model on a {'×'.join(map(str, input_shape))} input failed:"
                           f" {_first_line(exc)}", hint="give the model's input size with --input CxHxW") from None
    classes = {path: _class_label(type(m), source) for path, m in model.named_modules()
               if path and qualified(type(m)) not in CONTAINERS}
    nester = Nester(net, classes)
    items, blocks = make_blocks(nester.top())
    spec_name = name or _default_name(source)
    params = sum(p.numel() for p in model.parameters())
    how = traced.how + (" (torch.fx could not trace it)" if traced.fallback_reason else "")
    header = [
        f"Imported by `archcalc import {source}` ({how}, torch {torch.__version__}), input"
        f" {'x'.join(map(str, input_shape))}.",
        "Layer names are the model's module paths: its state_dict loads into this spec by key.",
    ]
    if not interpreter.opaque:  # an opaque layer is never built: nothing to run against the model
        header.append(f"Check it: archcalc verify {spec_name}.yaml --against {source}")
    else:
        header.append(f"Opaque (outside archcalc's vocabulary; costs unavailable, not buildable): "
                      f"{', '.join(interpreter.opaque)}")
    text = render_spec(header=header, name=spec_name,
                       description=f"{type(model).__name__} as {source} builds it, imported by archcalc.",
                       source={"code": source, "traced": traced.how}, input_shape=input_shape, blocks=blocks,
                       items=items)
    try:
        graph = load_text(text, f"{spec_name}.yaml")
        analysis = Analysis(graph)
        spec_params = analysis.totals.params
    except ArchcalcError as exc:  # a bug in the writer: say so with the first line of the spec's complaint
        raise BackendError(f"the spec written for {source} does not load: {exc.format()}") from None
    notes = [*net.notes, *nester.notes]
    if traced.fallback_reason:
        notes.insert(0, f"torch.fx could not trace the model ({traced.fallback_reason}); torch.export did")
    if spec_params != params:
        notes.append(f"the model holds {params:,} parameters, the spec {spec_params:,}: the difference is in modules"
                     " its eval-mode forward never calls (auxiliary heads), or in opaque ops")
    return Imported(text, spec_name, source, traced.how, device, len(net.layers), len(blocks), params, spec_params,
                    list(interpreter.opaque), notes, traced.fallback_reason, analysis)


def _class_label(cls: type, source: str) -> str:
    """A module class as its blocks' doc cites it: qualified, or ``FILE.py:Class`` for a class from a file."""
    if cls.__module__.startswith("_archcalc_reference_"):  # reference.py's name for a module loaded from a file
        return f"{source.rpartition(':')[0].rsplit('/', 1)[-1]}:{cls.__qualname__}"
    return qualified(cls)


def _default_name(source: str) -> str:
    tail = source.rpartition(":")[2].split(",")[0]
    return re.sub(r"\W", "_", tail) or "imported"


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    return lines[0][:200] if lines else type(exc).__name__
