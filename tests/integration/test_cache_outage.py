"""With Redis configured but unreachable, ratings and recommendations keep working, uncached and without waiting."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable, Iterator

import pytest

from movierec.api.routes.recommendations import render_items
from movierec.cache.redis import RedisCache
from movierec.services.recommendations import recommendations_key
from movierec.settings import Settings
from movierec.wiring import Container, build_container
from tests.conftest import NOT_A_HANG_SECONDS, SAMPLE_MOVIES, service_url

CACHE_TIMEOUT = 0.2


@pytest.fixture
def silent_redis_port() -> Iterator[int]:
    """A port that accepts connections but never answers: the worst kind of outage (no quick refusal)."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(64)
        yield int(server.getsockname()[1])


@pytest.fixture
def outage_container(make_settings: Callable[..., Settings], silent_redis_port: int) -> Iterator[Container]:
    settings = make_settings(
        redis_url=f"redis://127.0.0.1:{silent_redis_port}/0",
        secret_key="a-test-secret-that-is-long-enough",
        cache_timeout=CACHE_TIMEOUT,
    )
    built = build_container(settings, run_migrations=True)
    yield built
    built.close()


def test_ratings_and_recommendations_work_without_the_cache(outage_container: Container) -> None:
    container = outage_container
    assert isinstance(container.cache, RedisCache)
    ids = container.catalogue.upsert(SAMPLE_MOVIES).movie_ids
    user = container.accounts.register("alice", "correct horse battery")

    started = time.monotonic()
    container.ratings.rate(user.id, ids[0], 9)  # the rating is saved; dropping the cached list fails quietly
    assert time.monotonic() - started < NOT_A_HANG_SECONDS
    assert container.ratings.history(user.id, 10)[0] == 1

    for _ in range(2):
        started = time.monotonic()
        result = container.recommendations.recommend(user.id, limit=5, render=render_items)
        elapsed = time.monotonic() - started
        assert not result.cached  # nothing could be cached, so the second call computes again
        items = json.loads(result.items)
        assert items and ids[0] not in {item["id"] for item in items}
        # the retried drop, or a lookup, and a store: each bounded by the cache timeout, plus the computation itself
        assert elapsed < NOT_A_HANG_SECONDS

    status, checks = container.health()
    assert status == "degraded" and checks["cache"] == {
        "status": "down",
        "adapter": "redis",
        "detail": "CacheUnavailable",
    }


@pytest.mark.services
def test_with_redis_up_recommendations_are_cached_and_dropped_on_rating(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(redis_url=service_url("redis"), secret_key="a-test-secret-that-is-long-enough")
    container = build_container(settings, run_migrations=True)
    try:
        ids = container.catalogue.upsert(SAMPLE_MOVIES).movie_ids
        user = container.accounts.register(f"bob{time.monotonic_ns()}", "correct horse battery")
        container.cache.drop(recommendations_key(user.id))  # a shared server may hold an old user's entry
        container.ratings.rate(user.id, ids[0], 9)
        first = container.recommendations.recommend(user.id, limit=5, render=render_items)
        second = container.recommendations.recommend(user.id, limit=5, render=render_items)
        assert (first.cached, second.cached) == (False, True)
        assert second.items == first.items
        ttl = container.cache.ttl(recommendations_key(user.id))
        assert ttl is not None and 0 < ttl <= settings.recommendation_cache_seconds
        container.ratings.rate(user.id, ids[1], 8)
        assert container.cache.ttl(recommendations_key(user.id)) is None
        assert not container.recommendations.recommend(user.id, limit=5, render=render_items).cached
    finally:
        container.close()
