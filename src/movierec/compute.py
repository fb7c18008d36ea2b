"""One CPU-bound section at a time per process.

Under the GIL only one thread runs Python at once, but numpy and SQLite release it around each small loop or step,
so threads doing the same CPU-bound work at once pass it back and forth hundreds of times per request: with the
embedded server's 8 threads each computing a recommendation list, a list cost about 2.7 times the CPU it costs
alone (6.2 ms against 2.3 ms of server CPU per request, futex calls and cold caches). Sections entered through
``cpu_bound()`` run one after another instead; everything else (I/O, cached answers, other endpoints) still runs
beside them, and other processes (gunicorn workers) have gates of their own.

Measured on the embedded server (uncached lists under wrk, alternating runs): +30% requests/s at 16 connections;
at 64, where waitress' single I/O thread (which walks every open connection on each turn of its loop) is left
waiting for the GIL behind the one computing thread, about 15% fewer than with no gate. bench/RESULTS.md has the
figures of one run.

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
