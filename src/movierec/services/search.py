"""Search use case: validates the query and asks the Search port."""

from __future__ import annotations

from movierec.domain.errors import InvalidInput, SearchUnavailable
from movierec.domain.text import MAX_QUERY_LENGTH, MAX_RESULT_WINDOW, is_blank
from movierec.log import get_logger
from movierec.search.port import MovieIndex, SearchPage, SearchQuery

log = get_logger(__name__)


class SearchService:
    def __init__(self, index: MovieIndex) -> None:
        self.index = index

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
        try:
            return self.index.search(SearchQuery(text=text, genre=genre, limit=limit, offset=offset))
        except SearchUnavailable as exc:  # the engine is away or failed; a programming error is no 503
            log.warning("search.failed", engine=self.index.name, error=repr(exc))
            raise SearchUnavailable() from exc
