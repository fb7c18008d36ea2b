"""Recommendations: computed from the user's current ratings, cached per user for five minutes.

The cache holds each list as the bytes the API sends (``render``'s output), under the user's versioned key
(``cache/port.py``): a cached answer costs one cache round trip and no database query, and a rating drops the
key, so a list computed before a rating is never served after it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from cachetools import TTLCache

from movierec.cache.guarded import GuardedCache
from movierec.cache.port import Entry, Slot
from movierec.compute import cpu_bound
from movierec.domain.errors import InvalidInput, NotFound
from movierec.domain.movies import Movie, MovieNumbers
from movierec.domain.recommenders import DEFAULT_STRATEGY, STRATEGIES
from movierec.domain.recommenders.base import Recommender, UserHistory
from movierec.domain.recommenders.steering import MAX_SIGNALS, NEIGHBOURS, pool_size, steer
from movierec.log import get_logger
from movierec.metrics import recommendation_computed, recommendation_served, timed
from movierec.services.catalogue import CatalogueService
from movierec.services.models import ModelRegistry
from movierec.store.port import Store

log = get_logger(__name__)

GENRE_NAMES_SECONDS = 30  # how long a process trusts its list of genre names


def recommendations_key(user_id: int) -> str:
    """``{user_id}`` is a Redis hash tag: one slot per user for the token check and the list (see tokens_key)."""
    return f"recommendations:{{{user_id}}}"


@dataclass(frozen=True, slots=True)
class Recommendation:
    movie: Movie
    score: float
    reason: str
    predicted_rating: float | None = None  # 1-10, what the user would likely give it (strategies that predict)
    numbers: MovieNumbers | None = None  # the source of its votes and this app's ratings, when the list was made


Render = Callable[[Sequence[Recommendation]], bytes]


class Unread:
    """``recommend``'s default for ``looked_up``: the cache was not read yet."""


UNREAD = Unread()


@dataclass(frozen=True, slots=True)
class RecommendationList:
    user_id: int
    strategy: str
    cached: bool
    items: bytes  # rendered by the caller's ``render``


