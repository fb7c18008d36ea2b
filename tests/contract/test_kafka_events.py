"""Kafka specific behaviour of the event bus: a dead broker, partitions and key order, and the indexer on Kafka
(dead letters, commit only after the search write)."""

from __future__ import annotations

import contextlib
import socket
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from movierec.domain.movies import Movie, MovieDraft
from movierec.events.indexer import MovieIndexer
from movierec.events.kafka import KafkaEventConsumer, KafkaMovieEvents
from movierec.events.port import EventMessage, MovieUpserted, PublishFailed
from movierec.search.embedded import EmbeddedMovieIndex
from movierec.services.publishing import OutboxRelay
from movierec.store import migrate
from movierec.store.database import create_db_engine
from movierec.store.uow import SqlStore
from tests.conftest import NOT_A_HANG_SECONDS, service_url
from tests.contract.test_events_contract import drain, ids_of, movie_events

pytestmark = pytest.mark.services


@pytest.fixture
def bootstrap() -> str:
    return service_url("kafka")


@pytest.fixture
def make_events(bootstrap: str) -> Iterator[Callable[..., KafkaMovieEvents]]:
    """KafkaMovieEvents on one fresh topic (and DLQ) per test; every instance is closed and the topics deleted."""
    topic = f"movies-test-{uuid.uuid4().hex[:12]}"
    made: list[KafkaMovieEvents] = []

    def make(**options: object) -> KafkaMovieEvents:
        options.setdefault("timeout", 10.0)
        made.append(KafkaMovieEvents(bootstrap, topic=topic, dlq_topic=f"{topic}.dlq", **options))  # type: ignore[arg-type]
        return made[-1]

    yield make
    for events in made:
        events.close()
    if made:
        with contextlib.suppress(Exception):  # best effort: a leftover topic does no harm to other tests
            made[0].drop_topics()
        made[0].close()


def committed_offset(bootstrap: str, group: str, topic: str, partition: int = 0) -> int:
    """The group's committed offset for one partition, as the broker has it (negative when none)."""
    reader = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
    try:
        (found,) = reader.committed([TopicPartition(topic, partition)], timeout=10)
        return int(found.offset)
    finally:
        reader.close()


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# -- a dead broker -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("create_topics", [True, False], ids=["admin-first", "producer-only"])
def test_publish_to_an_unreachable_broker_fails_in_bounded_time(create_topics: bool) -> None:
    events = KafkaMovieEvents(f"127.0.0.1:{closed_port()}", topic="movies", timeout=1.0, create_topics=create_topics)
    publisher = events.publisher()
    try:
        started = time.monotonic()
        with pytest.raises(PublishFailed):
            publisher.publish(movie_events(1, 2))
        assert time.monotonic() - started < NOT_A_HANG_SECONDS  # librdkafka's own default would wait 300 s
        started = time.monotonic()
        with pytest.raises(PublishFailed):
            publisher.publish_dead_letter(EventMessage(b"1", b"x", (0, 0), "movies"), "not JSON")
        assert time.monotonic() - started < NOT_A_HANG_SECONDS
        started = time.monotonic()
        with pytest.raises(Exception):  # noqa: B017 - any error: health reports its type
            events.ping()
        assert time.monotonic() - started < NOT_A_HANG_SECONDS
    finally:
        started = time.monotonic()
        events.close()
        assert time.monotonic() - started < NOT_A_HANG_SECONDS  # nothing left queued to wait for


def test_outbox_keeps_its_rows_while_kafka_is_down(tmp_path: Path) -> None:
    store = SqlStore(create_db_engine(f"sqlite:///{tmp_path / 'store.sqlite3'}"))
    migrate.upgrade(store.engine)
    events = KafkaMovieEvents(f"127.0.0.1:{closed_port()}", timeout=1.0)
    try:
        with store.uow() as uow:
            outcomes = uow.movies.upsert_many([MovieDraft("t:1", "Heat", 1995), MovieDraft("t:2", "Up", 2009)])
            uow.outbox.add([o.movie_id for o in outcomes])
            uow.commit()
        relay = OutboxRelay(store, events.publisher())
        assert relay.drain() == 0
        assert relay.pending() == 2
    finally:
        events.close()
        store.dispose()


# -- partitions and order ------------------------------------------------------------------------------------------


def test_order_per_movie_holds_across_partitions_and_commits_are_per_partition(
    make_events: Callable[..., KafkaMovieEvents],
) -> None:
    events = make_events(partitions=3)
    versions = [
        MovieUpserted(Movie(id=movie_id, title=f"Movie {movie_id} v{version}"))
        for version in range(3)
        for movie_id in range(1, 9)
    ]
    events.publisher().publish(versions)
    consumer = events.consumer("indexer")
    received = drain(consumer, len(versions))
    assert len(received) == len(versions)
    titles: dict[int, list[str]] = defaultdict(list)
    partitions: dict[int, set[int]] = defaultdict(set)
    for message in received:
        movie = MovieUpserted.from_bytes(message.value).movie
        assert message.key == str(movie.id).encode()
        titles[movie.id].append(movie.title)
        partitions[movie.id].add(message.position[0])
    assert titles == {m: [f"Movie {m} v{v}" for v in range(3)] for m in range(1, 9)}  # each movie in order
    assert all(len(used) == 1 for used in partitions.values())  # a movie always lands in one partition
    assert len(set().union(*partitions.values())) > 1  # and the movies are spread over the partitions
    consumer.commit(received)
    consumer.close()
    for partition in range(3):
        expected = sum(1 for m in received if m.position[0] == partition)
        assert committed_offset(events.client_config["bootstrap.servers"], "indexer", events.topic, partition) == (
            expected if expected else -1001
        )
    events.publisher().publish(movie_events(99))
    again = events.consumer("indexer")
    assert ids_of(drain(again, 1) + again.poll(100, 0.5)) == [99]
    again.close()


