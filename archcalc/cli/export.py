"""``archcalc export``: the built model as a ``torch.export`` program (``pt2``) or ONNX, written atomically."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import click

from archcalc.cli.completion import spec_argument_completion
from archcalc.cli.options import SEED, force_build_option, load_analysis, require_torch, spec_options
from archcalc.cli.paths import check_output, default_output
from archcalc.errors import BackendError
from archcalc.fileio import atomic_path
from archcalc.vocab import INIT_SCHEMES

#: --format → the file's extension
SUFFIXES = {"pt2": "pt2", "onnx": "onnx"}


@click.command("export", epilog="""\b
Examples:
  archcalc export resnet18                       # resnet18.pt2: torch.export.load() reads it back
  archcalc export resnet18 --format onnx         # resnet18.onnx, checked with onnxruntime when installed
  archcalc export lenet5 --weights runs/lenet5-…/best.pt -o lenet5.onnx --format onnx""")
@click.argument("spec", shell_complete=spec_argument_completion)
@spec_options
@force_build_option
@click.option("--format", "fmt", type=click.Choice(list(SUFFIXES)), default="pt2", show_default=True,
              help="pt2: a torch.export program (torch.export.load, no archcalc needed); onnx: an ONNX graph"
                   " (the 'onnx' extra), with a dynamic batch dimension.")
@click.option("-o", "--output", metavar="FILE", default=None,
              help="Output file (default: NAME.pt2 or NAME.onnx in the current directory).")
@click.option("--init", type=click.Choice(INIT_SCHEMES), default=None,
              help="Weight initialisation (default: the spec's recipe, else torch's).")
@click.option("--seed", type=SEED, default=0, show_default=True, help="Seed for the initial weights.")
@click.option("--weights", "--checkpoint", "weights", type=click.Path(dir_okay=False), default=None,
              metavar="FILE", help="Load weights first: an archcalc checkpoint or a state dict"
                                   " (.pt/.pth/.safetensors, the reference's names or structure).")
def export_command(spec: str, input_text: str | None, assignments: tuple[str, ...], strict: bool, fmt: str,
                   output: str | None, init: str | None, seed: int, weights: str | None) -> None:
    """Build SPEC and export it for inference (main output only), as torch.export's .pt2 or ONNX."""
    if output is not None:
        check_output(output)  # before the network is loaded or built
    analysis = load_analysis(spec, input_text, assignments, strict)
    graph = analysis.graph
    path = Path(output) if output else check_output(default_output(graph.meta.name, f".{SUFFIXES[fmt]}"))
    if fmt == "onnx":
        missing = [m for m in ("onnx", "onnxscript") if importlib.util.find_spec(m) is None]
        if missing:
            raise BackendError(f"ONNX export needs {' and '.join(missing)}, which is not installed"
                               " (pip install 'archcalc[onnx]')")
    require_torch()
    import torch

    from archcalc.backends.torch.export import export_onnx, export_pt2, onnxruntime_check
    from archcalc.backends.torch.weights import build_with_weights

    model, _ = build_with_weights(analysis, weights, init=init, seed=seed)
    model.eval()
    example = torch.randn(2, *graph.input_shape)
    with atomic_path(path) as tmp:
        if fmt == "pt2":
            export_pt2(model, example, tmp)
        else:
            export_onnx(model, example, tmp)
    shape = "×".join(map(str, graph.input_shape))
    click.echo(f"wrote {path} ({fmt}, input N×{shape}, batch dimension dynamic)")
    if fmt == "onnx":
        checked = onnxruntime_check(model, path, example)
        if checked:
            click.echo(checked)
