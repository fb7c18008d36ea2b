"""Steering's use cases on each database: the same answers from SQLite and PostgreSQL, and the cache dropped."""

from __future__ import annotations

import pytest

from movierec.cache.guarded import GuardedCache
from movierec.cache.memory import InProcessCache
from movierec.domain.errors import NotFound
from movierec.domain.movies import MovieDraft
from movierec.services.ratings import RatingService
from movierec.services.recommendations import recommendations_key
from movierec.services.steering import SteeringService
from movierec.store.port import Store


def _setup(store: Store) -> tuple[SteeringService, RatingService, InProcessCache, int, int]:
    with store.uow() as uow:
        user = uow.users.add("steerer", "hash")
        (heat,) = uow.movies.upsert_many([MovieDraft("t:1", "Heat", 1995, genres=("Crime",))])
        uow.commit()
    cache = InProcessCache()
    ratings = RatingService(store, GuardedCache(cache))
    return SteeringService(store, ratings), ratings, cache, user.id, heat.movie_id


def _cached(cache: InProcessCache, user_id: int) -> bool:
    return cache.ttl(recommendations_key(user_id)) is not None


def _cache_a_list(cache: InProcessCache, user_id: int) -> None:
    entry = cache.lookup(recommendations_key(user_id), "field", 300)
    assert cache.store(recommendations_key(user_id), "field", b"[]", entry.version)


@pytest.mark.parametrize(
    ("add", "remove", "read"),
    [
        ("add_to_watchlist", "remove_from_watchlist", "watchlist"),
        ("mark_not_interested", "unmark_not_interested", "not_interested"),
    ],
)
def test_list_use_cases_answer_alike_and_drop_the_cache(store: Store, add: str, remove: str, read: str) -> None:
    steering, _, cache, user_id, heat = _setup(store)
    _cache_a_list(cache, user_id)
    assert getattr(steering, add)(user_id, heat) is True
    assert not _cached(cache, user_id)  # dropped like a rating drops it
    _cache_a_list(cache, user_id)
    assert getattr(steering, add)(user_id, heat) is False  # idempotent: nothing changed, nothing dropped
    assert _cached(cache, user_id)
    total, items = getattr(steering, read)(user_id, 10)
    assert total == 1 and [i.movie.title for i in items] == ["Heat"]
    assert getattr(steering, remove)(user_id, heat) is True
    assert not _cached(cache, user_id)
    assert getattr(steering, remove)(user_id, heat) is False
    assert getattr(steering, read)(user_id, 10) == (0, [])
    with pytest.raises(NotFound):
        getattr(steering, add)(user_id, heat + 100)
    with pytest.raises(NotFound):
        getattr(steering, remove)(user_id, heat + 100)


def test_taking_a_rating_back_answers_alike_and_drops_the_cache(store: Store) -> None:
    _, ratings, cache, user_id, heat = _setup(store)
    ratings.rate(user_id, heat, 8)
    _cache_a_list(cache, user_id)
    assert ratings.remove(user_id, heat) is True
    assert not _cached(cache, user_id)
    assert ratings.history(user_id, 10) == (0, [])
    _cache_a_list(cache, user_id)
    assert ratings.remove(user_id, heat) is False  # nothing to take back: nothing dropped
    assert _cached(cache, user_id)
    with pytest.raises(NotFound):
        ratings.remove(user_id, heat + 100)
