"""Serve a Flask app over real HTTP on a free loopback port with waitress, in a background thread.

The server's event loop runs in small steps so the same thread can close every socket and stop the worker threads
when the test is done (no sockets or threads are left behind, so no ResourceWarning under filterwarnings=error).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
from flask import Flask
from waitress import create_server
from waitress.wasyncore import close_all


@contextmanager
def serve_app(app: Flask, threads: int = 4) -> Iterator[str]:
    """Yield the base URL of ``app`` served on 127.0.0.1:<free port> until the block ends."""
    server = create_server(app, host="127.0.0.1", port=0, threads=threads, ident="movierec-test")
    stop = threading.Event()
    failure: list[BaseException] = []

    def loop() -> None:
        try:
            while not stop.is_set():
                server.asyncore.loop(timeout=0.05, map=server._map, count=1)
        except BaseException as exc:  # reported to the test below, not lost in the thread
            failure.append(exc)
        finally:
            close_all(server._map, ignore_all=True)
            server.task_dispatcher.shutdown(timeout=5)

    thread = threading.Thread(target=loop, name="waitress-test", daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.effective_port}"
    try:
        httpx.get(f"{url}/healthz", timeout=10).raise_for_status()
        yield url
    finally:
        stop.set()
        thread.join(timeout=10)
    if thread.is_alive():
        raise RuntimeError("the test API server did not stop")
    if failure:
        raise failure[0]
