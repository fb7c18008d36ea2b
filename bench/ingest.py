"""Ingest: an offline catalogue from the seeder until its last movie is found by ``/search``, beside raw baselines.

Pipeline (what the product does): ``load_catalogue`` upserts batches of 1,000 movies (database + outbox in one
transaction) and publishes them to the event bus; the indexer (a thread on the embedded defaults, the separate
``movierec indexer`` process on the full stack) writes batches of up to 2,000 to search (bulk requests of 500);
the clock stops when the catalogue's last movie is returned by ``GET /search?q=<its title>`` through the API (the
Flask app, in-process). A sampler reads the index's document count every 0.25 s, which gives the time until the
first N movies were searchable (the adapters refresh after each batch, so counted = searchable).

Raw baselines on the same machine in the same run, same movies:
* search: Elasticsearch ``helpers.bulk`` of the same documents (the adapter's ``movie_fields``, built beforehand),
  ``chunk_size=500``, one refresh at the end, into a fresh index with the same mapping; on the embedded defaults,
  ``EmbeddedMovieIndex.index_movies`` in batches of 500 on a fresh file;
* database: SQLAlchemy Core ``insert(movies)`` executemany of the same movie rows, batches of 1,000 (one commit per
  batch, as the seeder), into a fresh, migrated database (PostgreSQL or SQLite); movie rows only: no genres, no outbox.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from bench.common import Report, peak_memory, poll_until, ratio
from movierec.api import create_app
from movierec.domain.movies import Movie, MovieDraft
from movierec.services.seeding import OFFLINE_CATALOGUES, load_catalogue
from movierec.settings import Settings
from movierec.store import migrate
from movierec.store.database import create_db_engine
from movierec.store.repositories import MOVIES, _draft_values
from movierec.wiring import Container
from movierec_tools.stack import child_environment

SEARCH_BATCH = 500  # the indexer's batch and the adapter's bulk chunk
DATABASE_BATCH = 1000  # load_catalogue's batch
SEARCHABLE_TIMEOUT = 600.0
COMPLETE_TIMEOUT = 30.0
MILESTONES = (1_000, 5_000, 10_000, 25_000, 50_000)


def drafts_of(source: str) -> list[MovieDraft]:
    return list(OFFLINE_CATALOGUES[source]())


class CountSampler:
    """Samples the search index's document count in a thread: (seconds since start, count)."""

    def __init__(self, count: Any, every: float = 0.25) -> None:
        self._count = count
        self._every = every
        self._stop = threading.Event()
        self.samples: list[tuple[float, int]] = []
        self._thread = threading.Thread(target=self._run, name="bench-count-sampler", daemon=True)
        self._started = 0.0

    def start(self, started: float) -> None:
        self._started = started
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._every):
            with contextlib.suppress(Exception):  # a sample lost to a busy engine is only a sample
                self.samples.append((time.perf_counter() - self._started, int(self._count())))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    def time_to(self, count: int) -> float | None:
        return next((round(t, 2) for t, seen in self.samples if seen >= count), None)


def _found(client: Any, title: str, movie_id: int) -> bool:
    response = client.get("/search", query_string={"q": title, "limit": 100})
    if response.status_code != 200:
        return False
    return any(item["id"] == movie_id for item in response.get_json()["items"])


def wait_searchable(client: Any, title: str, movie_id: int, timeout: float = SEARCHABLE_TIMEOUT) -> None:
    poll_until(lambda: _found(client, title, movie_id), timeout, 0.05, f"movie {movie_id} ({title!r}) searchable")


def run_pipeline(container: Container, source: str, drafts: Sequence[MovieDraft]) -> dict[str, Any]:
    """Seed ``source`` through ``load_catalogue``; the indexer must already be running. Returns timings."""
    client = create_app(container=container).test_client()
    container.index.ensure_index()  # a one-off set-up, outside the clock as in the raw baselines
    sampler = CountSampler(container.index.count)
    started = time.perf_counter()
    sampler.start(started)
    try:
        summary = load_catalogue(container.catalogue, source, batch_size=DATABASE_BATCH)
        seeded = time.perf_counter() - started
        last_id = summary.movie_ids[-1]
        wait_searchable(client, drafts[-1].title, last_id)
        searchable = time.perf_counter() - started
    finally:
        sampler.stop()
    movies = len(summary.movie_ids)
    # The last movie found does not prove that every movie arrived: wait (bounded) until the index holds them all.
    try:
        poll_until(lambda: container.index.count() >= movies, COMPLETE_TIMEOUT, 0.25, "every movie indexed")
    except TimeoutError:
        pass
    indexed = container.index.count()
    return {
        "movies": movies,
        "new": summary.new,
        "seed_seconds": round(seeded, 2),
        "searchable_seconds": round(searchable, 2),
        "movies_per_s": round(movies / searchable, 1),
        "seed_movies_per_s": round(movies / seeded, 1),
        "time_to_searchable": {str(n): sampler.time_to(n) for n in MILESTONES if n <= movies},
        "last_movie": {"id": last_id, "title": drafts[-1].title},
        "indexed": indexed,
        "complete": indexed == movies,
    }


