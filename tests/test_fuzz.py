"""The fuzz test (issue 15): a few hundred hostile and mutated specs through ``summary`` and ``rf``, and a
seeded sample of odd but valid ones through ``verify`` (torch must agree with the calculator).

Fails on any traceback, timeout, memory exhaustion, insane success (a negative, zero-size or non-finite
figure in ``--format json``) or unlocated error (an exit-2 line without ``file:line:col``). The cases
(``fuzz_cases.py``) are seeded, so a failure reproduces: its message names the case and the command.

The cases run in child processes (``fuzz_driver.py``), in process there, each under a deadline, the child
under an address-space cap; the set is split into shards that pytest-xdist runs in parallel. A new
defect gets a file in ``tests/hostile/``; a new layer type is drawn from the catalogue automatically.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from archcalc.errors import ArchcalcError
from archcalc.layers import JOINS
from tests.fuzz_cases import SEED, Case, cases, public_types

SHARDS = 4
PER_CASE_S = 6.0  # CPU seconds per command, in process: the slowest (rf text of resnet1202) needs about 2
#: CPU seconds for a shard's child, start-up included: the whole set took 19 s of CPU (4.8 s a shard) in
#: December 2026; past it the shard stops and fails, naming its slowest cases. With PER_CASE_S and the
#: watchdog this bounds a shard at about a minute, and the test at 4 such on one core, 2 on two.
SHARD_CPU_S = 15.0
STALL_S = 60.0  # wall seconds without progress: the child hangs where the deadline cannot reach (C code, I/O)
MEMORY = 1536 << 20  # the child's address-space cap
ROOT = Path(__file__).resolve().parent.parent

#: Failures owned elsewhere, each with where it is being fixed: (predicate on the case and problem, reason).
KNOWN: list[tuple[Any, str]] = []


@cache
def all_cases() -> tuple[Case, ...]:
    return tuple(cases())


def _materialise(case: Case, folder: Path) -> str:
    path = folder / f"{case.id}.yaml"
    if case.special == "fifo":
        os.mkfifo(path)
    elif case.special == "dev_zero":
        path.symlink_to("/dev/zero")
    elif case.special == "directory":
        path.mkdir()
    else:
        path.write_bytes(case.text)
    return str(path)


def _drive(batch: list[dict[str, Any]], workdir: Path, attempt: int, limits: tuple[float, int, float]
           ) -> tuple[list[dict[str, Any]], str | None]:
    """Run ``batch`` in one child under ``limits`` (CPU s a command, address space, CPU s in all); return its
    records and, if it died or stalled, why."""
    per_case, memory, budget = limits
    manifest, results = workdir / f"manifest{attempt}.json", workdir / f"results{attempt}.jsonl"
    manifest.write_text(json.dumps(batch))
    results.touch()
    proc = subprocess.Popen([sys.executable, "-m", "tests.fuzz_driver", str(manifest), str(results),
                             str(per_case), str(memory), str(budget)], cwd=workdir,
                            env={**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"},
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    size, last_change = 0, time.monotonic()
    died: str | None = None
    while proc.poll() is None:
        time.sleep(0.2)
        now_size = results.stat().st_size
        if now_size != size:
            size, last_change = now_size, time.monotonic()
        elif time.monotonic() - last_change > STALL_S:
            proc.kill()
            proc.wait()
            died = f"no progress for {STALL_S:.0f} s (a hang, killed)"
    stderr = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if died is None and proc.returncode != 0:
        died = f"child died (exit {proc.returncode}, memory cap {memory >> 20} MiB?): {stderr[-300:]}"
    records = [json.loads(line) for line in results.read_text().splitlines() if line.strip()]
    return records, died


def _run_shard(shard: list[Case], workdir: Path, limits: tuple[float, int, float] = (PER_CASE_S, MEMORY, SHARD_CPU_S),
               commands: list[tuple[list[str], bool]] | None = None
               ) -> tuple[list[dict[str, Any]], list[tuple[Case, str, str]]]:
    by_id = {c.id: c for c in shard}
    manifest = [{"id": c.id, "path": _materialise(c, workdir), "variant": c.variant,
                 **({"commands": commands} if commands else {})} for c in shard]
    records: list[dict[str, Any]] = []
    failures: list[tuple[Case, str, str]] = []
    attempt = 0
    while manifest:
        batch, died = _drive(manifest, workdir, attempt, limits)
        attempt += 1
        records += [r for r in batch if "start" not in r and "over_budget" not in r]
        started = [r["start"] for r in batch if "start" in r]
        over = next((r for r in batch if "over_budget" in r), None)
        if over is not None:
            cpu: dict[str, float] = {}
            for r in records:
                cpu[r["id"]] = cpu.get(r["id"], 0.0) + r["seconds"]
            slowest = ", ".join(f"{k} {v:.1f} s" for k, v in sorted(cpu.items(), key=lambda kv: -kv[1])[:5])
            failures.append((by_id[over["over_budget"]], "(the shard)",
                             f"past the shard's CPU budget of {limits[2]} s ({over['cpu']} s) with {over['left']}"
                             f" cases left; slowest: {slowest}"))
        if died is None:
            break
        if not started:  # the driver itself is broken: restarting it per case would only repeat that
            pytest.fail(f"the fuzz driver failed before its first case: {died}")
        in_flight = started[-1]
        failures.append((by_id[in_flight], "(the child process)", died))
        done = {r["id"] for r in manifest[: [m["id"] for m in manifest].index(in_flight) + 1]}
        manifest = [m for m in manifest if m["id"] not in done]
    failures += [(by_id[r["id"]], r["command"], f"{r['problem']}\n{r['stderr']}") for r in records if r["problem"]]
    return records, failures


@pytest.mark.parametrize("shard", range(SHARDS))
def test_fuzz(shard: int, tmp_path: Path) -> None:
    chosen = [c for i, c in enumerate(all_cases()) if i % SHARDS == shard]
    start = time.perf_counter()
    records, failures = _run_shard(chosen, tmp_path)
    elapsed = time.perf_counter() - start
    unknown, known = [], []
    for case, command, problem in failures:
        owner = next((why for match, why in KNOWN if match(case, problem)), None)
        (known if owner else unknown).append((case, command, problem, owner))
    outcomes = {o: sum(r["outcome"] == o for r in records) for o in ("ok", "refused", "timeout")}
    cpu = sum(r["seconds"] for r in records)
    print(f"fuzz shard {shard}: {len(chosen)} cases, {len(records)} runs {outcomes} in {elapsed:.1f} s"
          f" ({cpu:.1f} s of CPU in the commands);"
          f" {len(known)} known failures owned elsewhere")
    for case, _, problem, owner in known:
        print(f"  known: {case.id}: {problem.splitlines()[0]} — {owner}")
    assert not (tmp_path / "PWNED").exists(), "an expression ran code"
    assert not unknown, "\n".join(
        f"{case.id} [{command}]: {problem.strip()}\n  (regenerate: tests.fuzz_cases.cases(), id {case.id})"
        for case, command, problem, _ in unknown[:20])


# ---- a sample through verify: the torch side must agree with, or refuse in one line, what summary accepts
VERIFY_SAMPLE = 10
#: CPU s a verify (torch is imported before the first), address space (torch maps more than summary), CPU s
#: for the sample: 10 small networks took about 2 s of CPU (and 2 s to import torch) in December 2026
VERIFY_LIMITS = (15.0, 4 << 30, 60.0)
VERIFY_COMMANDS: list[tuple[list[str], bool]] = [(["verify", "--no-fvcore", "--format", "text"], False)]


def verify_sample(size: int = VERIFY_SAMPLE) -> list[Case]:
    """A seeded sample of odd but valid networks: catalogue draws (not the hostile ones, nor the text
    mutants) that the symbolic side accepts, every one a different featured layer type."""
    from archcalc.analysis import analyze
    from archcalc.spec import load_text

    pool = [c for c in all_cases() if c.id.startswith("layer_") and c.id.endswith(("_1", "_2"))]
    random.Random(SEED).shuffle(pool)
    chosen: list[Case] = []
    featured: set[str] = set()
    for case in pool:
        kind = case.id.rsplit("_", 1)[0]
        if kind in featured:
            continue
        try:
            analysis = analyze(load_text(case.text.decode(), f"{case.id}.yaml"))
        except ArchcalcError:
            continue
        kinds = {r.node.op for r in analysis.results.values()}
        if (analysis.totals.params > 2_000_000  # small networks: the sample's time is for odd wiring
                or len(analysis.graph.input_shape) != 3 or kind.removeprefix("layer_") not in kinds):
            continue  # an image network that still holds its featured layer (not repeated 0 times, say)
        chosen.append(case)
        featured.add(kind)
        if len(chosen) == size:
            break
    return chosen


def test_fuzz_verify(tmp_path: Path) -> None:
    """``verify`` on the sample: no traceback, no timeout, and no disagreement (exit 1) between the
    calculator and torch; an exit 2 must be one located line."""
    pytest.importorskip("torch")
    sample = verify_sample()
    assert len(sample) == VERIFY_SAMPLE
    start = time.perf_counter()
    records, failures = _run_shard(sample, tmp_path, VERIFY_LIMITS, VERIFY_COMMANDS)
    outcomes = {o: sum(r["outcome"] == o for r in records) for o in ("ok", "refused", "timeout")}
    print(f"fuzz verify: {len(sample)} networks {outcomes} in {time.perf_counter() - start:.1f} s"
          f" ({sum(r['seconds'] for r in records):.1f} s of CPU in the commands)")
    assert not failures, "\n".join(f"{case.id} [{command}]: {problem.strip()}" for case, command, problem in failures)
    assert outcomes["ok"] >= VERIFY_SAMPLE // 2, outcomes  # the sample is of networks verify can build


def test_every_layer_type_is_fuzzed() -> None:
    """Each type in the catalogue gets its own cases, attributes drawn from its attribute table."""
    featured = {c.id.rsplit("_", 1)[0].removeprefix("layer_") for c in all_cases() if c.id.startswith("layer_")}
    assert featured == set(public_types())


def test_every_join_and_wiring_form_is_fuzzed() -> None:
    """The structure around the layers: each join, a split join, wiring by name, variants run by name."""
    texts = [c.text for c in all_cases()]
    for form in (*(f"{join}:".encode() for join in JOINS), b"split:", b"from:", b"variants:"):
        assert sum(form in t for t in texts) >= 10, form
    assert sum(bool(c.variant) for c in all_cases()) >= 10


def test_fuzz_set_is_a_few_hundred_seeded_cases() -> None:
    ids = [c.id for c in all_cases()]
    assert len(ids) == len(set(ids)) and 300 <= len(ids) <= 600
    assert [c.text for c in cases()[:60]] == [c.text for c in all_cases()[:60]]  # the same every run
    assert sum(c.id.startswith("seed_") for c in all_cases()) >= 40
