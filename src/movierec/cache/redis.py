"""Redis cache adapter: one hash per key, holding the key's version (field ``@version``) and its entries.

``lookup`` and ``store`` are small Lua scripts (EVALSHA, one round trip each, atomic on the server); ``drop`` is a
``DEL``. Every call has short socket and connect timeouts and is tried once: a slow or absent Redis costs a request
at most ``timeout`` seconds and surfaces as ``CacheUnavailable``, which callers catch to carry on uncached.

The two scripts run on every cached answer, so they skip the client's command layer (its retry wrapper, per-command
observability hooks and script bookkeeping, about 40 us of CPU a call, half of the round trip's own cost): a
connection is taken from the same bounded pool, the EVALSHA written and its reply read, and the connection given
back (a failed write or read closes it, as in the client).

**The near copy** (:class:`NearCopies`, Redis's client-side caching in broadcasting mode): what a lookup found is
also kept in this process, and a lookup that finds every slot here sends nothing: about a third of a cached
answer's server CPU is that round trip. Redis tells each process about every change to a key under the prefix
(``CLIENT TRACKING ... BCAST``, on one subscribed connection of its own); each lookup first reads every change
Redis has sent (a poll of that socket), so a copy is used only while Redis has said nothing about its key. A drop
is answered only after Redis has written that notice to every process: ``drop`` sends a ``PING`` after its ``DEL``
and returns on its answer, and Redis writes the notices of a command in the same pass as the command's own reply,
before it reads the ``PING``. So a list computed before a rating is not served after it from a copy either. A copy
lives no longer than its key (the lookup reads the key's time to live with it) and at most ``near_seconds``; when
the subscribed connection fails or is closed every copy is forgotten and lookups go to Redis until it is
subscribed again.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from redis import BlockingConnectionPool, Redis
from redis.backoff import NoBackoff
from redis.commands.core import Script
from redis.exceptions import NoScriptError, RedisError
from redis.retry import Retry

from movierec.cache.port import CacheUnavailable, Entry, Slot, new_version
from movierec.log import get_logger

log = get_logger(__name__)

VERSION_FIELD = "@version"  # never an entry's name: entries are strategy variants and token ids

# KEYS: the keys; ARGV: for each key its field, a fresh version and its ttl in seconds (three per key).
# Returns {version, value or false, milliseconds the key has left} per key, flattened.
_LOOKUP = """
local found = {}
for n, key in ipairs(KEYS) do
  local field, fresh, ttl = ARGV[3 * n - 2], ARGV[3 * n - 1], ARGV[3 * n]
  local version = redis.call('HGET', key, '@version')
  if version then
    found[3 * n - 2], found[3 * n - 1], found[3 * n] = version, redis.call('HGET', key, field), redis.call('PTTL', key)
  else
    redis.call('HSET', key, '@version', fresh)
    redis.call('EXPIRE', key, ttl)
    found[3 * n - 2], found[3 * n - 1], found[3 * n] = fresh, false, 1000 * ttl
  end
end
return found
"""

# KEYS[1] the key; ARGV: the version read by lookup, field, value. Returns 1 when written.
_STORE = """
if redis.call('HGET', KEYS[1], '@version') == ARGV[1] then
  redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])
  return 1
