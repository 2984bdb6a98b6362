"""Helpers for the hostile-input tests: run archcalc in a child under time and memory limits, or guard
an in-process call with a deadline, so that a regression fails the test instead of hanging the suite."""

from __future__ import annotations

import json
import math
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any


class Deadline(BaseException):  # not an Exception: no 'except Exception' in archcalc may swallow it
    """An in-process case ran past its time limit."""


@contextmanager
def deadline(seconds: float, cpu: bool = False) -> Iterator[None]:
    """Raise :class:`Deadline` inside the block after ``seconds`` of wall time, or with ``cpu`` of this
    process's CPU time (SIGPROF), which a loaded machine does not inflate: a busy loop is caught either
    way, a blocked call only by wall time. Main thread, POSIX only."""
    def expire(signum: int, frame: FrameType | None) -> None:
        raise Deadline(f"still running after {seconds} s{' of CPU time' if cpu else ''}")

    sig, timer = (signal.SIGPROF, signal.ITIMER_PROF) if cpu else (signal.SIGALRM, signal.ITIMER_REAL)
    previous = signal.signal(sig, expire)
    signal.setitimer(timer, seconds)
    try:
        yield
    finally:
        signal.setitimer(timer, 0)
        signal.signal(sig, previous)


#: ``python -c`` program: cap this process's address space, then run archcalc's CLI with the arguments.
_LIMITED = ("import resource, runpy, sys; cap = int(sys.argv.pop(1));"
            " resource.setrlimit(resource.RLIMIT_AS, (cap, cap)); sys.argv[0] = 'archcalc';"
            " runpy.run_module('archcalc', run_name='__main__')")


def run_limited(*argv: str, timeout: float = 60, memory: int = 1 << 30, cwd: Path | None = None
                ) -> subprocess.CompletedProcess[str]:
    """``python -m archcalc ARGV`` in a child that caps its own address space (no preexec_fn: the test
    process has threads), so a blow-up cannot hurt the machine; a hang raises ``TimeoutExpired``."""
    return subprocess.run([sys.executable, "-c", _LIMITED, str(memory), *argv], capture_output=True, text=True,
                          timeout=timeout, cwd=cwd, check=False)


# ---- judging one run ------------------------------------------------------------------------------------
#: Parts of the JSON that echo the spec's own data (variables may be negative, descriptions anything).
_USER_DATA = {"variables", "published", "source", "description", "name", "file", "warnings", "note", "partial"}
LOCATION = re.compile(r"^(?P<file>.+?):(?P<line>\d+):(?P<col>\d+): ")


def insane(value: Any, path: str = "") -> str | None:
    """Why a JSON result from a successful run cannot be right (a negative count, NaN, a zero-size
    shape), or None. Receptive-field ``start`` may be negative (padding); user data is not judged."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key in _USER_DATA:
                continue
            found = insane(item, f"{path}.{key}")
            if found:
                return found
        return None
    if isinstance(value, list):
        for i, item in enumerate(value):
            found = insane(item, f"{path}[{i}]")
            if found:
                return found
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return f"{path} = {value}"
    if value < 0 and ".start" not in path:
        return f"{path} = {value} < 0"
    if value == 0 and (".shape" in path or ".size" in path):  # a jump may be 0 (upsampling)
        return f"{path} = 0"
    return None


def judge(code: int | None, out: str, err: str, spec_file: str, json_out: bool) -> str | None:
    """None if a run ended as archcalc promises; else what went wrong, in a few words."""
    if code is None:
        return f"traceback: {err.strip().splitlines()[-1][:200] if err.strip() else '?'}"
    if "Traceback" in err or "Traceback" in out:
        return "traceback in the output"
    if code == 0:
        if json_out:
            try:
                data = json.loads(out)
            except ValueError as exc:
                return f"exit 0 with invalid JSON ({exc})"
            found = insane(data)
            if found:
                return f"insane success: {found}"
        return None
    if code != 2:
        return f"exit {code}: {err.strip()[-200:]}"
    lines = err.strip().splitlines()
    if len(lines) != 1:
        return f"exit 2 on {len(lines)} lines: {err[:200]!r}"
    where = LOCATION.match(lines[0])
    if not where or where.group("file") != spec_file:
        return f"unlocated error: {lines[0][:200]}"
    if len(lines[0]) > len(spec_file) + 700:
        return f"error line of {len(lines[0])} characters"
    return None
