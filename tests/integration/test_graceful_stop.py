"""Stopping the API's waitress server lets the requests it is answering finish (``cli._stop_gracefully``).

A real waitress server whose one route waits until the test lets it go: the stop comes while that request is being
answered, and the client still gets its whole answer; nothing is logged as an exception; the server's loop ends.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Iterable
from typing import Any

import httpx
import pytest
from waitress import create_server

from movierec.cli import _stop_gracefully
from movierec.probes import free_ports
from tests.conftest import NOT_A_HANG_SECONDS, wait_until


class HeldApp:
    """A server whose one route waits until the test releases it, then answers ``body``; its loop in a thread."""

    def __init__(self, body: bytes) -> None:
        self.entered, self.release = threading.Event(), threading.Event()
        self._body = body
        (self.port,) = free_ports(1)
        self.server = create_server(self._app, host="127.0.0.1", port=self.port, threads=2, asyncore_use_poll=True)
        self.loop = threading.Thread(target=self.server.run, daemon=True)
        self.loop.start()

    def _app(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        self.entered.set()
        self.release.wait(NOT_A_HANG_SECONDS)
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(self._body)))])
        return [self._body]


def test_a_request_in_progress_gets_its_answer_when_the_server_stops(caplog: pytest.LogCaptureFixture) -> None:
    held = HeldApp(b"x" * 200_000)  # bigger than a socket buffer: the loop must keep sending while the stop waits
    entered, release, server, loop, port = held.entered, held.release, held.server, held.loop, held.port
    answers: list[httpx.Response | BaseException] = []

    def ask() -> None:
        try:
            answers.append(httpx.get(f"http://127.0.0.1:{port}/", timeout=NOT_A_HANG_SECONDS))
        except BaseException as exc:  # the test reports whatever the client got
            answers.append(exc)

    client = threading.Thread(target=ask)
    with caplog.at_level(logging.WARNING, logger="waitress"):
        client.start()
        assert entered.wait(NOT_A_HANG_SECONDS), "the request never reached the app"
        _stop_gracefully(server)  # the stop arrives while the request is being answered...
        release.set()  # ...which then finishes
        client.join(NOT_A_HANG_SECONDS)
        loop.join(NOT_A_HANG_SECONDS)
        dispatcher = server.task_dispatcher  # the worker is done with the request (and has said so if it failed)
        wait_until(lambda: dispatcher.active_count == 0 or not dispatcher.threads, NOT_A_HANG_SECONDS, "the worker")
    assert not loop.is_alive(), "the server's loop did not end"
    (answer,) = answers
    assert isinstance(answer, httpx.Response), answer
    assert answer.status_code == 200 and len(answer.content) == 200_000
    assert not [r for r in caplog.records if r.exc_info], [r.getMessage() for r in caplog.records]
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/", timeout=5)  # and nothing is served any more


def test_an_answer_still_being_sent_when_the_workers_are_done_is_sent_whole() -> None:
    """The worker hands a large answer to the event loop and returns; the stop waits for the loop to send all of it
    to a client that reads slowly, instead of closing the connection once the workers are done."""
    body = b"y" * (8 * 1024 * 1024)  # more than the kernel's send and receive buffers hold between them
    held = HeldApp(body)
    entered, release, server, loop, port = held.entered, held.release, held.server, held.loop, held.port
    client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # the client reads nothing until the workers are done
    client.settimeout(NOT_A_HANG_SECONDS)
    try:
        client.connect(("127.0.0.1", port))
        client.sendall(b"GET / HTTP/1.1\r\nHost: test\r\n\r\n")
        assert entered.wait(NOT_A_HANG_SECONDS), "the request never reached the app"
        _stop_gracefully(server)
        release.set()
        dispatcher = server.task_dispatcher
        wait_until(lambda: not dispatcher.threads, NOT_A_HANG_SECONDS, "the workers to finish")
        received = bytearray()
        while chunk := client.recv(1 << 16):
            received += chunk
    finally:
        client.close()
    loop.join(NOT_A_HANG_SECONDS)
    assert not loop.is_alive(), "the server's loop did not end"
    head, _, rest = bytes(received).partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head[:100]
    assert len(rest) == len(body)
