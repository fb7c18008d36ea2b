"""Prometheus /metrics of the API, the indexer and the trainer: scraped before and after real work, the counters
move by the right amounts; under gunicorn (multiprocess mode) a scrape sums every worker."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families

from movierec.domain.movies import MovieDraft
from movierec.events.embedded import EmbeddedMovieEvents
from movierec.metrics import scrape_registry
from movierec.probes import free_ports, http_ok
from movierec.processes import terminate
from movierec.runtime import IndexerWorker, PeriodicTrainer
from movierec.services import models as model_store
from movierec.services.publishing import OutboxRelay
from movierec.wiring import Container
from tests.conftest import Auth, create_app_for, index_everything, wait_until
from tests.integration.test_training import rate_many

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]
RECOMMENDATIONS_ROUTE = "/recommendations/<user_id>"


def parse(text: str) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sample's value; 0 when the series does not exist yet (a counter that never moved)."""
    return samples.get((name, frozenset(labels.items())), 0.0)


def scrape_client(client: FlaskClient) -> Samples:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain; version=")
    return parse(response.get_data(as_text=True))


def scrape_url(url: str) -> Samples:
    response = httpx.get(url, timeout=10.0, trust_env=False)
    response.raise_for_status()
    return parse(response.text)


def child_env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("MOVIEREC_", "PROMETHEUS_"))}
    for name in ("DATABASE_URL", "REDIS_URL", "ELASTICSEARCH_URL", "KAFKA_BOOTSTRAP_SERVERS", "SECRET_KEY"):
        env.pop(name, None)
    env.update(MOVIEREC_DATA_DIR=str(data_dir), **extra)
    return env


