"""Every movie the API sends says where its votes come from and what this app's own users rated it."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import event

from movierec.domain.movies import MovieDraft
from movierec.wiring import Container
from tests.conftest import Auth, index_everything


def _numbers(movie: dict[str, Any]) -> tuple[object, object, object]:
    return movie["vote_source"], movie["community_average"], movie["community_count"]


def test_community_numbers_follow_the_ratings_on_every_route(
    client: FlaskClient, container: Container, sample_catalogue: dict[str, int]
) -> None:
    heat = sample_catalogue["Heat"]
    before = client.get(f"/movies/{heat}").get_json()
    assert _numbers(before) == (None, None, 0)  # the sample's "test:" keys name no known source
    alice, alice_headers = Auth(client).user("alice")
    bob, bob_headers = Auth(client).user("bob")
    rated = client.post("/rate", json={"movie_id": heat, "rating": 9}, headers=alice_headers).get_json()
    assert (rated["community_average"], rated["community_count"]) == (9.0, 1)
    rated = client.post("/rate", json={"movie_id": heat, "rating": 6}, headers=bob_headers).get_json()
    assert (rated["community_average"], rated["community_count"]) == (7.5, 2)

    assert _numbers(client.get(f"/movies/{heat}").get_json()) == (None, 7.5, 2)
    searched = client.get("/search?q=heat").get_json()["items"]
    assert _numbers(next(m for m in searched if m["id"] == heat)) == (None, 7.5, 2)
    latest = client.get("/movies/latest?limit=100").get_json()["items"]
    assert _numbers(next(m for m in latest if m["id"] == heat)) == (None, 7.5, 2)
    mine = client.get(f"/my-ratings/{alice}", headers=alice_headers).get_json()["items"]
    assert _numbers(mine[0]["movie"]) == (None, 7.5, 2)
    client.post(f"/watchlist/{sample_catalogue['Casino']}", headers=bob_headers)
    listed = client.get(f"/watchlist/{bob}", headers=bob_headers).get_json()["items"]
    assert _numbers(listed[0]["movie"]) == (None, None, 0)
    similar = client.get(f"/movies/{heat}/similar").get_json()
    assert _numbers(similar["movie"]) == (None, 7.5, 2)
    assert all(m["community_count"] == 0 for m in similar["items"])  # nobody rated the others

    # Taking a rating back takes it out of the numbers too.
    assert client.delete(f"/rate/{heat}", headers=bob_headers).status_code == 204
    assert _numbers(client.get(f"/movies/{heat}").get_json()) == (None, 9.0, 1)


def test_recommendations_carry_the_numbers_of_when_they_were_computed(
    client: FlaskClient, sample_catalogue: dict[str, int]
) -> None:
    """A cached list is the JSON of when it was computed: another user's rating shows once the list is computed
    again (the OpenAPI text says so: up to 5 minutes)."""
    alice, alice_headers = Auth(client).user("alice")
    _, bob_headers = Auth(client).user("bob")
    client.post("/rate", json={"movie_id": sample_catalogue["Heat"], "rating": 9}, headers=alice_headers)
    path = f"/recommendations/{alice}?strategy=popular&limit=20"
    first = client.get(path, headers=alice_headers).get_json()
    matrix = sample_catalogue["The Matrix"]
    assert _numbers(next(m for m in first["items"] if m["id"] == matrix)) == (None, None, 0)
    client.post("/rate", json={"movie_id": matrix, "rating": 8}, headers=bob_headers)
    cached = client.get(path, headers=alice_headers).get_json()
    assert cached["cached"] is True
    assert _numbers(next(m for m in cached["items"] if m["id"] == matrix)) == (None, None, 0)
    client.post("/rate", json={"movie_id": sample_catalogue["Casino"], "rating": 7}, headers=alice_headers)
    fresh = client.get(path, headers=alice_headers).get_json()
    assert fresh["cached"] is False
    assert _numbers(next(m for m in fresh["items"] if m["id"] == matrix)) == (None, 8.0, 1)


def test_a_page_of_movies_reads_its_numbers_in_one_query(
    client: FlaskClient, container: Container, sample_catalogue: dict[str, int]
) -> None:
    statements: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement.lower())

    event.listen(container.store.engine, "before_cursor_execute", record)
    try:
        items = client.get("/search?genre=comedy&limit=20").get_json()["items"]
        assert len(items) == 5
        assert len([s for s in statements if "avg(" in s]) == 1
        statements.clear()
        assert len(client.get("/movies/latest?limit=12").get_json()["items"]) == 12
        assert len([s for s in statements if "avg(" in s]) == 1
    finally:
        event.remove(container.store.engine, "before_cursor_execute", record)


def test_the_source_of_the_votes_comes_from_the_catalogue_they_were_loaded_from(
    client: FlaskClient, container: Container
) -> None:
    container.catalogue.upsert(
        [
            MovieDraft("tmdb:603", "The Matrix", 1999, vote_average=8.2, vote_count=26_352, popularity=84.2),
            MovieDraft("imdb:32709", "Heat", 1995, vote_average=8.3, vote_count=600, popularity=600.0),
            MovieDraft("movielens:6", "Heat (MovieLens)", 1995, vote_average=8.4, vote_count=9_000, popularity=104.0),
            MovieDraft("movielens:9", "Sudden Death", 1995, vote_average=5.2, vote_count=17, popularity=17.0),
        ]
    )
    index_everything(container)
    items = client.get("/movies/latest?limit=10").get_json()["items"]
    assert {m["title"]: m["vote_source"] for m in items} == {
        "The Matrix": "TMDB",
        "Heat": "IMDb",
        "Heat (MovieLens)": "IMDb",
        "Sudden Death": "MovieLens",
    }
    assert [m["title"] for m in items][0] == "The Matrix"  # 1999 before the three from 1995


def test_latest_starts_with_the_newest_releases_of_a_catalogue_loaded_at_once(
    client: FlaskClient, sample_catalogue: dict[str, int]
) -> None:
    items = client.get("/movies/latest?limit=4").get_json()["items"]
    assert [(m["title"], m["year"]) for m in items] == [
        ("Obscure Comedy", 2010),
        ("The Matrix Reloaded", 2003),
        ("Amélie", 2001),
        ("Toy Story 2", 1999),
    ]
    page = client.get("/movies/latest?limit=2&offset=2").get_json()["items"]
    assert [m["title"] for m in page] == ["Amélie", "Toy Story 2"]


def test_search_still_answers_when_the_numbers_cannot_be_read(
    client: FlaskClient, container: Container, sample_catalogue: dict[str, int]
) -> None:
    """The search engine has the movies; the numbers are extras from the database: when their query fails (here the
    ratings table is gone), the movies come without them (null), not as an error."""
    with container.store.engine.begin() as connection:
        connection.exec_driver_sql("DROP TABLE ratings")
    response = client.get("/search?q=heat")
    assert response.status_code == 200
    heat = next(m for m in response.get_json()["items"] if m["id"] == sample_catalogue["Heat"])
    assert _numbers(heat) == (None, None, None)


def test_numbers_are_remembered_briefly_and_forgotten_when_this_process_rates(
    container: Container, sample_catalogue: dict[str, int]
) -> None:
    heat = sample_catalogue["Heat"]
    catalogue = container.catalogue
    alice = container.accounts.register("alice", "correct horse battery")
    bob = container.accounts.register("bob", "correct horse battery")
    assert catalogue.numbers([heat])[heat].community_count == 0
    container.ratings.rate(alice.id, heat, 9)  # this process rates: its remembered numbers go
    assert catalogue.numbers([heat])[heat].community_count == 1
    with container.store.uow() as uow:  # another process rates (straight to the database)
        uow.ratings.upsert(bob.id, heat, 7)
        uow.commit()
    assert catalogue.numbers([heat])[heat].community_count == 1  # remembered for a few seconds
    assert catalogue.numbers([heat], fresh=True)[heat].community_count == 2  # what a rating's answer reads
