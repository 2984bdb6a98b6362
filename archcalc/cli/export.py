"""``archcalc export``: the built model as TorchScript (``pt``) or ONNX, written atomically."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import click

from archcalc.cli.options import load_analysis, require_torch, spec_options
from archcalc.errors import BackendError
from archcalc.fileio import atomic_path
from archcalc.vocab import INIT_SCHEMES


@click.command("export")
@click.argument("spec")
@spec_options
@click.option("--format", "fmt", type=click.Choice(["pt", "onnx"]), default="pt", show_default=True,
              help="pt: TorchScript (torch.jit.script, loadable without archcalc); onnx: ONNX graph.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="Output file (default: NAME.pt or NAME.onnx in the current directory).")
@click.option("--init", type=click.Choice(INIT_SCHEMES), default=None,
              help="Weight initialisation (default: the spec's recipe, else torch's).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for the initial weights.")
@click.option("--checkpoint", type=click.Path(dir_okay=False), default=None,
              help="Load trained weights from an archcalc checkpoint first.")
def export_command(spec: str, input_text: str | None, assignments: tuple[str, ...], strict: bool, fmt: str,
                   output: str | None, init: str | None, seed: int, checkpoint: str | None) -> None:
    """Build SPEC and export it as TorchScript or ONNX (inference mode: main output only)."""
    analysis = load_analysis(spec, input_text, assignments, strict)
    graph = analysis.graph
    if fmt == "onnx":
        missing = [m for m in ("onnx", "onnxscript") if importlib.util.find_spec(m) is None]
        if missing:
            raise BackendError(f"ONNX export needs {' and '.join(missing)}, which is not installed"
                               f" (pip install {' '.join(missing)})")
    require_torch()
    import torch

    from archcalc.backends.torch.build import build_model

    model = build_model(analysis, init=init, seed=seed)
    if checkpoint is not None:
        from archcalc.backends.torch.erf import _load_weights

        _load_weights(model, Path(checkpoint))
    model.eval()
    path = Path(output) if output else Path(f"{graph.meta.name}.{fmt}")
    example = torch.randn(1, *graph.input_shape)
    with atomic_path(path) as tmp:
        if fmt == "pt":
            try:
                scripted = torch.jit.script(model)
            except Exception:
                scripted = torch.jit.trace(model, example)  # type: ignore[no-untyped-call]
            torch.jit.save(scripted, tmp)
        else:
            try:
                torch.onnx.export(model, (example,), tmp, input_names=["input"], output_names=["output"],
                                  dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}})
            except Exception as exc:
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                raise BackendError(f"ONNX export failed: {first}") from None
    click.echo(f"wrote {path} ({fmt}, input 1×{'×'.join(map(str, graph.input_shape))})")
