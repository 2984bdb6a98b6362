"""The cyclic garbage collector paused while a spec is expanded, analysed, or its report built or written.

Each of these allocates a few objects per layer, none of them in a reference cycle (nodes, records,
results, rows, strings). With the collector on, every 700 allocations start a collection that walks the
young objects, and now and then one walks everything the process holds (the spec, the graph, the
analysis), so a deep network paid for collections that can free nothing of its own (ResNet-1202, warm:
about a tenth of the time). Pausing defers them, it does not lose them: anything else's cycles are
collected once the collector runs again, and a collector the caller had switched off stays off. The
symbolic commands run whole inside one pause; the library's entry points (``load``, ``analyze``,
``build_report``, ``render_json``) each take one of their own.

A command run as the ``archcalc`` program (``archcalc.cli.main.run``) is the process's last work: its
pause then lasts to the exit, where resuming would start one collection over everything the command
built (2% of a cold ``archcalc summary resnet1202``, counted with valgrind) only to exit after it.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

#: set once by the ``archcalc`` program (never by a library caller): the process exits when its command returns
_PROCESS = {"ends_with_command": False}


def process_ends_with_command() -> None:
    """Say that this process exits when its command returns (see the module docstring)."""
    _PROCESS["ends_with_command"] = True


@contextmanager
def gc_paused(*, command: bool = False) -> Iterator[None]:
    """Run the body with the cyclic collector off (as it was afterwards).

    ``command``: the body is a CLI command's whole work; if the process ends with it, the collector is left
    off for the exit (see the module docstring).
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled and not (command and _PROCESS["ends_with_command"]):
            gc.enable()
