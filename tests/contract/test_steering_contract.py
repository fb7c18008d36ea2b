"""Steering's use cases on each database: the same answers from SQLite and PostgreSQL, and the cache dropped."""

from __future__ import annotations

import pytest

from movierec.cache.memory import InProcessCache
from movierec.domain.movies import MovieDraft
from movierec.services.errors import NotFound
from movierec.services.ratings import RatingService, recommendations_key
from movierec.services.steering import SteeringService, taste_version
from movierec.store.uow import Store


def _setup(store: Store) -> tuple[SteeringService, RatingService, InProcessCache, int, int]:
    with store.uow() as uow:
        user = uow.users.add("steerer", "hash")
        (heat,) = uow.movies.upsert_many([MovieDraft("t:1", "Heat", 1995, genres=("Crime",))])
        uow.commit()
    cache = InProcessCache()
    ratings = RatingService(store, cache)
    return SteeringService(store, ratings), ratings, cache, user.id, heat.movie_id


def _cached(cache: InProcessCache, user_id: int) -> bool:
    return cache.get(recommendations_key(user_id), "field") is not None


@pytest.mark.parametrize(
    ("add", "remove", "read"),
    [
        ("add_to_watchlist", "remove_from_watchlist", "watchlist"),
        ("mark_not_interested", "unmark_not_interested", "not_interested"),
    ],
)
def test_list_use_cases_answer_alike_and_drop_the_cache(store: Store, add: str, remove: str, read: str) -> None:
    steering, _, cache, user_id, heat = _setup(store)
    cache.set(recommendations_key(user_id), "field", "[]", 300)
    assert getattr(steering, add)(user_id, heat) is True
    assert not _cached(cache, user_id)  # dropped like a rating drops it
    cache.set(recommendations_key(user_id), "field", "[]", 300)
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


def test_taking_a_rating_back_answers_alike_and_changes_the_taste_version(store: Store) -> None:
    steering, ratings, cache, user_id, heat = _setup(store)
    ratings.rate(user_id, heat, 8)
    with store.uow() as uow:
        rated = taste_version(uow, user_id)
    cache.set(recommendations_key(user_id), "field", "[]", 300)
    assert ratings.remove(user_id, heat) is True
    assert not _cached(cache, user_id)
    assert ratings.remove(user_id, heat) is False
    with pytest.raises(NotFound):
        ratings.remove(user_id, heat + 100)
    with store.uow() as uow:
        unrated = taste_version(uow, user_id)
    assert unrated != rated
    steering.mark_not_interested(user_id, heat)
    with store.uow() as uow:
        assert taste_version(uow, user_id) != unrated
