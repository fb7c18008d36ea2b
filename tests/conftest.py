"""Shared fixtures: settings on a temporary data dir, the composition root, the Flask app and an auth helper.

Real services: ``service_url(name)`` returns the URL of a running PostgreSQL, Redis, Kafka or Elasticsearch
(``TEST_*`` variables, else the ports ``scripts/services`` uses). When it is not reachable the test is skipped
with the reason, except with ``CI=true``, where a missing service fails the run.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient

from movierec.domain.movies import MovieDraft
from movierec.settings import Settings, load_settings
from movierec.wiring import Container, build_container
from movierec_tools.stack import SERVICE_OF, services_env

# Each real service's variable; unset, the URL of the one scripts/services runs (`scripts/services env` prints them).
SERVICES = {name: (variable, default_port) for name, variable, default_port in SERVICE_OF.values()}
IN_CI = os.environ.get("CI", "").lower() == "true"
# Fixtures (here) that need the real services, and the adapter parameters of the contract suites that are real ones:
# a test using either is marked `services` at collection, so `-m "not services"` leaves out every test that needs
# them (test modules on real services only mark themselves).
SERVICE_FIXTURES = frozenset({"full_stack_settings", "stack", "indexer"})
REAL_ADAPTERS = frozenset({"postgres", "redis", "kafka", "elasticsearch"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        params = getattr(item, "callspec", None)
        real = params is not None and any(isinstance(v, str) and v in REAL_ADAPTERS for v in params.params.values())
        if real or SERVICE_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.services)


def _reachable(url: str, default_port: int) -> bool:
    parts = urlsplit(url if "://" in url else f"tcp://{url}")
    host, port = parts.hostname or "127.0.0.1", parts.port or default_port
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def service_url(name: str) -> str:
    variable, default_port = SERVICES[name]
    url = os.environ.get(variable) or services_env()[variable]
    if not _reachable(url, default_port):
        message = f"{name} is not reachable at {url} (set {variable} or run `scripts/services start {name}`)"
        if IN_CI:
            pytest.fail(f"CI=true requires real services: {message}")
        pytest.skip(message)
    return url


# A small catalogue with clear answers for search and recommendation tests.
SAMPLE_MOVIES: list[MovieDraft] = [
    MovieDraft("test:1", "The Matrix", 1999, genres=("Action", "Sci-Fi"), vote_average=8.7, vote_count=2_000_000),
    MovieDraft(
        "test:2", "The Matrix Reloaded", 2003, genres=("Action", "Sci-Fi"), vote_average=7.2, vote_count=600_000
    ),
    MovieDraft("test:3", "The Terminator", 1984, genres=("Action", "Sci-Fi"), vote_average=8.1, vote_count=900_000),
    MovieDraft(
        "test:4",
        "Terminator 2: Judgment Day",
        1991,
        genres=("Action", "Sci-Fi"),
        vote_average=8.6,
        vote_count=1_100_000,
    ),
    MovieDraft("test:5", "Toy Story", 1995, genres=("Animation", "Comedy"), vote_average=8.3, vote_count=1_000_000),
    MovieDraft("test:6", "Toy Story 2", 1999, genres=("Animation", "Comedy"), vote_average=7.9, vote_count=600_000),
    MovieDraft("test:7", "Heat", 1995, genres=("Crime", "Drama"), vote_average=8.3, vote_count=700_000),
    MovieDraft("test:8", "Amélie", 2001, genres=("Comedy", "Romance"), vote_average=8.3, vote_count=780_000),
    MovieDraft("test:9", "Schindler's List", 1993, genres=("Drama", "History"), vote_average=9.0, vote_count=1_400_000),
    MovieDraft("test:10", "Groundhog Day", 1993, genres=("Comedy", "Fantasy"), vote_average=8.0, vote_count=680_000),
    MovieDraft("test:11", "Casino", 1995, genres=("Crime", "Drama"), vote_average=8.2, vote_count=550_000),
    MovieDraft("test:12", "Obscure Comedy", 2010, genres=("Comedy",), vote_average=9.9, vote_count=3),
]


# Tests hash many passwords: a cheaper argon2id cost keeps them fast (production uses OWASP's argon2id minimum).
FAST_HASHING = {"argon2_time_cost": 1, "argon2_memory_kib": 1024, "argon2_parallelism": 1}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(data_dir=tmp_path / "data", **FAST_HASHING)


@pytest.fixture
def container(settings: Settings) -> Iterator[Container]:
    built = build_container(settings, run_migrations=True)
    yield built
    built.close()


def index_everything(container: Container) -> None:
    """Relay the outbox and run the indexer until search holds every movie of the database."""
    from movierec.runtime import IndexerWorker

    worker = IndexerWorker(container, relay_every_seconds=0.0, batch_seconds=0.01)
    expected = container.catalogue.count()
    for _ in range(200):
        worker.step()
        if container.index.count() >= expected and container.relay.pending() == 0:
            break
    worker.indexer.consumer.close()
    assert container.index.count() == expected


@pytest.fixture
def sample_catalogue(container: Container) -> dict[str, int]:
    """SAMPLE_MOVIES stored and indexed; maps title to movie id."""
    summary = container.catalogue.upsert(SAMPLE_MOVIES)
    index_everything(container)
    return {draft.title: movie_id for draft, movie_id in zip(SAMPLE_MOVIES, summary.movie_ids, strict=True)}


@pytest.fixture
def app(container: Container) -> Flask:
    flask_app = create_app_for(container)
    flask_app.testing = True
    return flask_app


def create_app_for(container: Container) -> Flask:
    from movierec.api import create_app

    return create_app(container=container)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


class Auth:
    """Registers and logs in users through the API."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client

    def register(self, username: str = "alice", password: str = "correct horse") -> int:
        response = self.client.post("/register", json={"username": username, "password": password})
        assert response.status_code == 201, response.get_json()
        return int(response.get_json()["user_id"])

    def login(self, username: str = "alice", password: str = "correct horse") -> tuple[int, dict[str, str]]:
        response = self.client.post("/login", json={"username": username, "password": password})
        assert response.status_code == 200, response.get_json()
        body = response.get_json()
        return int(body["user_id"]), {"Authorization": f"Bearer {body['access_token']}"}

    def user(self, username: str = "alice", password: str = "correct horse") -> tuple[int, dict[str, str]]:
        self.register(username, password)
        return self.login(username, password)


