"""benchmarks/gpu_check.py (``make gpu-check``) in its CPU dry-run mode: the script runs end to end and
writes the one JSON document the GPU run would, with every step's rows in it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")

ROOT = Path(__file__).resolve().parent.parent


def test_gpu_check_dry_run(tmp_path: Path) -> None:
    out = tmp_path / "gpu-check.json"
    argv = [sys.executable, str(ROOT / "benchmarks" / "gpu_check.py"), "--dry-run", "--networks", "lenet5",
            "--dry-budget", "4MB", "--out", str(out)]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=900, check=False)
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert proc.returncode == 0 and doc["errors"] == [], (proc.stdout + proc.stderr, doc["errors"])
    assert doc["kind"] == "gpu_check" and doc["dry_run"] is True and doc["device"] == "cpu"
    rows = doc["steps"]["bench_lenet5"]["rows"]
    # batch 1 and 2 in both modes, and the auto batch (the largest predicted to fit 4 MB) in both
    assert {(r["mode"], r["batch"]) for r in rows} >= {("infer", 1), ("infer", 2), ("train", 1), ("train", 2)}
    assert len(rows) == 6 and all(r["status"] == "ok" and r["images_per_s"] > 0 for r in rows)
    assert all(r["latency_median_ms"] > 0 and r["latency_p99_ms"] >= r["latency_median_ms"] for r in rows)
    assert doc["memory_at_batch"]["batch"] == 2 and len(doc["memory_at_batch"]["rows"]) == 2
    assert doc["steps"]["compile"]["skipped"]
    train = doc["steps"]["train_lenet5"]
    assert train["exit"] == 0 and train["epochs"] == 1 and 0 <= train["best_val_top1"] <= 1