end
return 0
"""

INVALIDATIONS = "__redis__:invalidate"  # the channel Redis's client-side caching sends changed keys to


class NearCopies:
    """Entries a lookup found, kept in this process while Redis has said nothing about their key.

    ``subscribe`` opens a connection of its own (RESP2), asks Redis to send it the name of every key under
    ``prefix`` that changes (``CLIENT TRACKING on REDIRECT <itself> BCAST PREFIX``) and subscribes to those notices.
    Every ``get`` and ``keep`` first reads what has arrived (a poll, no round trip), under one lock. A copy is kept
    only when no notice at all arrived between the ``get`` that missed and the ``keep`` (the *generation* counts
    notices): a change in that window may have come before the read or after it. Any failure of the connection
    forgets every copy, and nothing is kept again until a new subscription stands. At most ``max_keys`` keys and
    ``max_bytes`` of values are held; the keys kept longest ago go first.
    """

    def __init__(
        self,
        subscribe: Callable[[], Any],
        *,
        max_seconds: float,
        max_keys: int = 4096,
        max_bytes: int = 64 << 20,
        retry_seconds: float = 1.0,
        max_retry_seconds: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._subscribe = subscribe
        self._max_seconds = max_seconds
        self._max_keys = max_keys
        self._max_bytes = max_bytes
        self._bytes = 0  # of the values held
        self._retry_seconds = self._first_retry = retry_seconds
        self._max_retry = max_retry_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._copies: dict[str, dict[str, tuple[Entry, float]]] = {}  # key -> field -> (entry, usable until)
        self._connection: Any = None
        self._generation = 0
        self._retry_at = 0.0

    def get(self, keys: Sequence[str], fields: Sequence[str]) -> tuple[list[Entry] | None, int, float]:
        """Every slot's copy, or None; and the generation and the time to pass to ``keep`` after a round trip."""
        with self._lock:
            now = self._clock()
            if not self._listening(now):
                return None, -1, now
            found: list[Entry] = []
            for key, field in zip(keys, fields, strict=True):
                held = self._copies.get(key, {}).get(field)
                if held is None or held[1] <= now:
                    return None, self._generation, now
                found.append(held[0])
            return found, self._generation, now

    def keep(
        self,
        generation: int,
        asked_at: float,
        keys: Sequence[str],
        fields: Sequence[str],
        found: Sequence[Entry],
        millis_left: Sequence[int],
    ) -> None:
        """Keep what a round trip begun at ``asked_at`` found, unless Redis announced any change meanwhile."""
        with self._lock:
            if generation < 0 or not self._listening(self._clock()) or generation != self._generation:
                return
            for key, field, entry, millis in zip(keys, fields, found, millis_left, strict=True):
                if entry.value is None or millis <= 0:
                    continue
                until = asked_at + min(millis / 1000, self._max_seconds)  # the key's expiry counted from the ask
                fields_of = self._copies.pop(key, None) or {}
                replaced = fields_of.get(field)
                self._bytes += len(entry.value) - (len(replaced[0].value or b"") if replaced else 0)
                fields_of[field] = (entry, until)
                self._copies[key] = fields_of  # newest last: the oldest key goes first when full
                while self._copies and (len(self._copies) > self._max_keys or self._bytes > self._max_bytes):
                    self._drop(next(iter(self._copies)))

    def held(self) -> tuple[int, int]:
        """How many keys have copies, and the bytes of their values (for tests and operators)."""
        with self._lock:
            return len(self._copies), self._bytes

    def _drop(self, key: str) -> None:
        fields_of = self._copies.pop(key, None)
        if fields_of:
            self._bytes -= sum(len(entry.value or b"") for entry, _ in fields_of.values())

    def _clear(self) -> None:
        self._copies.clear()
        self._bytes = 0

    def close(self) -> None:
        with self._lock:
            self._forget(self._connection)

    def _listening(self, now: float) -> bool:
        """Apply every notice that has arrived; False when there is no subscription (copies are then not used)."""
        connection = self._connection
        if connection is None:
            if now < self._retry_at:
                return False
            try:
                self._connection = self._subscribe()
            except (RedisError, OSError) as exc:  # down, or a server that refuses tracking: asked less and less often
                delay = self._retry_seconds
                self._retry_at = now + delay
                self._retry_seconds = min(2 * delay, self._max_retry)
                log.warning("cache.near_unavailable", error=f"{type(exc).__name__}: {exc}", retry_in=delay)
                return False
            self._retry_seconds = self._first_retry
            self._generation += 1  # a round trip begun before the subscription must not be kept
            return True
        try:
            while connection.can_read(timeout=0):
                self._apply(connection.read_response())
        except (RedisError, OSError) as exc:
            log.warning("cache.near_lost", error=f"{type(exc).__name__}: {exc}")
            self._forget(connection)
            return False
        return True

    def _apply(self, message: Any) -> None:
        self._generation += 1
        if not (isinstance(message, list) and len(message) == 3 and message[0] == b"message"):
            return  # the subscription's own confirmation: nothing to forget
        keys = message[2]
        if keys is None:  # a FLUSHDB / FLUSHALL, or Redis cannot say which keys: everything
            self._clear()
            return
        for key in keys:
            self._drop(key.decode("utf-8", "replace") if isinstance(key, bytes) else str(key))

    def _forget(self, connection: Any) -> None:
        self._clear()
        self._generation += 1
        self._connection = None
        if connection is not None:
            connection.disconnect()