@pytest.fixture
def auth(client: FlaskClient) -> Auth:
    return Auth(client)


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., Settings]:
    def make(**overrides: object) -> Settings:
        overrides.setdefault("data_dir", tmp_path / "data")
        return load_settings(**{**FAST_HASHING, **overrides})

    return make


@contextlib.contextmanager
def fresh_postgres_database() -> Iterator[str]:
    """A new, uniquely named database on the test PostgreSQL server (URL yielded), dropped afterwards."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from movierec.store.database import normalise_url

    server = make_url(normalise_url(service_url("postgres")))
    name = f"movierec_test_{uuid.uuid4().hex[:16]}"
    admin = create_engine(
        server.set(database="postgres"),
        isolation_level="AUTOCOMMIT",
        pool_pre_ping=True,  # the server may have been restarted in between (fault tests)
        connect_args={"connect_timeout": 5},
    )
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield server.set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


TEST_SECRET = "a-test-secret-that-is-long-enough-for-real-services"


@pytest.fixture
def full_stack_settings(make_settings: Callable[..., Settings]) -> Iterator[Settings]:
    """Settings on the real PostgreSQL (fresh database), Redis (its own DB, flushed), Kafka (unique topics and
    group) and Elasticsearch (unique alias, dropped afterwards)."""
    import redis

    unique = uuid.uuid4().hex[:12]
    redis_url = service_url("redis").rsplit("/", 1)[0] + "/14"
    kafka = service_url("kafka")
    elasticsearch = service_url("elasticsearch")
    with fresh_postgres_database() as database_url:
        client = redis.Redis.from_url(redis_url, socket_timeout=5)
        client.flushdb()
        client.close()
        settings = make_settings(
            database_url=database_url,
            redis_url=redis_url,
            kafka_bootstrap_servers=kafka,
            elasticsearch_url=elasticsearch,
            secret_key=TEST_SECRET,
            kafka_topic=f"movies-{unique}",
            kafka_dlq_topic=f"movies-{unique}.dlq",
            kafka_group=f"movie-indexer-{unique}",
            search_index=f"movies-test-{unique}",
        )
        try:
            yield settings
        finally:
            from movierec.events.kafka import KafkaMovieEvents
            from movierec.search.elastic import ElasticMovieIndex

            index = ElasticMovieIndex(elasticsearch, alias=settings.search_index)
            index.drop()
            index.close()
            events = KafkaMovieEvents(kafka, topic=settings.kafka_topic, dlq_topic=settings.kafka_dlq_topic)
            with contextlib.suppress(Exception):  # best effort: a leftover topic does no harm to other tests
                events.drop_topics()
            events.close()


# The bound of a test that something fails fast instead of hanging: generous for a loaded CI machine (a refused
# connection or a short client timeout ends in well under a second when idle), far below a hang (an unbounded wait,
# or a client default timeout of minutes). Tests never assert tight clocks.
NOT_A_HANG_SECONDS = 30.0


def wait_until(condition: Callable[[], Any], timeout: float, what: str, every: float = 0.2) -> Any:
    """Poll ``condition`` until it returns something truthy (and return that), or fail the test after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(every)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")


class Indexer:
    """`movierec indexer` as its own process, as in production."""

    def __init__(self, settings: Settings, log_path: Path) -> None:
        self.settings, self.log_path = settings, log_path
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        from movierec_tools.stack import child_environment

        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "movierec", "indexer"],
                env=child_environment(self.settings, os.environ),
                stdout=log,
                stderr=log,
            )

    def signal(self, signal_number: int) -> int:
        """Send a signal and wait for the exit code."""
        assert self.process is not None
        self.process.send_signal(signal_number)
        return self.process.wait(30)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@pytest.fixture
def stack(full_stack_settings: Settings) -> Iterator[Container]:
    """The composition root on the real services (see ``full_stack_settings``)."""
    container = build_container(full_stack_settings, run_migrations=True)
    yield container
    container.close()


@pytest.fixture
def indexer(full_stack_settings: Settings, tmp_path: Path) -> Iterator[Indexer]:
    running = Indexer(full_stack_settings, tmp_path / "indexer.log")
    running.start()
    yield running
    if running.alive():
        running.signal(9)
