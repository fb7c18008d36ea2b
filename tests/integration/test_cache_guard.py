"""The guarded cache over a Redis that goes away and comes back: failures are misses, a failed drop is retried.

A private ``redis-server`` on a free port (the shared one must keep running for everyone else), stopped and
started again on the same port.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis import Redis

from movierec.cache.guarded import GuardedCache
from movierec.cache.port import CacheUnavailable, Entry
from movierec.cache.redis import VERSION_FIELD, RedisCache
from tests.conftest import IN_CI, NOT_A_HANG_SECONDS, wait_until


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class PrivateRedis:
    def __init__(self, directory: Path) -> None:
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        if not os.path.exists(binary):
            message = "redis-server is not installed (scripts/services install redis)"
            if IN_CI:
                pytest.fail(message)
            pytest.skip(message)
        self.binary, self.directory, self.port = binary, directory, _free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            cwd=self.directory,
            stdout=subprocess.DEVNULL,
        )
        wait_until(self._answers, timeout=30, what="the private redis-server to answer")

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1.0) as conn:
                conn.sendall(b"PING\r\n")
                return conn.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=30)
            self.process = None


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture(params=[0, 10], ids=["round-trips", "near-copies"])
def near_seconds(request: pytest.FixtureRequest) -> float:
    return float(request.param)


def test_a_drop_that_failed_is_retried_before_the_key_is_served_again(
    redis_server: PrivateRedis, near_seconds: float
) -> None:
    cache = RedisCache(redis_server.url, timeout=0.5, near_seconds=near_seconds)
    guarded = GuardedCache(cache)
    try:
        entry = guarded.lookup("recommendations:1", "ease_seq||20", 300)
        assert entry is not None and entry.value is None
        guarded.store("recommendations:1", "ease_seq||20", b"[old list]", entry)
        hit = guarded.lookup("recommendations:1", "ease_seq||20", 300)
        assert hit is not None and hit.value == b"[old list]"

        # The user rates while this process cannot reach Redis (which keeps its data: a network blip, here a pause).
        assert redis_server.process is not None
        redis_server.process.send_signal(19)  # SIGSTOP: the server holds its data but answers nothing
        try:
            guarded.drop("recommendations:1")  # fails: remembered
            assert guarded.pending_drops() == 1
            assert guarded.lookup("recommendations:1", "ease_seq||20", 300) is None  # still unreachable: a miss
        finally:
            redis_server.process.send_signal(18)  # SIGCONT

        # Reachable again. A timed-out DEL may or may not have reached the server (here the paused server runs it
        # when it resumes); put the old list back as it is when the DEL never arrived.
        raw = Redis.from_url(redis_server.url, socket_timeout=5)
        wait_until(lambda: raw.ping(), timeout=30, what="the resumed server")
        raw.hset("recommendations:1", mapping={VERSION_FIELD: entry.version, "ease_seq||20": b"[old list]"})
        raw.expire("recommendations:1", 300)
        raw.close()
        # This process drops it before serving the key again.
        fresh = guarded.lookup("recommendations:1", "ease_seq||20", 300)
        assert fresh is not None and fresh.value is None
        assert guarded.pending_drops() == 0
    finally:
        cache.close()


def test_a_cache_that_went_away_is_a_miss_and_comes_back_by_itself(
    redis_server: PrivateRedis, near_seconds: float
) -> None:
    cache = RedisCache(redis_server.url, timeout=0.5, near_seconds=near_seconds)
    guarded = GuardedCache(cache)
    try:
        redis_server.stop()
        started = time.monotonic()
        assert guarded.lookup("tokens:7", "abc", 300) is None
        guarded.store("tokens:7", "abc", b"1", None)  # nothing to store under: a no-op, not an error
        assert time.monotonic() - started < NOT_A_HANG_SECONDS  # each call gives up after its 0.5 s timeout
        redis_server.start()
        entry = wait_until(lambda: guarded.lookup("tokens:7", "abc", 300), timeout=30, what="the cache to answer again")
        guarded.store("tokens:7", "abc", b"1", entry)
        again = guarded.lookup("tokens:7", "abc", 300)
        assert again is not None and again.value == b"1"
    finally:
        cache.close()


def test_near_copies_do_not_survive_a_restart_of_redis(redis_server: PrivateRedis) -> None:
    cache = RedisCache(redis_server.url, timeout=0.5, near_seconds=60)
    try:
        entry = cache.lookup("recommendations:2", "a", 300)
        assert cache.store("recommendations:2", "a", b"[list]", entry.version)
        assert cache.lookup("recommendations:2", "a", 300).value == b"[list]"  # now held in the process too
        redis_server.stop()
        redis_server.start()  # without persistence: every key, version and list is gone
        after = wait_until(lambda: _answer(cache, "recommendations:2"), timeout=30, what="the restarted cache")
        assert after.value is None and after.version != entry.version
    finally:
        cache.close()


def test_a_paused_redis_stops_near_copies_after_their_lifetime(redis_server: PrivateRedis) -> None:
    """A Redis that holds its connections but answers nothing cannot announce changes: a copy is then used no longer
    than ``near_seconds`` after it was read (here 1 s), and the lookups after that go to Redis (and time out)."""
    cache = RedisCache(redis_server.url, timeout=0.5, near_seconds=1)
    assert redis_server.process is not None
    try:
        entry = cache.lookup("recommendations:3", "a", 300)
        assert cache.store("recommendations:3", "a", b"[list]", entry.version)
        cache.lookup("recommendations:3", "a", 300)
        redis_server.process.send_signal(19)  # SIGSTOP
        try:
            time.sleep(1.5)  # past the copy's lifetime (a lower bound: any slowness only makes it older)
            with pytest.raises(CacheUnavailable):
                cache.lookup("recommendations:3", "a", 300)
        finally:
            redis_server.process.send_signal(18)  # SIGCONT
    finally:
        cache.close()


def _answer(cache: RedisCache, key: str) -> Entry | None:
    try:
        return cache.lookup(key, "a", 300)
    except CacheUnavailable:
        return None
