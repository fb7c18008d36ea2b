"""Serve the fake TMDB API (tests/fakes/tmdb_server.py) on a chosen address, for scripts/compose-test.

``python -m tests.deploy.fake_tmdb_main HOST PORT [PAGES]`` runs until killed. The compose test runs it in a
container on the compose network (mounting tests/ into the app image), so that ``seed_tmdb.py --base-url`` inside
``backend1`` reaches it by name.
"""

from __future__ import annotations

import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.fakes import tmdb_server


def serve(host: str, port: int, pages: int) -> None:
    class BoundServer(ThreadingHTTPServer):
        """The fake binds 127.0.0.1:<any>; this one binds the address given here instead."""

        def __init__(self, _address: object, handler: type[BaseHTTPRequestHandler]) -> None:
            super().__init__((host, port), handler)

    tmdb_server.ThreadingHTTPServer = BoundServer  # type: ignore[assignment,misc]
    fake = tmdb_server.FakeTmdb(pages=pages).start()
    sys.stderr.write(f"fake TMDB at {fake.url} ({pages} pages of {tmdb_server.PAGE_SIZE} movies)\n")
    threading.Event().wait()


if __name__ == "__main__":
    serve(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3 else 3)
