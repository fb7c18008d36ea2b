"""After 10 failed logins a minute for one username or one address: 429 with Retry-After."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from flask.testing import FlaskClient

from movierec.settings import Settings
from movierec.wiring import Container, build_container
from tests.conftest import TEST_SECRET, Auth, create_app_for, service_url


def login(client: FlaskClient, username: str, password: str, address: str = "203.0.113.7") -> object:
    return client.post(
        "/login", json={"username": username, "password": password}, environ_base={"REMOTE_ADDR": address}
    )


def test_failed_logins_for_one_username_are_throttled(client: FlaskClient) -> None:
    Auth(client).register("alice", "correct horse")
    for attempt in range(10):
        assert login(client, "alice", f"guess {attempt}", address=f"198.51.100.{attempt}").status_code == 401
    blocked = login(client, "alice", "correct horse", address="198.51.100.99")  # even the right password waits
    assert blocked.status_code == 429
    assert blocked.get_json()["error"]["code"] == "too_many_requests"
    assert 1 <= int(blocked.headers["Retry-After"]) <= 60
    # Other users are not affected.
    Auth(client).register("bob", "bob's password")
    assert login(client, "bob", "bob's password", address="198.51.100.50").status_code == 200


def test_failed_logins_from_one_address_are_throttled(client: FlaskClient) -> None:
    Auth(client).register("carol", "carol's password")
    for attempt in range(10):
        assert login(client, f"nobody{attempt}", "whatever it is").status_code == 401
    assert login(client, "carol", "carol's password").status_code == 429
    assert login(client, "carol", "carol's password", address="192.0.2.1").status_code == 200


def test_successful_logins_do_not_count(client: FlaskClient) -> None:
    Auth(client).register("dave", "dave's password")
    for _ in range(15):
        assert login(client, "dave", "dave's password").status_code == 200


def test_username_case_does_not_dodge_the_limit(client: FlaskClient) -> None:
    for attempt in range(10):
        login(client, "Eve" if attempt % 2 else "eve", "wrong password", address=f"198.51.100.{attempt}")
    assert login(client, "EVE", "wrong password", address="198.51.100.200").status_code == 429


@pytest.fixture
def shared_redis_backends(make_settings: Callable[..., Settings]) -> Iterator[tuple[FlaskClient, FlaskClient]]:
    url = service_url("redis").rsplit("/", 1)[0] + "/13"
    raw = redis.Redis.from_url(url, socket_timeout=5)
    raw.flushdb()
    raw.close()
    settings = make_settings(redis_url=url, secret_key=TEST_SECRET)
    first: Container = build_container(settings, run_migrations=True)
    second: Container = build_container(settings)
    yield create_app_for(first).test_client(), create_app_for(second).test_client()
    first.close()
    second.close()


def test_backends_share_the_count_through_redis(shared_redis_backends: tuple[FlaskClient, FlaskClient]) -> None:
    one, two = shared_redis_backends
    Auth(one).register("frank", "frank's password")
    for attempt in range(10):
        backend = one if attempt % 2 else two
        assert login(backend, "frank", "wrong", address=f"198.51.100.{attempt}").status_code == 401
    assert login(one, "frank", "frank's password", address="198.51.100.77").status_code == 429
    assert login(two, "frank", "frank's password", address="198.51.100.78").status_code == 429


def test_forwarded_address_is_used_only_behind_a_trusted_proxy(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    for trusted, expected in ((0, 429), (1, 200)):
        settings = make_settings(trusted_proxies=trusted, data_dir=tmp_path / f"data-{trusted}")
        container = build_container(settings, run_migrations=True)
        try:
            client = create_app_for(container).test_client()
            Auth(client).register("grace", "grace's password")
            for attempt in range(10):
                client.post(
                    "/login",
                    json={"username": f"nobody{attempt}", "password": "wrong password"},
                    headers={"X-Forwarded-For": f"198.51.100.{attempt}"},
                )
            response = client.post(
                "/login",
                json={"username": "grace", "password": "grace's password"},
                headers={"X-Forwarded-For": "198.51.100.200"},
            )
            # Untrusted: every attempt came from the proxy's own address, which is now throttled.
            # Trusted: each attempt had its own client address, and grace's address is fresh.
            assert response.status_code == expected
        finally:
            container.close()
