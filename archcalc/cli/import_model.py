"""``archcalc import``: a PyTorch model becomes an editable spec, written atomically."""

from __future__ import annotations

from pathlib import Path

import click

from archcalc.cli.options import parse_input, require_torch
from archcalc.errors import OptionError
from archcalc.fileio import write_atomic


@click.command("import")
@click.argument("source")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="The spec to write (default: NAME.yaml in the current directory).")
@click.option("--input", "input_text", metavar="CxHxW", default="3x224x224", show_default=True,
              help="The input the model is traced with (the spec's input).")
@click.option("--allow-opaque", is_flag=True,
              help="Write an op outside archcalc's vocabulary as an opaque layer (traced shape; its costs and"
                   " receptive field unavailable) instead of stopping.")
@click.option("--name", default=None, help="The spec's name (default: the factory's).")
def import_command(source: str, output: str | None, input_text: str, allow_opaque: bool, name: str | None) -> None:
    """Trace the PyTorch model SOURCE and write it as an archcalc spec.

    SOURCE is torchvision:NAME[,key=value…], FILE.py:factory[,key=value…] or package.module:factory
    (values are Python literals; torchvision models are built with weights=None). The model is traced with
    torch.fx (torch.export where that fails) and every op is mapped onto archcalc's layer types; layer names
    are the model's module paths, so its state_dict loads into the spec by key. Repeated modules become
    blocks, runs of identical ones a repeat. An op outside the vocabulary stops the import with one line
    naming it and its module path, unless --allow-opaque.

    \b
    Examples:
      archcalc import torchvision:resnet18 -o resnet18.yaml
      archcalc verify resnet18.yaml --against torchvision:resnet18
      archcalc import my_models.py:build_net,width=32 --input 1x28x28 -o net.yaml
    """
    if source.endswith(".onnx"):
        raise OptionError(f"{source}: importing ONNX files is not supported yet",
                          hint="import the PyTorch model it was exported from")
    shape = parse_input(input_text)
    assert shape is not None  # the option has a default
    if len(shape) != 3:
        raise OptionError(f"--input {input_text}: the model is traced with an image, C×H×W")
    require_torch()
    from archcalc.backends.torch.importer.api import import_model

    result = import_model(source, shape, allow_opaque=allow_opaque, name=name)
    path = Path(output) if output else Path(f"{result.name}.yaml")
    write_atomic(path, result.text)
    where = "on the meta device" if result.device == "meta" else "on the CPU"
    click.echo(f"wrote {path}: {result.layers} layers in {result.lines} lines"
               f" ({result.blocks} block{'s' if result.blocks != 1 else ''}), traced with {result.how} {where}")
    click.echo(f"parameters: {result.spec_params:,} (the model: {result.params:,})")
    if result.opaque:
        click.echo(f"opaque: {', '.join(result.opaque)} — totals that include them are partial")
    for note in result.notes:
        click.echo(f"note: {note}")
    if not result.opaque:
        click.echo(f"check it: archcalc verify {path} --against {source}")
