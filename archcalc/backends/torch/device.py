"""From ``--device`` to a torch device, with one-line errors when it is not there (bench and train)."""

from __future__ import annotations

import torch

from archcalc.errors import BackendError, OptionError
from archcalc.vocab import DEVICES


def resolve_device(name: str, local_rank: int = 0) -> torch.device:
    """The device named ``name`` ('' picks CUDA when present, else the CPU).

    Under torchrun each process binds the GPU of its local rank, before joining the process group, so
    that a device error stays one line.
    """
    if not name:
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda":
        if not torch.backends.cuda.is_built():  # type: ignore[no-untyped-call]
            raise BackendError(f"--device cuda: this torch ({torch.__version__}) was built without CUDA",
                               hint="install a CUDA build of torch, or use --device cpu")
        if not torch.cuda.is_available() or torch.cuda.device_count() == 0:
            raise BackendError("--device cuda: no CUDA device is visible to torch",
                               hint="check the driver and CUDA_VISIBLE_DEVICES, or use --device cpu")
        index = local_rank % torch.cuda.device_count()
        torch.cuda.set_device(index)
        return torch.device("cuda", index)
    if name == "mps":
        if not torch.backends.mps.is_built():
            raise BackendError(f"--device mps: this torch ({torch.__version__}) was built without MPS",
                               hint="use --device cpu")
        if not torch.backends.mps.is_available():
            raise BackendError("--device mps: no MPS device is available (macOS 12.3+ on Apple silicon)",
                               hint="use --device cpu")
        return torch.device("mps")
    if name == "cpu":
        return torch.device("cpu")
    raise OptionError(f"unknown device '{name}' (choose from {', '.join(DEVICES)})")
