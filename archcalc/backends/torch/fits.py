"""Refuse to build a network whose weights cannot fit in this machine's memory (issue 15, defect 10).

archcalc predicts every network's size before torch allocates it: a 10⁶-wide conv asks for 36 TB, and torch
answered with an allocator traceback after seconds of work. The prediction (parameters and buffers, 4 bytes
each as built in fp32) is compared with the machine's physical memory first; ``--force-build`` skips the
check (swap, overcommit, a machine whose memory this cannot see). No torch here.
"""

from __future__ import annotations

import os

from archcalc.analysis import Analysis
from archcalc.errors import BackendError
from archcalc.report.fmt import human_bytes

#: bytes a parameter or buffer takes as built (fp32)
BUILT_BYTES = 4
#: whether --force-build was given to the command now running
_settings = {"forced": False}


def force(value: bool) -> None:
    """``--force-build``: build whatever the prediction says (set by the CLI on every invocation)."""
    _settings["forced"] = bool(value)


def machine_memory() -> int | None:
    """Physical memory in bytes, or None where the system does not say."""
    try:
        pages, size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None
    return pages * size if pages > 0 and size > 0 else None


def check_fits(analysis: Analysis, memory: int | None = None) -> None:
    """A one-line :class:`BackendError` if the network's weights alone exceed ``memory`` (default: this
    machine's), unless forced."""
    totals = analysis.totals
    _refuse_past(memory, (totals.params + totals.buffers) * BUILT_BYTES,
                 f"building {analysis.graph.meta.name}", " for its weights alone",
                 "--force-build to try anyway")


def check_run_fits(analysis: Analysis, batch: int, memory: int | None = None) -> None:
    """Like :func:`check_fits` for a training pass at ``batch`` (weights, gradients, saved activations):
    verify's measured pass at 3×30000×30000 was an allocator traceback although the weights fit."""
    if _settings["forced"]:  # before the prediction, which is the costly part
        return
    _refuse_past(memory, analysis.with_dtype("fp32").training_memory(batch, "sgd").total,
                 f"a training pass of {analysis.graph.meta.name} at batch {batch}", "",
                 "a smaller --input or --batch, or --force-build to try anyway")


def _refuse_past(memory: int | None, need: int, what: str, of: str, hint: str) -> None:
    """Raise unless forced, or ``need`` bytes fit in ``memory`` (default: this machine's, where it says):
    "WHAT needs N bytesOF (archcalc's prediction), more than …"."""
    have = memory if memory is not None else machine_memory()
    if not _settings["forced"] and have is not None and need > have:
        raise BackendError(f"{what} needs {human_bytes(need)}{of} (archcalc's prediction), more than this"
                           f" machine's {human_bytes(have)} of memory", hint=hint)


__all__ = ["check_fits", "check_run_fits", "force", "machine_memory"]
