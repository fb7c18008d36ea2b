"""What an attacker tries first against a public API: each gets a clear 4xx (or 503 with Retry-After) and changes
nothing; no client input writes a traceback."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable

import jwt
import pytest
from flask.testing import FlaskClient

from movierec.settings import Settings
from movierec.wiring import Container, build_container
from tests.conftest import SAMPLE_MOVIES, Auth, create_app_for, index_everything
from tests.integration.test_api_bad_input import _counts, assert_error

PASSWORD = "correct horse"
HUGE = "9" * 5000  # past Python's 4,300-digit int-string limit


def _json(client: FlaskClient, path: str, raw: str | bytes, headers: dict[str, str] | None = None) -> object:
    return client.post(path, data=raw, headers={"Content-Type": "application/json", **(headers or {})})


@pytest.mark.parametrize(
    ("path", "raw"),
    [
        ("/register", '{"username": "mallory", "password": "correct horse", "n": ' + HUGE + "}"),
        ("/register", '{"username": ' + HUGE + ', "password": "correct horse"}'),
        ("/login", '{"username": "mallory", "password": "x", "deep": [[{"n": ' + HUGE + "}]]}"),
        ("/rate", '{"movie_id": ' + HUGE + ', "rating": 5}'),
        ("/rate", '{"movie_id": 1, "rating": -' + HUGE + "}"),
        ("/password", '{"current_password": "correct horse", "new_password": ' + HUGE + "}"),
    ],
)
def test_huge_integers_anywhere_in_a_body_are_invalid_json_and_log_no_traceback(
    client: FlaskClient, container: Container, capsys: pytest.CaptureFixture[str], path: str, raw: str
) -> None:
    _, headers = Auth(client).user()
    capsys.readouterr()
    before = _counts(container)
    assert_error(_json(client, path, raw, headers), 400, "invalid_json")
    assert _counts(container) == before
    logged = capsys.readouterr()
    assert "Traceback" not in logged.out + logged.err


@pytest.mark.parametrize(
    ("path", "raw", "field"),
    [
        ("/register", '{"username": "mallory", "password": "correct horse\\ud800"}', "password"),
        ("/register", '{"username": "mal\\udfff", "password": "correct horse"}', "username"),
        ("/login", '{"username": "alice", "password": "\\udc00correct"}', "password"),
        ("/rate", '{"movie_id": 1, "rating": 5, "note": ["fine", "\\ud83d"]}', "note.1"),
        ("/password", '{"current_password": "correct horse", "new_password": "new \\ud800 phrase"}', "new_password"),
    ],
)
def test_lone_surrogates_are_400_naming_the_field(
    client: FlaskClient, container: Container, path: str, raw: str, field: str
) -> None:
    _, headers = Auth(client).user()
    before = _counts(container)
    response = _json(client, path, raw, headers)
    assert_error(response, 400, "validation_error", "Unicode")
    assert [d["field"] for d in response.get_json()["error"]["details"]] == [field]  # type: ignore[attr-defined]
    assert _counts(container) == before


@pytest.mark.parametrize("path", ["/register", "/login", "/rate", "/password"])
@pytest.mark.parametrize(
    "content_type", [None, "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"]
)
def test_json_endpoints_refuse_other_content_types(
    client: FlaskClient, container: Container, path: str, content_type: str | None
) -> None:
    """A cross-site form can send these types without a preflight: they never reach the handlers."""
    _, headers = Auth(client).user()
    before = _counts(container)
    body = b'{"username": "mallory", "password": "correct horse", "movie_id": 1, "rating": 5}'
    if content_type:
        headers = {**headers, "Content-Type": content_type}
    assert_error(client.post(path, data=body, headers=headers), 415, "unsupported_media_type", "application/json")
    assert _counts(container) == before


def test_json_with_a_charset_is_accepted(client: FlaskClient) -> None:
    response = client.post(
        "/register",
        data=b'{"username": "mallory", "password": "correct horse"}',
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    assert response.status_code == 201


def test_usernames_are_unique_without_case_and_log_in_in_any_case(client: FlaskClient, container: Container) -> None:
    ada = Auth(client).register("Ada", PASSWORD)
    for lookalike in ("ada", "ADA", "ＡＤＡ"):
        assert_error(client.post("/register", json={"username": lookalike, "password": PASSWORD}), 409, "conflict")
    assert _counts(container)[0] == 1
    for spelling in ("ada", "ADA", "Ada", "ａｄａ"):
        response = client.post("/login", json={"username": spelling, "password": PASSWORD})
        assert response.status_code == 200 and response.get_json()["user_id"] == ada


def test_full_width_usernames_are_stored_normalised(client: FlaskClient) -> None:
    response = client.post("/register", json={"username": "Ｂｏｂ_１", "password": PASSWORD})
    assert response.status_code == 201 and response.get_json()["username"] == "Bob_1"


@pytest.mark.parametrize(
    ("username", "password", "says"),
    [
        ("alice", "password", "too easy to guess"),
        ("alice", "password123", "too easy to guess"),
        ("alice", "12345678", "too easy to guess"),
        ("alice", "qwertyuiop", "too easy to guess"),
        ("alice12345", "alice12345", "must not be the username"),
        ("alice12345", "ALICE12345", "must not be the username"),
    ],
)
def test_weak_passwords_are_refused_with_a_clear_message(
    client: FlaskClient, container: Container, username: str, password: str, says: str
) -> None:
    response = client.post("/register", json={"username": username, "password": password})
    assert_error(response, 400, says=says)
    assert response.get_json()["error"]["details"][0]["field"] == "password"  # type: ignore[attr-defined]
    assert _counts(container)[0] == 0


def _token_for(container: Container, **claims: object) -> str:
    now = int(dt.datetime.now(dt.UTC).timestamp())
    payload = {"iss": "movierec", "iat": now, "exp": now + 60, "typ": "access", "jti": uuid.uuid4().hex, "ver": 0}
    return jwt.encode({**payload, **claims}, container.settings.signing_key, algorithm="HS256")


@pytest.mark.parametrize("subject", ["١", "１", "1" * 400, "0", "-1", "+1", " 1", "1.0", "2147483648", ""])
def test_token_subjects_are_ascii_digits_within_the_id_range(
    client: FlaskClient, container: Container, subject: str
) -> None:
    user_id, _ = Auth(client).user()
    assert user_id == 1
    headers = {"Authorization": f"Bearer {_token_for(container, sub=subject)}"}
    assert_error(client.get("/my-ratings/1", headers=headers), 401, "unauthorized")
    good = {"Authorization": f"Bearer {_token_for(container, sub='1')}"}
    assert client.get("/my-ratings/1", headers=good).status_code == 200


@pytest.mark.parametrize("claims", [{"jti": None}, {"ver": None}, {"ver": "0"}, {"ver": True}, {"jti": "x" * 65}])
def test_tokens_without_an_id_or_version_are_refused(
    client: FlaskClient, container: Container, claims: dict[str, object]
) -> None:
    Auth(client).user()
    payload = {k: v for k, v in claims.items() if v is not None}
    token = _token_for(container, sub="1", **payload)
    if any(v is None for v in claims.values()):
        decoded = jwt.decode(token, options={"verify_signature": False})
        decoded.pop(next(iter(claims)))
        token = jwt.encode(decoded, container.settings.signing_key, algorithm="HS256")
    assert_error(client.get("/my-ratings/1", headers={"Authorization": f"Bearer {token}"}), 401)


def test_logout_revokes_that_token_and_everywhere_revokes_them_all(client: FlaskClient) -> None:
    user_id = Auth(client).register("alice", PASSWORD)
    _, first = Auth(client).login("alice", PASSWORD)
    _, second = Auth(client).login("alice", PASSWORD)
    _, third = Auth(client).login("alice", PASSWORD)
    response = client.post("/logout", headers=first)
    assert response.status_code == 204 and response.get_data() == b""
    assert_error(client.get(f"/my-ratings/{user_id}", headers=first), 401, says="revoked")
    assert_error(client.post("/logout", headers=first), 401)
    assert client.get(f"/my-ratings/{user_id}", headers=second).status_code == 200
    assert client.post("/logout?everywhere=true", headers=second).status_code == 204
    for headers in (second, third):
        assert_error(client.get(f"/my-ratings/{user_id}", headers=headers), 401, says="revoked")
    _, fresh = Auth(client).login("alice", PASSWORD)
    assert client.get(f"/my-ratings/{user_id}", headers=fresh).status_code == 200
    assert_error(client.post("/logout?everywhere=maybe", headers=fresh), 400)


def test_a_password_change_revokes_older_tokens(client: FlaskClient, container: Container) -> None:
    user_id = Auth(client).register("alice", PASSWORD)
    _, old = Auth(client).login("alice", PASSWORD)
    _, other_device = Auth(client).login("alice", PASSWORD)
    wrong = client.post(
        "/password", json={"current_password": "not it at all", "new_password": "a new phrase"}, headers=old
    )
    assert_error(wrong, 401, says="current password")
    weak = client.post("/password", json={"current_password": PASSWORD, "new_password": "password"}, headers=old)
    assert_error(weak, 400, says="too easy")
    assert weak.get_json()["error"]["details"][0]["field"] == "new_password"
    assert client.get(f"/my-ratings/{user_id}", headers=old).status_code == 200  # nothing changed yet
    changed = client.post(
        "/password", json={"current_password": PASSWORD, "new_password": "a brand new phrase"}, headers=old
    )
    assert changed.status_code == 200
    new = {"Authorization": f"Bearer {changed.get_json()['access_token']}"}
    for headers in (old, other_device):
        assert_error(client.get(f"/my-ratings/{user_id}", headers=headers), 401, says="revoked")
    assert client.get(f"/my-ratings/{user_id}", headers=new).status_code == 200
    assert client.post("/login", json={"username": "alice", "password": PASSWORD}).status_code == 401
    assert client.post("/login", json={"username": "alice", "password": "a brand new phrase"}).status_code == 200


def test_an_empty_q_is_the_same_as_no_q(client: FlaskClient, sample_catalogue: dict[str, int]) -> None:
    """What an HTML form sends for an empty search box with a genre chosen."""
    empty = client.get("/search?q=&genre=Comedy")
    assert empty.status_code == 200
    assert empty.get_json() == client.get("/search?genre=Comedy").get_json()
    assert empty.get_json()["total"] == sum("Comedy" in m.genres for m in SAMPLE_MOVIES)


def test_registrations_are_limited_per_address(make_settings: Callable[..., Settings]) -> None:
    container = build_container(make_settings(registrations_per_hour=3), run_migrations=True)
    try:
        client = create_app_for(container).test_client()
        for n in range(3):
            response = client.post(
                "/register",
                json={"username": f"bulk{n}", "password": PASSWORD},
                environ_base={"REMOTE_ADDR": "203.0.113.9"},
            )
            assert response.status_code == 201
        refused = client.post(
            "/register", json={"username": "bulk3", "password": PASSWORD}, environ_base={"REMOTE_ADDR": "203.0.113.9"}
        )
        assert_error(refused, 429, "too_many_requests", "registrations")
        assert 1 <= int(refused.headers["Retry-After"]) <= 3600
        assert _counts(container)[0] == 3
        elsewhere = client.post(
            "/register", json={"username": "bulk3", "password": PASSWORD}, environ_base={"REMOTE_ADDR": "192.0.2.9"}
        )
        assert elsewhere.status_code == 201
    finally:
        container.close()


def test_password_hashing_never_starves_other_requests(make_settings: Callable[..., Settings]) -> None:
    """With the one hashing slot taken and no room to wait, password work is refused at once (503, Retry-After)
    while every other endpoint answers."""
    container = build_container(make_settings(password_hash_slots=1, password_hash_queue=0), run_migrations=True)
    container.catalogue.upsert(SAMPLE_MOVIES)
    index_everything(container)
    client = create_app_for(container).test_client()
    Auth(client).register("alice", PASSWORD)
    with container.accounts.hashing.slot():  # a registration in progress, say
        for path, body in (
            ("/register", {"username": "bob", "password": PASSWORD}),
            ("/login", {"username": "alice", "password": PASSWORD}),
        ):
            busy = client.post(path, json=body)
            assert_error(busy, 503, "busy")
            assert int(busy.headers["Retry-After"]) >= 1
        assert client.get("/search?q=matrix").status_code == 200
        assert client.get("/movies/latest").status_code == 200
    assert client.post("/login", json={"username": "alice", "password": PASSWORD}).status_code == 200
    container.close()


@pytest.mark.parametrize("query", ["genre=%1C", "genre=%1C&offset=3316", "q=%1F", "genre=%C2%85"])
def test_control_characters_the_schema_calls_text_are_not_refused_as_empty(
    client: FlaskClient, sample_catalogue: dict[str, int], query: str
) -> None:
    """Blank is only ASCII whitespace, in the schema and in the service alike (found by Schemathesis)."""
    assert client.get(f"/search?{query}").status_code == 200