class RedisCache:
    name = "redis"

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 0.25,
        max_connections: int = 32,
        health_check_interval: int = 30,
        key_prefix: str = "",
        near_seconds: float = 0.0,
    ) -> None:
        """``key_prefix`` namespaces every key (one per database, so two databases never share entries).
        ``near_seconds`` > 0 keeps near copies (see the module docstring) for at most that long."""
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self._prefix = key_prefix
        # A bounded pool that waits at most ``timeout`` for a free connection; no retries: the request must not wait.
        self._pool = BlockingConnectionPool.from_url(
            url,
            max_connections=max_connections,
            timeout=timeout,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            health_check_interval=health_check_interval,
            retry=Retry(NoBackoff(), 0),
        )
        self._client = Redis(connection_pool=self._pool)
        self._lookup = self._client.register_script(_LOOKUP)
        self._store = self._client.register_script(_STORE)
        self._near = NearCopies(self._subscribe, max_seconds=near_seconds) if near_seconds > 0 else None
        self.near_client_id: int | None = None  # the subscribed connection's id on the server (for operators, tests)

    def _subscribe(self) -> Any:
        """A connection of its own that Redis sends the names of changed keys under the prefix to."""
        pool: Any = self._pool
        connection = pool.connection_class(**{**pool.connection_kwargs, "protocol": 2})
        try:
            connection.connect()
            connection.send_command("CLIENT", "ID")
            own = self.near_client_id = connection.read_response()
            tracking = ["CLIENT", "TRACKING", "on", "REDIRECT", own, "BCAST"]
            connection.send_command(*tracking, *(["PREFIX", self._prefix] if self._prefix else []))
            connection.read_response()
            connection.send_command("SUBSCRIBE", INVALIDATIONS)
            connection.read_response()
        except BaseException:
            connection.disconnect()
            raise
        return connection

    def _unavailable(self, operation: str, exc: Exception) -> CacheUnavailable:
        return CacheUnavailable(f"redis {operation} failed: {type(exc).__name__}: {exc}")

    def lookup(self, key: str, field: str, ttl_seconds: int) -> Entry:
        return self.lookup_many([(key, field, ttl_seconds)])[0]

    def lookup_many(self, slots: Sequence[Slot]) -> list[Entry]:
        if any(ttl <= 0 for _, _, ttl in slots):
            raise ValueError("ttl_seconds must be positive")
        keys = [self._prefix + key for key, _, _ in slots]
        fields = [field for _, field, _ in slots]
        near = self._near
        if near is not None:
            copies, generation, asked_at = near.get(keys, fields)
            if copies is not None:
                return copies
        args: list[str | bytes | int] = []
        for _, field, ttl in slots:
            args += [field, new_version(), ttl]
        try:
            reply = self._run(self._lookup, keys, args)
        except (RedisError, OSError) as exc:
            raise self._unavailable("lookup", exc) from exc
        found = [
            Entry(bytes(reply[3 * n]), None if reply[3 * n + 1] is None else bytes(reply[3 * n + 1]))
            for n in range(len(slots))
        ]
        if near is not None:
            near.keep(generation, asked_at, keys, fields, found, [int(reply[3 * n + 2]) for n in range(len(slots))])
        return found

    def store(self, key: str, field: str, value: bytes, version: bytes) -> bool:
        try:
            return bool(self._run(self._store, [self._prefix + key], [version, field, value]))
        except (RedisError, OSError) as exc:
            raise self._unavailable("store", exc) from exc

    def _run(self, script: Script, keys: list[str], args: list[str | bytes | int]) -> Any:
        """EVALSHA ``script`` on a pooled connection; loads it once if the server lost it (a restart, a flush)."""
        pool: Any = self._pool  # redis-py's pool methods are untyped
        connection = pool.get_connection()
        try:  # a failed write or read disconnects the connection itself (redis-py), so a half-read reply never stays
            try:
                return self._evalsha(connection, script.sha, keys, args)
            except NoScriptError:
                script.sha = self._client.script_load(script.script)
                return self._evalsha(connection, script.sha, keys, args)
        finally:
            pool.release(connection)

    @staticmethod
    def _evalsha(connection: Any, sha: str, keys: list[str], args: list[str | bytes | int]) -> Any:
        connection.send_packed_command(connection.pack_command("EVALSHA", sha, len(keys), *keys, *args))
        return connection.read_response()

    def drop(self, key: str) -> None:
        """``DEL``, then a ``PING`` on its answer: Redis reads the ``PING`` only after writing the key's change
        notice to every process that keeps near copies, so when this returns none of them can use one."""
        try:
            self._client.delete(self._prefix + key)
            self._client.ping()
        except (RedisError, OSError) as exc:
            raise self._unavailable("DEL", exc) from exc

    def ttl(self, key: str) -> float | None:
        try:
            millis = int(self._client.pttl(self._prefix + key))
        except (RedisError, OSError) as exc:
            raise self._unavailable("PTTL", exc) from exc
        if millis == -2:  # no such key
            return None
        if millis == -1:  # exists without a TTL (not written by this adapter)
            return math.inf
        return millis / 1000

    def ping(self) -> None:
        try:
            self._client.ping()
        except (RedisError, OSError) as exc:
            raise self._unavailable("PING", exc) from exc

    def close(self) -> None:
        if self._near is not None:
            self._near.close()
        self._client.close()
        self._pool.disconnect()
