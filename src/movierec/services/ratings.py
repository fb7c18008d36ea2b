"""Ratings: save a user's rating (the database is the truth), then drop their cached recommendations."""

from __future__ import annotations

import datetime as dt

from movierec.cache.guarded import GuardedCache
from movierec.domain.clock import utcnow
from movierec.domain.movies import UnknownMovie
from movierec.domain.ratings import RatedMovie, Rating
from movierec.services.catalogue import CatalogueService
from movierec.services.recommendations import recommendations_key
from movierec.store.port import Store


class RatingService:
    def __init__(
        self, store: Store, recommendations_cache: GuardedCache, catalogue: CatalogueService | None = None
    ) -> None:
        self.store = store
        self.cache = recommendations_cache
        self.catalogue = catalogue or CatalogueService(store)  # movies by id, remembered briefly per process

    def rate(self, user_id: int, movie_id: int, rating: int, rated_at: dt.datetime | None = None) -> Rating:
        """Store the rating; ``InvalidInput`` when it breaks the rating rule (checked by ``Rating`` itself),
        ``NotFound`` for no such movie."""
        wanted = Rating(user_id=user_id, movie_id=movie_id, rating=rating, rated_at=rated_at or utcnow())
        with self.store.uow() as uow:
            if not uow.movies.exists(movie_id):
                raise UnknownMovie(movie_id)
            # Of two ratings of one movie racing, the later rated_at is kept: answer with what is stored. The
            # store raises UnknownMovie when the movie vanished between the check and the write.
            stored = uow.ratings.upsert(user_id, movie_id, wanted.rating, wanted.rated_at)
            uow.commit()
        self.catalogue.forget_numbers(movie_id)
        self.forget_recommendations(user_id)
        return Rating(user_id=user_id, movie_id=movie_id, rating=stored.rating, rated_at=stored.rated_at)

    def remove(self, user_id: int, movie_id: int) -> bool:
        """Take the user's rating of the movie back; False when there was none. ``NotFound`` for no such movie."""
        with self.store.uow() as uow:
            removed = uow.ratings.remove(user_id, movie_id)
            if not removed and not uow.movies.exists(movie_id):
                raise UnknownMovie(movie_id)
            uow.commit()
        if removed:
            self.catalogue.forget_numbers(movie_id)
            self.forget_recommendations(user_id)
        return removed

    def forget_recommendations(self, user_id: int) -> None:
        """The user's taste changed: drop every cached list of theirs (after the change is committed)."""
        self.cache.drop(recommendations_key(user_id))

    def history(self, user_id: int, limit: int, offset: int = 0) -> tuple[int, list[RatedMovie]]:
        with self.store.uow() as uow:
            page = uow.ratings.for_user(user_id, limit, offset)
            movies = self.catalogue.get_many((entry.movie_id for entry in page.entries), uow)
        rated = [RatedMovie(movies[e.movie_id], e.rating, e.rated_at) for e in page.entries if e.movie_id in movies]
        return page.total, rated