def stored_movies(container: Container) -> list[Movie]:
    """Every movie of the database, by id (what the indexer indexed), for the raw baselines."""
    found: list[Movie] = []
    after = 0
    with container.store.uow() as uow:
        while page := uow.movies.page_after(after, 5000):
            found.extend(page)
            after = page[-1].id
    return found


# ---------------------------------------------------------------------------------------------- embedded pipeline


def embedded_pipeline(container: Container, source: str, drafts: Sequence[MovieDraft]) -> dict[str, Any]:
    """The embedded defaults as ``movierec up`` runs them: the indexer is a thread of the API process."""
    from movierec.runtime import IndexerWorker

    worker = IndexerWorker(container)
    worker.start()
    try:
        return run_pipeline(container, source, drafts)
    finally:
        worker.stop()


# ---------------------------------------------------------------------------------------------- full stack pipeline


@contextlib.contextmanager
def indexer_process(settings: Settings, log_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """``movierec indexer`` as its own process (as in the stack), a member of the consumer group when yielded."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "movierec", "indexer"],
            env=child_environment(settings, os.environ),
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=output,
            start_new_session=True,
        )
    try:
        wait_group_member(settings, process)
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)


def wait_group_member(settings: Settings, process: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    """Until the indexer's consumer holds the topic's partition (a stable group with one member)."""
    from confluent_kafka import ConsumerGroupState
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": str(settings.kafka_bootstrap_servers)})

    def assigned() -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"movierec indexer exited ({process.returncode}) while starting")
        futures = admin.describe_consumer_groups([settings.kafka_group], request_timeout=5)
        try:
            group = futures[settings.kafka_group].result(10)
        except Exception:
            return False
        return group.state == ConsumerGroupState.STABLE and any(
            member.assignment.topic_partitions for member in group.members
        )

    poll_until(assigned, timeout, 0.2, "the indexer joining its consumer group")


def full_stack_pipeline(
    container: Container, source: str, drafts: Sequence[MovieDraft], log_path: Path
) -> dict[str, Any]:
    container.events.ensure_topics(set())  # type: ignore[attr-defined]  # topics exist before the indexer subscribes
    with indexer_process(container.settings, log_path) as process:
        result = run_pipeline(container, source, drafts)
        result["indexer_memory"] = peak_memory(process.pid)
    result["indexer_stage"] = indexer_stage(container.settings, result["movies"], log_path)
    return result


def indexer_stage(settings: Settings, movies: int, log_path: Path) -> dict[str, Any]:
    """The indexer alone: a second ``movierec indexer`` with a new consumer group and a new alias replays the topic
    the pipeline filled. Rate = movies indexed after the first sample that found documents / the time from that
    sample until the index held every movie (count sampled every 50 ms): process start and group join left out."""
    from movierec.search.elastic import ElasticMovieIndex

    unique = uuid.uuid4().hex[:8]
    replay = settings.model_copy(
        update={"kafka_group": f"{settings.kafka_group}-replay-{unique}", "search_index": f"{settings.search_index}-r"}
    )
    index = ElasticMovieIndex(str(settings.elasticsearch_url), alias=replay.search_index, timeout=30.0)
    index.ensure_index()
    sampler = CountSampler(index.count, every=0.05)
    started = time.perf_counter()
    sampler.start(started)
    try:
        with indexer_process(replay, log_path.with_name(f"replay-{log_path.name}")):
            poll_until(lambda: index.count() >= movies, SEARCHABLE_TIMEOUT, 0.05, "the replay indexed every movie")
            finished = time.perf_counter() - started
    finally:
        sampler.stop()
        index.drop()
        index.close()
    first_time, first_count = next(((t, n) for t, n in sampler.samples if n > 0), (0.0, 0))
    seconds = finished - first_time
    return {
        "movies": movies,
        "seconds": round(seconds, 2),
        "movies_per_s": round((movies - first_count) / seconds, 1) if seconds > 0 else None,
    }


# ---------------------------------------------------------------------------------------------- raw baselines


def raw_elasticsearch_bulk(url: str, movies: Sequence[Movie]) -> dict[str, Any]:
    from elasticsearch.helpers import bulk

    from movierec.search.elastic import ElasticMovieIndex, movie_fields

    index = ElasticMovieIndex(url, alias=f"bench-raw-{uuid.uuid4().hex[:10]}", timeout=60.0)
    try:
        index.ensure_index()
        actions = [{"_index": index.index_name, "_id": str(m.id), "_source": movie_fields(m)} for m in movies]
        client = index._client.options(request_timeout=120)
        started = time.perf_counter()
        done, errors = bulk(client, actions, chunk_size=SEARCH_BATCH, max_retries=0, raise_on_error=True)
        client.indices.refresh(index=index.index_name)
        seconds = time.perf_counter() - started
        if done != len(movies) or errors:
            raise RuntimeError(f"raw bulk indexed {done} of {len(movies)}: {errors!r:.300}")
        if index.count() != len(movies):
            raise RuntimeError(f"raw bulk: the index holds {index.count()} of {len(movies)} movies")
    finally:
        index.drop()
        index.close()
    return {"movies": len(movies), "seconds": round(seconds, 2), "movies_per_s": round(len(movies) / seconds, 1)}


def raw_embedded_index(path: Path, movies: Sequence[Movie]) -> dict[str, Any]:
    from movierec.search.embedded import EmbeddedMovieIndex

    index = EmbeddedMovieIndex(path)
    try:
        started = time.perf_counter()
        for start in range(0, len(movies), SEARCH_BATCH):
            index.index_movies(movies[start : start + SEARCH_BATCH])
        seconds = time.perf_counter() - started
        if index.count() != len(movies):
            raise RuntimeError(f"raw embedded index holds {index.count()} of {len(movies)} movies")
    finally:
        index.close()
    return {"movies": len(movies), "seconds": round(seconds, 2), "movies_per_s": round(len(movies) / seconds, 1)}


def raw_database_insert(url: str, drafts: Sequence[MovieDraft]) -> dict[str, Any]:
    """Core executemany of the same movie rows into the ``movies`` table of a fresh, migrated database."""
    engine = create_db_engine(url, timeout=30.0)
    try:
        migrate.upgrade(engine)
        now = dt.datetime.now(dt.UTC)
        rows = [
            {"external_key": d.external_key, **_draft_values(d), "added_at": now, "updated_at": now} for d in drafts
        ]
        started = time.perf_counter()
        for start in range(0, len(rows), DATABASE_BATCH):
            with engine.begin() as connection:
                connection.execute(insert(MOVIES), rows[start : start + DATABASE_BATCH])
        seconds = time.perf_counter() - started
    finally:
        engine.dispose()
    return {"movies": len(rows), "seconds": round(seconds, 2), "movies_per_s": round(len(rows) / seconds, 1)}


def with_ratios(pipeline: dict[str, Any], raw_search: dict[str, Any], raw_database: dict[str, Any]) -> dict[str, Any]:
    stage = pipeline.get("indexer_stage")
    if stage and stage.get("movies_per_s"):
        stage["over_raw_search"] = ratio(stage["movies_per_s"], raw_search["movies_per_s"])
    return {
        "pipeline": pipeline,
        "raw_search": raw_search,
        "raw_database": raw_database,
        "pipeline_over_raw_search": ratio(pipeline["movies_per_s"], raw_search["movies_per_s"]),
        "pipeline_over_raw_database": ratio(pipeline["movies_per_s"], raw_database["movies_per_s"]),
    }


def report_line(report: Report, label: str, result: dict[str, Any]) -> None:
    pipeline = result["pipeline"]
    report(
        f"  {label}: {pipeline['movies']} movies searchable in {pipeline['searchable_seconds']} s "
        f"({pipeline['movies_per_s']}/s); raw search {result['raw_search']['movies_per_s']}/s, "
        f"raw database {result['raw_database']['movies_per_s']}/s"
    )
