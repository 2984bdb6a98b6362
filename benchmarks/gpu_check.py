"""``make gpu-check``: archcalc's torch backend on a CUDA device, in one run (< 8 minutes), into one JSON file.

What it measures (each step a fresh ``python -m archcalc`` process, so a crash or an OOM in one step is
recorded and the next one still runs; the JSON is rewritten after every step, so a run stopped half-way
still leaves what it measured):

1. ``bench resnet50`` and ``bench vgg16`` in bf16 with channels-last at batch 1, 64 and ``auto``, inference
   and training: images/s, p50/p99 latency, achieved FLOP/s and MFU against the datasheet peak of the GPU
   (archcalc.backends.torch.peaks, looked up by the device's name); the goal is MFU ≥ 40 % in bf16
   training on ResNet-50 on an H100/H200. ``auto`` is the largest batch predicted to fit ``--budget``
   (24 GB): on an H200's whole 140 GB it is ~28,000 images for inference and ~3,300 for training, and the
   first run on one (2026-12-04) spent its 150 s per network without finishing those; under 24 GB,
   ResNet-50's are 4,961 and 568, both modes measured in 31 s there.
2. Peak device memory at batch 64 against archcalc's prediction (target within ±10 %), from the same rows.
3. ``torch.compile`` on and off: ResNet-50, bf16, channels-last, batch 64 (compile time reported apart).
4. ``train lenet5 --device cuda``: epochs and seconds of training to 98 % validation accuracy, and the
   whole process's wall time.

``--dry-run`` runs the same steps on the CPU with tiny inputs (3×32×32, fp32, batch 1, 2 and auto under a
small budget, ``--dry-budget``, one iteration, one training epoch, no torch.compile), so that the script
itself is tested on machines without a GPU (tests/test_gpu_check.py, with ``--networks lenet5`` to stay
fast). The script needs only what archcalc needs (click, rich, tabulate, PyYAML) and torch; it runs
archcalc from this checkout (``PYTHONPATH``), not from an installed copy.

    python benchmarks/gpu_check.py                       # on the GPU machine: gpu-check.json
    python benchmarks/gpu_check.py --dry-run --out /tmp/gpu-check.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
NETWORKS = ("resnet50", "vgg16")


class Check:
    """The results document, written after every step."""

    def __init__(self, out: Path, dry_run: bool) -> None:
        self.out = out
        self.started = time.perf_counter()
        self.doc: dict[str, Any] = {"kind": "gpu_check", "schema_version": 1, "dry_run": dry_run,
                                    "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                                    "host": platform.node(), "python": platform.python_version(),
                                    "steps": {}, "errors": [], "targets": {}}

    def save(self) -> None:
        self.doc["elapsed_s"] = round(time.perf_counter() - self.started, 1)
        self.out.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.out.with_name(f".{self.out.name}.tmp")
        tmp.write_text(json.dumps(self.doc, indent=2, default=str) + "\n", encoding="utf-8")
        os.replace(tmp, self.out)


def archcalc(args: list[str], timeout: float) -> tuple[int, str, float]:
    """Run ``python -m archcalc ARGS`` from this checkout: (exit code, the end of its output, seconds)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(
        os.pathsep), "OMP_WAIT_POLICY": "PASSIVE"}
    t0 = time.perf_counter()
    try:
        proc = subprocess.run([sys.executable, "-m", "archcalc", *args], capture_output=True, text=True,
                              timeout=timeout, env=env, cwd=ROOT, check=False)
        code, text = proc.returncode, (proc.stdout + proc.stderr)[-3000:]
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout or b""
        code, text = -1, f"timed out after {timeout:.0f} s\n" + (
            out.decode(errors="replace") if isinstance(out, bytes) else out)[-2000:]
    return code, text, time.perf_counter() - t0


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


#: the fields of a bench row the summary keeps
KEEP = ("spec", "mode", "batch", "precision", "channels_last", "compiled", "status", "device_name", "iters",
        "images_per_s", "ms_per_batch", "latency_median_ms", "latency_p99_ms", "compile_s", "achieved_flops",
        "peak_flops", "mfu", "mfu_note", "mem_measured_bytes", "mem_measured_kind", "mem_predicted_bytes",
        "mem_ratio", "auto_batch_note", "error")


def bench_step(check: Check, name: str, args: list[str], timeout: float) -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "rows.jsonl"
        code, text, seconds = archcalc(["bench", *args, "--out", str(out)], timeout)
        rows = [{k: r.get(k) for k in KEEP} for r in read_jsonl(out)]
    check.doc["steps"][name] = {"argv": ["archcalc", "bench", *args], "exit": code, "seconds": round(seconds, 1),
                                "rows": rows}
    if code != 0:
        check.doc["errors"].append({"step": name, "exit": code, "output": text})
    check.save()
    return rows