class RecommendationService:
    def __init__(
        self,
        store: Store,
        cache: GuardedCache,
        models: ModelRegistry,
        ttl_seconds: int = 300,
        catalogue: CatalogueService | None = None,
    ) -> None:
        self.store = store
        self.catalogue = catalogue or CatalogueService(store)
        self.cache = cache
        self.models = models
        self.ttl = ttl_seconds
        self._genre_names: TTLCache[str, dict[str, str]] = TTLCache(maxsize=1, ttl=GENRE_NAMES_SECONDS)
        self._genre_lock = threading.Lock()  # cachetools caches are not thread-safe

    @staticmethod
    def strategies() -> list[str]:
        return list(STRATEGIES)

    def slot(self, user_id: int, strategy: str | None, genre: str | None, limit: int) -> Slot:
        """Where the list for these arguments is cached: (key, field, ttl)."""
        folded = "" if genre is None else genre.strip().casefold()
        return recommendations_key(user_id), f"{strategy or DEFAULT_STRATEGY}|{folded}|{limit}", self.ttl

    def recommend(
        self,
        user_id: int,
        strategy: str | None = None,
        genre: str | None = None,
        limit: int = 20,
        *,
        render: Render,
        looked_up: Entry | None | Unread = UNREAD,
    ) -> RecommendationList:
        """The user's list, rendered by ``render`` (the cache holds what it returns: use one renderer).
        ``looked_up``: the entry of ``slot(...)`` when the caller already read it (with the token check)."""
        strategy = strategy or DEFAULT_STRATEGY
        if strategy not in STRATEGIES:
            raise InvalidInput(f"unknown strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}")
        key, field, ttl = self.slot(user_id, strategy, genre, limit)
        # The version is read before anything the list is computed from (see cache/port.py).
        entry = self.cache.lookup(key, field, ttl) if isinstance(looked_up, Unread) else looked_up
        found = self.cached(user_id, strategy, entry)
        if found is not None:
            return found
        recommendation_served(cached=False)
        items: list[Recommendation] = []
        known = None if genre is None else self._known_genre(genre.strip().casefold())
        if genre is None or known is not None:  # a genre no movie has: nothing to recommend
            items = self.compute(user_id, strategy, known, limit)
        rendered = render(items)
        self.cache.store(key, field, rendered, entry)
        return RecommendationList(user_id, strategy, False, rendered)

    def cached(self, user_id: int, strategy: str | None, entry: Entry | None) -> RecommendationList | None:
        """The list ``entry`` holds (the lookup of ``slot(...)``), counted as served from the cache; None on a miss."""
        if entry is None or entry.value is None:
            return None
        recommendation_served(cached=True)
        return RecommendationList(user_id, strategy or DEFAULT_STRATEGY, True, entry.value)

    def similar(self, movie_id: int, limit: int, user_id: int | None = None) -> tuple[Movie, list[Recommendation]]:
        """Movies like this one; for a known ``user_id``, never one they said they are not interested in."""
        with self.store.uow() as uow:
            movie = uow.movies.get(movie_id)
            banned = set(uow.not_interested.ids(user_id)) if user_id is not None else set()
        if movie is None:
            raise NotFound(f"movie {movie_id} not found")
        ids, scores = self.models.model(DEFAULT_STRATEGY).similar_items(movie_id, limit + len(banned))
        if banned:
            keep = [n for n, i in enumerate(ids.tolist()) if i not in banned][:limit]
            ids, scores = ids[keep], scores[keep]
        movies = self.catalogue.get_many(int(i) for i in ids)
        items = [
            Recommendation(movies[int(i)], float(s), f"people who liked {movie.title} liked this too")
            for i, s in zip(ids, scores, strict=True)
            if int(i) in movies
        ]
        return movie, items

    # -- computing -----------------------------------------------------------------------------------------------
    @timed(recommendation_computed)
    def compute(self, user_id: int, strategy: str, genre: str | None, limit: int) -> list[Recommendation]:
        """The list from the user's current ratings, uncached: one store session, reads only (the version that
        keys the list was read before it, so a rating meanwhile drops it; see cache/port.py)."""
        model = self.models.model(strategy)
        with self.store.reader() as uow:
            (item_ids, ratings, times), banned = uow.ratings.history_and_not_interested(user_id)  # banned: latest first
            candidates = np.array(uow.movies.ids_in_genre(genre), dtype=np.int64) if genre else None
            history = UserHistory(item_ids, ratings, times)
            with cpu_bound():  # the model's part: one list at a time per process (movierec/compute.py)
                pool = pool_size(limit, len(banned))
                ids, scores = model.recommend(history, pool, exclude_seen=True, candidates=candidates)
                rated = set(item_ids.tolist())
                keep = [n for n, i in enumerate(ids.tolist()) if i not in rated]  # never a movie the user rated
                ids, scores = ids[keep], scores[keep]
                ids, scores = self._steered(model, ids, scores, banned, limit)
                reasons = model.reasons(history, ids, genre) if len(ids) else []
                predictor = getattr(model, "predict_ratings", None)
                predicted = predictor(history, ids).tolist() if predictor and len(ids) else [None] * len(ids)
            named = [reason.rated for reason in reasons if reason.rated is not None]  # "because you rated ..."
            movies, numbers = self.catalogue.shown(ids.tolist(), uow, also=named)  # one query, for the forgotten
        titles = {movie_id: movie.title for movie_id, movie in movies.items()}
        items: list[Recommendation] = []
        for movie_id, score, reason, rating in zip(ids.tolist(), scores.tolist(), reasons, predicted, strict=True):
            movie = movies.get(movie_id)
            if movie is None:
                continue
            text = reason.text(titles, movie.vote_count, movie.vote_average)
            predicted = None if rating is None else round(rating, 1)
            items.append(Recommendation(movie, float(score), text, predicted, numbers.get(movie_id)))
        return items

    @staticmethod
    def _steered(
        model: Recommender, ids: np.ndarray, scores: np.ndarray, banned: list[int], limit: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Never a movie the user is not interested in; movies like the latest of those pushed down."""
        if not banned:
            return ids[:limit], scores[:limit]
        neighbours = [model.similar_items(movie_id, NEIGHBOURS) for movie_id in banned[:MAX_SIGNALS]]
        return steer(ids, scores, banned, neighbours, limit)

    def _known_genre(self, folded: str) -> str | None:
        """The catalogue's spelling of a genre given case-folded; None when no movie has it."""
        with self._genre_lock:
            names = self._genre_names.get("names")
        if names is None or folded not in names:  # a genre added since the list was read is found at once
            with self.store.uow() as uow:
                names = {name.casefold(): name for name, _ in uow.movies.genre_counts()}
            with self._genre_lock:
                self._genre_names["names"] = names
        return names.get(folded)
