"""The API on the in-memory store, given to ``build_container`` as an override: the use cases need no database."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from flask.testing import FlaskClient
from limits.storage import storage_from_string

from movierec.domain.errors import Unauthorized
from movierec.services.throttle import Throttle, TooManyAttempts
from movierec.settings import Settings
from movierec.store.memory import MemoryStore
from movierec.wiring import Container, build_container
from tests.conftest import SAMPLE_MOVIES, Auth, create_app_for, index_everything


@pytest.fixture
def memory_container(settings: Settings) -> Iterator[Container]:
    built = build_container(settings, run_migrations=True, store=MemoryStore())
    yield built
    built.close()


@pytest.fixture
def memory_client(memory_container: Container) -> FlaskClient:
    app = create_app_for(memory_container)
    app.testing = True
    return app.test_client()


def test_the_use_cases_run_on_the_in_memory_store(
    memory_container: Container, memory_client: FlaskClient, settings: Settings
) -> None:
    summary = memory_container.catalogue.upsert(SAMPLE_MOVIES)
    index_everything(memory_container)  # outbox -> embedded bus -> indexer -> search, from the memory store
    ids = dict(zip((draft.title for draft in SAMPLE_MOVIES), summary.movie_ids, strict=True))
    client = memory_client
    user_id, headers = Auth(client).user()

    assert client.post("/rate", json={"movie_id": ids["Heat"], "rating": 9}, headers=headers).status_code == 200
    assert client.post("/rate", json={"movie_id": 10_000, "rating": 9}, headers=headers).status_code == 404
    mine = client.get(f"/my-ratings/{user_id}", headers=headers).get_json()
    assert mine["total"] == 1 and mine["items"][0]["movie"]["title"] == "Heat"

    listed = client.get(f"/recommendations/{user_id}?limit=5", headers=headers).get_json()
    assert ids["Heat"] not in {item["id"] for item in listed["items"]}  # rated: not recommended again
    assert len(listed["items"]) == 5

    found = client.get("/search?q=matrix").get_json()
    assert {movie["title"] for movie in found["items"]} >= {"The Matrix", "The Matrix Reloaded"}
    assert client.post("/register", json={"username": "ALICE", "password": "correct horse"}).status_code == 409

    health = client.get("/healthz").get_json()
    assert health["status"] == "ok" and health["checks"]["database"]["adapter"] == "memory"
    assert not (settings.data_dir / "movierec.sqlite3").exists()  # no database file was ever made


def test_two_containers_given_one_store_and_one_throttle_share_accounts_and_the_login_budget(
    make_settings: Callable[..., Settings],
) -> None:
    """As two backends on one database and one Redis: the adapters given to build_container are the ones used."""
    store = MemoryStore()
    throttle = Throttle(storage_from_string("memory://"))  # type: ignore[arg-type]  # a sync URL: a sync storage
    settings = make_settings(login_attempts_per_minute=2)
    first = build_container(settings, store=store, throttle=throttle)
    second = build_container(settings, store=store, throttle=throttle)
    try:
        assert first.store is second.store is store and first.throttle is second.throttle is throttle
        alice = first.accounts.register("alice", "correct horse", "10.0.0.1")
        assert second.accounts.login("alice", "correct horse", "10.0.0.1").user_id == alice.id
        for container in (first, second):
            with pytest.raises(Unauthorized):
                container.accounts.login("alice", "wrong horse", "10.0.0.2")
        with pytest.raises(TooManyAttempts):  # the third attempt from that address, counted across both
            first.accounts.login("alice", "correct horse", "10.0.0.2")
    finally:
        first.close()
        second.close()