def train_step(check: Check, args: list[str], timeout: float) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp) / "run"
        code, text, seconds = archcalc(["train", "lenet5", *args, "--run-dir", str(run_dir)], timeout)
        history = read_jsonl(run_dir / "metrics.jsonl")
    step: dict[str, Any] = {"argv": ["archcalc", "train", "lenet5", *args], "exit": code,
                            "wall_s": round(seconds, 2), "epochs": len(history)}
    elapsed = 0.0
    for record in history:
        elapsed += float(record.get("time_s") or 0.0)
        acc = float(record.get("val_top1") or 0.0)
        if acc > 1.0:  # a percentage
            acc /= 100
        if acc >= 0.98 and "epochs_to_98" not in step:
            step["epochs_to_98"] = record["epoch"]
            step["train_s_to_98"] = round(elapsed, 2)
    step["best_val_top1"] = max((r.get("val_top1") or 0 for r in history), default=None)
    step["train_s"] = round(elapsed, 2)
    check.doc["steps"]["train_lenet5"] = step
    if code != 0:
        check.doc["errors"].append({"step": "train_lenet5", "exit": code, "output": text})
    check.save()


def environment(check: Check) -> str:
    """The device's name and torch's version (recorded); exits when a real run has no CUDA device."""
    import torch

    check.doc["torch"] = torch.__version__
    check.doc["cuda"] = torch.version.cuda
    if torch.cuda.is_available():
        check.doc["gpu"] = torch.cuda.get_device_name(0)
        check.doc["gpu_memory_bytes"] = torch.cuda.get_device_properties(0).total_memory
        return "cuda"
    check.doc["gpu"] = None
    return "cpu"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="gpu-check.json", help="the results file [gpu-check.json]")
    parser.add_argument("--dry-run", action="store_true", help="on the CPU, tiny inputs: checks the script")
    parser.add_argument("--seconds", type=float, default=2.0, help="measuring window per configuration")
    parser.add_argument("--dry-budget", default="200MB",
                        help="--dry-run: the memory budget of the auto batch [200MB; resnet50 at 32×32 needs ~100MB]")
    parser.add_argument("--networks", default=",".join(NETWORKS), help="comma-separated [resnet50,vgg16]")
    parser.add_argument("--budget", default="24GB",
                        help="the memory budget of the auto batch on the GPU [24GB: see step 1 above]")
    args = parser.parse_args()
    check = Check(Path(args.out), args.dry_run)
    device = environment(check)
    if device != "cuda" and not args.dry_run:
        check.doc["errors"].append({"step": "environment", "output": "no CUDA device: use --dry-run"})
        check.save()
        raise SystemExit("gpu_check: no CUDA device (use --dry-run to check the script on the CPU)")
    if args.dry_run:
        device = "cpu"
        common = ["--device", "cpu", "--precision", "fp32", "--channels-last", "--input", "3x32x32",
                  "--iters", "1", "--warmup", "0", "--threads", "1"]
        batches, budget, timeout = "1,2,auto", ["--budget", args.dry_budget], 300.0
        train = ["--device", "cpu", "--epochs", "1"]
    else:
        common = ["--device", "cuda", "--precision", "bf16", "--channels-last", "--seconds", str(args.seconds)]
        batches, budget, timeout = "1,64,auto", ["--budget", args.budget], 150.0
        train = ["--device", "cuda"]
    check.doc["device"] = device

    # 1 and 2: throughput, latency, FLOP/s, MFU; memory at batch 64 against the prediction
    rows: list[dict[str, Any]] = []
    for net in args.networks.split(","):
        rows += bench_step(check, f"bench_{net}", [net, *common, "--mode", "both", "--batch", batches, *budget],
                           timeout)
    big = 2 if args.dry_run else 64
    memory = [{"spec": r["spec"], "mode": r["mode"], "batch": r["batch"], "measured": r["mem_measured_bytes"],
               "predicted": r["mem_predicted_bytes"], "ratio": r["mem_ratio"], "kind": r["mem_measured_kind"]}
              for r in rows if r["batch"] == big and r["status"] == "ok"]
    check.doc["memory_at_batch"] = {"batch": big, "rows": memory}
    ratios = [m["ratio"] for m in memory if m["ratio"] is not None]
    check.doc["targets"]["memory_within_10pct"] = (all(abs(r - 1) <= 0.10 for r in ratios) if ratios else None)
    train_r50 = [r for r in rows if r["spec"] == "resnet50" and r["mode"] == "train" and r["mfu"] is not None]
    best = max((r["mfu"] for r in train_r50), default=None)
    check.doc["targets"]["resnet50_bf16_train_mfu"] = best
    check.doc["targets"]["resnet50_bf16_train_mfu_ge_40pct"] = None if best is None else best >= 0.40
    check.save()

    # 3: torch.compile on and off (off is step 1's batch-64 row)
    if args.dry_run:
        check.doc["steps"]["compile"] = {"skipped": "dry run: torch.compile on the CPU needs minutes"}
    else:
        bench_step(check, "compile", ["resnet50", *common, "--mode", "both", "--batch", "64", "--compile"], 240.0)

    # 4: training to 98 %
    train_step(check, train, 300.0 if args.dry_run else 150.0)
    check.save()
    print(f"gpu_check: {check.out} ({check.doc['elapsed_s']} s, {len(check.doc['errors'])} error(s))")
    if check.doc["errors"]:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
