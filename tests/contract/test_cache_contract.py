"""The Cache port contract: every adapter behaves the same."""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from movierec.cache.memory import InProcessCache
from movierec.cache.port import Cache, CacheUnavailable, Entry
from movierec.cache.redis import RedisCache
from tests.conftest import NOT_A_HANG_SECONDS, service_url


def _memory() -> Cache:
    return InProcessCache()


def _redis() -> Cache:
    # Every test writes under its own ``key`` (a fresh UUID), so tests never collide on a shared server.
    return RedisCache(service_url("redis"), timeout=1.0)


def _redis_near() -> Cache:
    # The same contract with near copies kept in the process (answers from them must be the same).
    return RedisCache(service_url("redis"), timeout=1.0, near_seconds=10)


ADAPTERS: dict[str, Callable[[], Cache]] = {"memory": _memory, "redis": _redis, "redis-near": _redis_near}


@pytest.fixture(params=sorted(ADAPTERS))
def cache(request: pytest.FixtureRequest) -> Iterator[Cache]:
    adapter = ADAPTERS[request.param]()
    yield adapter
    adapter.close()


@pytest.fixture
def key() -> str:
    return f"recommendations:test-{uuid.uuid4().hex}"


def test_a_lookup_creates_the_version_and_misses(cache: Cache, key: str) -> None:
    assert cache.ttl(key) is None
    first = cache.lookup(key, "a", 60)
    assert first.value is None and first.version
    again = cache.lookup(key, "b", 60)
    assert again.version == first.version and again.value is None
    ttl = cache.ttl(key)
    assert ttl is not None and 0 < ttl <= 60


def test_store_under_the_version_then_hit(cache: Cache, key: str) -> None:
    entry = cache.lookup(key, "ease|drama|10", 60)
    value = '[{"title": "Amélie"}]'.encode()
    assert cache.store(key, "ease|drama|10", value, entry.version) is True
    assert cache.store(key, "seed||20", b"[]", entry.version) is True
    assert cache.lookup(key, "ease|drama|10", 60) == Entry(entry.version, value)
    assert cache.lookup(key, "seed||20", 60).value == b"[]"
    binary = bytes(range(256))
    assert cache.store(key, "raw", binary, entry.version) is True
    assert cache.lookup(key, "raw", 60).value == binary


def test_a_drop_removes_every_field_and_the_version_never_returns(cache: Cache, key: str) -> None:
    before = cache.lookup(key, "a", 60)
    cache.store(key, "a", b"1", before.version)
    cache.store(key, "b", b"2", before.version)
    cache.drop(key)
    assert cache.ttl(key) is None
    after = cache.lookup(key, "a", 60)
    assert after.value is None and after.version != before.version
    # A value computed before the drop, written after it, is refused: the race a slow request runs.
    assert cache.store(key, "a", b"stale", before.version) is False
    assert cache.lookup(key, "a", 60).value is None
    cache.drop(key)
    cache.drop(key)  # dropping a missing key is fine


def test_store_without_a_key_is_refused(cache: Cache, key: str) -> None:
    assert cache.store(key, "a", b"1", b"made-up") is False
    assert cache.ttl(key) is None


def test_ttl_is_set_once_and_not_extended(cache: Cache, key: str) -> None:
    entry = cache.lookup(key, "a", 300)
    first = cache.ttl(key)
    assert first is not None and 0 < first <= 300
    time.sleep(1.1)
    cache.store(key, "b", b"2", entry.version)
    cache.lookup(key, "b", 300)
    second = cache.ttl(key)
    assert second is not None and second < first


def test_entries_expire_with_their_version(cache: Cache, key: str) -> None:
    entry = cache.lookup(key, "a", 1)
    cache.store(key, "a", b"1", entry.version)
    assert cache.lookup(key, "a", 1).value == b"1"
    time.sleep(1.3)
    assert cache.ttl(key) is None
    assert cache.store(key, "a", b"late", entry.version) is False
    fresh = cache.lookup(key, "a", 1)
    assert fresh.value is None and fresh.version != entry.version


