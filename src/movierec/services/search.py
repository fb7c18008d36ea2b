"""Search use case: validates the query and asks the Search port.

Pages are kept for ``cache_seconds`` (2 s) per process: popular queries repeat, and each costs a search-engine
round trip. A process that indexes movies itself (the embedded indexer thread) forgets them when it writes
(``forget``); another process's writes show within those seconds, on top of the engine's own refresh interval.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from cachetools import TTLCache

from movierec.domain.errors import InvalidInput, SearchUnavailable
from movierec.domain.text import MAX_QUERY_LENGTH, MAX_RESULT_WINDOW, is_blank
from movierec.log import get_logger
from movierec.search.port import MovieIndex, SearchPage, SearchQuery

log = get_logger(__name__)


class SearchService:
    def __init__(
        self, index: MovieIndex, cache_seconds: float = 2.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.index = index
        self._pages: TTLCache[SearchQuery, SearchPage] | None = (
            TTLCache(maxsize=4096, ttl=cache_seconds, timer=clock) if cache_seconds > 0 else None
        )
        self._lock = threading.Lock()  # cachetools caches are not thread-safe

    def forget(self) -> None:
        """The index changed (this process wrote to it): no page read before is served again."""
        if self._pages is not None:
            with self._lock:
                self._pages.clear()

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
        if self._pages is not None:
            with self._lock:
                page = self._pages.get(query)
            if page is not None:
                return page
        try:
            page = self.index.search(query)
        except SearchUnavailable as exc:  # the engine is away or failed; a programming error is no 503
            log.warning("search.failed", engine=self.index.name, error=repr(exc))
            raise SearchUnavailable() from exc
        if self._pages is not None:
            with self._lock:
                self._pages[query] = page
        return page
