"""Every kind of bad input gets a clear 4xx JSON error and changes nothing."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from movierec.wiring import Container
from tests.conftest import Auth


def _counts(container: Container) -> tuple[int, int, int]:
    with container.store.uow() as uow:
        return uow.users.count(), uow.ratings.count(), uow.movies.count()


def assert_error(response: object, status: int, code: str | None = None, says: str | None = None) -> None:
    assert response.status_code == status, response.get_data(as_text=True)  # type: ignore[attr-defined]
    assert response.mimetype == "application/json"  # type: ignore[attr-defined]
    error = response.get_json()["error"]  # type: ignore[attr-defined]
    assert set(error) <= {"code", "message", "details"} and error["message"]
    if code:
        assert error["code"] == code
    if says:
        assert says in error["message"]


RAW_BODIES = [
    (b"", "invalid_json"),
    (b"{bad json", "invalid_json"),
    (b"[1, 2]", "invalid_json"),
    (b'"a string"', "invalid_json"),
    (b"null", "invalid_json"),
    (b"42", "invalid_json"),
    (b"\xff\xfe", "invalid_json"),
    (b"[" * 5000 + b"]" * 5000, "invalid_json"),
]


@pytest.mark.parametrize(("raw", "code"), RAW_BODIES)
@pytest.mark.parametrize("path", ["/register", "/login", "/rate"])
def test_malformed_json(client: FlaskClient, container: Container, path: str, raw: bytes, code: str) -> None:
    _, headers = Auth(client).user()
    before = _counts(container)
    response = client.post(path, data=raw, headers={**headers, "Content-Type": "application/json"})
    assert_error(response, 400, code)
    assert _counts(container) == before


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({}, "username"),
        ({"username": "alice"}, "password"),
        ({"password": "correct horse"}, "username"),
        ({"username": 123, "password": "correct horse"}, "username"),
        ({"username": "alice", "password": 12345678}, "password"),
        ({"username": None, "password": "correct horse"}, "username"),
        ({"username": "al", "password": "correct horse"}, "3-32"),
        ({"username": "a" * 33, "password": "correct horse"}, "3-32"),
        ({"username": "ali ce", "password": "correct horse"}, "3-32"),
        ({"username": "alice!", "password": "correct horse"}, "3-32"),
        ({"username": "álice", "password": "correct horse"}, "3-32"),
        ({"username": "alice'; DROP TABLE users;--", "password": "correct horse"}, "3-32"),
        ({"username": "alice", "password": "short"}, "at least 8"),
        ({"username": "alice", "password": ""}, "at least 8"),
        ({"username": "alice", "password": "x" * 300}, "at most"),
    ],
)
def test_register_validation(client: FlaskClient, container: Container, body: dict[str, object], says: str) -> None:
    response = client.post("/register", json=body)
    assert_error(response, 400, "validation_error", says)
    assert _counts(container)[0] == 0


@pytest.mark.parametrize(
    "body", [{}, {"username": "alice"}, {"username": 1, "password": "x"}, {"username": "", "password": ""}]
)
def test_login_validation(client: FlaskClient, body: dict[str, object]) -> None:
    assert_error(client.post("/login", json=body), 400, "validation_error")


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        ({"movie_id": 1, "rating": "5"}, 400, "rating must be an integer from 1 to 10"),
        ({"movie_id": 1, "rating": 5.5}, 400, "rating must be an integer from 1 to 10"),
        ({"movie_id": 1, "rating": True}, 400, "rating must be an integer from 1 to 10"),
        ({"movie_id": 1, "rating": 0}, 400, "rating must be an integer from 1 to 10"),
        ({"movie_id": 1, "rating": 11}, 400, "rating must be an integer from 1 to 10"),
        ({"movie_id": 1, "rating": -1}, 400, "rating must be an integer from 1 to 10"),
        ({"movie_id": 1, "rating": None}, 400, "rating must be an integer from 1 to 10"),
        ({"movie_id": 1, "rating": [5]}, 400, "rating must be an integer from 1 to 10"),
        ({"movie_id": 1}, 400, "rating"),
        ({"rating": 5}, 400, "movie_id"),
        ({"movie_id": "1", "rating": 5}, 400, "movie_id"),
        ({"movie_id": 0, "rating": 5}, 400, "movie_id"),
        ({"movie_id": 2**40, "rating": 5}, 400, "movie_id"),
        ({"movie_id": True, "rating": 5}, 400, "movie_id"),
        ({"movie_id": 999_999, "rating": 5}, 404, "movie 999999 not found"),
    ],
)
def test_rate_validation(
    client: FlaskClient,
    container: Container,
    sample_catalogue: dict[str, int],
    body: dict[str, object],
    status: int,
    says: str,
) -> None:
    _, headers = Auth(client).user()
    assert_error(client.post("/rate", json=body, headers=headers), status, says=says)
    assert _counts(container)[1] == 0


@pytest.mark.parametrize(
    "path",
    [
        "/recommendations/abc",
        "/recommendations/-1",
        "/recommendations/0",
        "/recommendations/1.5",
        "/recommendations/99999999999999999999",
        "/my-ratings/abc",
        "/my-ratings/%20",
        "/movies/abc",
        "/movies/0",
        "/movies/abc/similar",
    ],
)
def test_non_numeric_ids(client: FlaskClient, path: str) -> None:
    _, headers = Auth(client).user()
    assert_error(client.get(path, headers=headers), 400, "invalid_id", "must be a positive integer")


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ("q=%20%20", "q"),
        ("q=" + "a" * 201, "q"),
        ("q=matrix&limit=0", "limit"),
        ("q=matrix&limit=101", "limit"),
        ("q=matrix&limit=abc", "limit"),
        ("q=matrix&limit=5.5", "limit"),
        ("q=matrix&offset=-1", "offset"),
        ("q=matrix&limit=10&limit=20", "limit"),
        ("genre=", "genre"),
        ("q=matrix&limt=5", "unknown query parameter 'limt'"),
    ],
)
def test_search_validation(client: FlaskClient, sample_catalogue: dict[str, int], query: str, says: str) -> None:
    assert_error(client.get(f"/search?{query}"), 400, says=says)


@pytest.mark.parametrize("query", ["limit=0", "limit=101", "limit=x", "strategy=nope", "genre=", "genre=%20"])
def test_recommendation_parameters(client: FlaskClient, sample_catalogue: dict[str, int], query: str) -> None:
    user_id, headers = Auth(client).user()
    assert_error(client.get(f"/recommendations/{user_id}?{query}", headers=headers), 400)


@pytest.mark.parametrize("path", ["/movies/latest?limit=0", "/movies/latest?limit=1000", "/movies/latest?offset=x"])
def test_latest_parameters(client: FlaskClient, path: str) -> None:
    assert_error(client.get(path), 400, "validation_error")


def test_unknown_movie_is_404(client: FlaskClient, sample_catalogue: dict[str, int]) -> None:
    assert_error(client.get("/movies/424242"), 404, "not_found")
    assert_error(client.get("/movies/424242/similar"), 404, "not_found")


def test_unknown_route_and_method(client: FlaskClient) -> None:
    assert_error(client.get("/nope"), 404, "not_found", "no such endpoint")
    assert_error(client.get("/rate"), 405, "method_not_allowed")
    assert_error(client.delete("/movies/latest"), 405, "method_not_allowed")


def test_body_size_is_limited(client: FlaskClient, container: Container) -> None:
    big = b'{"username": "alice", "password": "' + b"x" * 100_000 + b'"}'
    assert_error(client.post("/register", data=big, content_type="application/json"), 413, "payload_too_large")
    assert _counts(container)[0] == 0


def test_security_headers(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Cache-Control"] == "no-store"
