"""Steering: what people tell the recommender besides ratings. A watchlist (movies to watch later) and a "not
interested" list (never recommended again, and a negative signal for movies like them).

Every change is committed first, then the user's cached recommendations are dropped, as a rating drops them: the
cache's versioned keys (``cache/port.py``) keep a list computed before a change from being served after it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from movierec.domain.movies import Movie, UnknownMovie
from movierec.services.ratings import RatingService
from movierec.store.port import MovieListRepository, Store, UnitOfWork

LISTS = ("watchlist", "not_interested")


@dataclass(frozen=True, slots=True)
class ListedMovie:
    movie: Movie
    added_at: dt.datetime


class SteeringService:
    def __init__(self, store: Store, ratings: RatingService) -> None:
        self.store = store
        self.ratings = ratings

    # -- the watchlist -------------------------------------------------------------------------------------------
    def add_to_watchlist(self, user_id: int, movie_id: int) -> bool:
        """Add the movie to the user's watchlist; False when it was there already (kept as it was)."""
        return self.add("watchlist", user_id, movie_id)

    def remove_from_watchlist(self, user_id: int, movie_id: int) -> bool:
        return self.remove("watchlist", user_id, movie_id)

    def watchlist(self, user_id: int, limit: int, offset: int = 0) -> tuple[int, list[ListedMovie]]:
        return self.page("watchlist", user_id, limit, offset)

    # -- not interested ------------------------------------------------------------------------------------------
    def mark_not_interested(self, user_id: int, movie_id: int) -> bool:
        return self.add("not_interested", user_id, movie_id)

    def unmark_not_interested(self, user_id: int, movie_id: int) -> bool:
        return self.remove("not_interested", user_id, movie_id)

    def not_interested(self, user_id: int, limit: int, offset: int = 0) -> tuple[int, list[ListedMovie]]:
        return self.page("not_interested", user_id, limit, offset)

    # -- shared --------------------------------------------------------------------------------------------------
    @staticmethod
    def _list(uow: UnitOfWork, name: str) -> MovieListRepository:
        if name not in LISTS:
            raise ValueError(f"unknown list {name!r}")
        return uow.watchlist if name == "watchlist" else uow.not_interested

    def add(self, name: str, user_id: int, movie_id: int) -> bool:
        """Add the movie to the list ``name`` (watchlist, not_interested); False when it was there already."""
        with self.store.uow() as uow:
            added = self._list(uow, name).add(user_id, movie_id)  # UnknownMovie (a NotFound) for no such movie
            uow.commit()
        if added:
            self.ratings.forget_recommendations(user_id)
        return added

    def remove(self, name: str, user_id: int, movie_id: int) -> bool:
        """Take the movie off the list; False when it was not on it. ``NotFound`` when no movie has this id."""
        with self.store.uow() as uow:
            removed = self._list(uow, name).remove(user_id, movie_id)
            if not removed and not uow.movies.exists(movie_id):
                raise UnknownMovie(movie_id)
            uow.commit()
        if removed:
            self.ratings.forget_recommendations(user_id)
        return removed

    def page(self, name: str, user_id: int, limit: int, offset: int = 0) -> tuple[int, list[ListedMovie]]:
        """How many movies the list ``name`` holds, and one page of them, most recently added first."""
        with self.store.uow() as uow:
            page = self._list(uow, name).page(user_id, limit, offset)
            movies = uow.movies.get_many(entry.movie_id for entry in page.entries)
        listed = [ListedMovie(movies[e.movie_id], e.added_at) for e in page.entries if e.movie_id in movies]
        return page.total, listed
