"""Speed of the symbolic commands, with baselines measured in the same run.

* cold start: ``archcalc summary vgg16`` as a fresh process, against ``python -c pass`` (target < 0.3 s);
* ``archcalc list`` (the whole zoo) as a fresh process (target < 1 s);
* ``archcalc summary resnet1202`` as a fresh process (target < 0.5 s);
* linear scaling: generated chains of 1k…20k layers analysed in-process; time per layer must stay flat
  (target: 10,000 layers well under 1 s).

Run: ``make bench-symbolic`` or ``python benchmarks/bench_symbolic.py [--repeat N] [--baseline REV]``.

``--baseline REV`` also times the cold commands of another revision of archcalc (checked out once into a
temporary git worktree, run with this venv's dependencies), interleaved with this one so both see the same
load, and prints this ÷ baseline beside an A/A control (this revision against itself): a change is slower
only where its ratio is outside the control's spread.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from archcalc.analysis import analyze
from archcalc.report import build_report
from archcalc.spec import load_text, zoo

ARCHCALC = [sys.executable, "-m", "archcalc"]


def wall(cmd: list[str], repeat: int) -> float:
    """Median wall time of a fresh process (output discarded)."""
    times = []
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "0"}
    for _ in range(repeat):
        t0 = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True, env=env,
                       cwd="/tmp")
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


ROOT = Path(__file__).resolve().parent.parent


def checkout(rev: str) -> Path:
    """A detached worktree of ``rev`` (reused across runs; the repository's history is the source)."""
    sha = subprocess.run(["git", "rev-parse", "--short", rev], cwd=ROOT, capture_output=True, text=True,
                         check=True).stdout.strip()
    path = Path(tempfile.gettempdir()) / f"archcalc-baseline-{sha}"
    if not (path / "archcalc").is_dir():
        subprocess.run(["git", "worktree", "add", "--detach", "--force", str(path), sha], cwd=ROOT, check=True,
                       capture_output=True)
    return path


def interleaved(cmds: dict[str, tuple[list[str], dict[str, str]]], repeat: int) -> dict[str, list[float]]:
    """Wall times of fresh processes, the commands taking turns so that they share the machine's noise."""
    times: dict[str, list[float]] = {k: [] for k in cmds}
    for _ in range(repeat):
        for key, (cmd, env) in cmds.items():
            t0 = time.perf_counter()
            subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True, env=env,
                           cwd="/tmp")
            times[key].append(time.perf_counter() - t0)
    return times


def against_baseline(rev: str, repeat: int) -> None:
    """Cold commands of this revision ÷ the baseline revision's, beside an A/A control."""
    base = checkout(rev)
    here_env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "0", "PYTHONPATH": str(ROOT)}
    base_env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "0", "PYTHONPATH": str(base)}
    print(f"\nthis revision against {rev} ({base}), interleaved, median of {repeat}:")
    print(f"{'cold process':32s} {'this s':>8s} {'base s':>8s} {'this÷base':>10s} {'A/A':>6s}")
    for label, args in (("archcalc summary vgg16", ["summary", "vgg16", "--format", "plain"]),
                        ("archcalc summary resnet50", ["summary", "resnet50", "--format", "plain"])):
        cmd = [*ARCHCALC, *args]
        t = interleaved({"this": (cmd, here_env), "again": (cmd, here_env), "base": (cmd, base_env)}, repeat)
        this, again, old = (statistics.median(t[k]) for k in ("this", "again", "base"))
        print(f"{label:32s} {this:8.3f} {old:8.3f} {this / old:10.3f} {this / again:6.3f}")


def chain_spec(layers: int) -> str:
    """A generated spec of ``layers`` layers: conv/bn/relu triples with residual adds every block."""
    blocks = max(layers // 7, 1)
    return f"""
input: 16x32x32
blocks:
  unit:
    body:
      - add: [[{{conv: {{out: 16, k: 3, pad: 1}}}}, bn, relu, {{conv: {{out: 16, k: 3, pad: 1}}}}, bn], []]
      - relu
layers:
  - repeat: {blocks}
    body: [unit]
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--baseline", metavar="REV", help="also time another git revision, interleaved")
    args = parser.parse_args()

    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cpus; median of {args.repeat} runs\n")
    base = wall([sys.executable, "-c", "pass"], args.repeat)
    rows = [("python -c pass (baseline)", base, None)]
    for label, cmd, target in (
        ("archcalc summary vgg16", [*ARCHCALC, "summary", "vgg16", "--format", "plain"], 0.3),
        ("archcalc list (whole zoo)", [*ARCHCALC, "list"], 1.0),
        ("archcalc summary resnet1202", [*ARCHCALC, "summary", "resnet1202", "--format", "plain"], 0.5),
    ):
        if "resnet1202" in cmd and "resnet1202" not in zoo.names():
            continue
        rows.append((label, wall(cmd, args.repeat), target))
    print(f"{'cold process':40s} {'wall s':>8s} {'× python':>9s} {'target':>8s}")
    for label, t, target in rows:
        verdict = "" if target is None else ("ok" if t < target else "MISSED")
        print(f"{label:40s} {t:8.3f} {t / base:9.1f} {'' if target is None else f'< {target}':>8s} {verdict}")

    print(f"\n{'generated spec (GC paused, as the CLI runs)':44s} {'layers':>6s} {'analyse s':>10s} {'µs/layer':>9s}")
    for n in (1_000, 5_000, 10_000, 20_000, 40_000):
        text = chain_spec(n)
        gc.collect()
        gc.disable()
        t0 = time.perf_counter()
        a = analyze(load_text(text))
        build_report(a)
        t = time.perf_counter() - t0
        gc.enable()
        count = len(a.results)
        print(f"{'residual chain':44s} {count:6d} {t:10.3f} {1e6 * t / count:9.1f}")
    print("\nLinear scaling holds when µs/layer stays flat; the 10,000-layer target is < 1 s.")
    if args.baseline:
        against_baseline(args.baseline, args.repeat)


if __name__ == "__main__":
    main()
