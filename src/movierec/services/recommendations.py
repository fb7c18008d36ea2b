"""Recommendations: computed from the user's current ratings, cached per user for five minutes."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass

import numpy as np

from movierec.cache.port import Cache
from movierec.domain.documents import movie_from_document, movie_to_document
from movierec.domain.movies import Movie
from movierec.domain.recommenders import DEFAULT_STRATEGY, STRATEGIES
from movierec.domain.recommenders.base import UserHistory
from movierec.log import get_logger
from movierec.metrics import recommendation_computed, recommendation_served, timed
from movierec.services.errors import InvalidInput, NotFound
from movierec.services.models import ModelRegistry
from movierec.services.ratings import recommendations_key
from movierec.store.uow import Store

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Recommendation:
    movie: Movie
    score: float
    reason: str


@dataclass(frozen=True, slots=True)
class RecommendationList:
    user_id: int
    strategy: str
    cached: bool
    items: list[Recommendation]


def favourite_genre(genres_of_rated: list[tuple[str, ...]]) -> str | None:
    """The genre the user rated most (ties alphabetically), as the seed formula defines it."""
    counts = Counter(g for genres in genres_of_rated for g in genres)
    if not counts:
        return None
    return min(counts, key=lambda g: (-counts[g], g))


class RecommendationService:
    def __init__(self, store: Store, cache: Cache, models: ModelRegistry, ttl_seconds: int = 300) -> None:
        self.store = store
        self.cache = cache
        self.models = models
        self.ttl = ttl_seconds

    @staticmethod
    def strategies() -> list[str]:
        return list(STRATEGIES)

    def recommend(
        self, user_id: int, strategy: str | None = None, genre: str | None = None, limit: int = 20
    ) -> RecommendationList:
        strategy = strategy or DEFAULT_STRATEGY
        if strategy not in STRATEGIES:
            raise InvalidInput(f"unknown strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}")
        if genre is not None:
            known = self._known_genre(genre)
            if known is None:  # no movie has this genre: nothing to recommend
                return RecommendationList(user_id=user_id, strategy=strategy, cached=False, items=[])
            genre = known
        # The field names the user's ratings version: a list computed before a rating can never be served after
        # it, even if it reached the cache after that rating dropped the user's entries.
        with self.store.uow() as uow:
            version = uow.ratings.version(user_id)
        key, field = recommendations_key(user_id), f"{strategy}|{genre or ''}|{limit}|{version}"
        hit = self._cache_get(key, field)
        if hit is not None:
            try:
                recommendation_served(cached=True)
                return self._decode(user_id, strategy, hit)
            except (KeyError, TypeError, ValueError):
                log.warning("cache.bad_entry", key=key)
        recommendation_served(cached=False)
        items = self._compute(user_id, strategy, genre, limit)
        self._cache_set(key, field, self._encode(items))
        return RecommendationList(user_id=user_id, strategy=strategy, cached=False, items=items)

    def similar(self, movie_id: int, limit: int) -> tuple[Movie, list[Recommendation]]:
        with self.store.uow() as uow:
            movie = uow.movies.get(movie_id)
        if movie is None:
            raise NotFound(f"movie {movie_id} not found")
        ids, scores = self.models.model(DEFAULT_STRATEGY).similar_items(movie_id, limit)
        with self.store.uow() as uow:
            movies = uow.movies.get_many(int(i) for i in ids)
        items = [
            Recommendation(movies[int(i)], float(s), f"people who liked {movie.title} liked this too")
            for i, s in zip(ids, scores, strict=True)
            if int(i) in movies
        ]
        return movie, items

    # -- computing -----------------------------------------------------------------------------------------------
    @timed(recommendation_computed)
    def _compute(self, user_id: int, strategy: str, genre: str | None, limit: int) -> list[Recommendation]:
        with self.store.uow() as uow:
            item_ids, ratings, times = uow.ratings.history(user_id)
            candidates = np.array(uow.movies.ids_in_genre(genre), dtype=np.int64) if genre else None
        history = UserHistory(item_ids, ratings, times)
        model = self.models.model(strategy)
        ids, scores = model.recommend(history, limit, exclude_seen=True, candidates=candidates)
        rated = set(item_ids.tolist())
        keep = [n for n, i in enumerate(ids.tolist()) if i not in rated]  # never a movie the user rated
        ids, scores = ids[keep], scores[keep]
        because = model.explain(history, ids) if len(ids) else []
        your_rating = dict(zip(item_ids.tolist(), ratings.tolist(), strict=True))
        with self.store.uow() as uow:
            movies = uow.movies.get_many([*ids.tolist(), *(b for b in because if b is not None)])
            rated_genres = (
                [m.genres for m in uow.movies.get_many(item_ids.tolist()).values()] if strategy == "seed" else []
            )
        # The seed formula ranks within one genre: the one asked for, else the one the user rates most.
        seed_genre = (genre or favourite_genre(rated_genres)) if strategy == "seed" else None
        why_genre = "the genre you chose" if genre else "the genre you rate most"
        items: list[Recommendation] = []
        for movie_id, score, source in zip(ids.tolist(), scores.tolist(), because, strict=True):
            movie = movies.get(movie_id)
            if movie is None:
                continue
            reason = self._reason(movie, source, movies, your_rating, seed_genre, why_genre)
            items.append(Recommendation(movie, float(score), reason))
        return items

    @staticmethod
    def _reason(
        movie: Movie,
        source: int | None,
        movies: dict[int, Movie],
        your_rating: dict[int, int],
        seed_genre: str | None,
        why_genre: str,
    ) -> str:
        if source is not None and source in movies and source in your_rating:
            return f"because you rated {movies[source].title} {your_rating[source]}/10"
        if seed_genre is not None and seed_genre in movie.genres:
            return f"top rated in {seed_genre}, {why_genre}"
        if movie.vote_count:
            return f"popular: {movie.vote_count:,} votes, {movie.vote_average:.1f}/10 on average"
        return "popular with people here"

    def _known_genre(self, genre: str) -> str | None:
        with self.store.uow() as uow:
            names = [name for name, _ in uow.movies.genre_counts()]
        for name in names:
            if name.casefold() == genre.strip().casefold():
                return name
        return None

    # -- cache ---------------------------------------------------------------------------------------------------
    def _cache_get(self, key: str, field: str) -> str | None:
        try:
            return self.cache.get(key, field)
        except Exception as exc:
            log.warning("cache.get_failed", key=key, error=repr(exc))
            return None

    def _cache_set(self, key: str, field: str, value: str) -> None:
        try:
            self.cache.set(key, field, value, self.ttl)
        except Exception as exc:
            log.warning("cache.set_failed", key=key, error=repr(exc))

    @staticmethod
    def _encode(items: list[Recommendation]) -> str:
        return json.dumps(
            [{"movie": movie_to_document(i.movie), "score": i.score, "reason": i.reason} for i in items],
            separators=(",", ":"),
        )

    @staticmethod
    def _decode(user_id: int, strategy: str, raw: str) -> RecommendationList:
        items = [
            Recommendation(movie_from_document(entry["movie"]), float(entry["score"]), str(entry["reason"]))
            for entry in json.loads(raw)
        ]
        return RecommendationList(user_id=user_id, strategy=strategy, cached=True, items=items)
