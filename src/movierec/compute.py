"""One CPU-bound section at a time per process.

Under the GIL only one thread runs Python at once, but numpy and SQLite release it around each small loop or step,
so threads doing the same CPU-bound work at once pass it back and forth hundreds of times per request: with the
embedded server's 8 threads each computing a recommendation list, a list cost about 2.7 times the CPU it costs
alone (futex calls and cold caches; bench/RESULTS.md, "Findings"). Sections entered through ``cpu_bound()`` run
one after another instead; everything else (I/O, cached answers, other endpoints) still runs beside them, and
other processes (gunicorn workers) have their own gate.

Keep a section to pure computation: no I/O and no other section inside it (the gate is not reentrant).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from movierec.metrics import compute_gate_waited

_GATE = threading.Lock()


@contextmanager
def cpu_bound() -> Iterator[None]:
    """Hold this process's compute gate for the block (waiting for it when another thread holds it)."""
    if not _GATE.acquire(blocking=False):
        started = time.perf_counter()
        _GATE.acquire()
        compute_gate_waited(time.perf_counter() - started)
    try:
        yield
    finally:
        _GATE.release()
