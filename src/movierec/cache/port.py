"""Cache port: versioned entries grouped under a key that expires, and is dropped, as a whole.

A key (``recommendations:<user_id>``, ``tokens:<user_id>``) holds a *version* and any number of fields. The
protocol that keeps a slow writer from bringing back what a change made stale:

1. ``lookup(key, field, ttl)`` returns the key's version and the field's value in one atomic step, creating the
   version (a fresh random token) and the key's time-to-live when the key does not exist yet.
2. A miss computes the value from the database *after* that lookup, then ``store(key, field, value, version)``
   writes it only if the key still holds that version.
3. A change (a rating, a logout) commits to the database, then ``drop(key)``: every field and the version go at
   once, and a version, once dropped, never comes back (random tokens), so a value computed before the change
   can never be stored after it.

The key's time-to-live is set when the key is created and never extended, so nothing is served more than
``ttl`` seconds after the key began. Values are bytes (ready-to-send JSON).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

# Adapters raise CacheUnavailable when the cache cannot be reached in time; callers carry on uncached.
from movierec.domain.errors import CacheUnavailable

__all__ = ["Cache", "CacheUnavailable", "Entry", "Slot", "new_version"]


@dataclass(frozen=True, slots=True)
class Entry:
    version: bytes
    value: bytes | None  # None: a miss


Slot = tuple[str, str, int]  # (key, field, ttl_seconds)


def new_version() -> bytes:
    return secrets.token_hex(16).encode("ascii")


class Cache(Protocol):
    name: str

    def lookup(self, key: str, field: str, ttl_seconds: int) -> Entry:
        """The key's version (created with ``ttl_seconds`` to live if the key is new) and ``field``'s value."""
        ...

    def lookup_many(self, slots: Sequence[Slot]) -> list[Entry]:
        """``lookup`` of several (key, field, ttl) slots in one round trip, in order."""
        ...

    def store(self, key: str, field: str, value: bytes, version: bytes) -> bool:
        """Write ``field`` if ``key`` still holds ``version``; whether it was written."""
        ...

    def drop(self, key: str) -> None:
        """Remove ``key``: every field and its version."""
        ...

    def ttl(self, key: str) -> float | None:
        """Seconds left before ``key`` expires, or None when it does not exist."""
        ...

    def ping(self) -> None: ...

    def close(self) -> None: ...
