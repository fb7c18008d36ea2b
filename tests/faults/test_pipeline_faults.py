"""Search keeps every movie of the database through Elasticsearch and Kafka outages and an indexer crash."""

from __future__ import annotations

import signal
import threading
import time

import pytest

from movierec.domain.movies import MovieDraft
from movierec.wiring import Container
from tests.conftest import Indexer, wait_until
from tests.faults.conftest import outage

pytestmark = pytest.mark.slow
MOVIES = 2_000
BATCH = 100


def drafts(start: int, count: int) -> list[MovieDraft]:
    return [MovieDraft(f"fault:{i}", f"Fault film {i}", 2001, genres=("Drama",)) for i in range(start, start + count)]


class Seeder(threading.Thread):
    """Seeds MOVIES movies in batches, paced so an outage lands in the middle."""

    def __init__(self, container: Container, pause: float) -> None:
        super().__init__(daemon=True)
        self.container, self.pause = container, pause
        self.batches_done = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            for start in range(0, MOVIES, BATCH):
                self.container.catalogue.upsert(drafts(start, BATCH))
                self.batches_done += 1
                time.sleep(self.pause)
        except BaseException as exc:  # surfaced by the test
            self.error = exc


def assert_search_equals_database(container: Container, timeout: float) -> None:
    with container.store.uow() as uow:
        database = set(uow.movies.all_ids())
    assert len(database) == MOVIES
    wait_until(lambda: container.index.count() == MOVIES, timeout, f"{MOVIES} movies in search")
    assert container.index.ids() == database  # same ids; document id = movie id, so none twice


def test_elasticsearch_down_for_20_seconds_while_seeding(stack: Container, indexer: Indexer) -> None:
    seeder = Seeder(stack, pause=0.5)
    seeder.start()
    wait_until(lambda: seeder.batches_done >= 3, 60, "the first batches")
    with outage("elasticsearch"):
        time.sleep(20)
    seeder.join(120)
    assert seeder.error is None and not seeder.is_alive()
    assert_search_equals_database(stack, timeout=180)
    assert indexer.alive()
    assert "indexer.retry" in indexer.log()


def test_kafka_broker_restarted_while_seeding(stack: Container, indexer: Indexer) -> None:
    seeder = Seeder(stack, pause=0.3)
    seeder.start()
    wait_until(lambda: seeder.batches_done >= 3, 60, "the first batches")
    with outage("kafka"):
        time.sleep(5)
    seeder.join(180)
    assert seeder.error is None and not seeder.is_alive()
    assert_search_equals_database(stack, timeout=180)
    assert stack.relay.pending() == 0
    assert indexer.alive()


def test_indexer_killed_mid_stream_and_restarted(stack: Container, indexer: Indexer) -> None:
    stack.catalogue.upsert(drafts(0, MOVIES))  # published to Kafka; the indexer works through them
    wait_until(lambda: stack.index.count() > 0, 60, "indexing to begin", every=0.05)
    assert indexer.signal(signal.SIGKILL) == -signal.SIGKILL
    indexer.start()
    assert_search_equals_database(stack, timeout=180)
