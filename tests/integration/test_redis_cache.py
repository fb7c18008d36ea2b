"""The Redis adapter's own round trips (it writes its scripts' EVALSHA on a pooled connection, past the client's
command layer): a server that forgot the scripts, and a connection the server closed, are both handled."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from redis import Redis

from movierec.cache.port import CacheUnavailable
from movierec.cache.redis import RedisCache
from tests.conftest import service_url


@pytest.fixture
def url() -> str:
    return service_url("redis")


@pytest.fixture
def cache(url: str) -> Iterator[RedisCache]:
    adapter = RedisCache(url, timeout=1.0, key_prefix=f"test-{uuid.uuid4().hex}:")
    yield adapter
    adapter.close()


def test_scripts_the_server_forgot_are_loaded_again(cache: RedisCache, url: str) -> None:
    entry = cache.lookup("recommendations:{1}", "a", 60)
    assert cache.store("recommendations:{1}", "a", b"[1]", entry.version) is True
    with Redis.from_url(url, socket_timeout=2) as admin:
        admin.script_flush()  # as after a restart without persistence: every script's sha is unknown
    assert cache.lookup("recommendations:{1}", "a", 60).value == b"[1]"
    with Redis.from_url(url, socket_timeout=2) as admin:
        admin.script_flush()
    assert cache.store("recommendations:{1}", "b", b"[2]", entry.version) is True
    assert cache.lookup("recommendations:{1}", "b", 60).value == b"[2]"


def test_a_connection_the_server_closed_fails_once_then_reconnects(cache: RedisCache, url: str) -> None:
    cache.lookup("recommendations:{2}", "a", 60)  # the pool now holds one open connection
    own = cache._client.client_id()  # asked on that same connection (the pool hands out the last one back)
    with Redis.from_url(url, socket_timeout=2) as admin:
        assert admin.client_kill_filter(_id=own) == 1  # only this test's connection: the server is shared
    outcomes = []
    for _ in range(2):
        try:
            cache.lookup("recommendations:{2}", "a", 60)
            outcomes.append("ok")
        except CacheUnavailable:
            outcomes.append("unavailable")
    # the dead connection costs at most the one call that found it dead; the next one reconnects
    assert outcomes[-1] == "ok"
