"""What services use of the cache: failures become misses, and a drop that failed is not forgotten.

The database is the truth; the cache only saves work. So a cache that cannot be reached costs a lookup (served
uncached) and never a request. One failure needs more than a log line: a ``drop`` that did not reach the cache
leaves entries that a change made stale. The key is remembered, and before this process looks it up again the
drop is retried; until it succeeds, that key is a miss here. (Another process that can reach the cache while this
one cannot may serve the old entry until the key expires, at most its time-to-live.)
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from movierec.cache.port import Cache, CacheUnavailable, Entry, Slot
from movierec.log import get_logger

log = get_logger(__name__)


class GuardedCache:
    def __init__(self, cache: Cache) -> None:
        self.cache = cache
        self._pending: set[str] = set()
        self._lock = threading.Lock()

    def lookup(self, key: str, field: str, ttl_seconds: int) -> Entry | None:
        """The key's version and the field's value; None when the cache cannot be used for this key now."""
        return self.lookup_many([(key, field, ttl_seconds)])[0]

    def lookup_many(self, slots: Sequence[Slot]) -> list[Entry | None]:
        """``lookup`` of several slots in one round trip (a request's token check and its answer)."""
        found: list[Entry | None] = [None] * len(slots)
        usable = [n for n, (key, _, _) in enumerate(slots) if not self._pending or self._retry_drop(key)]
        if usable:
            try:
                entries = self.cache.lookup_many([slots[n] for n in usable])
            except CacheUnavailable as exc:
                log.warning("cache.lookup_failed", keys=[slots[n][0] for n in usable], error=str(exc))
            else:
                for n, entry in zip(usable, entries, strict=True):
                    found[n] = entry
        return found

    def store(self, key: str, field: str, value: bytes, entry: Entry | None) -> None:
        if entry is None:  # the lookup failed: no version to write under
            return
        try:
            self.cache.store(key, field, value, entry.version)
        except CacheUnavailable as exc:
            log.warning("cache.store_failed", key=key, error=str(exc))

    def drop(self, key: str) -> None:
        try:
            self.cache.drop(key)
        except CacheUnavailable as exc:
            log.warning("cache.drop_failed", key=key, error=str(exc))
            with self._lock:
                self._pending.add(key)

    def pending_drops(self) -> int:
        return len(self._pending)

    def _retry_drop(self, key: str) -> bool:
        """True when ``key`` has no drop pending (any more)."""
        with self._lock:
            if key not in self._pending:
                return True
        try:
            self.cache.drop(key)
        except CacheUnavailable:
            return False
        with self._lock:
            self._pending.discard(key)
        log.info("cache.drop_retried", key=key)
        return True
