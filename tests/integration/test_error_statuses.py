"""The one table of HTTP statuses: each family of the domain's errors answers with its status, and a database
that does not answer is a 503 without the API knowing SQLAlchemy."""

from __future__ import annotations

import socket
from collections.abc import Callable

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from movierec.api.errors import InvalidId, InvalidJson, UnsupportedMediaType, ValidationFailed, status_of
from movierec.domain.accounts import UsernameTaken
from movierec.domain.errors import (
    BusUnavailable,
    CacheUnavailable,
    DatabaseUnavailable,
    Forbidden,
    InvalidInput,
    MovieRecError,
    SearchUnavailable,
    Unauthorized,
)
from movierec.domain.movies import UnknownMovie
from movierec.events.port import PublishFailed
from movierec.services.passwords import Busy
from movierec.services.throttle import TooManyAttempts
from movierec.settings import Settings
from movierec.store.database import create_db_engine
from movierec.store.uow import SqlStore
from movierec.wiring import build_container
from tests.conftest import create_app_for


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (MovieRecError("?"), (400, "bad_request")),
        (InvalidInput("bad"), (400, "invalid_input")),
        (Unauthorized("who?"), (401, "unauthorized")),
        (Forbidden("not yours"), (403, "forbidden")),
        (UnknownMovie(7), (404, "not_found")),
        (UsernameTaken("ada"), (409, "conflict")),
        (TooManyAttempts("failed logins", 30), (429, "too_many_requests")),
        (DatabaseUnavailable(), (503, "unavailable")),
        (CacheUnavailable("redis get failed"), (503, "unavailable")),
        (SearchUnavailable(), (503, "unavailable")),
        (BusUnavailable("kafka lag check failed"), (503, "unavailable")),
        (PublishFailed("no ack"), (503, "unavailable")),
        (Busy(), (503, "busy")),
        (InvalidJson("not JSON"), (400, "invalid_json")),
        (ValidationFailed("rating: too big"), (400, "validation_error")),
        (InvalidId("user_id must be a positive integer"), (400, "invalid_id")),
        (UnsupportedMediaType("json please"), (415, "unsupported_media_type")),
    ],
)
def test_each_error_family_has_its_status(error: MovieRecError, expected: tuple[int, str]) -> None:
    assert status_of(error) == expected


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize(
    "request_of",
    [
        lambda client: client.get("/movies/latest"),
        lambda client: client.post("/register", json={"username": "ada", "password": "correct horse"}),
        lambda client: client.post("/login", json={"username": "ada", "password": "correct horse"}),
    ],
    ids=["latest", "register", "login"],
)
def test_a_database_that_does_not_answer_is_a_503_with_retry_after(
    settings: Settings, request_of: Callable[[FlaskClient], TestResponse]
) -> None:
    store = SqlStore(create_db_engine(f"postgresql://movierec:movierec@127.0.0.1:{_closed_port()}/x", timeout=1.0))
    container = build_container(settings, store=store)
    try:
        app = create_app_for(container)
        app.testing = True
        response = request_of(app.test_client())
        assert response.status_code == 503
        assert response.get_json()["error"] == {
            "code": "unavailable",
            "message": "the database is temporarily unavailable; try again shortly",
        }
        assert response.headers["Retry-After"] == "5"
        with pytest.raises(DatabaseUnavailable):
            store.ping()
    finally:
        container.close()
