"""Steering end to end on the embedded defaults: the watchlist, "not interested", and taking a rating back."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient

from movierec.api.routes.recommendations import render_items
from movierec.domain.recommenders import STRATEGIES
from movierec.services.recommendations import Recommendation
from movierec.wiring import Container
from tests.conftest import Auth

UNKNOWN_MOVIE = 987_654


@pytest.mark.parametrize("path", ["/watchlist", "/not-interested"])
def test_a_list_adds_once_lists_newest_first_and_removes_idempotently(
    client: FlaskClient, sample_catalogue: dict[str, int], path: str
) -> None:
    user_id, headers = Auth(client).user()
    heat, casino = sample_catalogue["Heat"], sample_catalogue["Casino"]
    first = client.post(f"{path}/{heat}", headers=headers)
    assert first.status_code == 200
    assert first.get_json() == {"user_id": user_id, "movie_id": heat, "added": True}
    again = client.post(f"{path}/{heat}", headers=headers)
    assert again.status_code == 200 and again.get_json()["added"] is False
    assert client.post(f"{path}/{casino}", headers=headers).get_json()["added"] is True
    body = client.get(f"{path}/{user_id}", headers=headers).get_json()
    assert body["user_id"] == user_id and body["total"] == 2
    assert [item["movie"]["title"] for item in body["items"]] == ["Casino", "Heat"]
    page = client.get(f"{path}/{user_id}?limit=1&offset=1", headers=headers).get_json()
    assert page["total"] == 2 and [item["movie"]["id"] for item in page["items"]] == [heat]
    assert client.delete(f"{path}/{heat}", headers=headers).status_code == 204
    assert client.delete(f"{path}/{heat}", headers=headers).status_code == 204  # not on it any more: all the same
    after = client.get(f"{path}/{user_id}", headers=headers).get_json()
    assert [item["movie"]["id"] for item in after["items"]] == [casino]


@pytest.mark.parametrize("path", ["/watchlist", "/not-interested"])
def test_a_list_is_its_owners_only_and_unknown_movies_are_404(
    client: FlaskClient, container: Container, sample_catalogue: dict[str, int], path: str
) -> None:
    auth = Auth(client)
    alice_id, alice = auth.user("alice")
    bob_id, bob = auth.user("bobby")
    heat = sample_catalogue["Heat"]
    client.post(f"{path}/{heat}", headers=alice)
    refused = client.get(f"{path}/{alice_id}", headers=bob)
    assert refused.status_code == 403 and refused.get_json()["error"]["code"] == "forbidden"
    assert client.get(f"{path}/{alice_id}").status_code == 401
    assert client.post(f"{path}/{heat}").status_code == 401
    assert client.delete(f"{path}/{heat}").status_code == 401
    assert client.delete(f"{path}/{heat}", headers=bob).status_code == 204  # bob's own list: alice's is untouched
    assert client.get(f"{path}/{alice_id}", headers=alice).get_json()["total"] == 1
    assert client.get(f"{path}/{bob_id}", headers=bob).get_json()["total"] == 0
    for method in (client.post, client.delete):
        missing = method(f"{path}/{UNKNOWN_MOVIE}", headers=alice)
        assert missing.status_code == 404 and missing.get_json()["error"]["code"] == "not_found"
    bad = client.post(f"{path}/0", headers=alice)
    assert bad.status_code == 400 and bad.get_json()["error"]["code"] == "invalid_id"
    with container.store.uow() as uow:
        lists = uow.watchlist if path == "/watchlist" else uow.not_interested
        assert lists.ids(alice_id) == [heat] and lists.ids(bob_id) == []


def test_a_movie_marked_not_interested_is_never_recommended_nor_similar(
    client: FlaskClient, sample_catalogue: dict[str, int]
) -> None:
    user_id, headers = Auth(client).user()
    client.post("/rate", json={"movie_id": sample_catalogue["Heat"], "rating": 9}, headers=headers)
    matrix = sample_catalogue["The Matrix"]

    def recommended(strategy: str) -> list[int]:
        response = client.get(f"/recommendations/{user_id}?strategy={strategy}&limit=11", headers=headers)
        assert response.status_code == 200
        return [item["id"] for item in response.get_json()["items"]]

    def similar(movie: int, with_token: bool) -> list[int]:
        response = client.get(f"/movies/{movie}/similar?limit=10", headers=headers if with_token else {})
        assert response.status_code == 200
        return [item["id"] for item in response.get_json()["items"]]

    for strategy in STRATEGIES:
        before = recommended(strategy)  # cached now, before the change
        top = before[0]
        assert client.post(f"/not-interested/{top}", headers=headers).status_code == 200
        ids = recommended(strategy)
        assert top not in ids, strategy
        assert len(ids) == len(before) - 1, strategy  # everything else the strategy offered is still offered
        assert client.delete(f"/not-interested/{top}", headers=headers).status_code == 204
        assert top in recommended(strategy), strategy

    reloaded = sample_catalogue["The Matrix Reloaded"]
    assert matrix in similar(reloaded, with_token=True)
    assert client.post(f"/not-interested/{matrix}", headers=headers).status_code == 200
    assert matrix not in similar(reloaded, with_token=True)
    assert matrix in similar(reloaded, with_token=False)  # anonymous: nobody's list applies
    bad_token = client.get(f"/movies/{reloaded}/similar", headers={"Authorization": "Bearer nonsense"})
    assert bad_token.status_code == 401  # a token sent is checked, not ignored


def test_taking_a_rating_back(client: FlaskClient, container: Container, sample_catalogue: dict[str, int]) -> None:
    user_id, headers = Auth(client).user()
    heat, casino = sample_catalogue["Heat"], sample_catalogue["Casino"]
    for movie in (heat, casino):
        client.post("/rate", json={"movie_id": movie, "rating": 8}, headers=headers)
    before = client.get(f"/recommendations/{user_id}?limit=20", headers=headers).get_json()["items"]
    assert heat not in [item["id"] for item in before]  # rated: not recommended
    assert client.delete(f"/rate/{heat}", headers=headers).status_code == 204
    assert client.delete(f"/rate/{heat}", headers=headers).status_code == 204  # not rated any more: all the same
    mine = client.get(f"/my-ratings/{user_id}", headers=headers).get_json()
    assert mine["total"] == 1 and [item["movie"]["id"] for item in mine["items"]] == [casino]
    after = client.get(f"/recommendations/{user_id}?limit=20", headers=headers).get_json()
    assert after["cached"] is False and heat in [item["id"] for item in after["items"]]
    missing = client.delete(f"/rate/{UNKNOWN_MOVIE}", headers=headers)
    assert missing.status_code == 404 and missing.get_json()["error"]["code"] == "not_found"
    assert client.delete(f"/rate/{casino}").status_code == 401
    with container.store.uow() as uow:
        assert uow.ratings.get(user_id, casino) == 8


def _slow_recommend(container: Container, user_id: int, change: Callable[[], object]) -> list[int]:
    """A recommendation whose computation finishes, then ``change`` lands (and drops the cache), then it is
    stored: the order a slow request and a quick click can take. The stale list's movie ids."""
    service = container.recommendations
    compute = service.compute

    def slow_compute(*args: Any) -> list[Recommendation]:
        items = compute(*args)
        change()
        return items

    service.compute = slow_compute  # type: ignore[method-assign]
    try:
        stale = service.recommend(user_id, "ease_seq", None, 20, render=render_items)
    finally:
        service.compute = compute  # type: ignore[method-assign]
    return [item["id"] for item in json.loads(stale.items)]


