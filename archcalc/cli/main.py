"""The ``archcalc`` command group: commands load lazily, errors become one line and an exit code.

Each command lives in its own module and is imported only when invoked, so ``archcalc summary``
never pays for (or needs) torch.
"""

from __future__ import annotations

import gc
import importlib
import sys
from typing import Any

import click

from archcalc import __version__
from archcalc.errors import ArchcalcError, ExitCode
from archcalc.gc_pause import gc_paused, process_ends_with_command

#: command name → "module:function"
COMMANDS: dict[str, str] = {
    "summary": "archcalc.cli.summary:summary_command",
    "rf": "archcalc.cli.rf:rf_command",
    "list": "archcalc.cli.zoo_list:list_command",
    "compare": "archcalc.cli.compare:compare_command",
    "schema": "archcalc.cli.schema:schema_command",
    "verify": "archcalc.cli.verify:verify_command",
    "export": "archcalc.cli.export:export_command",
    "bench": "archcalc.cli.bench:bench_command",
    "train": "archcalc.cli.train:train_command",
    "plot": "archcalc.cli.plot:plot_command",
    "diagram": "archcalc.cli.diagram:diagram_command",
    "report": "archcalc.cli.report:report_command",
    "import": "archcalc.cli.import_model:import_command",
}

HELP = {
    "summary": "Per-layer shapes, params, MACs, memory and receptive fields, then totals.",
    "rf": "Receptive field of every layer, of one layer, or of a quick stack (--stack 3x3,3x3).",
    "list": "The zoo: one line per spec (params, MACs, input).",
    "compare": "Totals of several specs side by side.",
    "schema": "Print the JSON Schema of the spec language (for editors).",
    "verify": "Build the spec in torch and check every symbolic figure against measurement.",
    "export": "Export the built model (ONNX or TorchScript).",
    "bench": "Throughput, latency and memory, held against the symbolic prediction.",
    "train": "Train a spec on digits, MNIST, CIFAR-10 or an image folder.",
    "plot": "Charts of params, MACs, memory and receptive field (PNG/SVG).",
    "diagram": "Block diagram of the network (SVG/PNG).",
    "report": "One self-contained HTML page: foldable table, diagram, receptive fields, charts, figures.",
    "import": "Trace a PyTorch model (torchvision:NAME, FILE.py:factory) and write it as a spec.",
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [name for name in COMMANDS if _available(name)]

    def resolve_command(self, ctx: click.Context, args: list[str]) -> tuple[str | None, click.Command | None,
                                                                           list[str]]:
        """click's lookup, with a did-you-mean for a mistyped command (archcalc summry → summary)."""
        name = args[0] if args else ""
        if name and not name.startswith("-") and name not in COMMANDS and not ctx.resilient_parsing:
            from archcalc.errors import did_you_mean

            hint = did_you_mean(name, COMMANDS)
            ctx.fail(f"no such command '{name}'" + (f" ({hint})" if hint else "")
                     + "; 'archcalc --help' lists them")
        return super().resolve_command(ctx, args)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        try:
            with gc_paused():  # a command's modules are long-lived objects: collecting them frees nothing
                module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                return None
            raise
        command = getattr(module, attr)
        assert isinstance(command, click.Command)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, HELP.get(name, "")) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


def _available(name: str) -> bool:
    import importlib.util  # only listing the commands needs it

    module_name = COMMANDS[name].split(":")[0]
    return importlib.util.find_spec(module_name) is not None


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]}, epilog="""\b
Examples:
  archcalc summary vgg16
  archcalc rf vgg16 --layer conv5_3 --at 3,4
  archcalc list resnet

\b
Shell completion (commands, options, zoo names and spec files):
  eval "$(_ARCHCALC_COMPLETE=bash_source archcalc)"    # in ~/.bashrc; zsh_source, fish_source likewise""")
@click.version_option(__version__, prog_name="archcalc")
def cli() -> None:
    """archcalc: declare a CNN once as a YAML spec; get every number about it.

    Specs are zoo names (see 'archcalc list') or YAML files.
    """


def run() -> Any:
    """The ``archcalc`` program (its console script and ``python -m archcalc``): :func:`main`, then an exit
    that skips the collector's last passes.

    The interpreter's exit collects garbage over every object the process still holds (its modules, the
    spec, the analysis): about 20M instructions for any command, 7% of a cold ``archcalc summary vgg16``
    (valgrind), to find nothing a symbolic command left. Frozen objects are skipped, and the operating
    system takes the memory back. Python never promised finalizers for what is alive at exit, so nothing
    is lost; a process that loaded torch still takes the usual exit, as its objects may own devices,
    files and worker processes. In-process callers (tests, notebooks) use :func:`main`, which leaves the
    collector alone.
    """
    process_ends_with_command()  # a command's pause of the collector lasts to the exit (archcalc.gc_pause)
    try:
        return main()
    finally:
        if "torch" not in sys.modules:
            gc.freeze()


def main(argv: list[str] | None = None) -> Any:
    """Entry point: run the CLI, turning every archcalc error into one line on stderr."""
    try:
        return cli.main(args=argv, prog_name="archcalc", standalone_mode=False)
    except ArchcalcError as err:
        click.echo(err.format(), err=True)
        sys.exit(int(err.exit_code))
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except (click.Abort, KeyboardInterrupt):
        click.echo("archcalc: interrupted", err=True)
        sys.exit(int(ExitCode.INTERRUPTED))
    except BrokenPipeError:
        sys.stderr.close()
        sys.exit(0)