# -- the stall watchdog --------------------------------------------------------------------------------------------


def poll_for(consumer: KafkaEventConsumer, seconds: float) -> list[EventMessage]:
    received: list[EventMessage] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        received += consumer.poll(100, 0.2)
    return received


def test_a_consumer_parked_with_messages_waiting_is_replaced_and_resumes_from_the_commit(
    make_events: Callable[..., KafkaMovieEvents],
) -> None:
    events = make_events()
    events.publisher().publish(movie_events(1, 2))
    consumer = events.consumer("indexer", stall_seconds=2.0)
    first = drain(consumer, 2)
    consumer.commit(first)
    assert poll_for(consumer, 3.0) == [] and consumer.restarts == 0  # idle with nothing to read: left alone
    # Park the partition the way librdkafka sometimes leaves one after a leader change: fetching stops.
    parked = consumer._consumer  # the only way to stop a real consumer's fetcher from outside
    parked.pause(parked.assignment())
    events.publisher().publish(movie_events(3, 4))
    assert consumer.lagging_partitions()  # messages wait beyond its position
    received = poll_for(consumer, 8.0)
    assert consumer.restarts == 1
    assert ids_of(received) == [3, 4]  # the committed 1 and 2 are not delivered again
    assert consumer.lagging_partitions() == []
    consumer.close()


# -- the indexer on Kafka ------------------------------------------------------------------------------------------


def run_until(indexer: MovieIndexer, done: Callable[[], bool], rounds: int = 40) -> None:
    for _ in range(rounds):
        indexer.run_once()
        if done():
            return
    raise AssertionError(f"indexer did not finish: {indexer.stats}")


def test_poison_message_is_dead_lettered_and_the_next_one_indexed(
    make_events: Callable[..., KafkaMovieEvents], bootstrap: str, tmp_path: Path
) -> None:
    events = make_events()
    events.ensure_topics({events.topic})  # created (with the DLQ) before the raw producer writes to the topic
    raw = Producer({"bootstrap.servers": bootstrap})
    raw.produce(events.topic, key=b"bad", value=b"not json")
    assert raw.flush(10) == 0
    events.publisher().publish(movie_events(7))
    index = EmbeddedMovieIndex(tmp_path / "search.sqlite3")
    indexer = MovieIndexer(events.consumer("indexer"), events.publisher(), index, batch_size=10, batch_seconds=0.3)
    try:
        run_until(indexer, lambda: index.count() == 1 and indexer.stats.dead_lettered == 1)
        stored = index.get(7)
        assert stored is not None and stored.title == "Movie 7"
        assert committed_offset(bootstrap, "indexer", events.topic) == 2  # both messages, poison included

        dead = drain(events.consumer("dlq-reader", topic=events.dlq_topic), 1)
        assert [(m.key, m.value) for m in dead] == [(b"bad", b"not json")]
        assert dead[0].reason is not None and dead[0].reason.startswith("not JSON")
        reader = Consumer({"bootstrap.servers": bootstrap, "group.id": f"raw-{uuid.uuid4().hex}"})
        reader.assign([TopicPartition(events.dlq_topic, 0, 0)])
        (letter,) = [m for m in reader.consume(1, 10) if m.error() is None]
        reader.close()
        headers = dict(letter.headers() or [])
        assert headers["original_topic"] == events.topic.encode()
        assert (headers["original_partition"], headers["original_offset"]) == (b"0", b"0")
    finally:
        indexer.consumer.close()
        index.close()


class IndexFailingOnce(EmbeddedMovieIndex):
    """A real embedded index whose first write fails (search was down), after which it works."""

    def __init__(self, path: Path, on_failure: Callable[[], None]) -> None:
        super().__init__(path)
        self.on_failure = on_failure
        self.writes = 0

    def index_movies(self, movies: Sequence[Movie]) -> None:
        self.writes += 1
        if self.writes == 1:
            self.on_failure()
            raise ConnectionError("search is down")
        super().index_movies(movies)


def test_offsets_are_committed_only_after_the_index_write(
    make_events: Callable[..., KafkaMovieEvents], bootstrap: str, tmp_path: Path
) -> None:
    events = make_events()
    events.publisher().publish(movie_events(1, 2))
    stoppers: list[Callable[[], None]] = []
    index = IndexFailingOnce(tmp_path / "search.sqlite3", on_failure=lambda: stoppers[0]())
    first = MovieIndexer(events.consumer("indexer"), events.publisher(), index, batch_size=10, batch_seconds=0.3)
    stoppers.append(first.stop)  # stopping during the failed write: the indexer gives up without committing
    try:
        with pytest.raises(ConnectionError):
            for _ in range(40):
                first.run_once()
    finally:
        first.consumer.close()
    assert index.writes == 1 and index.count() == 0
    assert committed_offset(bootstrap, "indexer", events.topic) < 0  # nothing committed

    second = MovieIndexer(events.consumer("indexer"), events.publisher(), index, batch_size=10, batch_seconds=0.3)
    try:
        run_until(second, lambda: index.count() == 2)  # the same messages, delivered again
    finally:
        second.consumer.close()
    assert index.ids() == {1, 2}
    assert committed_offset(bootstrap, "indexer", events.topic) == 2
    index.close()
