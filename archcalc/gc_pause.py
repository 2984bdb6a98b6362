"""The cyclic garbage collector paused while a spec is expanded, analysed, or its report built or written.

Each of these allocates a few objects per layer, none of them in a reference cycle (nodes, records,
results, rows, strings). With the collector on, every 700 allocations start a collection that walks the
young objects, and now and then one walks everything the process holds (the spec, the graph, the
analysis), so a deep network paid for collections that can free nothing of its own (ResNet-1202, warm:
about a tenth of the time). Pausing defers them, it does not lose them: anything else's cycles are
collected once the collector runs again, and a collector the caller had switched off stays off. The
symbolic commands run whole inside one pause; the library's entry points (``load``, ``analyze``,
``build_report``, ``render_json``) each take one of their own.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def gc_paused() -> Iterator[None]:
    """Run the body with the cyclic collector off (as it was afterwards)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
