"""In-process TTL cache: the embedded default. Thread-safe, bounded in size, per process."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable


class InProcessCache:
    name = "memory"

    def __init__(self, max_keys: int = 10_000, clock: Callable[[], float] = time.monotonic) -> None:
        self._entries: OrderedDict[str, tuple[float, dict[str, str]]] = OrderedDict()
        self._lock = threading.Lock()
        self._max_keys = max_keys
        self._clock = clock

    def _live(self, key: str) -> dict[str, str] | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        expires_at, fields = entry
        if expires_at <= self._clock():
            del self._entries[key]
            return None
        return fields

    def get(self, key: str, field: str) -> str | None:
        with self._lock:
            fields = self._live(key)
            return None if fields is None else fields.get(field)

    def set(self, key: str, field: str, value: str, ttl_seconds: int) -> None:
        with self._lock:
            fields = self._live(key)
            if fields is None:
                fields = {}
                self._entries[key] = (self._clock() + ttl_seconds, fields)
            fields[field] = value
            self._entries.move_to_end(key)
            while len(self._entries) > self._max_keys:
                self._entries.popitem(last=False)

    def delete(self, key: str) -> None:
        with self._lock:
            self._entries.pop(key, None)

    def ttl(self, key: str) -> float | None:
        with self._lock:
            if self._live(key) is None:
                return None
            return self._entries[key][0] - self._clock()

    def ping(self) -> None:
        return None

    def close(self) -> None:
        with self._lock:
            self._entries.clear()
