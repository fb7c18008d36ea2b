"""Redis cache adapter: one hash per key, holding the key's version (field ``@version``) and its entries.

``lookup`` and ``store`` are small Lua scripts (EVALSHA, one round trip each, atomic on the server); ``drop`` is a
``DEL``. Every call has short socket and connect timeouts and is tried once: a slow or absent Redis costs a request
at most ``timeout`` seconds and surfaces as ``CacheUnavailable``, which callers catch to carry on uncached.

The two scripts run on every cached answer, so they skip the client's command layer (its retry wrapper, per-command
observability hooks and script bookkeeping, about 40 us of CPU a call, half of the round trip's own cost): a
connection is taken from the same bounded pool, the EVALSHA written and its reply read, and the connection given
back (a failed write or read closes it, as in the client).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from redis import BlockingConnectionPool, Redis
from redis.backoff import NoBackoff
from redis.commands.core import Script
from redis.exceptions import NoScriptError, RedisError
from redis.retry import Retry

from movierec.cache.port import CacheUnavailable, Entry, Slot, new_version

VERSION_FIELD = "@version"  # never an entry's name: entries are strategy variants and token ids

# KEYS: the keys; ARGV: for each key its field, a fresh version and its ttl in seconds (three per key).
# Returns {version, value or false} per key, flattened.
_LOOKUP = """
local found = {}
for n, key in ipairs(KEYS) do
  local field, fresh, ttl = ARGV[3 * n - 2], ARGV[3 * n - 1], ARGV[3 * n]
  local version = redis.call('HGET', key, '@version')
  if version then
    found[2 * n - 1], found[2 * n] = version, redis.call('HGET', key, field)
  else
    redis.call('HSET', key, '@version', fresh)
    redis.call('EXPIRE', key, ttl)
    found[2 * n - 1], found[2 * n] = fresh, false
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
    ) -> None:
        """``key_prefix`` namespaces every key (one per database, so two databases never share entries)."""
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

    def _unavailable(self, operation: str, exc: Exception) -> CacheUnavailable:
        return CacheUnavailable(f"redis {operation} failed: {type(exc).__name__}: {exc}")

    def lookup(self, key: str, field: str, ttl_seconds: int) -> Entry:
        return self.lookup_many([(key, field, ttl_seconds)])[0]

    def lookup_many(self, slots: Sequence[Slot]) -> list[Entry]:
        if any(ttl <= 0 for _, _, ttl in slots):
            raise ValueError("ttl_seconds must be positive")
        args: list[str | bytes | int] = []
        for _, field, ttl in slots:
            args += [field, new_version(), ttl]
        try:
            reply = self._run(self._lookup, [self._prefix + key for key, _, _ in slots], args)
        except (RedisError, OSError) as exc:
            raise self._unavailable("lookup", exc) from exc
        return [
            Entry(bytes(reply[2 * n]), None if reply[2 * n + 1] is None else bytes(reply[2 * n + 1]))
            for n in range(len(slots))
        ]

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
        try:
            self._client.delete(self._prefix + key)
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
        self._client.close()
        self._pool.disconnect()
