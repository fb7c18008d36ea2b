"""Cache port: small string values grouped under a key that expires as a whole.

Recommendations for a user live under ``recommendations:<user_id>``, one field per variant (strategy, genre,
limit). The key's time-to-live is set when it is first written and not extended by later writes, so nothing is
served more than ``ttl`` seconds after it was computed; deleting the key drops every variant at once.
"""

from __future__ import annotations

from typing import Protocol


class CacheUnavailable(RuntimeError):
    """The cache could not be reached in time. Callers carry on uncached."""


class Cache(Protocol):
    name: str

    def get(self, key: str, field: str) -> str | None: ...

    def set(self, key: str, field: str, value: str, ttl_seconds: int) -> None: ...

    def delete(self, key: str) -> None: ...

    def ttl(self, key: str) -> float | None:
        """Seconds left before ``key`` expires, or None when it does not exist."""
        ...

    def ping(self) -> None: ...

    def close(self) -> None: ...
