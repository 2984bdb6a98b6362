"""The cyclic garbage collector paused while a spec is expanded, analysed, or its report built or written.

Each of these allocates a few objects per layer, none of them in a reference cycle (nodes, records,
results, rows, strings). With the collector on, every 700 allocations start a collection that walks the
young objects, and now and then one walks everything the process holds (the spec, the graph, the
analysis), so a deep network paid for collections that can free nothing of its own (ResNet-1202, warm:
about a tenth of the time). A collector the caller had switched off stays off. The symbolic commands
run whole inside one pause; the library's entry points (``load``, ``analyze``, ``build_report``,
``render_json``) each take one of their own.

Resuming as is would still pay for the pause: the first young collection after it walks every object the
body made and kept (ResNet-1202 warm: four pauses, 3.5 ms of 69). So a pause begins with a collection of
the two young generations (the caller's young objects, examined as the next collections would have; few
at most), and ends by moving what the body kept to the oldest generation, unwalked (``gc.freeze`` then
``gc.unfreeze``, which splice lists). That is sound because the body leaves no cyclic garbage of its own
(tests/test_perf.py holds it to that): its objects are freed by reference counting, and any cycle among
them would still be found by the next full collection. It is skipped where the caller has frozen objects,
which ``unfreeze`` would thaw.

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
    resume = was_enabled and not (command and _PROCESS["ends_with_command"])
    # (never where the caller has frozen objects: unfreeze below would thaw them)
    promote = resume and not gc.get_freeze_count()
    if promote:
        gc.collect(1)  # the caller's young objects, examined now as the next collections would have
    gc.disable()
    try:
        yield
    finally:
        if promote:
            # what the body made and kept (a node, a result, a row per layer; no cycles) joins the oldest
            # generation without a walk: resumed as is, the next young collection would walk all of it
            gc.freeze()
            gc.unfreeze()
        if resume:
            gc.enable()
