"""The environment a bench result was measured in, recorded with every row of ``--out``.

Figures from another machine, torch build or driver are not comparable; each row carries enough
to tell (torch version, device name, CUDA runtime, cuDNN, driver, CPU model and threads).
"""

from __future__ import annotations

import datetime
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
