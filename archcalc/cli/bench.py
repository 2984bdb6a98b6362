"""``archcalc bench``: throughput, latency and memory of a spec in torch, against the symbolic prediction.

torch is imported inside the command only, so loading this module (``archcalc --help``) stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click
from rich import box
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from archcalc.cli.completion import spec_argument_completion
from archcalc.cli.options import (
    MAX_ITERATIONS,
    MAX_SECONDS,
    SEED,
    FiniteFloatRange,
    force_build_option,
    load_analysis,
    passive_openmp,
    require_torch,
    spec_options,
)
from archcalc.cli.output import plain_console, stdout_console
from archcalc.cli.paths import check_output
from archcalc.errors import BackendError, OptionError
from archcalc.report.fmt import human_bytes, parse_bytes, si
from archcalc.spec.numbers import MAX_INT
from archcalc.vocab import DEVICES, OPTIMIZERS, PRECISIONS

if TYPE_CHECKING:
    from archcalc.analysis import Analysis
    from archcalc.backends.torch.bench import BenchOptions, BenchResult, Config, Runner, Subject
    from archcalc.ir import Graph


#: --threads: OpenMP aborts the process when it cannot create the threads (100,000 did, in libgomp)
MAX_THREADS = 1024


def parse_batches(text: str) -> tuple[tuple[int, ...], bool]:
    """'1,32,256' → ((1, 32, 256), False); 'auto' → ((), True); '1,64,auto' → ((1, 64), True)."""
    parts = [part.strip().lower() for part in text.split(",") if part.strip()]
    auto = "auto" in parts
    try:
        batches = tuple(int(part) for part in parts if part != "auto")
    except ValueError:
        raise OptionError(f"--batch expects sizes like 1,32,256, 'auto', or both (1,64,auto), got '{text}'") from None
    if (not batches and not auto) or (batches and min(batches) < 1):
        raise OptionError(f"--batch sizes must be positive integers, got '{text}'")
    if batches and max(batches) > MAX_INT:
        raise OptionError(f"--batch sizes must be at most {MAX_INT} (64 bits), got '{text[:60]}'")
    return tuple(dict.fromkeys(batches)), auto


def _check_compile_backend(name: str) -> None:
    """A backend torch.compile knows, or one line (an unknown one was torch's InvalidBackend traceback)."""
    from torch._dynamo import list_backends

    known = list_backends(exclude_tags=())
    if name not in known:
        raise OptionError(f"--compile-backend {name!r} is not a torch.compile backend",
                          hint=f"choose from {', '.join(sorted(known))}")


# ---- rendering ---------------------------------------------------------------------------------

def _num(value: float | None, fmt: str = "{:.1f}") -> str:
    return "—" if value is None else fmt.format(value)


def _mem(r: BenchResult) -> tuple[str, str, str]:
    measured = "—" if r.mem_measured_bytes is None else human_bytes(r.mem_measured_bytes)
    predicted = "—" if r.mem_predicted_bytes is None else human_bytes(r.mem_predicted_bytes)
    return measured, predicted, _num(r.mem_ratio, "{:.3f}")


def _cells(r: BenchResult) -> dict[str, str]:
    measured, predicted, ratio = _mem(r)
    ok = r.status == "ok"
    lat = (f"{r.latency_median_ms:.2f}/{r.latency_p90_ms:.2f}/{r.latency_p99_ms:.2f}"
           if ok and r.latency_median_ms is not None and r.latency_p90_ms is not None
           and r.latency_p99_ms is not None else "—")
    return {
        "model": r.model, "mode": r.mode, "batch": str(r.batch),
        "img/s": _num(r.images_per_s) if ok else "OOM",
        "ms/batch": _num(r.ms_per_batch, "{:.2f}"),
        "p50/p90/p99 ms": lat,
        "compile s": _num(r.compile_s, "{:.1f}"),
        "mem measured": measured, "mem predicted": predicted, "ratio": ratio,
        "peak RSS": "—" if r.rss_peak_bytes is None else human_bytes(r.rss_peak_bytes),
        "FLOP/s": "—" if r.achieved_flops is None else si(r.achieved_flops),
        "MFU": "—" if r.mfu is None else f"{100 * r.mfu:.1f}%",
        "vs plain": "—" if r.vs_plain_ratio is None else f"{r.vs_plain_ratio:.3f}",
    }


#: columns shown only when some row has a value for them
_OPTIONAL = {
    "compile s": lambda r: r.compile_s is not None,
    "peak RSS": lambda r: r.rss_peak_bytes is not None,
    "MFU": lambda r: r.mfu is not None,
    "vs plain": lambda r: r.vs_plain_ratio is not None,
    "mem measured": lambda r: r.mem_measured_bytes is not None,
    "ratio": lambda r: r.mem_ratio is not None,
}


def results_table(results: list[BenchResult], title: str | None = None, compact: bool = False) -> Table:
    """One row per configuration; memory measured beside predicted, FLOP/s, MFU, ratio to plain.

    Columns nobody has a value for (compile time without --compile, MFU off the peak table) are left
    out, the notes under the table say why; ``compact`` keeps the throughput columns only (live view).
    """
    rows = [_cells(r) for r in results]
    names = list(_cells(results[0])) if results else ["model", "mode", "batch", "img/s"]
    names = [n for n in names if n not in _OPTIONAL or any(_OPTIONAL[n](r) for r in results)]
    if compact:
        names = [n for n in names if n in ("model", "mode", "batch", "img/s", "ms/batch", "p50/p90/p99 ms",
                                           "vs plain")]
    table = Table(title=title, header_style="bold", box=box.SIMPLE_HEAD, pad_edge=False)
    for name in names:
        widest = max([len(row[name]) for row in rows], default=1)
        table.add_column(name, justify="left" if name in ("model", "mode") else "right", no_wrap=True,
                         min_width=widest if name in ("model", "mode", "batch", "img/s") else None)
    for row in rows:
        table.add_row(*(row[n] for n in names))
    return table


def notes(results: list[BenchResult]) -> list[str]:
    """The conventions behind the figures, said once under the table."""
    lines: list[str] = []
    seen: set[str] = set()

    def add(text: str) -> None:
        if text and text not in seen:
            seen.add(text)
            lines.append(text)

    for r in results:
        add(f"FLOPs ({r.mode}): {r.flops_basis}, {si(r.flops_per_image)} per image"
            f" ({si(r.macs_per_image)} MACs)")
    for r in results:
        add(f"MFU: {r.mfu_note}")
        if r.mem_measured_kind == "saved tensors":
            add("memory (cpu train): autograd's saved-tensor bytes (distinct storages, parameters excluded)"
                " vs archcalc's saved_bytes(batch); peak RSS is the whole process's")
        elif r.mem_measured_kind:
            kind = "training" if r.mode == "train" else "inference"
            add(f"memory: {r.mem_measured_kind} vs archcalc's {kind} estimate")
        if r.mode == "infer" and r.device == "cpu":
            add("memory (cpu infer): nothing is saved for backward; predicted = weights + peak live"
                " activations, beside the process's peak RSS")
        if r.auto_batch_note:
            add(f"--batch auto ({r.model}, {r.mode}): {r.auto_batch_note}")
        for n in r.notes:
            add(f"{r.model} {r.mode} batch {r.batch}: {n}")
        if r.error:
            add(r.error)
    if any(r.vs_plain_ratio is not None for r in results):
        add("vs plain: spec-built images/s ÷ hand-written images/s (1.000 = no overhead)")
    return lines


def progress_line(r: BenchResult) -> str:
    if r.status != "ok":
        return f"{r.model:5} {r.mode:5} batch {r.batch:>5}: OOM"
    extra = f", ×{r.vs_plain_ratio:.3f} vs plain" if r.vs_plain_ratio is not None else ""
    return (f"{r.model:5} {r.mode:5} batch {r.batch:>5}: {r.images_per_s:.1f} img/s,"
            f" {r.ms_per_batch:.2f} ms/batch (p50 {r.latency_median_ms:.2f}){extra}")


# ---- the run -----------------------------------------------------------------------------------

def _structure(analysis: Analysis) -> list[tuple[Any, ...]]:
    """Each node's name, wiring and resolved record: equal lists are the same network."""
    return [(name, r.node.inputs, r.rec) for name, r in analysis.results.items()]


def same_architecture(network: Analysis | Graph, name: str, num_classes: int) -> bool:
    """Whether the analysed network is zoo spec ``name`` at its defaults (bar the number of classes)."""
    from archcalc.analysis import Analysis
    from archcalc.errors import ArchcalcError
    from archcalc.spec import load, zoo

    analysis = network if isinstance(network, Analysis) else Analysis(network)
    if name not in zoo.names():
        return False
    try:
        default = load(name)
        if "num_classes" in default.meta.variables:
            default = load(name, {"num_classes": num_classes})
        zoo_analysis = Analysis(default)
    except ArchcalcError:
        return False
    return (default.input_shape == analysis.graph.input_shape
            and _structure(zoo_analysis) == _structure(analysis))


def _subjects(analysis: Analysis, vs: str | None, seed: int, weights: str | None = None) -> list[Subject]:
    """The spec-built model (with ``weights`` loaded), and with ``--vs plain`` its hand-written twin."""
    import torch

    from archcalc.backends.torch.bench import Subject
    from archcalc.backends.torch.plain import PLAIN, build_plain
    from archcalc.backends.torch.weights import build_with_weights

    graph = analysis.graph
    subjects = [Subject("spec", build_with_weights(analysis, weights, seed=seed)[0])]
    if vs == "plain":
        name = graph.meta.name
        out = analysis.output.shape
        torch.manual_seed(seed)
        plain = build_plain(name, out[0]) if len(out) == 1 else None
        if plain is None:
            raise OptionError(f"--vs plain: no hand-written equivalent of '{name}'",
                              hint=f"available: {', '.join(PLAIN)}")
        if not same_architecture(analysis, name, out[0]):
            raise OptionError(f"--vs plain: this instance of '{name}' differs from the zoo's, which the"
                              " hand-written twin follows", hint="drop the --set/--input overrides that"
                              " change the architecture (num_classes may change)")
        want = analysis.totals.params
        have = sum(p.numel() for p in plain.parameters())
        if have != want:  # the twin itself disagrees with its spec: a bug, said plainly
            raise BackendError(f"--vs plain: the hand-written {name} has {have:,} parameters, the spec"
                               f" {want:,}")
        subjects.append(Subject("plain", plain))
    return subjects


def _run(runner: Runner, console: Console) -> list[BenchResult]:
    """Run every configuration, live on a terminal, one line per configuration otherwise."""
    from archcalc.backends.torch.bench import run_all

    results: list[BenchResult] = []
    status = {"text": ""}
    total = runner.opts.iters

    def on_start(cfg: Config, batch: int) -> None:
        who = " and ".join(s.label for s in runner.subjects)
        status["text"] = f"running {who} {cfg.mode} batch {batch}"
        status["line"] = status["text"] + " — warming up"

    def on_iter(n: int) -> None:
        suffix = f" — iteration {n}" + (f"/{total}" if total else "")
        status["line"] = status["text"] + suffix

    if not console.is_terminal:
        for r in run_all(runner, on_start=on_start):
            results.append(r)
            click.echo(progress_line(r), err=True)
        return results

    class View:
        def __rich__(self) -> Group:
            return Group(results_table(results, title=f"archcalc bench {runner.spec_name}", compact=True),
                         Text(status.get("line") or status["text"], style="dim"))

    with Live(View(), console=console, refresh_per_second=4, transient=True):
        for r in run_all(runner, on_start=on_start, on_iter=on_iter):
            results.append(r)
    return results


def _rows(results: list[BenchResult], env: dict[str, Any], opts: BenchOptions,
          spec: str) -> list[dict[str, Any]]:
    return [{**env, "spec_ref": spec, "iters_option": opts.iters, "seconds_option": opts.seconds,
             "warmup": opts.warmup, "optimizer": opts.optimizer, **r.as_dict()} for r in results]


@click.command("bench", epilog="""\b
Examples:
  archcalc bench resnet18                           # CPU, inference, batch 32
  archcalc bench resnet50 --device cuda --precision bf16 --channels-last --batch 1,64,auto
  archcalc bench alexnet --mode both --vs plain --out runs/bench.jsonl""")
@click.argument("spec", shell_complete=spec_argument_completion)
@spec_options
@force_build_option
@click.option("--device", type=click.Choice(DEVICES), default="cpu", show_default=True,
              help="Where to run.")
@click.option("--mode", type=click.Choice(["infer", "train", "both"]), default="infer", show_default=True,
              help="infer: forward only; train: forward, backward and optimizer step (data on device).")
@click.option("--precision", type=click.Choice(PRECISIONS), default="fp32", show_default=True,
              help="fp32 (TF32 off), tf32 (CUDA tensor cores), bf16/fp16 (autocast).")
@click.option("--channels-last", is_flag=True, help="NHWC memory format for the model and input.")
@click.option("--compile", "compile_", is_flag=True,
              help="torch.compile the model; the compile time is reported apart, never in throughput.")
@click.option("--compile-backend", default="inductor", show_default=True, help="torch.compile backend.")
@click.option("--batch", "batch_text", default="32", show_default=True, metavar="N[,N...][,auto]",
              help="Batch sizes to sweep (1,32,256); 'auto' adds the largest that fits (1,64,auto).")
@click.option("--iters", type=click.IntRange(1, MAX_ITERATIONS), default=None,
              help="Measured iterations per configuration [default: 20 unless --seconds].")
@click.option("--seconds", type=FiniteFloatRange(0, MAX_SECONDS, min_open=True), default=None,
              help="Measure for this long per configuration instead of a fixed count.")
@click.option("--warmup", type=click.IntRange(0, MAX_ITERATIONS), default=3, show_default=True,
              help="Untimed iterations before each window.")
@click.option("--optimizer", type=click.Choice(OPTIMIZERS), default="momentum", show_default=True,
              help="Optimizer of --mode train (and of its memory prediction).")
@click.option("--budget", metavar="SIZE",
              help="Memory budget for --batch auto and OOM advice (default: free device memory).")
@click.option("--vs", type=click.Choice(["plain"]), default=None,
              help="Also bench the hand-written torch equivalent in the same run and print the ratio.")
@click.option("--train-flops", type=click.Choice(["3x", "exact"]), default="3x", show_default=True,
              help="Train FLOPs: 3× forward, or archcalc's exact backward MAC count.")
@click.option("--threads", type=click.IntRange(min=1, max=MAX_THREADS), default=None,
              help="CPU threads for torch [torch's default: one per core]; shown in the table and every --out row.")
@click.option("--seed", type=SEED, default=0, show_default=True, help="Seed of the weights and inputs.")
@click.option("--out", "out_path", metavar="FILE", help="Append results to FILE (.jsonl or .csv).")
@click.option("--weights", type=click.Path(dir_okay=False), default=None, metavar="FILE",
              help="Load weights into the spec-built model (archcalc checkpoint or state dict, .pt/.safetensors).")
def bench_command(*, spec: str, input_text: str | None, assignments: tuple[str, ...], strict: bool,
                  device: str, mode: str, precision: str, channels_last: bool, compile_: bool,
                  compile_backend: str, batch_text: str, iters: int | None, seconds: float | None,
                  warmup: int, optimizer: str, budget: str | None, vs: str | None, train_flops: str,
                  threads: int | None, seed: int, out_path: str | None, weights: str | None) -> None:
    """Measure SPEC (a zoo name or a YAML file) in torch: images/s, latency, memory, FLOP/s and MFU,
    each beside archcalc's prediction."""
    batches, auto = parse_batches(batch_text)
    if iters is not None and seconds is not None:
        raise OptionError("give --iters or --seconds, not both")
    if out_path is not None:
        from archcalc.backends.torch.bench_out import out_format

        check_output(out_path, "--out")  # fail before measuring, not after
        out_format(out_path)
    analysis = load_analysis(spec, input_text, assignments, strict)
    passive_openmp()
    require_torch()
    import torch

    from archcalc.backends.torch.bench import BenchOptions, BenchOutOfMemory, Runner
    from archcalc.backends.torch.bench_env import environment

    if compile_:
        _check_compile_backend(compile_backend)

    opts = BenchOptions(
        device=device, modes=("infer", "train") if mode == "both" else (mode,), precision=precision,
        channels_last=channels_last, compile=compile_, compile_backend=compile_backend, batches=batches,
        auto_batch=auto, warmup=warmup, iters=iters if iters is not None or seconds is not None else 20,
        seconds=seconds, optimizer=optimizer, budget=parse_bytes(budget) if budget else None,
        vs_plain=vs == "plain", train_flops=train_flops)
    threads = threads or torch.get_num_threads()
    torch.set_num_threads(threads)  # pinned: the table and every --out row say how many
    if device == "cpu":
        from archcalc.backends.torch.bench_env import load_warning

        busy = load_warning(threads)
        if busy:
            click.echo(busy, err=True)
    torch.manual_seed(seed)
    runner = Runner(analysis, analysis.graph.meta.name or spec, opts, [])  # checks device and options first
    runner.subjects = _subjects(analysis, vs, seed, weights)
    err_console = plain_console(stderr=True, soft_wrap=False)
    results = _run(runner, err_console)
    out = stdout_console()
    cpu_threads = f", {threads} CPU thread{'s' if threads != 1 else ''}"
    out.print(results_table(results, title=f"archcalc bench {runner.spec_name} — {runner.device_name},"
                            f" {precision}{', channels-last' if channels_last else ''}"
                            f"{', compiled' if compile_ else ''}{cpu_threads}"))
    for line in notes(results):
        out.print(line, highlight=False, markup=False)
    if out_path is not None:
        from archcalc.backends.torch.bench_out import append_results

        append_results(out_path, _rows(results, environment(runner.device), opts, spec))
    failed = [r for r in results if r.status == "oom"]
    if failed:
        raise BenchOutOfMemory(failed[0].error or "out of memory")

