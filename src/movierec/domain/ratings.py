"""Rating rules: integers from 1 to 10, one per user and movie (rating again replaces it)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from movierec.domain.errors import InvalidInput
from movierec.domain.movies import Movie

MIN_RATING = 1
MAX_RATING = 10
LIKED_THRESHOLD = 8  # 4 stars and up on a 5-star scale


def rating_problem(value: object) -> str | None:
    """Why ``value`` is not a rating, or None. Booleans, strings and floats are refused, even ``5.0``."""
    if isinstance(value, bool) or not isinstance(value, int):
        return "rating must be an integer from 1 to 10"
    if not MIN_RATING <= value <= MAX_RATING:
        return "rating must be an integer from 1 to 10"
    return None


@dataclass(frozen=True, slots=True)
class Rating:
    user_id: int
    movie_id: int
    rating: int
    rated_at: dt.datetime

    def __post_init__(self) -> None:
        # The one check of the rule below the API (whose request schema reports it field by field).
        problem = rating_problem(self.rating)
        if problem:
            raise InvalidInput(problem)


@dataclass(frozen=True, slots=True)
class RatedMovie:
    movie: Movie
    rating: int
    rated_at: dt.datetime
