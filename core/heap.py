"""Keeps Python's full garbage collections short in a long-running server or worker process.

Why: the process holds a few hundred thousand long-lived objects (the code of every room and
library, the knowledge base and its model, the LINE SDK's models). CPython's cyclic collector
walks all of them on every full (generation 2) collection, with the GIL held: measured
300–700 ms on the shared 2-core machine, several times a minute under console load (page
rendering allocates fast), and every webhook that arrived meanwhile waited the whole pause.
That was the webhook's p99, not contention between threads (docs/performance.md, "Where the
webhook's tail went").

:func:`freeze_long_lived` moves every object alive after start-up into the collector's
permanent generation (``gc.freeze``), so later collections walk only what was created since.
Frozen objects are still freed by reference counting; only a reference *cycle* among them is
never collected, which is why :func:`refreeze` runs after the knowledge is reloaded (the old
knowledge base is then unfrozen, collected once, and the new one frozen).
"""
from __future__ import annotations

import gc
import logging
import threading
import time

log = logging.getLogger("ristapo.heap")
_lock = threading.Lock()


def freeze_long_lived() -> None:
    """Collects once, then exempts every surviving object from later collections."""
    with _lock:
        _collect_and_freeze()


def _collect_and_freeze() -> None:
    started = time.perf_counter()
    gc.collect()
    gc.freeze()
    log.info("long-lived objects frozen", extra={"count": gc.get_freeze_count(), "duration_ms": round((time.perf_counter() - started) * 1000)})


def is_frozen() -> bool:
    return gc.get_freeze_count() > 0


def refreeze() -> None:
    """After replacing long-lived state (a knowledge reload): frees its old cycles, freezes the new.

    Does nothing in a process that never froze (tests, the terminal chat). Costs one full
    collection (a pause of a few hundred milliseconds), once per reload.
    """
    with _lock:
        if not is_frozen():
            return
        gc.unfreeze()
        _collect_and_freeze()
