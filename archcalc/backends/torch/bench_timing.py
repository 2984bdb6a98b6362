"""Timing windows for the bench: warm-up, then N iterations or S seconds, per-iteration latencies.

On CUDA each iteration is bracketed by CUDA events (no host synchronisation inside the window, so
launch overhead overlaps with GPU work as it does in real use) and the window's wall time is taken
between two synchronisations; elsewhere ``time.perf_counter`` brackets each iteration.
Throughput is always total images / total window time, never the mean of per-iteration rates.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch


def synchronize(device: torch.device) -> None:
    """Wait for queued device work (a no-op on CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0–100) with linear interpolation, as numpy's default.

    >>> percentile([1.0, 2.0, 3.0, 4.0], 50)
    2.5
    >>> percentile([5.0], 99)
    5.0
    """
    if not values:
        return math.nan
    xs = sorted(values)
    pos = (len(xs) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


@dataclass(frozen=True)
class Window:
    """One measured window: per-iteration latencies (seconds) and the window's total wall time."""

    latencies: tuple[float, ...]
    total_s: float

    @property
    def iters(self) -> int:
        return len(self.latencies)

    def stats_ms(self) -> tuple[float, float, float]:
        """Median, p90 and p99 latency per batch in milliseconds."""
        lat = [t * 1e3 for t in self.latencies]
        return percentile(lat, 50), percentile(lat, 90), percentile(lat, 99)


def timed_first_call(step: Callable[[], object], device: torch.device) -> float:
    """Seconds for one synchronised call (used for the compile call, reported apart)."""
    synchronize(device)
    start = time.perf_counter()
    step()
    synchronize(device)
    return time.perf_counter() - start


def measure(step: Callable[[], object], device: torch.device, warmup: int, iters: int | None,
            seconds: float | None, *, on_iter: Callable[[int], None] | None = None) -> Window:
    """Run ``warmup`` untimed steps, then a window of ``iters`` steps or of ``seconds`` seconds."""
    for _ in range(warmup):
        step()
    synchronize(device)
    use_events = device.type == "cuda"
    events: list[tuple[torch.cuda.Event, torch.cuda.Event]] = []
    host: list[float] = []
    n = 0
    begin = time.perf_counter()
    while True:
        if iters is not None and n >= iters:
            break
        if seconds is not None and n > 0 and time.perf_counter() - begin >= seconds:
            break
        if use_events:
            start_ev = torch.cuda.Event(enable_timing=True)  # type: ignore[no-untyped-call]
            end_ev = torch.cuda.Event(enable_timing=True)  # type: ignore[no-untyped-call]
            start_ev.record()
            step()
            end_ev.record()
            events.append((start_ev, end_ev))
        else:
            t0 = time.perf_counter()
            step()
            synchronize(device)
            host.append(time.perf_counter() - t0)
        n += 1
        if on_iter is not None:
            on_iter(n)
    synchronize(device)
    total = time.perf_counter() - begin
    if use_events:
        host = [s.elapsed_time(e) / 1e3 for s, e in events]
    return Window(tuple(host), total)


def measure_alternating(steps: Sequence[Callable[[], object]], device: torch.device, warmup: int,
                        iters: int | None, seconds: float | None, *,
                        on_iter: Callable[[int], None] | None = None) -> list[Window]:
    """Time several models step by step in alternation (the order rotating each round).

    Load from other processes and thermal drift then fall on every model alike, which matters for a
    ratio between them. Each model's window time is the sum of its own steps; with ``seconds`` the
    round continues until every model has had about that long.
    """
    for step in steps:
        for _ in range(warmup):
            step()
    synchronize(device)
    use_events = device.type == "cuda"
    host: list[list[float]] = [[] for _ in steps]
    events: list[list[tuple[torch.cuda.Event, torch.cuda.Event]]] = [[] for _ in steps]
    begin = time.perf_counter()
    n = 0
    while True:
        if iters is not None and n >= iters:
            break
        if seconds is not None and n > 0 and time.perf_counter() - begin >= seconds * len(steps):
            break
        order = list(range(len(steps)))
        shift = n % len(steps)
        for k in order[shift:] + order[:shift]:
            if use_events:
                start_ev = torch.cuda.Event(enable_timing=True)  # type: ignore[no-untyped-call]
                end_ev = torch.cuda.Event(enable_timing=True)  # type: ignore[no-untyped-call]
                start_ev.record()
                steps[k]()
                end_ev.record()
                events[k].append((start_ev, end_ev))
            else:
                t0 = time.perf_counter()
                steps[k]()
                synchronize(device)
                host[k].append(time.perf_counter() - t0)
        n += 1
        if on_iter is not None:
            on_iter(n)
    synchronize(device)
    if use_events:
        host = [[s.elapsed_time(e) / 1e3 for s, e in evs] for evs in events]
    return [Window(tuple(lat), sum(lat)) for lat in host]
