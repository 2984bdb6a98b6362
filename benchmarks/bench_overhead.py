"""Does a model built from a spec cost anything? Spec-built vs hand-written throughput on CPU.

For each network and mode, the spec-built model (``build_model``) and its hand-written twin
(``archcalc.backends.torch.plain``) are measured in the same process, after warm-up, in N
repetitions; within a repetition single steps of the two alternate (the order swapping each pair),
so load from other processes and thermal drift fall on both alike. Reported: the median images/s of
each over the repetitions, and the median of the per-repetition ratios spec ÷ plain (the robust
figure; 1.000 = no overhead). Target: within 3%.

Both models get torch's default initialisation (``init="default"``), so denormals or weight scale
cannot favour either. The steps are ``archcalc bench``'s own (``Runner.make_step``).

    .venv/bin/python benchmarks/bench_overhead.py                     # the default set
    .venv/bin/python benchmarks/bench_overhead.py lenet5 resnet18 --reps 15 --iters 10 --threads 1
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time

import torch

from archcalc.analysis import analyze
from archcalc.backends.torch import bench_timing
from archcalc.backends.torch.bench import BenchOptions, Runner, Subject
from archcalc.backends.torch.build import build_model
from archcalc.backends.torch.plain import VGG16, build_plain
from archcalc.cli.options import parse_input
from archcalc.spec import load

#: network → (batch, input override or None): small enough for a 2-core CPU in a few minutes
DEFAULTS: dict[str, tuple[int, str | None]] = {
    "lenet5": (64, None),
    "alexnet": (2, None),
    "resnet18": (2, None),
    "resnet50": (1, None),
    "vgg16": (1, "3x112x112"),
}


def measure_pair(name: str, batch: int, input_text: str | None, mode: str, reps: int, iters: int,
                 warmup: int, min_window: float, control: bool = False) -> tuple[float, float, float, int]:
    """(median spec img/s, median plain img/s, median per-repetition ratio, iterations per window).

    Each repetition runs at least ``min_window`` seconds per model (timed on the plain twin after
    warm-up), so that scheduler noise on a shared machine averages out.
    """
    graph = load(name, input_shape=parse_input(input_text))
    torch.manual_seed(0)
    classes = analyze(graph).results[graph.outputs[0]].shape[0]

    def twin() -> torch.nn.Module:
        model = (VGG16(classes, image_size=graph.input_shape[1]) if name == "vgg16"  # at the reduced input
                 else build_plain(name, classes))
        if model is None:
            raise SystemExit(f"no hand-written twin for {name}")
        return model

    plain = twin()
    # the A/A control puts a second hand-written instance in the spec-built model's place: its ratio
    # is the measurement's own noise floor
    spec_model = twin() if control else build_model(graph, init="default", seed=0)
    opts = BenchOptions(device="cpu", modes=(mode,), batches=(batch,), iters=iters, warmup=warmup)
    runner = Runner(graph, name, opts, [Subject("spec", spec_model), Subject("plain", plain)])
    steps = {s.label: runner.make_step(s.module, mode, batch) for s in runner.subjects}
    rates: dict[str, list[float]] = {"spec": [], "plain": []}
    ratios: list[float] = []
    cpu = torch.device("cpu")
    for label in ("spec", "plain"):
        bench_timing.measure(steps[label], cpu, warmup, 1, None)
    probe = bench_timing.measure(steps["plain"], cpu, 0, 2, None)
    iters = max(iters, math.ceil(min_window / max(min(probe.latencies), 1e-6)))
    for _ in range(reps):
        # single steps alternate, the order rotating each round (archcalc bench --vs plain does the same)
        spec_w, plain_w = bench_timing.measure_alternating([steps["spec"], steps["plain"]], cpu, 0, iters, None)
        rates["spec"].append(batch * spec_w.iters / spec_w.total_s)
        rates["plain"].append(batch * plain_w.iters / plain_w.total_s)
        ratios.append(plain_w.total_s / spec_w.total_s)
    return (statistics.median(rates["spec"]), statistics.median(rates["plain"]), statistics.median(ratios),
            iters)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("nets", nargs="*", default=list(DEFAULTS), help="zoo networks with a plain twin")
    parser.add_argument("--modes", default="infer,train")
    parser.add_argument("--reps", type=int, default=7, help="repetitions (median taken)")
    parser.add_argument("--iters", type=int, default=2, help="least iterations per model and repetition")
    parser.add_argument("--min-window", type=float, default=0.3,
                        help="least seconds per model and repetition")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--control", action="store_true",
                        help="A/A control: two hand-written instances, to show the noise floor")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads (1: steadiest on a shared machine; 0: torch's default)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; median of {args.reps} interleaved"
          f" repetitions, windows of at least {args.min_window} s"
          + ("; A/A CONTROL: 'spec' is a second hand-written instance" if args.control else ""))
    print(f"{'network':10} {'mode':5} {'batch':>5} {'input':>10} {'iters':>5} {'spec img/s':>11}"
          f" {'plain img/s':>11} {'ratio':>7}  within 3%")
    worst = 1.0
    for name in args.nets:
        batch, input_text = DEFAULTS.get(name, (8, None))
        for mode in args.modes.split(","):
            t0 = time.perf_counter()
            spec_rate, plain_rate, ratio, iters = measure_pair(name, batch, input_text, mode, args.reps,
                                                               args.iters, args.warmup, args.min_window,
                                                               args.control)
            worst = min(worst, ratio)
            print(f"{name:10} {mode:5} {batch:>5} {input_text or 'zoo':>10} {iters:>5} {spec_rate:>11.1f}"
                  f" {plain_rate:>11.1f} {ratio:>7.3f}  {'yes' if ratio >= 0.97 else 'NO'}"
                  f"   ({time.perf_counter() - t0:.0f} s)", flush=True)
    return 0 if worst >= 0.97 else 1


if __name__ == "__main__":
    sys.exit(main())
