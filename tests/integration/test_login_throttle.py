"""Login throttling that stops guessing without locking the owner out (both stacks: memory and Redis).

Per (username, address) 10 attempts a minute, per address 30, each reserved before the password is checked; many
failures for one username only slow its logins down.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import redis
from flask.testing import FlaskClient

from movierec.services.throttle import MAX_DELAY_SECONDS
from movierec.settings import Settings
from movierec.wiring import Container, build_container
from tests.conftest import TEST_SECRET, Auth, create_app_for, service_url

PASSWORD = "correct horse"


def login(client: FlaskClient, username: str, password: str, address: str = "203.0.113.7") -> object:
    return client.post(
        "/login", json={"username": username, "password": password}, environ_base={"REMOTE_ADDR": address}
    )


@pytest.fixture(params=["memory", "redis"])
def backends(request: pytest.FixtureRequest, make_settings: Callable[..., Settings]) -> Iterator[list[FlaskClient]]:
    """Two API processes' worth of apps sharing one throttle: in memory (one app), or two apps on one Redis."""
    if request.param == "memory":
        container = build_container(make_settings(password_hash_queue=32), run_migrations=True)
        yield [create_app_for(container).test_client()] * 2
        container.close()
        return
    url = service_url("redis").rsplit("/", 1)[0] + "/13"
    raw = redis.Redis.from_url(url, socket_timeout=5)
    raw.flushdb()
    raw.close()
    settings = make_settings(redis_url=url, secret_key=TEST_SECRET, password_hash_queue=32)
    first: Container = build_container(settings, run_migrations=True)
    second: Container = build_container(settings)
    yield [create_app_for(first).test_client(), create_app_for(second).test_client()]
    first.close()
    second.close()


def test_a_guesser_is_stopped_and_the_owner_still_logs_in_from_a_fresh_address(backends: list[FlaskClient]) -> None:
    one, two = backends
    Auth(one).register("alice", PASSWORD)
    for attempt in range(10):
        assert login(one if attempt % 2 else two, "alice", f"guess {attempt}").status_code == 401
    blocked = login(one, "alice", PASSWORD)  # the guesser's address is stopped, even with the right password
    assert blocked.status_code == 429
    assert blocked.get_json()["error"]["code"] == "too_many_requests"
    assert "failed logins" in blocked.get_json()["error"]["message"]
    assert 1 <= int(blocked.headers["Retry-After"]) <= 60
    assert login(two, "alice", PASSWORD, address="192.0.2.44").status_code == 200  # the owner, elsewhere


def test_guesses_from_many_addresses_slow_the_username_down_but_never_wall_it(backends: list[FlaskClient]) -> None:
    one, two = backends
    Auth(one).register("bob", PASSWORD)
    for attempt in range(25):
        assert (
            login(one if attempt % 2 else two, "bob", "wrong password", address=f"198.51.100.{attempt}").status_code
            == 401
        )
    assert login(two, "bob", PASSWORD, address="192.0.2.45").status_code == 200
    assert 0 < MAX_DELAY_SECONDS <= 2  # the slow-down stays a delay


def test_failed_logins_from_one_address_are_throttled(backends: list[FlaskClient]) -> None:
    one, two = backends
    Auth(one).register("carol", "carol's password")
    for attempt in range(30):  # every username once: only the address's own budget (30 a minute) runs out
        assert login(one if attempt % 2 else two, f"nobody{attempt}", "whatever it is").status_code == 401
    throttled = login(one, "carol", "carol's password")
    assert throttled.status_code == 429
    assert "logins from this address" in throttled.get_json()["error"]["message"]  # not "failed": any attempt counts
    assert login(two, "carol", "carol's password", address="192.0.2.1").status_code == 200


def test_a_successful_login_clears_its_own_count(client: FlaskClient) -> None:
    Auth(client).register("dave", "dave's password")
    for _ in range(3):
        for attempt in range(9):
            assert login(client, "dave", f"typo {attempt}").status_code == 401
        assert login(client, "dave", "dave's password").status_code == 200


def test_username_case_does_not_dodge_the_limit(client: FlaskClient) -> None:
    for attempt in range(10):
        login(client, "Eve" if attempt % 2 else "eve", "wrong password")
    assert login(client, "EVE", "wrong password").status_code == 429
    assert login(client, "ｅｖｅ", "wrong password").status_code == 429  # full-width letters are the same name


def test_parallel_guesses_never_get_more_than_the_budget(backends: list[FlaskClient]) -> None:
    one, two = backends
    Auth(one).register("frank", PASSWORD)

    def guess(n: int) -> int:
        client = (one if n % 2 else two).application.test_client()  # a client of its own in each thread
        return login(client, "frank", f"guess {n}").status_code  # type: ignore[attr-defined,no-any-return]

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(guess, range(24)))
    assert statuses.count(401) == 10  # exactly the budget was checked against the password
    assert statuses.count(429) == 14


def test_forwarded_address_is_used_only_behind_a_trusted_proxy(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    for trusted, expected in ((0, 429), (1, 200)):
        settings = make_settings(trusted_proxies=trusted, data_dir=tmp_path / f"data-{trusted}")
        container = build_container(settings, run_migrations=True)
        try:
            client = create_app_for(container).test_client()
            Auth(client).register("grace", "grace's password")
            for attempt in range(settings.login_address_attempts_per_minute):
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


def test_failed_logins_and_throttling_are_logged_with_address_and_username(
    client: FlaskClient, capsys: pytest.CaptureFixture[str]
) -> None:
    Auth(client).register("heidi", "heidi's password")
    for attempt in range(11):
        login(client, "Heidi", f"secret guess {attempt}", address="198.51.100.23")
    logged = capsys.readouterr()
    text = logged.out + logged.err
    assert "login.failed" in text and "login.throttled" in text
    for line in (line for line in text.splitlines() if "login.failed" in line or "login.throttled" in line):
        assert "198.51.100.23" in line and "heidi" in line
    assert "secret guess" not in text
