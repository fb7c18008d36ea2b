"""Search use case: validates the query and asks the Search port.

Popular queries repeat and each costs a search-engine round trip, so each process keeps the pages it got. They are
kept under the index's *generation*: the version of the ``search:pages`` cache key (cache/port.py), which every
process reads (with Redis from its near copy, no round trip while nothing changed) and which the indexer drops after
each write to the index (``forget``, in whichever process indexes). So a page read before a write is not served
after the indexer has written, in any process, and pages are kept for ``generation_seconds`` (60 s) while the index
does not change. When the cache cannot be read there is no generation: pages are then kept ``cache_seconds``
(2 s), and writes elsewhere show within those seconds (on top of the engine's own refresh interval).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from cachetools import TTLCache

from movierec.cache.guarded import GuardedCache
from movierec.domain.errors import InvalidInput, SearchUnavailable
from movierec.domain.text import MAX_QUERY_LENGTH, MAX_RESULT_WINDOW, is_blank
from movierec.log import get_logger
from movierec.search.port import MovieIndex, SearchPage, SearchQuery

log = get_logger(__name__)

PAGES_KEY = "search:pages"  # its version is the index's generation; dropped after every write to the index
PAGES_FIELD = "generation"  # a marker stored under the version, so that lookups of the key are hits
PAGES_KEY_SECONDS = 3600  # a new generation at least hourly (one miss per query and process)

_Pages = TTLCache[tuple[bytes | None, SearchQuery], SearchPage]


class SearchService:
    def __init__(
        self,
        index: MovieIndex,
        cache: GuardedCache | None = None,
        cache_seconds: float = 2.0,
        generation_seconds: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.index = index
        self.cache = cache
        self._pages: _Pages | None = (
            TTLCache(maxsize=4096, ttl=cache_seconds, timer=clock) if cache_seconds > 0 else None
        )
        self._generations: _Pages | None = (
            TTLCache(maxsize=4096, ttl=generation_seconds, timer=clock)
            if cache is not None and generation_seconds > 0
            else None
        )
        self._lock = threading.Lock()  # cachetools caches are not thread-safe

    def forget(self) -> None:
        """The index changed (this process wrote to it): no page read before is served again, here or (through the
        cache) in any other process."""
        if self.cache is not None:
            self.cache.drop(PAGES_KEY)  # a failed drop is retried before this process reads the key again
        with self._lock:
            for pages in (self._pages, self._generations):
                if pages is not None:
                    pages.clear()

    def _generation(self) -> bytes | None:
        """The index's generation, or None when the cache cannot tell it."""
        if self.cache is None:
            return None
        entry = self.cache.lookup(PAGES_KEY, PAGES_FIELD, PAGES_KEY_SECONDS)
        if entry is None:
            return None
        if entry.value is None:  # a new generation: mark it, so that the next lookups find something to keep
            self.cache.store(PAGES_KEY, PAGES_FIELD, b"1", entry)
        return entry.version

    def held(self, text: str | None, genre: str | None, limit: int, offset: int) -> SearchPage | None:
        """The page ``search`` would return when this process holds it for the index's current generation (one
        cache lookup, no search engine call); None otherwise. A query ``search`` refuses is never held."""
        if self._generations is None:
            return None
        generation = self._generation()
        if generation is None:
            return None
        query = SearchQuery(text=text, genre=genre, limit=limit, offset=offset)
        with self._lock:
            return self._generations.get((generation, query))

    def search(self, text: str | None, genre: str | None, limit: int, offset: int) -> SearchPage:
        if text is not None:
            if is_blank(text):
                raise InvalidInput("q must not be empty")
            if len(text) > MAX_QUERY_LENGTH:
                raise InvalidInput(f"q must be at most {MAX_QUERY_LENGTH} characters")
        if genre is not None and (is_blank(genre) or len(genre) > 64):
            raise InvalidInput("genre must be 1-64 characters")
        if offset + limit > MAX_RESULT_WINDOW:
            raise InvalidInput(f"offset + limit must be at most {MAX_RESULT_WINDOW}")
        query = SearchQuery(text=text, genre=genre, limit=limit, offset=offset)
        generation = self._generation() if self._generations is not None else None
        pages = self._pages if generation is None else self._generations
        if pages is not None:
            with self._lock:
                page = pages.get((generation, query))
            if page is not None:
                return page
        try:
            page = self.index.search(query)
        except SearchUnavailable as exc:  # the engine is away or failed; a programming error is no 503
            log.warning("search.failed", engine=self.index.name, error=repr(exc))
            raise SearchUnavailable() from exc
        if pages is not None:
            with self._lock:
                pages[(generation, query)] = page
        return page