def _fresh(container: Container, user_id: int) -> list[int]:
    fresh = container.recommendations.recommend(user_id, "ease_seq", None, 20, render=render_items)
    assert fresh.cached is False
    return [item["id"] for item in json.loads(fresh.items)]


def test_a_list_computed_before_a_not_interested_change_is_never_served_after_it(
    container: Container, sample_catalogue: dict[str, int]
) -> None:
    """A slow request that stores its result after the user said "not interested" must not bring the movie back."""
    user = container.accounts.register("racer", "a fine password")
    container.ratings.rate(user.id, sample_catalogue["Heat"], 9)
    matrix = sample_catalogue["The Matrix"]
    stale = _slow_recommend(container, user.id, lambda: container.steering.mark_not_interested(user.id, matrix))
    assert matrix in stale
    assert matrix not in _fresh(container, user.id)


def test_a_list_computed_before_a_rating_is_taken_back_is_never_served_after_it(
    container: Container, sample_catalogue: dict[str, int]
) -> None:
    user = container.accounts.register("racer", "a fine password")
    heat, casino = sample_catalogue["Heat"], sample_catalogue["Casino"]
    container.ratings.rate(user.id, heat, 9)
    container.ratings.rate(user.id, casino, 8)
    stale = _slow_recommend(container, user.id, lambda: container.ratings.remove(user.id, casino))
    assert casino not in stale
    assert casino in _fresh(container, user.id)  # not rated any more: it can be recommended again


@pytest.mark.parametrize(
    ("method", "path"),
    [
        (method, f"{base}/{bad}")
        for method, base in (
            ("post", "/watchlist"),
            ("delete", "/watchlist"),
            ("get", "/watchlist"),
            ("post", "/not-interested"),
            ("delete", "/not-interested"),
            ("get", "/not-interested"),
            ("delete", "/rate"),
        )
        for bad in ("abc", "0", "-1", "1.5", "99999999999999999999")
    ],
)
def test_bad_ids_are_400_and_change_nothing(
    client: FlaskClient, container: Container, sample_catalogue: dict[str, int], method: str, path: str
) -> None:
    user_id, headers = Auth(client).user()
    client.post("/rate", json={"movie_id": sample_catalogue["Heat"], "rating": 7}, headers=headers)
    response = getattr(client, method)(path, headers=headers)
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "invalid_id"
    with container.store.uow() as uow:
        assert uow.ratings.count() == 1
        assert uow.watchlist.ids(user_id) == [] and uow.not_interested.ids(user_id) == []


@pytest.mark.parametrize("query", ["limit=0", "limit=101", "limit=abc", "offset=-1", "limit=5&limit=6", "limt=5"])
@pytest.mark.parametrize("path", ["/watchlist", "/not-interested"])
def test_list_paging_parameters_are_checked(client: FlaskClient, path: str, query: str) -> None:
    user_id, headers = Auth(client).user()
    response = client.get(f"{path}/{user_id}?{query}", headers=headers)
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "validation_error"
