"""Ratings: save a user's rating (the database is the truth), then drop their cached recommendations."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.exc import IntegrityError

from movierec.cache.guarded import GuardedCache
from movierec.domain.ratings import RatedMovie, Rating, rating_problem
from movierec.services.errors import InvalidInput, NotFound
from movierec.services.recommendations import recommendations_key
from movierec.store.models import utcnow
from movierec.store.uow import Store


class RatingService:
    def __init__(self, store: Store, recommendations_cache: GuardedCache) -> None:
        self.store = store
        self.cache = recommendations_cache

    def rate(self, user_id: int, movie_id: int, rating: int, rated_at: dt.datetime | None = None) -> Rating:
        problem = rating_problem(rating)
        if problem:
            raise InvalidInput(problem)
        rated_at = rated_at or utcnow()
        with self.store.uow() as uow:
            if not uow.movies.exists(movie_id):
                raise NotFound(f"movie {movie_id} not found")
            try:
                # Of two ratings of one movie racing, the later rated_at is kept: answer with what is stored.
                stored, stored_at = uow.ratings.upsert(user_id, movie_id, rating, rated_at)
                uow.commit()
            except IntegrityError:  # the movie vanished between the check and the write
                raise NotFound(f"movie {movie_id} not found") from None
        self.forget_recommendations(user_id)
        return Rating(user_id=user_id, movie_id=movie_id, rating=stored, rated_at=stored_at)

    def remove(self, user_id: int, movie_id: int) -> bool:
        """Take the user's rating of the movie back; False when there was none. ``NotFound`` for no such movie."""
        with self.store.uow() as uow:
            removed = uow.ratings.remove(user_id, movie_id)
            if not removed and not uow.movies.exists(movie_id):
                raise NotFound(f"movie {movie_id} not found")
            uow.commit()
        if removed:
            self.forget_recommendations(user_id)
        return removed

    def forget_recommendations(self, user_id: int) -> None:
        """The user's taste changed: drop every cached list of theirs (after the change is committed)."""
        self.cache.drop(recommendations_key(user_id))

    def history(self, user_id: int, limit: int, offset: int = 0) -> tuple[int, list[RatedMovie]]:
        with self.store.uow() as uow:
            total, rows = uow.ratings.for_user(user_id, limit, offset)
            movies = uow.movies.get_many(movie_id for movie_id, _, _ in rows)
        return total, [RatedMovie(movies[m], r, at) for m, r, at in rows if m in movies]
