"""The numbers on a movie's card, for a page of movies at once: where its votes come from and this app's own ratings.

One query per page (``CatalogueService.numbers``), never one per movie. The numbers are extras: when the database
cannot be read (a search answered by the search engine alone), the movies are sent without them (null), not refused.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

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
