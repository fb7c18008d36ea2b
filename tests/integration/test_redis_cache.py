"""The Redis adapter's own round trips (it writes its scripts' EVALSHA on a pooled connection, past the client's
command layer): a server that forgot the scripts, and a connection the server closed, are both handled."""

from __future__ import annotations

import time
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


# Near copies (client-side caching): two adapters on one prefix stand for two API processes.


@pytest.fixture
def prefix() -> str:
    return f"test-{uuid.uuid4().hex}:"


@pytest.fixture
def near_pair(url: str, prefix: str) -> Iterator[tuple[RedisCache, RedisCache]]:
    first = RedisCache(url, timeout=1.0, key_prefix=prefix, near_seconds=30)
    second = RedisCache(url, timeout=1.0, key_prefix=prefix, near_seconds=30)
    yield first, second
    first.close()
    second.close()


class _Counted:
    """Counts the adapter's round trips to Redis (the lookups' and stores' script calls)."""

    def __init__(self, cache: RedisCache) -> None:
        self.calls = 0
        self._run = cache._run

        def counted(*args: object) -> object:
            self.calls += 1
            return self._run(*args)  # type: ignore[arg-type]

        cache._run = counted  # type: ignore[method-assign]


def _cached(cache: RedisCache, key: str, field: str, value: bytes) -> None:
    entry = cache.lookup(key, field, 60)
    assert cache.store(key, field, value, entry.version) is True


def test_a_near_copy_answers_without_a_round_trip(near_pair: tuple[RedisCache, RedisCache]) -> None:
    reader, _ = near_pair
    _cached(reader, "recommendations:{1}", "a", b"[1]")
    counted = _Counted(reader)
    first = reader.lookup_many([("recommendations:{1}", "a", 60)])  # the store changed the key: read, then kept
    assert counted.calls == 1
    again = [reader.lookup_many([("recommendations:{1}", "a", 60)]) for _ in range(5)]
    assert counted.calls == 1
    assert all(found == first for found in again)
    assert first[0].value == b"[1]"


def test_a_drop_in_another_process_is_seen_before_its_answer(near_pair: tuple[RedisCache, RedisCache]) -> None:
    reader, writer = near_pair
    for round_ in range(20):  # no sleep anywhere: the drop's answer itself means the reader knows
        _cached(reader, "recommendations:{2}", "a", b"old")
        kept = reader.lookup("recommendations:{2}", "a", 60)
        assert kept.value == b"old"
        writer.drop("recommendations:{2}")
        after = reader.lookup("recommendations:{2}", "a", 60)
        assert after.value is None, f"round {round_}: a copy was used after the drop"
        assert after.version != kept.version


def test_a_change_made_during_a_round_trip_is_not_kept(
    near_pair: tuple[RedisCache, RedisCache], url: str, prefix: str
) -> None:
    reader, _ = near_pair
    _cached(reader, "recommendations:{3}", "a", b"[3]")
    run = reader._run

    def read_then_changed(*args: object) -> object:
        reply = run(*args)  # type: ignore[arg-type]
        with Redis.from_url(url, socket_timeout=2) as other:
            other.hset(prefix + "recommendations:{3}", "b", b"x")  # lands after the read, before the copy is kept
            other.ping()
        return reply

    reader._run = read_then_changed  # type: ignore[method-assign]
    reader.lookup("recommendations:{3}", "a", 60)
    reader._run = run  # type: ignore[method-assign]
    counted = _Counted(reader)
    assert reader.lookup("recommendations:{3}", "a", 60).value == b"[3]"
    assert counted.calls == 1, "what was read before the change was kept and used"


def test_a_copy_never_outlives_its_key(url: str, prefix: str) -> None:
    cache = RedisCache(url, timeout=1.0, key_prefix=prefix, near_seconds=30)
    try:
        entry = cache.lookup("recommendations:{4}", "a", 1)
        assert cache.store("recommendations:{4}", "a", b"[4]", entry.version)
        assert cache.lookup("recommendations:{4}", "a", 1).value == b"[4]"  # kept, until the key's expiry
        deadline = time.monotonic() + 30
        while cache.ttl("recommendations:{4}") is not None:  # Redis itself has expired the key
            assert time.monotonic() < deadline, "the key never expired"
            time.sleep(0.05)
        after = cache.lookup("recommendations:{4}", "a", 1)
        assert after.value is None and after.version != entry.version
    finally:
        cache.close()


def test_a_lost_subscription_forgets_every_copy(near_pair: tuple[RedisCache, RedisCache], url: str) -> None:
    reader, writer = near_pair
    _cached(reader, "recommendations:{5}", "a", b"[5]")
    assert reader.lookup("recommendations:{5}", "a", 60).value == b"[5]"
    near = reader._near
    assert near is not None and near.held() == (1, 3)
    assert reader.near_client_id is not None
    with Redis.from_url(url, socket_timeout=2) as admin:  # the reader's subscribed connection goes away
        assert admin.client_kill_filter(_id=reader.near_client_id) == 1
    writer.drop("recommendations:{5}")  # a change the reader is no longer told about
    after = reader.lookup("recommendations:{5}", "a", 60)
    assert after.value is None
    assert near.held() == (0, 0)


def test_near_copies_are_bounded_in_keys_and_bytes(url: str, prefix: str) -> None:
    cache = RedisCache(url, timeout=1.0, key_prefix=prefix, near_seconds=30)
    near = cache._near
    assert near is not None
    near._max_keys, near._max_bytes = 3, 25  # small bounds, to see them hold
    try:
        for user in range(5):
            _cached(cache, f"recommendations:{{{user}}}", "a", b"0123456789")
            cache.lookup(f"recommendations:{{{user}}}", "a", 60)  # kept (10 bytes)
            keys, size = near.held()
            assert keys <= 3 and size <= 25
        assert near.held() == (2, 20)  # the two kept last; the others went first
        counted = _Counted(cache)
        assert cache.lookup("recommendations:{4}", "a", 60).value == b"0123456789"
        assert counted.calls == 0
        assert cache.lookup("recommendations:{0}", "a", 60).value == b"0123456789"
        assert counted.calls == 1  # evicted: asked again
    finally:
        cache.close()
