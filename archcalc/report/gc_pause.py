"""The cyclic garbage collector paused while a report is built or written.

Building a report allocates one row object and a few lists per layer, none of them in a reference
cycle; with the collector on, every 700 allocations start a collection that walks the young objects,
and now and then one walks everything the process holds (the spec, the graph, the analysis), so a
deep network's report paid for collections that can free nothing of its own (ResNet-1202, warm: about
a tenth of building and writing its report). Pausing defers them, it
does not lose them: anything else's cycles are collected once the collector runs again, and a
collector the caller had switched off stays off.
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