@contextmanager
def running(command: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as sink:
        process = subprocess.Popen(command, env=env, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        yield process
    finally:
        terminate(process, group=True)


# ---------------------------------------------------------------------------------------------- the API


def test_api_counts_requests_by_route_and_status_and_times_them(
    container: Container, sample_catalogue: dict[str, int]
) -> None:
    rate_many(container, list(sample_catalogue.values()), 3)
    client = create_app_for(container).test_client()
    user_id, headers = Auth(client).user()
    before = scrape_client(client)

    first = client.get(f"/recommendations/{user_id}", headers=headers)
    second = client.get(f"/recommendations/{user_id}", headers=headers)
    assert (first.get_json()["cached"], second.get_json()["cached"]) == (False, True)
    assert client.get("/no/such/page/12345").status_code == 404
    assert client.get(f"/recommendations/{user_id}").status_code == 401  # no token
    after = scrape_client(client)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    route = {"method": "GET", "route": RECOMMENDATIONS_ROUTE}
    assert moved("movierec_http_requests_total", **route, status="200") == 2
    assert moved("movierec_http_requests_total", **route, status="401") == 1
    assert moved("movierec_http_requests_total", method="GET", route="unmatched", status="404") == 1
    assert moved("movierec_http_request_duration_seconds_count", route=RECOMMENDATIONS_ROUTE) == 3
    assert moved("movierec_http_request_duration_seconds_sum", route=RECOMMENDATIONS_ROUTE) > 0
    assert moved("movierec_recommendations_served_total", cache="miss") == 1
    assert moved("movierec_recommendations_served_total", cache="hit") == 1
    assert moved("movierec_recommendation_compute_seconds_count") == 1
    # the raw path never becomes a label: the cardinality stays bounded whatever the URLs
    routes = {dict(labels).get("route") for _, labels in after}
    assert not [r for r in routes if r and (str(user_id) in r or "12345" in r)]
    # the scrape before this one counted too: /metrics is a route like the others
    assert moved("movierec_http_requests_total", method="GET", route="/metrics", status="200") == 1


def test_api_reports_the_model_generation_it_serves(container: Container, sample_catalogue: dict[str, int]) -> None:
    rate_many(container, list(sample_catalogue.values()), 3)
    client = create_app_for(container).test_client()
    assert not [name for name, _ in scrape_client(client) if name.startswith("movierec_model_")]  # nothing loaded
    user_id, headers = Auth(client).user()
    assert client.get(f"/recommendations/{user_id}", headers=headers).status_code == 200
    generation = container.models.loaded()
    assert generation is not None
    samples = scrape_client(client)
    labels = {"version": generation.version, "source": generation.source}
    assert value(samples, "movierec_model_generation_info", **labels) == 1
    assert value(samples, "movierec_model_trained_timestamp_seconds") == pytest.approx(generation.trained_at)
    assert 0 <= value(samples, "movierec_model_age_seconds") < 600
    with container.store.uow() as uow:
        assert value(samples, "movierec_model_ratings") == uow.ratings.count()  # fitted on every rating so far


def test_in_one_process_the_api_shows_the_indexer_and_the_trainer_too(
    container: Container, sample_catalogue: dict[str, int]
) -> None:
    """`movierec up` runs the indexer and the trainer as threads of the API process: one registry, one /metrics."""
    client = create_app_for(container).test_client()
    before = scrape_client(client)
    container.catalogue.upsert([MovieDraft("metrics:up", "Up Metric Movie", 2002)])
    index_everything(container)
    rate_many(container, list(sample_catalogue.values()), 2)
    assert PeriodicTrainer(container).due()
    model_store.train(container.store, container.settings.models_dir)
    after = scrape_client(client)
    assert (
        value(after, "movierec_indexer_movies_indexed_total") - value(before, "movierec_indexer_movies_indexed_total")
        == 1
    )
    assert value(after, "movierec_trainer_fits_total") - value(before, "movierec_trainer_fits_total") == 1
    with container.store.uow() as uow:
        assert value(after, "movierec_trainer_ratings_seen") == uow.ratings.count()


def test_metrics_is_not_a_json_endpoint_of_the_openapi_document(client: FlaskClient) -> None:
    document = client.get("/openapi.json").get_json()
    assert "/metrics" not in document["paths"]
    assert client.post("/metrics").status_code == 405


# ---------------------------------------------------------------------------------------------- the indexer


def test_indexer_measures_outbox_lag_batches_and_dead_letters(container: Container) -> None:
    port = free_ports(1)[0]
    from movierec import metrics

    server = metrics.serve("127.0.0.1", port)
    url = f"http://127.0.0.1:{port}/metrics"
    try:
        worker = IndexerWorker(container, relay_every_seconds=3600.0, batch_seconds=0.01)
        before = scrape_url(url)
        broken = EmbeddedMovieEvents(container.settings.data_dir / "broken-events.sqlite3")
        broken.close()  # a bus that cannot take writes: the movies stay in the outbox
        container.catalogue.relay = OutboxRelay(container.store, broken.publisher())
        container.catalogue.upsert([MovieDraft(f"metrics:{n}", f"Metric Movie {n}", 2000 + n) for n in range(3)])
        container.catalogue.relay = container.relay
        worker.measure()
        assert value(scrape_url(url), "movierec_outbox_depth") == 3  # written, not yet published
        container.relay.drain()
        assert isinstance(container.events, EmbeddedMovieEvents)
        container.events._log.append(container.events.topic, [(b"bad", b"{not json", None)])
        worker.measure()
        waiting = scrape_url(url)
        assert value(waiting, "movierec_outbox_depth") == 0
        assert value(waiting, "movierec_indexer_consumer_lag", partition="0") == 4  # 3 movies and the poison
        while worker.indexer.run_once():
            pass
        worker.measure()
        after = scrape_url(url)
    finally:
        server.shutdown()
        server.server_close()
        worker.indexer.consumer.close()

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert value(after, "movierec_indexer_consumer_lag", partition="0") == 0
    assert moved("movierec_indexer_batch_seconds_count") >= 1
    assert moved("movierec_indexer_movies_indexed_total") == 3
    assert moved("movierec_indexer_dead_letters_total") == 1
    assert container.index.count() == 3


def test_movierec_indexer_serves_metrics_on_its_port(container: Container, tmp_path: Path) -> None:
    port = free_ports(1)[0]
    url = f"http://127.0.0.1:{port}/metrics"
    env = child_env(container.settings.data_dir, MOVIEREC_INDEXER_METRICS_PORT=str(port))
    with running([sys.executable, "-m", "movierec", "indexer"], env, tmp_path / "indexer.log") as process:
        wait_until(lambda: http_ok(url) or process.poll() is not None, 60, "the indexer's /metrics")
        assert process.poll() is None, (tmp_path / "indexer.log").read_text()
        before = scrape_url(url)
        container.catalogue.upsert([MovieDraft("metrics:one", "One Metric Movie", 2001)])

        def indexed() -> bool:
            return value(scrape_url(url), "movierec_indexer_movies_indexed_total") >= 1

        wait_until(indexed, 60, "the indexer to index the movie")
        after = scrape_url(url)
    assert value(after, "movierec_indexer_batch_seconds_count") > value(before, "movierec_indexer_batch_seconds_count")
    assert value(after, "movierec_indexer_movies_indexed_total") == 1
    assert container.index.count() == 1


# ---------------------------------------------------------------------------------------------- the trainer


def test_movierec_train_every_serves_its_last_fit(
    container: Container, sample_catalogue: dict[str, int], tmp_path: Path
) -> None:
    rate_many(container, list(sample_catalogue.values()), 2)
    with container.store.uow() as uow:
        ratings = uow.ratings.count()
    port = free_ports(1)[0]
    url = f"http://127.0.0.1:{port}/metrics"
    env = child_env(container.settings.data_dir, MOVIEREC_TRAINER_METRICS_PORT=str(port))
    started = time.time()
    command = [sys.executable, "-m", "movierec", "train", "--every", "3600"]
    with running(command, env, tmp_path / "trainer.log") as process:
        wait_until(lambda: http_ok(url) or process.poll() is not None, 60, "the trainer's /metrics")
        assert process.poll() is None, (tmp_path / "trainer.log").read_text()

        def fitted() -> Samples | None:
            samples = scrape_url(url)
            return samples if value(samples, "movierec_trainer_fits_total") >= 1 else None

        samples = wait_until(fitted, 120, "the trainer's first fit")
    assert value(samples, "movierec_trainer_fits_total") == 1
    assert value(samples, "movierec_trainer_last_fit_timestamp_seconds") >= started
    assert value(samples, "movierec_trainer_last_fit_duration_seconds") > 0
    assert value(samples, "movierec_trainer_last_fit_ratings") == ratings
    assert value(samples, "movierec_trainer_ratings_seen") == ratings


# ---------------------------------------------------------------------------------------------- multiprocess mode

WRITER = """
import sys
from movierec import metrics
for _ in range(int(sys.argv[1])):
    metrics.recommendation_served(cached=True)
metrics.recommendation_computed(0.01)
"""


def test_a_scrape_sums_every_process_writing_to_the_multiprocess_dir(tmp_path: Path) -> None:
    directory = tmp_path / "prometheus"
    directory.mkdir()
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(directory)}
    for count in (3, 5):
        subprocess.run([sys.executable, "-c", WRITER, str(count)], env=env, check=True, timeout=60)
    assert len(list(directory.glob("counter_*.db"))) == 2  # one file per process
    from prometheus_client import generate_latest

    samples = parse(generate_latest(scrape_registry(directory)).decode())
    assert value(samples, "movierec_recommendations_served_total", cache="hit") == 8
    assert value(samples, "movierec_recommendation_compute_seconds_count") == 2


@pytest.mark.slow
def test_gunicorn_workers_share_one_scrape_and_start_from_a_clean_dir(settings_dir: Path, tmp_path: Path) -> None:
    directory = tmp_path / "prometheus"
    directory.mkdir()
    stale = directory / "counter_999999.db"
    stale.write_bytes(b"left by an earlier run")
    port = free_ports(1)[0]
    env = child_env(settings_dir, PROMETHEUS_MULTIPROC_DIR=str(directory))
    command = [
        sys.executable, "-m", "gunicorn", "--config", "python:movierec.gunicorn_conf",
        "--bind", f"127.0.0.1:{port}", "--workers", "2", "--worker-class", "gthread", "--threads", "2",
        "--no-control-socket", "movierec.api:create_app()",
    ]  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    with running(command, env, tmp_path / "gunicorn.log") as process:
        wait_until(lambda: http_ok(f"{base}/healthz") or process.poll() is not None, 90, "gunicorn")
        assert process.poll() is None, (tmp_path / "gunicorn.log").read_text()
        assert not stale.exists()  # the master emptied the directory before the first fork
        # new connections each time, so that both workers answer some of them
        answered = sum(http_ok(f"{base}/movies/latest") for _ in range(30))
        pids = {path.stem.rsplit("_", 1)[1] for path in directory.glob("counter_*.db")}
        assert len(pids) == 2, pids
        scrapes = [scrape_url(f"{base}/metrics") for _ in range(6)]
    route = {"method": "GET", "route": "/movies/latest", "status": "200"}
    # whichever worker answered a scrape, it counted every worker's requests
    assert [value(s, "movierec_http_requests_total", **route) for s in scrapes] == [answered] * 6
    assert answered == 30


@pytest.fixture
def settings_dir(container: Container) -> Path:
    """A migrated embedded data dir that other processes can serve."""
    return container.settings.data_dir


def test_a_dead_workers_live_gauges_are_dropped_and_its_counters_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from types import SimpleNamespace

    from movierec import gunicorn_conf

    directory = tmp_path / "prometheus"
    directory.mkdir()
    (directory / "gauge_livesum_4242.db").write_bytes(b"")
    (directory / "counter_4242.db").write_bytes(b"")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(directory))
    gunicorn_conf.child_exit(SimpleNamespace(), SimpleNamespace(pid=4242))
    assert sorted(path.name for path in directory.iterdir()) == ["counter_4242.db"]
