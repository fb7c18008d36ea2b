"""In-process cache: the embedded default. Thread-safe, bounded in size, per process (one server process)."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence

from movierec.cache.port import Entry, Slot, new_version


class _Key:
    __slots__ = ("expires_at", "fields", "version")

    def __init__(self, version: bytes, expires_at: float) -> None:
        self.version = version
        self.expires_at = expires_at
        self.fields: dict[str, bytes] = {}


class InProcessCache:
    name = "memory"

    def __init__(self, max_keys: int = 10_000, clock: Callable[[], float] = time.monotonic) -> None:
        self._keys: OrderedDict[str, _Key] = OrderedDict()
        self._lock = threading.Lock()
        self._max_keys = max_keys
        self._clock = clock

    def _live(self, key: str) -> _Key | None:
        entry = self._keys.get(key)
        if entry is not None and entry.expires_at <= self._clock():
            del self._keys[key]
            return None
        return entry

    def lookup(self, key: str, field: str, ttl_seconds: int) -> Entry:
        return self.lookup_many([(key, field, ttl_seconds)])[0]

    def lookup_many(self, slots: Sequence[Slot]) -> list[Entry]:
        if any(ttl <= 0 for _, _, ttl in slots):
            raise ValueError("ttl_seconds must be positive")
        found = []
        with self._lock:
            for key, field, ttl in slots:
                entry = self._live(key)
                if entry is None:
                    entry = self._keys[key] = _Key(new_version(), self._clock() + ttl)
                    while len(self._keys) > self._max_keys:
                        self._keys.popitem(last=False)
                else:
                    self._keys.move_to_end(key)
                found.append(Entry(entry.version, entry.fields.get(field)))
        return found

    def store(self, key: str, field: str, value: bytes, version: bytes) -> bool:
        with self._lock:
            entry = self._live(key)
            if entry is None or entry.version != version:
                return False
            entry.fields[field] = value
            return True

    def drop(self, key: str) -> None:
        with self._lock:
            self._keys.pop(key, None)

    def ttl(self, key: str) -> float | None:
        with self._lock:
            entry = self._live(key)
            return None if entry is None else entry.expires_at - self._clock()

    def ping(self) -> None:
        return None

    def close(self) -> None:
        with self._lock:
            self._keys.clear()
