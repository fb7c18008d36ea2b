"""Recommendations: uncached and cached latency per strategy, inside the API process.

With the MovieLens catalogue and its 671 users' ratings loaded and the models trained (``movierec train``), each
request is ``GET /recommendations/<id>?strategy=<s>`` with a valid bearer token through the Flask app (token check,
the service, the cache, JSON). Uncached: the user's cache entry is deleted first (as a new rating does); cached:
the same request again, three times. Users: a seeded sample of real MovieLens users, and a new user with three
ratings. ``service`` is the service call alone (cached), to show what the HTTP layer adds.
"""

from __future__ import annotations

import random
import time
from typing import Any

from sqlalchemy import func, select

from bench.common import Report, summarise
from movierec.api import create_app
from movierec.api.routes.recommendations import render_items
from movierec.domain.recommenders import DEFAULT_STRATEGY, STRATEGIES
from movierec.services.models import train
from movierec.services.recommendations import recommendations_key
from movierec.services.seeding import import_movielens_ratings
from movierec.store.models import RatingRow, UserRow
from movierec.wiring import Container

CACHED_REPEATS = 3
NEW_USER_REPEATS = 30
NEW_USER_RATINGS = ((0, 9), (1, 8), (2, 10))  # (rank among the most rated movies, rating)


def prepare(container: Container) -> dict[str, Any]:
    """Import the MovieLens community's ratings and train every model, as ``movierec up`` does on first start."""
    started = time.perf_counter()
    ratings = import_movielens_ratings(container.store)
    imported = time.perf_counter() - started
    started = time.perf_counter()
    manifest = train(container.store, container.settings.models_dir)
    trained = time.perf_counter() - started
    return {
        "ratings": ratings,
        "import_seconds": round(imported, 2),
        "train_seconds": round(trained, 2),
        "model_generation": manifest["version"],
    }


def movielens_users(container: Container, count: int, seed: int = 11) -> list[int]:
    with container.store.engine.connect() as connection:
        ids = list(
            connection.scalars(select(UserRow.id).where(UserRow.external_key.like("movielens:%")).order_by(UserRow.id))
        )
    return sorted(random.Random(seed).sample(ids, min(count, len(ids))))


def new_user(container: Container) -> int:
    """A newly registered user who rated three of the most rated movies."""
    user = container.accounts.register(f"bench_newcomer_{random.randrange(10**9)}", "a long enough password")
    with container.store.engine.connect() as connection:
        most_rated = list(
            connection.scalars(
                select(RatingRow.movie_id).group_by(RatingRow.movie_id).order_by(func.count().desc()).limit(3)
            )
        )
    for rank, rating in NEW_USER_RATINGS:
        container.ratings.rate(user.id, most_rated[rank], rating)
    return user.id


def measure(container: Container, users: list[int], report: Report) -> dict[str, Any]:
    client = create_app(container=container).test_client()
    newcomer = new_user(container)
    headers = {
        user: {"Authorization": f"Bearer {container.accounts.issue_token(user).access_token}"}
        for user in [*users, newcomer]
    }
    cache = container.cache

    def get(user: int, strategy: str, expect_cached: bool) -> float:
        started = time.perf_counter()
        response = client.get(f"/recommendations/{user}", query_string={"strategy": strategy}, headers=headers[user])
        elapsed = (time.perf_counter() - started) * 1000.0
        body = response.get_json()
        if response.status_code != 200 or body["cached"] is not expect_cached:
            raise RuntimeError(f"/recommendations/{user}?strategy={strategy}: {response.status_code} {body!r:.200}")
        return elapsed

    def uncached(user: int, strategy: str) -> float:
        cache.drop(recommendations_key(user))
        return get(user, strategy, expect_cached=False)

    result: dict[str, Any] = {
        "users": len(users),
        "cached_repeats": CACHED_REPEATS,
        "new_user_repeats": NEW_USER_REPEATS,
        "cache": cache.name,
        "database": container.store.dialect,
    }
    for strategy in STRATEGIES:
        uncached(users[0], strategy)  # warm up: loads the model generation
        get(users[0], strategy, expect_cached=True)
        samples: dict[str, list[float]] = {name: [] for name in ("uncached", "cached", "service", "new_uncached")}
        samples["new_cached"] = []
        for user in users:
            samples["uncached"].append(uncached(user, strategy))
            for _ in range(CACHED_REPEATS):
                samples["cached"].append(get(user, strategy, expect_cached=True))
            started = time.perf_counter()
            listed = container.recommendations.recommend(user, strategy, render=render_items)
            samples["service"].append((time.perf_counter() - started) * 1000.0)
            if not listed.cached:
                raise RuntimeError("the service call was expected to be served from the cache")
        for _ in range(NEW_USER_REPEATS):
            samples["new_uncached"].append(uncached(newcomer, strategy))
            samples["new_cached"].append(get(newcomer, strategy, expect_cached=True))
        samples["all_cached"] = samples["cached"] + samples["new_cached"]
        result[strategy] = {name: summarise(values) for name, values in samples.items()}
        report(
            f"    {strategy}: uncached p50 {result[strategy]['uncached']['p50_ms']} ms, "
            f"cached p99 {result[strategy]['all_cached']['p99_ms']} ms"
        )
    result["default_strategy"] = DEFAULT_STRATEGY
    return result
