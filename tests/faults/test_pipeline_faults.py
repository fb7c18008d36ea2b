"""Search keeps every movie of the database through Elasticsearch and Kafka outages and an indexer crash."""

from __future__ import annotations

import signal
import threading
import time

import pytest
from confluent_kafka import Consumer, TopicPartition

from movierec.domain.movies import MovieDraft
from movierec.settings import Settings
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


def kafka_lag(settings: Settings) -> str:
    """The indexer group's committed offset and the high watermark of each partition of the movie topic."""
    reader = Consumer({"bootstrap.servers": settings.kafka_bootstrap_servers, "group.id": settings.kafka_group})
    try:
        topic = reader.list_topics(settings.kafka_topic, timeout=10).topics[settings.kafka_topic]
        partitions = [TopicPartition(settings.kafka_topic, p) for p in sorted(topic.partitions)]
        committed = reader.committed(partitions, timeout=10)
        return ", ".join(
            f"partition {tp.partition}: committed {tp.offset}, high {reader.get_watermark_offsets(tp, timeout=10)[1]}"
            for tp in committed
        )
    except Exception as exc:  # a report, not a check: say what could not be read
        return f"unavailable ({exc!r})"
    finally:
        reader.close()


def pipeline_report(container: Container, indexer: Indexer) -> str:
    """Where the movies are stuck: outbox, Kafka (group lag) or search, and what the indexer logged last."""
    lines = [line for line in indexer.log().splitlines() if "Connection refused" not in line]
    return "\n".join(
        [
            f"outbox pending: {container.relay.pending()}; in search: {container.index.count()}",
            f"kafka: {kafka_lag(container.settings)}",
            f"indexer {'alive' if indexer.alive() else 'dead'}; its last log lines:",
            *lines[-60:],
        ]
    )


def assert_search_equals_database(container: Container, indexer: Indexer, timeout: float) -> None:
    with container.store.uow() as uow:
        database = set(uow.movies.all_ids())
    assert len(database) == MOVIES
    try:
        wait_until(lambda: container.index.count() == MOVIES, timeout, f"{MOVIES} movies in search")
    except pytest.fail.Exception as failed:
        pytest.fail(f"{failed}\n{pipeline_report(container, indexer)}")
    assert container.index.ids() == database  # same ids; document id = movie id, so none twice


def test_elasticsearch_down_for_20_seconds_while_seeding(stack: Container, indexer: Indexer) -> None:
    seeder = Seeder(stack, pause=0.5)
    seeder.start()
    wait_until(lambda: seeder.batches_done >= 3, 60, "the first batches")
    with outage("elasticsearch"):
        time.sleep(20)
    seeder.join(120)
    assert seeder.error is None and not seeder.is_alive()
    assert_search_equals_database(stack, indexer, timeout=180)
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
    assert_search_equals_database(stack, indexer, timeout=180)
    assert stack.relay.pending() == 0
    assert indexer.alive()


def test_indexer_killed_mid_stream_and_restarted(stack: Container, indexer: Indexer) -> None:
    stack.catalogue.upsert(drafts(0, MOVIES))  # published to Kafka; the indexer works through them
    wait_until(lambda: stack.index.count() > 0, 60, "indexing to begin", every=0.05)
    assert indexer.signal(signal.SIGKILL) == -signal.SIGKILL
    indexer.start()
    assert_search_equals_database(stack, indexer, timeout=180)
