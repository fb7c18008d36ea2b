from __future__ import annotations

import datetime as dt
import uuid

import jwt
import pytest
from flask.testing import FlaskClient

from movierec.wiring import Container
from tests.conftest import Auth


def test_register_login_and_token(client: FlaskClient, container: Container) -> None:
    response = client.post("/register", json={"username": "alice", "password": "correct horse"})
    assert response.status_code == 201
    assert response.get_json() == {"user_id": response.get_json()["user_id"], "username": "alice"}

    response = client.post("/login", json={"username": "alice", "password": "correct horse"})
    body = response.get_json()
    assert response.status_code == 200
    assert body["token_type"] == "bearer" and body["expires_in"] == container.settings.token_ttl_seconds
    claims = jwt.decode(body["access_token"], container.settings.signing_key, algorithms=["HS256"], issuer="movierec")
    assert claims["sub"] == str(body["user_id"]) and claims["exp"] - claims["iat"] == body["expires_in"]


def test_passwords_are_stored_as_argon2id(client: FlaskClient, container: Container) -> None:
    Auth(client).register("alice", "correct horse")
    with container.store.uow() as uow:
        _, password_hash = uow.users.credentials("alice")  # type: ignore[misc]
    assert password_hash.startswith("$argon2id$") and "correct horse" not in password_hash


def test_duplicate_username_is_409_and_changes_nothing(client: FlaskClient, container: Container) -> None:
    Auth(client).register("alice", "correct horse")
    response = client.post("/register", json={"username": "alice", "password": "another password"})
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "conflict"
    with container.store.uow() as uow:
        assert uow.users.count() == 1
    assert client.post("/login", json={"username": "alice", "password": "correct horse"}).status_code == 200


@pytest.mark.parametrize(
    ("username", "password"),
    [("alice", "wrong password"), ("nobody", "correct horse"), ("movielens-1", "anything at all")],
)
def test_bad_credentials_get_the_same_401(
    client: FlaskClient, container: Container, username: str, password: str
) -> None:
    Auth(client).register("alice", "correct horse")
    with container.store.uow() as uow:  # a demo user exists but has no password: it cannot log in
        uow.users.ensure_external(["movielens:1"])
        uow.commit()
    response = client.post("/login", json={"username": username, "password": password})
    assert response.status_code == 401
    assert response.get_json()["error"] == {"code": "unauthorized", "message": "wrong username or password"}


def _token(container: Container, user_id: int, *, seconds: int = 60, key: str | None = None, **claims: object) -> str:
    now = int(dt.datetime.now(dt.UTC).timestamp())
    payload = {
        "sub": str(user_id),
        "iss": "movierec",
        "iat": now,
        "exp": now + seconds,
        "typ": "access",
        "jti": uuid.uuid4().hex,
        "ver": 0,
        **claims,
    }
    return jwt.encode(payload, key or container.settings.signing_key, algorithm="HS256")


PROTECTED = [
    ("get", "/recommendations/{id}"),
    ("get", "/my-ratings/{id}"),
    ("post", "/rate"),
    ("delete", "/rate/1"),
    ("get", "/watchlist/{id}"),
    ("post", "/watchlist/1"),
    ("delete", "/watchlist/1"),
    ("get", "/not-interested/{id}"),
    ("post", "/not-interested/1"),
    ("delete", "/not-interested/1"),
]


@pytest.mark.parametrize(("method", "path"), PROTECTED)
@pytest.mark.parametrize(
    "header",
    [
        None,
        "Bearer",
        "Bearer ",
        "Basic YWxpY2U6cGFzc3dvcmQ=",
        "Bearer not-a-token",
        "Bearer {forged}",
        "Bearer {expired}",
        "Bearer {unknown_user}",
        "Bearer {wrong_issuer}",
        "Bearer {none_alg}",
    ],
)
def test_protected_paths_refuse_bad_tokens(
    client: FlaskClient, container: Container, method: str, path: str, header: str | None
) -> None:
    user_id, _ = Auth(client).user()
    tokens = {
        "forged": _token(container, user_id, key="some other secret of enough length"),
        "expired": _token(container, user_id, seconds=-10),
        "unknown_user": _token(container, 999_999),
        "wrong_issuer": _token(container, user_id, iss="elsewhere"),
        "none_alg": jwt.encode({"sub": str(user_id), "exp": 9_999_999_999}, key=None, algorithm="none"),
    }
    headers = {} if header is None else {"Authorization": header.format(**tokens)}
    kwargs = {"json": {"movie_id": 1, "rating": 5}} if method == "post" else {}
    response = getattr(client, method)(path.format(id=user_id), headers=headers, **kwargs)
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "unauthorized"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    with container.store.uow() as uow:
        assert uow.ratings.count() == 0


def test_expired_token_says_so(client: FlaskClient, container: Container) -> None:
    user_id, _ = Auth(client).user()
    response = client.get(
        f"/my-ratings/{user_id}", headers={"Authorization": f"Bearer {_token(container, user_id, seconds=-5)}"}
    )
    assert response.status_code == 401 and "expired" in response.get_json()["error"]["message"]


@pytest.mark.parametrize(
    "path", ["/recommendations/{other}", "/my-ratings/{other}", "/watchlist/{other}", "/not-interested/{other}"]
)
def test_other_users_data_is_403(client: FlaskClient, path: str) -> None:
    auth = Auth(client)
    other = auth.register("bob", "bob's password")
    _, headers = auth.user("alice", "correct horse")
    response = client.get(path.format(other=other), headers=headers)
    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "forbidden"


def test_token_from_one_backend_is_accepted_by_another(client: FlaskClient, container: Container) -> None:
    """Backends sharing SECRET_KEY (and the database) accept each other's tokens."""
    from movierec.api import create_app
    from movierec.wiring import build_container

    user_id, headers = Auth(client).user()
    second = build_container(container.settings)
    try:
        other_backend = create_app(container=second).test_client()
        assert other_backend.get(f"/my-ratings/{user_id}", headers=headers).status_code == 200
    finally:
        second.close()
