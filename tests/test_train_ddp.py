"""archcalc train under torchrun: 2 CPU processes with gloo learn, and only rank 0 writes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("sklearn")

import torch.distributed as tdist

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(not tdist.is_available() or not tdist.is_gloo_available(), reason="no gloo backend")
def test_two_gloo_processes_learn_and_write_once(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
           "-m", "archcalc", "train", "lenet5", "--data", "synthetic", "--epochs", "3", "--lr", "0.03",
           "--device", "cpu", "--run-dir", str(run_dir)]
    proc = subprocess.run(cmd, check=False, env=env, capture_output=True, text=True, timeout=240, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in records] == [1, 2, 3]  # one line per epoch: rank 0 alone logs
    assert records[-1]["train_loss"] < records[0]["train_loss"]
    assert records[-1]["val_top1"] > 0.3  # chance is 0.1
    assert proc.stdout.count("epoch   3/3") == 1
    assert sorted(p.name for p in run_dir.iterdir()) == [
        "best.pt", "config.json", "curves.png", "last.pt", "metrics.jsonl"]
    config = json.loads((run_dir / "config.json").read_text())
    assert config["world_size"] == 2
