"""Export a built model: ``torch.export`` programs (``.pt2``, which replace TorchScript, deprecated in
torch 2.13) and ONNX (torch's dynamo exporter), each with a dynamic batch dimension; an ONNX file is
run once with onnxruntime, when installed, and held against torch's own output."""

from __future__ import annotations

import contextlib
import io
import logging
import warnings
from pathlib import Path

import torch
from torch import Tensor, nn

from archcalc.errors import BackendError


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def exported_program(model: nn.Module, example: Tensor) -> torch.export.ExportedProgram:
    """The model traced by ``torch.export`` with the batch dimension left free."""
    batch = torch.export.Dim("batch", min=1, max=65536)
    try:
        return torch.export.export(model, (example,), dynamic_shapes=({0: batch},))
    except Exception as exc:  # torch.export raises many kinds; the user gets one line
        raise BackendError(f"torch.export failed: {_first_line(exc)}") from None


def export_pt2(model: nn.Module, example: Tensor, path: Path) -> None:
    """Write a ``.pt2`` program: ``torch.export.load(path).module()(x)`` runs it, no archcalc needed."""
    buffer = io.BytesIO()  # torch.export.save wants a .pt2 name; the atomic temporary file has none
    torch.export.save(exported_program(model, example), buffer)
    path.write_bytes(buffer.getvalue())


def export_onnx(model: nn.Module, example: Tensor, path: Path) -> None:
    """Write an ONNX graph (opset of torch's dynamo exporter), input 'input', output 'output'."""
    batch = torch.export.Dim("batch", min=1, max=65536)
    quiet = io.StringIO()
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(quiet), contextlib.redirect_stderr(quiet):
            warnings.simplefilter("ignore")
            logging.getLogger("torch.onnx").setLevel(logging.ERROR)
            program = torch.onnx.export(model, (example,), input_names=["input"], output_names=["output"],
                                        dynamic_shapes=({0: batch},), dynamo=True, external_data=False)
            if program is None:
                raise BackendError("ONNX export produced no program")
            program.save(str(path))
    except BackendError:
        raise
    except Exception as exc:
        raise BackendError(f"ONNX export failed: {_first_line(exc)}") from None


def onnxruntime_check(model: nn.Module, path: Path, example: Tensor) -> str | None:
    """Run the ONNX file with onnxruntime on ``example`` and compare with torch; None without onnxruntime."""
    try:
        import onnxruntime
    except ImportError:
        return None
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = torch.from_numpy(session.run(None, {session.get_inputs()[0].name: example.numpy()})[0])
    with torch.no_grad():
        want = model(example)
    if isinstance(want, tuple | list):
        want = want[0]
    diff = float((got - want).abs().max())
    scale = float(want.abs().max()) or 1.0
    if diff > 1e-4 * scale + 1e-5:
        raise BackendError(f"{path}: onnxruntime's output differs from torch's by {diff:.3g}"
                           f" (largest value {scale:.3g})")
    return f"checked with onnxruntime {onnxruntime.__version__}: outputs equal torch's (max |Δ| {diff:.2g})"
