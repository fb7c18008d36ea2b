"""The ready-answers layer (``api/answers.py``): it sends only the 200s the views would send, byte for byte, and
passes everything else to Flask untouched; what it read for a request Flask then answers is not read again."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from flask import Flask, request_started
from werkzeug.test import EnvironBuilder, run_wsgi_app

from movierec.api import create_app
from movierec.log import access_log
from movierec.wiring import Container
from tests.conftest import Auth
from tests.integration.test_metrics import scrape_client, value

RECOMMENDATIONS = "/recommendations/<user_id>"


@contextmanager
def flask_requests(app: Flask) -> Iterator[list[str]]:
    """The paths Flask itself dispatched meanwhile (its ``request_started`` signal)."""
    seen: list[str] = []

    def started(sender: Flask, **extra: Any) -> None:
        from flask import request

        seen.append(request.path)

    request_started.connect(started, app)
    try:
        yield seen
    finally:
        request_started.disconnect(started, app)


def through_flask(app: Flask, path: str, headers: dict[str, str] | None = None) -> tuple[str, dict[str, str], bytes]:
    """The same request answered by Flask alone (the class's ``wsgi_app``: none of the app's WSGI layers)."""
    environ = EnvironBuilder(path=path, headers=headers or {}).get_environ()
    body, status, response_headers = run_wsgi_app(lambda e, s: Flask.wsgi_app(app, e, s), environ, buffered=True)
    return status, dict(response_headers), b"".join(body)


SECURITY = {"X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy", "Cache-Control"}


@pytest.fixture
def ready_app(container: Container, sample_catalogue: dict[str, int]) -> tuple[Flask, int, dict[str, str]]:
    app = create_app(container=container)
    client = app.test_client()
    user_id, headers = Auth(client).user()
    for title, rating in (("Heat", 9), ("Casino", 8)):
        response = client.post("/rate", json={"movie_id": sample_catalogue[title], "rating": rating}, headers=headers)
        assert response.status_code == 200
    return app, user_id, headers


def test_a_cached_list_is_sent_before_flask_with_the_views_bytes_and_headers(
    ready_app: tuple[Flask, int, dict[str, str]],
) -> None:
    app, user_id, headers = ready_app
    client = app.test_client()
    path = f"/recommendations/{user_id}"
    with flask_requests(app) as dispatched:
        first = client.get(path, headers=headers)  # a miss: Flask computes it
        second = client.get(path, headers=headers)  # held in the cache: the layer sends it
    assert (first.get_json()["cached"], second.get_json()["cached"]) == (False, True)
    assert dispatched == [path]
    status, flask_headers, flask_body = through_flask(app, path, headers)
    assert status == "200 OK"
    assert second.data == flask_body
    layer_headers = dict(second.headers)
    assert SECURITY <= set(layer_headers)  # the outer layers add them to both paths
    assert {k: v for k, v in layer_headers.items() if k not in SECURITY} == flask_headers


def test_a_rating_makes_the_next_answer_flasks_again(
    ready_app: tuple[Flask, int, dict[str, str]], sample_catalogue: dict[str, int]
) -> None:
    app, user_id, headers = ready_app
    client = app.test_client()
    path = f"/recommendations/{user_id}"
    client.get(path, headers=headers)
    before = client.get(path, headers=headers).get_json()
    assert before["cached"] is True
    rated = client.post("/rate", json={"movie_id": sample_catalogue["Toy Story"], "rating": 10}, headers=headers)
    assert rated.status_code == 200
    with flask_requests(app) as dispatched:
        after = client.get(path, headers=headers).get_json()
    assert after["cached"] is False and dispatched == [path]
    assert sample_catalogue["Toy Story"] not in [item["id"] for item in after["items"]]


@pytest.mark.parametrize(
    ("ask", "status"),
    [
        ("someone else's list", 403),
        ("no token", 401),
        ("a forged token", 401),
        ("an unknown parameter", 400),
        ("a repeated parameter", 400),
        ("a bad limit", 400),
        ("a trailing slash", 404),
        ("an id that is not one", 400),
    ],
)
def test_what_the_layer_does_not_send_flask_answers_as_before(
    ready_app: tuple[Flask, int, dict[str, str]], ask: str, status: int
) -> None:
    app, user_id, headers = ready_app
    client = app.test_client()
    client.get(f"/recommendations/{user_id}", headers=headers)  # the caller's own list is held ready
    other_id, other_headers = Auth(client).user("bob")
    assert client.get(f"/recommendations/{other_id}", headers=other_headers).status_code == 200  # and bob's
    own = f"/recommendations/{user_id}"
    path, sent = {
        "someone else's list": (f"/recommendations/{other_id}", headers),
        "no token": (own, {}),
        "a forged token": (own, {"Authorization": headers["Authorization"][:-2] + "xx"}),
        "an unknown parameter": (f"{own}?limt=5", headers),
        "a repeated parameter": (f"{own}?limit=5&limit=6", headers),
        "a bad limit": (f"{own}?limit=0", headers),
        "a trailing slash": (f"{own}/", headers),
        "an id that is not one": ("/recommendations/0x1", headers),
    }[ask]
    with flask_requests(app) as dispatched:
        response = client.get(path, headers=sent)
    assert response.status_code == status, response.get_json()
    assert response.get_json()["error"]["code"]  # Flask's JSON error body
    assert dispatched == [path.split("?")[0]]


def test_on_a_miss_the_token_and_the_slot_are_read_once(
    ready_app: tuple[Flask, int, dict[str, str]], container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, user_id, headers = ready_app
    lookups: list[int] = []
    real = container.cache.lookup_many

    def counted(slots: Any) -> Any:
        lookups.append(len(slots))
        return real(slots)

    monkeypatch.setattr(container.cache, "lookup_many", counted)
    response = app.test_client().get(f"/recommendations/{user_id}?limit=7", headers=headers)
    assert response.status_code == 200 and response.get_json()["cached"] is False
    assert lookups == [2]  # the token's entry and the answer's slot, once, by the layer


def test_the_latest_page_is_sent_by_the_layer_once_the_catalogue_holds_it(
    ready_app: tuple[Flask, int, dict[str, str]],
) -> None:
    app, _, _ = ready_app
    client = app.test_client()
    with flask_requests(app) as dispatched:
        first = client.get("/movies/latest?limit=3")
        second = client.get("/movies/latest?limit=3")
    assert dispatched == ["/movies/latest"]
    assert second.data == first.data == through_flask(app, "/movies/latest?limit=3")[2]
    assert len(second.get_json()["items"]) == 3


def test_a_rating_shows_in_the_latest_page_at_once(
    ready_app: tuple[Flask, int, dict[str, str]], sample_catalogue: dict[str, int]
) -> None:
    app, _, headers = ready_app
    client = app.test_client()
    page = client.get("/movies/latest?limit=50").get_json()["items"]
    target = next(item for item in page if item["id"] == sample_catalogue["Toy Story"])
    client.post("/rate", json={"movie_id": sample_catalogue["Toy Story"], "rating": 10}, headers=headers)
    again = client.get("/movies/latest?limit=50").get_json()["items"]
    counted = next(item for item in again if item["id"] == sample_catalogue["Toy Story"])
    assert counted["community_count"] == (target["community_count"] or 0) + 1


def test_the_layers_answers_are_counted_and_logged_as_flasks(
    ready_app: tuple[Flask, int, dict[str, str]], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    app, user_id, headers = ready_app
    client = app.test_client()
    path = f"/recommendations/{user_id}"
    client.get(path, headers=headers)
    before = scrape_client(client)
    monkeypatch.setattr(access_log, "enabled", True)
    capsys.readouterr()
    with flask_requests(app) as dispatched:
        assert client.get(path, headers=headers).get_json()["cached"] is True
    assert dispatched == []
    lines = [line for line in capsys.readouterr().err.splitlines() if " request " in line]
    assert len(lines) == 1
    assert f"path={path}" in lines[0] and "status=200" in lines[0] and f"user_id={user_id}" in lines[0]
    after = scrape_client(client)
    labels = {"method": "GET", "route": RECOMMENDATIONS, "status": "200"}
    assert (
        value(after, "movierec_http_requests_total", **labels) - value(before, "movierec_http_requests_total", **labels)
        == 1
    )
    assert (
        value(after, "movierec_recommendations_served_total", cache="hit")
        - value(before, "movierec_recommendations_served_total", cache="hit")
        == 1
    )


def test_a_failing_ready_answer_is_left_to_flask(
    ready_app: tuple[Flask, int, dict[str, str]], container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, user_id, headers = ready_app
    client = app.test_client()
    path = f"/recommendations/{user_id}"
    client.get(path, headers=headers)
    calls: list[int] = []
    real = container.recommendations.cached

    def failing_once(*args: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("a bug in the layer's path")
        return real(*args)

    monkeypatch.setattr(container.recommendations, "cached", failing_once)
    with flask_requests(app) as dispatched:
        response = client.get(path, headers=headers)
    assert response.status_code == 200 and response.get_json()["cached"] is True
    assert dispatched == [path] and len(calls) == 2


def test_a_search_page_is_sent_by_the_layer_until_the_index_changes(
    ready_app: tuple[Flask, int, dict[str, str]], container: Container
) -> None:
    from movierec.domain.movies import MovieDraft
    from tests.conftest import index_everything

    app, _, _ = ready_app
    client = app.test_client()
    path = "/search?q=matrix"
    with flask_requests(app) as dispatched:
        first = client.get(path)
        second = client.get(path)
    assert dispatched == ["/search"]
    assert second.data == first.data == through_flask(app, path)[2]
    container.catalogue.upsert([MovieDraft("test:99", "The Matrix Resurrections", 2021, genres=("Action",))])
    index_everything(container)  # the indexer's write drops the index's generation
    with flask_requests(app) as dispatched:
        third = client.get(path).get_json()
    assert dispatched == ["/search"]
    assert "The Matrix Resurrections" in [item["title"] for item in third["items"]]
