"""The Cache port contract: every adapter behaves the same."""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Callable, Iterator

import pytest

from movierec.cache.memory import InProcessCache
from movierec.cache.port import Cache, CacheUnavailable
from movierec.cache.redis import RedisCache
from tests.conftest import service_url


def _memory() -> Cache:
    return InProcessCache()


def _redis() -> Cache:
    # Every test writes under its own ``key`` (a fresh UUID), so tests never collide on a shared server.
    return RedisCache(service_url("redis"), timeout=1.0)


ADAPTERS: dict[str, Callable[[], Cache]] = {"memory": _memory, "redis": _redis}


@pytest.fixture(params=sorted(ADAPTERS))
def cache(request: pytest.FixtureRequest) -> Iterator[Cache]:
    adapter = ADAPTERS[request.param]()
    yield adapter
    adapter.close()


@pytest.fixture
def key() -> str:
    return f"recommendations:test-{uuid.uuid4().hex}"


def test_missing_key_and_field(cache: Cache, key: str) -> None:
    assert cache.get(key, "a") is None
    assert cache.ttl(key) is None
    cache.set(key, "a", "1", 60)
    assert cache.get(key, "b") is None


def test_set_get_fields_and_unicode(cache: Cache, key: str) -> None:
    cache.set(key, "ease|Drama|10", '[{"title": "Amélie"}]', 60)
    cache.set(key, "seed||20", "[]", 60)
    assert cache.get(key, "ease|Drama|10") == '[{"title": "Amélie"}]'
    assert cache.get(key, "seed||20") == "[]"


def test_delete_drops_every_field(cache: Cache, key: str) -> None:
    cache.set(key, "a", "1", 60)
    cache.set(key, "b", "2", 60)
    cache.delete(key)
    assert cache.get(key, "a") is None and cache.get(key, "b") is None
    cache.delete(key)  # deleting a missing key is fine


def test_ttl_is_set_once_and_not_extended(cache: Cache, key: str) -> None:
    cache.set(key, "a", "1", 300)
    first = cache.ttl(key)
    assert first is not None and 0 < first <= 300
    time.sleep(1.1)
    cache.set(key, "b", "2", 300)
    second = cache.ttl(key)
    assert second is not None and second < first


def test_entries_expire(cache: Cache, key: str) -> None:
    cache.set(key, "a", "1", 1)
    assert cache.get(key, "a") == "1"
    time.sleep(1.3)
    assert cache.get(key, "a") is None
    assert cache.ttl(key) is None


def test_ping(cache: Cache) -> None:
    cache.ping()


# -- Redis specific: an unreachable or silent server fails fast instead of hanging ---------------------------------


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])  # closed again when the block ends: nothing listens there


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A port that accepts TCP connections (kernel backlog) but never answers a byte."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(16)
        yield int(server.getsockname()[1])


def _assert_fails_fast(cache: Cache, limit: float) -> None:
    for call in (
        lambda: cache.get("k", "f"),
        lambda: cache.set("k", "f", "v", 60),
        lambda: cache.delete("k"),
        lambda: cache.ttl("k"),
        cache.ping,
    ):
        started = time.monotonic()
        with pytest.raises(CacheUnavailable):
            call()
        assert time.monotonic() - started < limit


def test_redis_refusing_connections_raises_cache_unavailable_quickly() -> None:
    cache = RedisCache(f"redis://127.0.0.1:{_closed_port()}/0", timeout=0.25)
    try:
        _assert_fails_fast(cache, 0.5)
    finally:
        cache.close()


def test_redis_that_never_answers_times_out_quickly(silent_server: int) -> None:
    cache = RedisCache(f"redis://127.0.0.1:{silent_server}/0", timeout=0.2)
    try:
        _assert_fails_fast(cache, 0.6)  # one socket timeout each, no retries
    finally:
        cache.close()
