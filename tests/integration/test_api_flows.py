"""The original app's endpoints end to end on the embedded defaults."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import event

from movierec.api.routes.recommendations import render_items
from movierec.domain.movies import MovieDraft
from movierec.services.accounts import tokens_key
from movierec.services.recommendations import Recommendation, recommendations_key
from movierec.wiring import Container
from tests.conftest import Auth, index_everything

MOVIE_FIELDS = {
    "id",
    "tmdb_id",
    "title",
    "year",
    "release_date",
    "genres",
    "overview",
    "vote_average",
    "vote_count",
    "popularity",
    "poster_url",
    "vote_source",
    "community_average",
    "community_count",
}


def test_rate_stores_and_rating_again_replaces(
    client: FlaskClient, container: Container, sample_catalogue: dict[str, int]
) -> None:
    user_id, headers = Auth(client).user()
    heat = sample_catalogue["Heat"]
    response = client.post("/rate", json={"movie_id": heat, "rating": 9}, headers=headers)
    assert response.status_code == 200
    body = response.get_json()
    assert {k: body[k] for k in ("user_id", "movie_id", "rating")} == {
        "user_id": user_id,
        "movie_id": heat,
        "rating": 9,
    }
    assert client.post("/rate", json={"movie_id": heat, "rating": 4}, headers=headers).status_code == 200
    with container.store.uow() as uow:
        assert uow.ratings.get(user_id, heat) == 4 and uow.ratings.count() == 1
    # JSON Schema integers include numbers with a zero fraction.
    assert (
        client.post("/rate", json={"movie_id": float(heat), "rating": 6.0}, headers=headers).get_json()["rating"] == 6
    )


def test_my_ratings_newest_first(client: FlaskClient, sample_catalogue: dict[str, int]) -> None:
    user_id, headers = Auth(client).user()
    for title, rating in (("Heat", 9), ("Casino", 7), ("Toy Story", 10)):
        client.post("/rate", json={"movie_id": sample_catalogue[title], "rating": rating}, headers=headers)
    body = client.get(f"/my-ratings/{user_id}", headers=headers).get_json()
    assert body["user_id"] == user_id and body["total"] == 3
    assert [(i["movie"]["title"], i["rating"]) for i in body["items"]] == [
        ("Toy Story", 10),
        ("Casino", 7),
        ("Heat", 9),
    ]
    assert set(body["items"][0]["movie"]) == MOVIE_FIELDS
    stamps = [dt.datetime.fromisoformat(i["rated_at"]) for i in body["items"]]
    assert stamps == sorted(stamps, reverse=True)
    page = client.get(f"/my-ratings/{user_id}?limit=1&offset=1", headers=headers).get_json()
    assert [i["movie"]["title"] for i in page["items"]] == ["Casino"] and page["total"] == 3


def test_search_title_genre_typo_prefix(client: FlaskClient, sample_catalogue: dict[str, int]) -> None:
    body = client.get("/search?q=matirx").get_json()
    assert body["items"][0]["title"] == "The Matrix" and body["total"] >= 1
    assert set(body["items"][0]) == MOVIE_FIELDS
    assert client.get("/search?q=termin").get_json()["items"][0]["title"].startswith(("The Terminator", "Terminator"))
    crime = client.get("/search?q=crime").get_json()
    assert {m["title"] for m in crime["items"]} == {"Heat", "Casino"}
    comedies = client.get("/search?genre=comedy&limit=2").get_json()
    assert comedies["total"] == 5 and len(comedies["items"]) == 2
    assert all("Comedy" in m["genres"] for m in comedies["items"])
    second = client.get("/search?genre=comedy&limit=2&offset=2").get_json()
    assert not {m["id"] for m in second["items"]} & {m["id"] for m in comedies["items"]}
    injection = client.get("/search", query_string={"q": "' OR 1=1; DROP TABLE movies; --"})
    assert injection.status_code == 200


def test_latest_most_recently_added_first_among_releases_of_one_year(client: FlaskClient, container: Container) -> None:
    container.catalogue.upsert([MovieDraft("test:a", "First", 2000)])
    container.catalogue.upsert([MovieDraft("test:b", "Second", 2000)])
    items = client.get("/movies/latest?limit=2").get_json()["items"]
    assert [m["title"] for m in items] == ["Second", "First"]


def test_movie_and_genres(client: FlaskClient, sample_catalogue: dict[str, int]) -> None:
    movie = client.get(f"/movies/{sample_catalogue['Heat']}").get_json()
    assert movie["title"] == "Heat" and movie["genres"] == ["Crime", "Drama"] and movie["poster_url"] is None
    genres = {g["name"]: g["count"] for g in client.get("/genres").get_json()["items"]}
    assert genres["Comedy"] == 5 and genres["Crime"] == 2


def test_recommendations_cached_and_dropped_on_rating(
    client: FlaskClient, container: Container, sample_catalogue: dict[str, int]
) -> None:
    user_id, headers = Auth(client).user()
    first = client.get(f"/recommendations/{user_id}", headers=headers).get_json()
    assert first["cached"] is False and first["user_id"] == user_id and first["items"]
    assert set(first["items"][0]) == MOVIE_FIELDS | {"score", "reason", "predicted_rating"}
    assert all(1 <= item["predicted_rating"] <= 10 for item in first["items"])  # the default strategy predicts
    again = client.get(f"/recommendations/{user_id}", headers=headers).get_json()
    assert again["cached"] is True and again["items"] == first["items"]
    ttl = container.cache.ttl(recommendations_key(user_id))
    assert ttl is not None and 0 < ttl <= 300
    client.post("/rate", json={"movie_id": sample_catalogue["Heat"], "rating": 9}, headers=headers)
    assert container.cache.ttl(recommendations_key(user_id)) is None
    after = client.get(f"/recommendations/{user_id}", headers=headers).get_json()
    assert after["cached"] is False
    assert sample_catalogue["Heat"] not in [m["id"] for m in after["items"]]


def test_new_user_gets_popular_movies(client: FlaskClient, sample_catalogue: dict[str, int]) -> None:
    user_id, headers = Auth(client).user()
    for strategy in ("seed", "popular"):
        body = client.get(f"/recommendations/{user_id}?strategy={strategy}&limit=3", headers=headers).get_json()
        assert body["strategy"] == strategy
        # No ratings anywhere yet: the most voted movies, never the obscure 9.9/10 with 3 votes.
        assert [m["title"] for m in body["items"]] == ["The Matrix", "Schindler's List", "Terminator 2: Judgment Day"]
        assert all(m["reason"] for m in body["items"])


def test_seed_formula_ranks_favourite_genre(client: FlaskClient, container: Container) -> None:
    container.catalogue.upsert(
        [
            MovieDraft("test:c1", "Comedy A", 2000, genres=("Comedy",), vote_average=6.0, vote_count=10),
            MovieDraft("test:c2", "Comedy B", 2000, genres=("Comedy",), vote_average=9.0, vote_count=10),
            MovieDraft("test:c3", "Comedy C", 2000, genres=("Comedy",), vote_average=5.0, vote_count=10),
            MovieDraft("test:d1", "Drama A", 2000, genres=("Drama",), vote_average=10.0, vote_count=10),
        ]
    )
    index_everything(container)
    ids = {m.title: m.id for m in container.catalogue.latest(10)}
    auth = Auth(client)
    _, bob = auth.user("bob", "a good password")
    client.post("/rate", json={"movie_id": ids["Comedy A"], "rating": 10}, headers=bob)  # avg 10 -> 0.7*10+0.3*6 = 8.8
    client.post("/rate", json={"movie_id": ids["Comedy B"], "rating": 4}, headers=bob)  # avg 4 -> 2.8+2.7 = 5.5
    user_id, headers = auth.user()
    client.post("/rate", json={"movie_id": ids["Comedy C"], "rating": 7}, headers=headers)  # favourite: Comedy
    container.models.invalidate()
    body = client.get(f"/recommendations/{user_id}?strategy=seed", headers=headers).get_json()
    top = [(m["title"], round(m["score"], 6)) for m in body["items"][:2]]
    assert top == [("Comedy A", 8.8), ("Comedy B", 5.5)]
    assert "Comedy" in body["items"][0]["reason"]


def test_the_seed_reason_names_the_genre_asked_for(client: FlaskClient, sample_catalogue: dict[str, int]) -> None:
    user_id, headers = Auth(client).user()
    for title in ("The Matrix", "The Terminator"):  # the genre rated most: Action and Sci-Fi
        client.post("/rate", json={"movie_id": sample_catalogue[title], "rating": 6}, headers=headers)
    body = client.get(f"/recommendations/{user_id}?strategy=seed&genre=Comedy", headers=headers).get_json()
    reasons = [m["reason"] for m in body["items"] if m["reason"].startswith("top rated in")]
    assert reasons and all(r == "top rated in Comedy, the genre you chose" for r in reasons)


def test_recommendations_never_include_rated_movies(client: FlaskClient, sample_catalogue: dict[str, int]) -> None:
    user_id, headers = Auth(client).user()
    rated = [sample_catalogue[t] for t in ("The Matrix", "Toy Story", "Heat")]
    for movie_id in rated:
        client.post("/rate", json={"movie_id": movie_id, "rating": 8}, headers=headers)
    for strategy in ("seed", "popular", None):
        query = f"?limit=100&strategy={strategy}" if strategy else "?limit=100"
        items = client.get(f"/recommendations/{user_id}{query}", headers=headers).get_json()["items"]
        assert not set(rated) & {m["id"] for m in items}


def test_genre_filter_on_recommendations(client: FlaskClient, sample_catalogue: dict[str, int]) -> None:
    user_id, headers = Auth(client).user()
    body = client.get(f"/recommendations/{user_id}?genre=comedy", headers=headers).get_json()
    assert body["items"] and all("Comedy" in m["genres"] for m in body["items"])
    unknown = client.get(f"/recommendations/{user_id}?genre=No%20Such%20Genre", headers=headers)
    assert unknown.status_code == 200 and unknown.get_json()["items"] == []


def test_similar_movies(client: FlaskClient, sample_catalogue: dict[str, int]) -> None:
    body = client.get(f"/movies/{sample_catalogue['The Matrix']}/similar?limit=3").get_json()
    assert body["movie"]["title"] == "The Matrix"
    assert body["items"] and sample_catalogue["The Matrix"] not in [m["id"] for m in body["items"]]


def test_healthz(client: FlaskClient) -> None:
    body = client.get("/healthz").get_json()
    assert body["status"] == "ok"
    assert {name: check["adapter"] for name, check in body["checks"].items()} == {
        "database": "sqlite",
        "cache": "memory",
        "search": "embedded",
        "events": "embedded",
    }


def test_a_list_computed_before_a_rating_is_never_served_after_it(
    container: Container, sample_catalogue: dict[str, int]
) -> None:
    """A slow request that stores its result after the user rated must not bring back the old list."""
    service = container.recommendations
    user = container.accounts.register("racer", "a fine password")
    container.ratings.rate(user.id, sample_catalogue["Heat"], 9)
    matrix = sample_catalogue["The Matrix"]
    compute = service.compute

    def slow_compute(*args: Any) -> list[Recommendation]:
        items = compute(*args)  # computed from the ratings before the next one...
        container.ratings.rate(user.id, matrix, 10)  # ...which lands (and drops the cache) before it is stored
        return items

    service.compute = slow_compute  # type: ignore[method-assign]
    try:
        stale = service.recommend(user.id, "ease_seq", None, 20, render=render_items)
    finally:
        service.compute = compute  # type: ignore[method-assign]
    assert matrix in [item["id"] for item in json.loads(stale.items)]
    fresh = service.recommend(user.id, "ease_seq", None, 20, render=render_items)
    assert fresh.cached is False
    assert matrix not in [item["id"] for item in json.loads(fresh.items)]


def test_a_token_checked_before_a_logout_is_not_remembered_after_it(client: FlaskClient, container: Container) -> None:
    """A request that found its token live, and remembers that after the user logged out, must not revive it."""
    user_id, headers = Auth(client).user()
    token = headers["Authorization"].removeprefix("Bearer ")
    accounts = container.accounts
    remember = accounts.cache.store

    logged_out: list[int] = []

    def slow_store(*args: Any) -> None:
        if not logged_out:  # the logout (which checks the token itself) lands between the check and the write
            logged_out.append(0)
            logged_out[0] = client.post("/logout", headers=headers).status_code
        remember(*args)

    accounts.cache.drop(tokens_key(user_id))  # as when the login's entry expired: the check reads the database
    accounts.cache.store = slow_store  # type: ignore[method-assign]
    try:
        accounts.verify(token)  # this request was already past its check
    finally:
        accounts.cache.store = remember  # type: ignore[method-assign]
    assert logged_out == [204]
    response = client.get(f"/recommendations/{user_id}", headers=headers)
    assert response.status_code == 401, response.get_json()


def test_a_token_just_issued_is_checked_without_the_database(client: FlaskClient, container: Container) -> None:
    """A login remembers its token as live: the first request made with it reads no SQL for the check."""
    _, headers = Auth(client).user()
    checkouts: list[object] = []

    def count(connection: Any, *_: Any) -> None:
        checkouts.append(connection)

    event.listen(container.store.engine.pool, "checkout", count)
    try:
        caller = container.accounts.verify(headers["Authorization"].removeprefix("Bearer "))
    finally:
        event.remove(container.store.engine.pool, "checkout", count)
    assert checkouts == [] and caller.user_id > 0


def test_a_token_issued_across_a_password_change_is_not_remembered_as_live(
    client: FlaskClient, container: Container
) -> None:
    """A login whose password check passed before a password change must not have its token trusted after it."""
    user_id, older = Auth(client).user("alice", "correct horse")
    accounts = container.accounts
    remember = accounts.cache.store
    changed: list[int] = []

    def slow_store(*args: Any) -> None:
        if not changed:  # the change (which revokes every older token) lands between the login's read and its write
            changed.append(0)
            body = {"current_password": "correct horse", "new_password": "a brand new phrase"}
            changed[0] = client.post("/password", json=body, headers=older).status_code
        remember(*args)

    accounts.cache.store = slow_store  # type: ignore[method-assign]
    try:
        token = accounts.issue_token(user_id, version=0)  # the version the login read, before the change
    finally:
        accounts.cache.store = remember  # type: ignore[method-assign]
    assert changed == [200]
    response = client.get(f"/my-ratings/{user_id}", headers={"Authorization": f"Bearer {token.access_token}"})
    assert response.status_code == 401, response.get_json()


def test_a_cached_answer_reads_nothing_from_the_database(
    client: FlaskClient, container: Container, sample_catalogue: dict[str, int]
) -> None:
    """The token check and the list come from the cache, in one lookup: no SQL at all for a cached answer."""
    user_id, headers = Auth(client).user()
    client.post("/rate", json={"movie_id": sample_catalogue["Heat"], "rating": 9}, headers=headers)
    assert client.get(f"/recommendations/{user_id}", headers=headers).get_json()["cached"] is False
    checkouts: list[object] = []  # every use of the database checks a connection out of the pool, raw cursors too

    def count(connection: Any, *_: Any) -> None:
        checkouts.append(connection)

    event.listen(container.store.engine.pool, "checkout", count)
    try:
        again = client.get(f"/recommendations/{user_id}", headers=headers).get_json()
        assert again["cached"] is True and again["items"]
        assert checkouts == []
        other = client.get(f"/recommendations/{user_id}?limit=3", headers=headers).get_json()
        assert other["cached"] is False and len(other["items"]) <= 3
        assert len(checkouts) == 1  # a miss computes from the database: the history, the movies, their numbers
    finally:
        event.remove(container.store.engine.pool, "checkout", count)


def test_a_bad_token_is_a_401_before_a_bad_parameter_is_a_400(client: FlaskClient) -> None:
    user_id, headers = Auth(client).user()
    anonymous = client.get(f"/recommendations/{user_id}?limit=0")
    assert anonymous.status_code == 401, anonymous.get_json()
    forged = client.get("/recommendations/abc?limit=0", headers={"Authorization": "Bearer not-a-token"})
    assert forged.status_code == 401, forged.get_json()
    bad = client.get(f"/recommendations/{user_id}?limit=0", headers=headers)
    assert bad.status_code == 400 and bad.get_json()["error"]["code"] == "validation_error"
    other = client.get(f"/recommendations/{user_id + 1}", headers=headers)
    assert other.status_code == 403
