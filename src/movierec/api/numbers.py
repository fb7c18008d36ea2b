"""The numbers on a movie's card, for a page of movies at once: where its votes come from and this app's own ratings.

One query per page (``CatalogueService.numbers``), never one per movie. The numbers are extras: when the database
cannot be read (a search answered by the search engine alone), the movies are sent without them (null), not refused.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence

from pydantic_core import to_json

from movierec.api.extension import container
from movierec.api.schemas import MovieOut
from movierec.domain.errors import DatabaseUnavailable
from movierec.domain.movies import Movie, MovieNumbers
from movierec.log import get_logger

log = get_logger(__name__)


def numbers_of(movie_ids: Iterable[int], *, fresh: bool = False) -> dict[int, MovieNumbers]:
    """The numbers of these movies by id (a few seconds old at most, or ``fresh``); empty when the database cannot
    be read just now."""
    try:
        return container().catalogue.numbers(movie_ids, fresh=fresh)
    except DatabaseUnavailable as exc:
        log.warning("movie_numbers.unavailable", error=type(exc).__name__)
        return {}


def movies_out(movies: Sequence[Movie]) -> list[MovieOut]:
    numbers = numbers_of(m.id for m in movies)
    return [MovieOut.of(m, numbers.get(m.id)) for m in movies]


class MovieJson:
    """Each movie's JSON as pages show it (a ``MovieOut``'s bytes), remembered per movie while the same ``Movie``
    and ``MovieNumbers`` objects come back.

    Both are frozen, and the catalogue hands out the objects it remembers (movies, numbers and listings for a few
    seconds, search pages for two), so a page of 20 movies is mostly 20 dictionary hits and one join, not 20 dicts
    built and serialised again: what made ``/movies/latest`` and ``/search`` cost three times the one-route app.
    A new object (the movie written, its numbers read again, a rating here) misses by identity, so nothing stale
    is ever sent. At most ``maxsize`` movies are kept; past that the memo starts again.
    """

    def __init__(self, maxsize: int = 20_000) -> None:
        self._maxsize = maxsize
        self._memo: dict[int, tuple[Movie, MovieNumbers | None, bytes]] = {}
        self._lock = threading.Lock()

    def one(self, movie: Movie, numbers: MovieNumbers | None) -> bytes:
        found = self._memo.get(movie.id)
        if found is not None and found[0] is movie and found[1] is numbers:
            return found[2]
        rendered = to_json(MovieOut.fields_of(movie, numbers))
        with self._lock:
            if len(self._memo) >= self._maxsize:
                self._memo.clear()
            self._memo[movie.id] = (movie, numbers, rendered)
        return rendered

    def page(self, movies: Sequence[Movie]) -> bytes:
        """The movies as a JSON array, with their numbers (one query for the page, see ``numbers_of``)."""
        return self.page_with(movies, numbers_of(m.id for m in movies))

    def page_with(self, movies: Sequence[Movie], numbers: Mapping[int, MovieNumbers]) -> bytes:
        """The movies as a JSON array, with the numbers given (a movie without: null)."""
        return b"[" + b",".join([self.one(m, numbers.get(m.id)) for m in movies]) + b"]"


movie_json = MovieJson()
