"""The UI's API client: reading strategies from an OpenAPI document, and failures against real sockets."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from movierec.ui.client import ApiClient, ApiError, ApiUnavailable, strategies_from_openapi
from tests.conftest import NOT_A_HANG_SECONDS


def _document(schema: dict[str, object]) -> dict[str, object]:
    parameter = {"name": "strategy", "in": "query", "schema": schema}
    return {"paths": {"/recommendations/{user_id}": {"get": {"parameters": [parameter]}}}}


@pytest.mark.parametrize(
    ("schema", "names", "default"),
    [
        ({"anyOf": [{"type": "string", "enum": ["a", "b"]}, {"type": "null"}], "default": "b"}, ("a", "b"), "b"),
        ({"type": "string", "enum": ["a", "b"]}, ("a", "b"), None),
        ({"type": "string", "enum": ["a"], "default": "zzz"}, ("a",), None),  # a default outside the list is ignored
        ({"anyOf": [{"type": "string"}, {"type": "null"}], "default": None}, (), None),
    ],
)
def test_strategies_from_openapi(schema: dict[str, object], names: tuple[str, ...], default: str | None) -> None:
    found = strategies_from_openapi(_document(schema))
    assert (found.names, found.default) == (names, default)


def test_strategies_from_a_document_without_the_endpoint() -> None:
    assert strategies_from_openapi({"paths": {}}).names == ()


def test_strategies_from_the_real_api(api: ApiClient) -> None:
    from movierec.domain.recommenders import DEFAULT_STRATEGY, STRATEGIES

    declared = api.strategies()
    assert declared.names == tuple(STRATEGIES) and declared.default == DEFAULT_STRATEGY


def test_api_errors_carry_the_api_message(api: ApiClient) -> None:
    with pytest.raises(ApiError) as missing:
        api.movie(999_999)
    assert missing.value.status == 404 and "999999" in missing.value.message
    with pytest.raises(ApiError) as refused:
        api.recommendations("not-a-token", 1)
    assert refused.value.status == 401 and refused.value.message


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A real socket that accepts connections and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.05)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    thread.join(5)
    for connection in accepted:
        connection.close()
    listener.close()


def test_a_silent_api_is_unavailable_after_the_timeout(silent_server: str) -> None:
    with ApiClient(silent_server, timeout=0.3) as client:
        started = time.monotonic()
        with pytest.raises(ApiUnavailable) as down:
            client.latest()
    assert time.monotonic() - started < NOT_A_HANG_SECONDS
    assert down.value.message == "it did not answer in time" and down.value.base_url == silent_server


def test_a_closed_port_is_unavailable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with ApiClient(f"http://127.0.0.1:{port}") as client, pytest.raises(ApiUnavailable) as down:
        client.genres()
    assert down.value.message == "no connection could be made"