def test_lookup_many_reads_several_keys_in_order(cache: Cache, key: str) -> None:
    other = f"{key}-other"
    first = cache.lookup(key, "a", 60)
    cache.store(key, "a", b"1", first.version)
    got = cache.lookup_many([(other, "t", 30), (key, "a", 60), (key, "b", 60)])
    assert [entry.value for entry in got] == [None, b"1", None]
    assert got[1].version == got[2].version == first.version and got[0].version != first.version
    ttl = cache.ttl(other)
    assert ttl is not None and 0 < ttl <= 30  # each key created with its own ttl
    assert cache.lookup_many([]) == []


def test_concurrent_lookups_agree_on_one_version(cache: Cache, key: str) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        versions = set(pool.map(lambda _: cache.lookup(key, "a", 60).version, range(32)))
    assert len(versions) == 1


def test_ping(cache: Cache) -> None:
    cache.ping()


# -- Redis specific: an unreachable or silent server fails fast instead of hanging ---------------------------------


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])  # closed again when the block ends: nothing listens there


@pytest.fixture
def silent_server() -> Iterator[socket.socket]:
    """A listening socket whose connections complete (kernel backlog) but are never accepted or answered."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(64)
        yield server


def connections_made(server: socket.socket) -> int:
    """How many connections reached the silent server: each waits in its backlog, closed by the client or not."""
    server.setblocking(False)
    count = 0
    while True:
        try:
            connection, _ = server.accept()
        except BlockingIOError:
            return count
        connection.close()
        count += 1


FAILING_CALLS = 5


def _assert_fails_fast(cache: Cache) -> None:
    calls = (
        lambda: cache.lookup("k", "f", 60),
        lambda: cache.store("k", "f", b"v", b"1"),
        lambda: cache.drop("k"),
        lambda: cache.ttl("k"),
        cache.ping,
    )
    assert len(calls) == FAILING_CALLS
    for call in calls:
        started = time.monotonic()
        with pytest.raises(CacheUnavailable):
            call()
        assert time.monotonic() - started < NOT_A_HANG_SECONDS


def test_redis_refusing_connections_raises_cache_unavailable_quickly() -> None:
    cache = RedisCache(f"redis://127.0.0.1:{_closed_port()}/0", timeout=0.25)
    try:
        _assert_fails_fast(cache)
    finally:
        cache.close()


def test_redis_that_never_answers_times_out_quickly(silent_server: socket.socket) -> None:
    cache = RedisCache(f"redis://127.0.0.1:{silent_server.getsockname()[1]}/0", timeout=0.2)
    try:
        _assert_fails_fast(cache)
    finally:
        cache.close()
    # One socket timeout each, no retries: a retry would be another connection.
    assert 1 <= connections_made(silent_server) <= FAILING_CALLS


@pytest.mark.services
def test_redis_key_prefixes_keep_two_databases_apart(key: str) -> None:
    one = RedisCache(service_url("redis"), timeout=1.0, key_prefix="movierec:one:")
    two = RedisCache(service_url("redis"), timeout=1.0, key_prefix="movierec:two:")
    try:
        entry = one.lookup(key, "a", 60)
        assert one.store(key, "a", b"from one", entry.version)
        assert two.lookup(key, "a", 60).value is None
        assert two.store(key, "a", b"from two", entry.version) is False  # another key, another version
        two.drop(key)
        assert one.lookup(key, "a", 60).value == b"from one"
    finally:
        one.drop(key)
        two.drop(key)
        one.close()
        two.close()


def test_the_cache_namespace_names_the_database_not_its_password() -> None:
    from movierec.settings import load_settings
    from movierec.wiring import cache_namespace

    secret = "a-test-secret-that-is-long-enough"
    first = load_settings(database_url="postgresql://app:one@db/movierec", secret_key=secret)
    same = load_settings(database_url="postgresql://app:two@db/movierec", secret_key=secret)
    other = load_settings(database_url="postgresql://app:one@db/staging", secret_key=secret)
    assert cache_namespace(first) == cache_namespace(same) != cache_namespace(other)
