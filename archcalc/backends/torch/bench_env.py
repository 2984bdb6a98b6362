"""The environment a bench result was measured in, recorded with every row of ``--out``.

Figures from another machine, torch build or driver are not comparable; each row carries enough
to tell (torch version, device name, CUDA runtime, cuDNN, driver, CPU model and threads).
"""

from __future__ import annotations

import datetime
import os
import platform
import subprocess
from typing import Any

import torch

import archcalc


def cpu_name() -> str:
    """The CPU model as the kernel reports it, or the platform's processor string."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return str(torch.cuda.get_device_name(device))
    if device.type == "mps":
        return f"Apple MPS ({platform.machine()})"
    return cpu_name()


def nvidia_driver() -> str | None:
    """The NVIDIA driver version from nvidia-smi, or None where it cannot be asked."""
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    lines = out.stdout.strip().splitlines()
    return lines[0].strip() if out.returncode == 0 and lines else None


def environment(device: torch.device) -> dict[str, Any]:
    """Plain, JSON-able facts about the software and hardware of this run (the same keys on every device,
    so CSV rows from CPU and CUDA runs share one header)."""
    env: dict[str, Any] = {
        "timestamp": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "archcalc_version": archcalc.__version__,
        "torch_version": torch.__version__,
        "python_version": platform.python_version(),
        "platform": platform.platform(),
        "device_type": device.type,
        "device_name": device_name(device),
        "cpu": cpu_name(),
        "threads": torch.get_num_threads(),
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
        "load_avg_1min": load_average(),
        "cpus_available": cpus_available(),
        "cuda_runtime": torch.version.cuda,
        "cudnn_version": None,
        "driver_version": None,
        "device_memory_bytes": None,
        "device_capability": None,
    }
    if device.type == "cuda":
        env["cudnn_version"] = torch.backends.cudnn.version()  # type: ignore[no-untyped-call]
        env["driver_version"] = nvidia_driver()
        env["device_memory_bytes"] = torch.cuda.get_device_properties(device).total_memory
        env["device_capability"] = ".".join(map(str, torch.cuda.get_device_capability(device)))
    return env


def cpus_available() -> int:
    """CPUs this process may run on (its affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def load_average() -> float | None:
    """The 1-minute load average (runnable processes), or None where the OS does not say."""
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None


def load_warning(threads: int) -> str | None:
    """A warning when other work already occupies the CPUs the benchmark's threads would need.

    With more runnable threads than CPUs, torch's threads wait on each other at every barrier: on a
    2-core machine at load 9, lenet5 ran at 190 images/s with 2 threads against 11,357 with 1.
    """
    load, cpus = load_average(), cpus_available()
    if load is None or load + threads <= cpus + 0.5:
        return None
    return (f"warning: the CPU is busy (load average {load:.1f} on {cpus} CPUs) and bench runs {threads}"
            f" thread{'s' if threads != 1 else ''}: timings will be slow and noisy; try --threads 1, or a"
            " quieter machine")
