"""Redis cache adapter: one hash per key, the key's TTL set once by its first write.

Every call has short socket and connect timeouts and is tried once: a slow or absent Redis costs a request at most
``timeout`` seconds and surfaces as ``CacheUnavailable``, which the services catch to carry on uncached.
"""

from __future__ import annotations

import math

from redis import BlockingConnectionPool, Redis
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.retry import Retry

from movierec.cache.port import CacheUnavailable


class RedisCache:
    name = "redis"

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 0.25,
        max_connections: int = 32,
        health_check_interval: int = 30,
    ) -> None:
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        # A bounded pool that waits at most ``timeout`` for a free connection; no retries: the request must not wait.
        self._pool = BlockingConnectionPool.from_url(
            url,
            max_connections=max_connections,
            timeout=timeout,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            health_check_interval=health_check_interval,
            retry=Retry(NoBackoff(), 0),
            decode_responses=True,
        )
        self._client = Redis(connection_pool=self._pool)

    def _unavailable(self, operation: str, exc: Exception) -> CacheUnavailable:
        return CacheUnavailable(f"redis {operation} failed: {type(exc).__name__}: {exc}")

    def get(self, key: str, field: str) -> str | None:
        try:
            value = self._client.hget(key, field)
        except (RedisError, OSError) as exc:
            raise self._unavailable("HGET", exc) from exc
        return None if value is None else str(value)

    def set(self, key: str, field: str, value: str, ttl_seconds: int) -> None:
        if ttl_seconds <= 0:
            raise ValueError("ttl_seconds must be positive")
        try:
            with self._client.pipeline(transaction=True) as pipe:
                pipe.hset(key, field, value)
                pipe.expire(key, ttl_seconds, nx=True)  # only the first write of the key sets its TTL
                pipe.execute()
        except (RedisError, OSError) as exc:
            raise self._unavailable("HSET", exc) from exc

    def delete(self, key: str) -> None:
        try:
            self._client.delete(key)
        except (RedisError, OSError) as exc:
            raise self._unavailable("DEL", exc) from exc

    def ttl(self, key: str) -> float | None:
        try:
            millis = int(self._client.pttl(key))
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
