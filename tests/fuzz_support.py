"""Helpers for the hostile-input tests: run archcalc in a child under time and memory limits, or guard
an in-process call with a deadline, so that a regression fails the test instead of hanging the suite."""

from __future__ import annotations

import resource
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType


class Deadline(Exception):
    """An in-process case ran past its time limit."""


@contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Raise :class:`Deadline` inside the block after ``seconds`` (SIGALRM: main thread, POSIX only)."""
    def expire(signum: int, frame: FrameType | None) -> None:
        raise Deadline(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def run_limited(*argv: str, timeout: float = 60, memory: int = 1 << 30, cwd: Path | None = None
                ) -> subprocess.CompletedProcess[str]:
    """``python -m archcalc ARGV`` in a child with an address-space cap, so a blow-up cannot hurt the
    machine; a hang shows up as ``subprocess.TimeoutExpired``."""
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))

    return subprocess.run([sys.executable, "-m", "archcalc", *argv], capture_output=True, text=True,
                          timeout=timeout, preexec_fn=limit, cwd=cwd, check=False)
