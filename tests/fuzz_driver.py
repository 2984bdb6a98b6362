"""Runs fuzz cases in this process, one after another, and writes one JSON verdict per case and command.

``python -m tests.fuzz_driver MANIFEST RESULTS SECONDS BYTES BUDGET`` — started by ``test_fuzz.py``; it caps
its own address space at BYTES, so a case that exhausts memory fails alone (a MemoryError here, or the child
dies and the parent restarts it after that case) and cannot hurt the machine. Each case runs ``archcalc`` in
process (no interpreter start-up per case) under a deadline of SECONDS of CPU time, which a loaded machine does
not trip; a hang in C code or a blocked call, which the deadline cannot interrupt, is caught by the parent's
watchdog. Past BUDGET seconds of this process's CPU time no further case starts: the driver writes
``{"over_budget": id}`` and stops, so the set as a whole is bounded in time. Before each case the driver
appends ``{"start": id}`` to RESULTS, so the parent knows which one was running when the child died.
A case may name its own ``commands`` (``[[argv, json_out], …]``): the ``verify`` sample does.

The expansion limits are scaled down 10× here, so a hostile seed meets them in a fraction of a second
instead of several: the rules are the same, and ``test_hostile_spec.py`` checks the real limits.
"""

from __future__ import annotations

import contextlib
import io
import json
import resource
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from tests.fuzz_support import Deadline, deadline, judge

#: Commands every case runs (JSON, judged for sanity), then by turns the text and rich renderers (slower per
#: row; rich is where spec text could be taken for markup).
COMMANDS: list[tuple[list[str], bool]] = [(["summary", "--format", "json"], True), (["rf", "--format", "json"], True)]
BY_TURNS: list[list[tuple[list[str], bool]]] = [[(["summary", "--format", "text"], False), (["rf"], False)],
                                                [(["summary", "--format", "rich"], False)], []]


def run_one(argv: list[str]) -> tuple[int | None, str, str, float]:
    """``archcalc ARGV`` in this process: exit code (None: an exception escaped), stdout, stderr, CPU seconds."""
    from archcalc.cli.main import main

    out, err = io.StringIO(), io.StringIO()
    code: int | None = 0
    start = time.process_time()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(argv)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        except Deadline:
            raise
        except BaseException:  # a traceback: exactly what the fuzz test hunts
            code = None
            err.write(traceback.format_exc(limit=-3))
    return code, out.getvalue(), err.getvalue(), time.process_time() - start


def main() -> None:
    manifest, results = Path(sys.argv[1]), Path(sys.argv[2])
    per_case, memory, budget = float(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))  # before anything large is imported
    from archcalc.spec import expand

    for limit in ("MAX_WORK", "MAX_GROUPS", "MAX_LAYERS"):  # see the module docstring
        if hasattr(expand, limit):
            setattr(expand, limit, getattr(expand, limit) // 10)
    cases: list[dict[str, Any]] = json.loads(manifest.read_text())
    if any(case.get("commands") for case in cases):  # the verify sample: torch once, before the deadlines
        import torch

        torch.set_num_threads(1)
    with results.open("a") as sink:
        for index, case in enumerate(cases):
            if time.process_time() > budget:  # the whole set is bounded in time, not only each case
                sink.write(json.dumps({"over_budget": case["id"], "left": len(cases) - index,
                                       "cpu": round(time.process_time(), 1)}) + "\n")
                break
            sink.write(json.dumps({"start": case["id"]}) + "\n")
            sink.flush()
            commands = case.get("commands") or COMMANDS + BY_TURNS[index % len(BY_TURNS)]
            for argv, json_out in commands:
                ref = case["path"] + (f":{case['variant']}" if case.get("variant") else "")
                full = [argv[0], ref, *argv[1:]]
                try:
                    with deadline(per_case, cpu=True):
                        code, out, err, seconds = run_one(full)
                    problem = judge(code, out, err, case["path"], json_out)
                    outcome = "ok" if code == 0 else "refused"
                except Deadline:  # where it was stuck tells whose defect it is
                    problem, outcome, seconds = f"timeout after {per_case} s of CPU", "timeout", per_case
                    err = traceback.format_exc(limit=-6)
                sink.write(json.dumps({"id": case["id"], "command": " ".join(argv), "outcome": outcome,
                                       "problem": problem, "seconds": round(seconds, 3),
                                       "stderr": err[-2000:] if problem else ""}) + "\n")
                sink.flush()
                if outcome == "timeout" or "MemoryError" in (problem or ""):
                    break  # the other commands would most likely fail the same slow way


if __name__ == "__main__":
    main()
