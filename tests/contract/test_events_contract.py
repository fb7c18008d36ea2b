"""The movie event bus contract: the embedded log and Kafka deliver, commit and dead-letter the same way."""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from movierec.domain.movies import Movie
from movierec.events.embedded import EmbeddedMovieEvents
from movierec.events.kafka import KafkaMovieEvents
from movierec.events.port import EventMessage, MovieEvents, MovieUpserted
from tests.conftest import NOT_A_HANG_SECONDS, service_url


def _embedded(tmp_path: Path, topic: str) -> MovieEvents:
    return EmbeddedMovieEvents(tmp_path / "events.sqlite3", topic=topic, dlq_topic=f"{topic}.dlq")


def _kafka(tmp_path: Path, topic: str) -> MovieEvents:
    # Each test has its own topics (``topic`` is unique), so committed offsets never leak between tests.
    return KafkaMovieEvents(service_url("kafka"), topic=topic, dlq_topic=f"{topic}.dlq", timeout=10.0)


ADAPTERS: dict[str, Callable[[Path, str], MovieEvents]] = {"embedded": _embedded, "kafka": _kafka}
POLL_SECONDS = 10.0


@dataclass
class Bus:
    events: MovieEvents
    make: Callable[[], MovieEvents]


@pytest.fixture(params=sorted(ADAPTERS))
def bus(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Bus]:
    topic = f"movies-test-{uuid.uuid4().hex[:12]}"
    made: list[MovieEvents] = []

    def make() -> MovieEvents:
        made.append(ADAPTERS[request.param](tmp_path, topic))
        return made[-1]

    yield Bus(make(), make)
    if isinstance(first := made[0], KafkaMovieEvents):
        with contextlib.suppress(Exception):  # best effort: a leftover topic does no harm to other tests
            first.drop_topics()
    for events in made:  # each closed once, after the topics are gone
        events.close()


def movie_events(*ids: int) -> list[MovieUpserted]:
    return [MovieUpserted(Movie(id=i, title=f"Movie {i}", genres=("Drama",))) for i in ids]


def drain(consumer: object, expected: int) -> list[EventMessage]:
    received: list[EventMessage] = []
    for _ in range(30):
        received += consumer.poll(100, POLL_SECONDS / 10)  # type: ignore[attr-defined]
        if len(received) >= expected:
            break
    return received


def ids_of(messages: list[EventMessage]) -> list[int]:
    return [MovieUpserted.from_bytes(m.value).movie.id for m in messages]


def test_publish_then_consume_in_order(bus: Bus) -> None:
    publisher = bus.events.publisher()
    publisher.publish(movie_events(1, 2, 3))
    consumer = bus.events.consumer("group-a")
    received = drain(consumer, 3)
    assert ids_of(received) == [1, 2, 3]
    assert [m.key for m in received] == [b"1", b"2", b"3"]
    consumer.close()


def test_committed_messages_are_not_delivered_again(bus: Bus) -> None:
    bus.events.publisher().publish(movie_events(1, 2))
    consumer = bus.events.consumer("group-a")
    consumer.commit(drain(consumer, 2))
    consumer.close()
    bus.events.publisher().publish(movie_events(3))
    again = bus.make().consumer("group-a")
    assert ids_of(drain(again, 1)) == [3]
    again.close()


def test_uncommitted_messages_are_delivered_again(bus: Bus) -> None:
    bus.events.publisher().publish(movie_events(1, 2, 3))
    consumer = bus.events.consumer("group-a")
    received = drain(consumer, 3)
    consumer.commit(received[:1])
    consumer.close()
    again = bus.make().consumer("group-a")
    assert ids_of(drain(again, 2)) == [2, 3]
    again.close()


def test_groups_are_independent(bus: Bus) -> None:
    bus.events.publisher().publish(movie_events(1, 2))
    first = bus.events.consumer("group-a")
    first.commit(drain(first, 2))
    first.close()
    other = bus.events.consumer("group-b")
    assert ids_of(drain(other, 2)) == [1, 2]
    other.close()


def test_dead_letters_keep_the_message_and_the_reason(bus: Bus) -> None:
    poison = EventMessage(key=b"x", value=b"not json", position=(0, 0), topic=bus.events.topic)
    bus.events.publisher().publish_dead_letter(poison, "not JSON")
    dlq = bus.events.consumer("dlq-reader", topic=bus.events.dlq_topic)
    received = drain(dlq, 1)
    assert [(m.key, m.value, m.reason) for m in received] == [(b"x", b"not json", "not JSON")]
    dlq.close()


def test_poll_waits_at_most_its_timeout(bus: Bus) -> None:
    """An empty topic: poll gives up after its timeout and returns nothing. Nothing is timed: the poll runs in a
    thread and the test waits for it to end (a deadline generous for a loaded machine); a poll that ignored its
    timeout would wait for a message that never comes and never end."""
    consumer = bus.events.consumer("group-empty")
    returned: list[list[EventMessage]] = []
    poller = threading.Thread(target=lambda: returned.append(consumer.poll(10, 0.2)), daemon=True)
    poller.start()
    poller.join(NOT_A_HANG_SECONDS)
    assert not poller.is_alive(), "poll did not return after its timeout"
    assert returned == [[]]
    consumer.close()


def test_ping(bus: Bus) -> None:
    bus.events.ping()


def test_lag_counts_the_messages_not_yet_received(bus: Bus) -> None:
    bus.events.publisher().publish(movie_events(1, 2, 3, 4, 5))
    consumer = bus.events.consumer("group-lag")
    received: list[EventMessage] = []
    for _ in range(30):
        received += consumer.poll(2 - len(received), POLL_SECONDS / 10)
        if len(received) == 2:
            break
    assert ids_of(received) == [1, 2]
    assert sum(consumer.lag().values()) == 3  # high watermark 5, position 2
    assert ids_of(drain(consumer, 3)) == [3, 4, 5]
    assert set(consumer.lag().values()) == {0}
