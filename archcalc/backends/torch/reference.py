"""The reference a spec claims to be: ``torchvision:NAME``, ``FILE.py:factory`` or ``package.module:factory``.

A reference is named on the command line (``verify --against``) and built here, as its own code builds
it, so that ``archcalc.backends.torch.parity`` can hold the spec-built model against it. Arguments follow
the factory after commas (``torchvision:googlenet,aux_logits=False``); values are Python literals read
with ``ast.literal_eval`` (never evaluated as code), anything else is taken as a string. torchvision
models are always built with ``weights=None``: nothing is downloaded at run time.
"""

from __future__ import annotations

import ast
import contextlib
import importlib
import importlib.util
import io
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from archcalc.errors import BackendError, OptionError, did_you_mean

TORCHVISION = "torchvision"


@dataclass(frozen=True)
class Reference:
    """A parsed REF: where the factory lives, its name, and the keyword arguments to call it with."""

    kind: str  # "torchvision", "file" or "module"
    where: str  # "torchvision", a .py path, or a dotted module name
    factory: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    text: str = ""

    def __str__(self) -> str:
        return self.text or f"{self.where}:{self.factory}"


def parse_reference(text: str) -> Reference:
    """Read ``torchvision:NAME[,k=v…]``, ``FILE.py:factory[,k=v…]`` or ``package.module:factory[,k=v…]``."""
    where, sep, rest = text.rpartition(":")
    if not sep or not where or not rest:
        raise OptionError(f"--against '{text}': expected torchvision:NAME, FILE.py:factory or"
                          " package.module:factory")
    factory, *args = [part.strip() for part in rest.split(",")]
    if not factory.isidentifier():
        raise OptionError(f"--against '{text}': '{factory}' is not a Python name")
    kwargs = dict(_argument(text, a) for a in args if a)
    if where == TORCHVISION:
        kind = "torchvision"
        if kwargs.get("weights") is not None or kwargs.get("pretrained"):
            raise OptionError(f"--against '{text}': archcalc never downloads weights",
                              hint="save the weights to a file and pass --weights FILE")
    elif where.endswith(".py"):
        kind = "file"
    elif all(part.isidentifier() for part in where.split(".")):
        kind = "module"
    else:
        raise OptionError(f"--against '{text}': '{where}' is neither torchvision, a .py file nor a module name")
    return Reference(kind, where, factory, kwargs, text)


def _argument(text: str, item: str) -> tuple[str, Any]:
    key, eq, raw = item.partition("=")
    key = key.strip()
    if not eq or not key.isidentifier():
        raise OptionError(f"--against '{text}': expected key=value after the factory, got '{item}'")
    try:
        value = ast.literal_eval(raw.strip())
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        value = raw.strip()
    return key, value


def build_reference(ref: Reference, seed: int = 0) -> nn.Module:
    """Call the reference's factory (seeded) and check that it returns an ``nn.Module``."""
    factory = _factory(ref)
    kwargs = dict(ref.kwargs)
    if ref.kind == "torchvision":
        kwargs["weights"] = None
    with torch.random.fork_rng(devices=[]), warnings.catch_warnings():
        torch.manual_seed(seed)
        warnings.simplefilter("ignore")  # torchvision's notices about future default initialisations
        try:
            model = factory(**kwargs)
        except TypeError as exc:
            raise OptionError(f"--against {ref}: {_first_line(exc)}") from None
        except Exception as exc:
            raise BackendError(f"--against {ref}: building the reference failed: {type(exc).__name__}:"
                               f" {_first_line(exc)}") from None
    if not isinstance(model, nn.Module):
        raise OptionError(f"--against {ref}: the factory returned {type(model).__name__}, not a torch.nn.Module")
    return model


def _factory(ref: Reference) -> Any:
    if ref.kind == "torchvision":
        try:
            with contextlib.redirect_stderr(io.StringIO()):
                import torchvision.models
        except Exception as exc:  # ImportError, or torchvision's compiled ops refusing this torch build
            raise BackendError(f"--against {ref}: torchvision cannot be imported here ({_first_line(exc)})",
                               hint="make parity builds .venv-parity with a matching torch and torchvision"
                               ) from None
        names = torchvision.models.list_models()
        if ref.factory not in names:
            raise OptionError(f"--against {ref}: torchvision has no model '{ref.factory}'",
                              hint=did_you_mean(ref.factory, names))
        return lambda **kw: torchvision.models.get_model(ref.factory, **kw)
    module = _load_file(ref) if ref.kind == "file" else _import(ref)
    factory = getattr(module, ref.factory, None)
    if factory is None or not callable(factory):
        public = [n for n in vars(module) if not n.startswith("_")]
        raise OptionError(f"--against {ref}: {ref.where} has no callable '{ref.factory}'",
                          hint=did_you_mean(ref.factory, public))
    return factory


def _load_file(ref: Reference) -> Any:
    path = Path(ref.where)
    if not path.is_file():
        raise OptionError(f"--against {ref}: no file {path}")
    name = f"_archcalc_reference_{abs(hash(str(path.resolve())))}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise OptionError(f"--against {ref}: cannot load {path} as Python")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pickling look the module up by name
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        sys.modules.pop(name, None)
        raise BackendError(f"--against {ref}: running {path} failed: {type(exc).__name__}: {_first_line(exc)}"
                           ) from None
    return module


def _import(ref: Reference) -> Any:
    try:
        return importlib.import_module(ref.where)
    except ImportError as exc:
        raise OptionError(f"--against {ref}: cannot import {ref.where} ({_first_line(exc)})") from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__
