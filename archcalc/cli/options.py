"""Options shared by the commands that read a spec, and the one place that loads it."""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from archcalc.errors import BackendError, OptionError, SpecError
from archcalc.spec.loader import parse_value
from archcalc.spec.numbers import MAX_INT

if TYPE_CHECKING:  # the analysis and the expander are imported by the functions that load a spec (list's
    # cached rows need neither)
    from types import FrameType

    from archcalc.analysis import Analysis
    from archcalc.ir import Graph, Shape

F = TypeVar("F", bound=Callable[..., Any])

#: --batch of the symbolic commands: within 64 bits, like every number in a spec (a 4,300-digit batch made
#: figures JSON cannot print: ValueError from int-to-string conversion).
BATCH = click.IntRange(min=1, max=MAX_INT)
#: --seed of the torch commands: torch takes 64 bits, and seeds are offset (seed + 1, seed + a CRC) here and
#: there, so 2**62 leaves room (a 30-digit seed was an OverflowError traceback)
SEED = click.IntRange(min=0, max=2**62)


def spec_options(func: F) -> F:
    """--input, --set and --strict: how a spec is instantiated."""
    func = click.option("--strict", is_flag=True,
                        help="Treat a stride that doesn't fit (W−F+2P not divisible by S) as an error.")(func)
    func = click.option("--set", "assignments", multiple=True, metavar="NAME=VALUE",
                        help="Override a spec variable, e.g. --set num_classes=10 (repeatable).")(func)
    func = click.option("--input", "input_text", metavar="CxHxW",
                        help="Override the input shape, e.g. --input 3x32x32.")(func)
    return func


def parse_assignments(assignments: tuple[str, ...]) -> dict[str, Any]:
    """NAME=VALUE pairs; values are read as YAML 1.2 values, as in a spec (10 → int, 0.5 → float,
    true → bool, 010 → 10, on → 'on'), with a spec's bounds on numbers and tags."""
    out: dict[str, Any] = {}
    for item in assignments:
        if "=" not in item:
            raise OptionError(f"--set expects NAME=VALUE, got '{item}'")
        key, _, raw = item.partition("=")
        try:
            out[key.strip()] = parse_value(raw, f"--set {key.strip()}")
        except SpecError as exc:
            raise OptionError(f"--set {key.strip()}: {exc.message}", None, exc.hint) from None
    return out


def parse_input(text: str | None) -> Shape | None:
    if text is None:
        return None
    from archcalc.spec.expand import parse_shape

    try:
        return parse_shape(text, None, "--input")
    except SpecError as exc:
        raise OptionError(exc.message) from None


def load_graph(ref: str, input_text: str | None, assignments: tuple[str, ...]) -> Graph:
    """Load a spec with the command line's overrides applied."""
    from archcalc.spec import load

    return load(ref, parse_assignments(assignments), parse_input(input_text))


def load_analysis(ref: str, input_text: str | None, assignments: tuple[str, ...], strict: bool = False,
                  dtype: str = "fp32") -> Analysis:
    """Load a spec and analyse it, once: every command passes this one object on."""
    from archcalc.analysis import Analysis

    return Analysis(load_graph(ref, input_text, assignments), dtype=dtype, strict=strict)


def passive_openmp() -> None:
    """Ask OpenMP for sleeping rather than spinning waits, before torch is first imported.

    OpenMP threads that spin while waiting starve each other on a busy CPU (measured on a loaded 2-core
    machine: ``train lenet5`` 257 s → 37 s; ``bench lenet5`` 190 → thousands of images/s); sleeping waits
    cost little on an idle one. An explicit OMP_WAIT_POLICY in the environment wins.
    """
    import os
    import sys

    if "torch" not in sys.modules:
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def import_interruptibly(name: str) -> None:
    """Import ``name`` so that a Ctrl-C during the import is not lost.

    torch's import swallows a KeyboardInterrupt raised while it imports numpy and carries on, so a Ctrl-C
    about 0.2 s after launch was ignored and training ran to the end (issue 15, defect 12). The signal is
    noted here and raised again once the import returns.
    """
    import importlib
    import signal
    import threading

    if name in sys.modules or threading.current_thread() is not threading.main_thread():
        importlib.import_module(name)
        return
    caught: list[int] = []

    def handler(signum: int, frame: FrameType | None) -> None:
        caught.append(signum)
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, handler)
    try:
        importlib.import_module(name)
    finally:
        signal.signal(signal.SIGINT, previous)
    if caught:
        raise KeyboardInterrupt


def force_build_option(command: F) -> F:
    """``--force-build`` for the commands that build the network in torch (see backends.torch.fits)."""
    def remember(ctx: click.Context, param: click.Parameter, value: bool) -> bool:
        from archcalc.backends.torch import fits

        fits.force(value)  # set on every invocation, so an earlier one's flag never lingers
        return value

    option = click.option("--force-build", is_flag=True, expose_value=False, callback=remember,
                          help="Build the network even when archcalc predicts that its weights exceed this"
                               " machine's memory.")
    return option(command)


def require_torch(extras: str = "torch") -> None:
    """A one-line error instead of an ImportError traceback when the torch extra is missing."""
    try:
        import_interruptibly("torch")
    except ImportError:
        raise BackendError(f"torch is not installed (pip install 'archcalc[{extras}]')") from None


class FiniteFloatRange(click.FloatRange):
    """A float range that also refuses nan and ±inf: click's range checks compare, and every comparison with
    nan is false, so ``FloatRange(min=0)`` let ``--seconds nan`` through (a benchmark that never ends)."""

    name = "finite float range"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return number


#: Bounds on the counts a command loops over: beyond them a run takes longer than anyone means (a billion
#: timed iterations of LeNet-5 is days), so a typo of a few extra digits is refused instead of hanging.
MAX_ITERATIONS = 1_000_000
MAX_EPOCHS = 100_000
MAX_SECONDS = 86_400.0
