"""Redis and PostgreSQL outages: the API keeps answering (uncached, or a JSON 503) and recovers by itself."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest
from flask.testing import FlaskClient

from movierec.settings import Settings
from movierec.wiring import Container, build_container
from tests.conftest import SAMPLE_MOVIES, TEST_SECRET, Auth, create_app_for, fresh_postgres_database, index_everything
from tests.faults.conftest import outage

pytestmark = pytest.mark.slow


def test_redis_down_recommendations_served_uncached_then_cached_again(stack: Container) -> None:
    stack.catalogue.upsert(SAMPLE_MOVIES)
    client = create_app_for(stack).test_client()
    user_id, headers = Auth(client).user()

    def recommend() -> dict[str, object]:
        response = client.get(f"/recommendations/{user_id}", headers=headers)
        assert response.status_code == 200, response.get_json()
        return response.get_json()  # type: ignore[no-any-return]

    assert recommend()["cached"] is False
    assert recommend()["cached"] is True
    with outage("redis"):
        started = time.monotonic()
        for _ in range(5):
            assert recommend()["cached"] is False
        assert time.monotonic() - started < 15
        assert client.get("/healthz").get_json()["status"] == "degraded"
        login = client.post("/login", json={"username": "alice", "password": "correct horse"})
        assert login.status_code == 200  # login throttling lives in Redis too, and fails open
    # Redis is back (empty): caching resumes by itself.
    results = [recommend()["cached"] for _ in range(4)]
    assert results[-1] is True and results[-2] is True
    assert client.get("/healthz").get_json()["status"] == "ok"


@pytest.fixture
def postgres_app(make_settings: Callable[..., Settings]) -> Iterator[tuple[FlaskClient, Container]]:
    with fresh_postgres_database() as url:
        container = build_container(make_settings(database_url=url, secret_key=TEST_SECRET), run_migrations=True)
        try:
            yield create_app_for(container).test_client(), container
        finally:
            container.close()


def test_postgres_restart_gives_json_503_and_loses_no_acknowledged_rating(
    postgres_app: tuple[FlaskClient, Container],
) -> None:
    client, container = postgres_app
    ids = container.catalogue.upsert(SAMPLE_MOVIES).movie_ids
    index_everything(container)
    user_id, headers = Auth(client).user()
    acknowledged: dict[int, int] = {}

    def rate(movie_id: int, rating: int) -> int:
        response = client.post("/rate", json={"movie_id": movie_id, "rating": rating}, headers=headers)
        if response.status_code == 200:
            acknowledged[movie_id] = rating
        else:
            body = response.get_json()
            assert response.status_code == 503 and body["error"]["code"] == "unavailable", body
        return response.status_code

    assert [rate(movie_id, 7) for movie_id in ids[:4]] == [200] * 4
    with outage("postgres"):
        started = time.monotonic()
        assert rate(ids[4], 8) == 503
        latest = client.get("/movies/latest")
        assert latest.status_code == 503 and latest.get_json()["error"]["code"] == "unavailable"
        assert latest.headers["Retry-After"]
        health = client.get("/healthz")
        assert health.status_code == 503
        assert time.monotonic() - started < 40  # each refused request is bounded by the connect timeout
    # Back: the pool reconnects by itself.
    statuses = [rate(movie_id, 9) for movie_id in ids[4:8]]
    assert statuses[-1] == 200
    with container.store.uow() as uow:
        for movie_id, rating in acknowledged.items():
            assert uow.ratings.get(user_id, movie_id) == rating
    assert client.get(f"/my-ratings/{user_id}", headers=headers).get_json()["total"] == len(acknowledged)
