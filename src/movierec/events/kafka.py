"""Kafka adapter of the movie event bus (confluent-kafka / librdkafka).

* Publisher: an idempotent producer (``acks=all``); key = movie id, value = the event JSON. ``publish`` produces
  every event, flushes with a deadline and checks every delivery report: any error or anything left undelivered at
  the deadline raises ``PublishFailed`` (the outbox keeps the rows and publishes them again later) and replaces
  the producer, so the next publish starts clean. Message and socket timeouts are bounded by ``timeout``, so a
  dead broker fails a publish instead of hanging it.
* Consumer: a member of a consumer group with auto-commit and auto offset store off; ``commit`` stores, per
  partition, the offset after the last message handed in, synchronously. The indexer commits only after writing
  to search, so delivery is at least once. A watchdog replaces the librdkafka consumer when, for ``stall_seconds``,
  it received nothing while an assigned partition has messages beyond its position (librdkafka can leave a
  partition parked after its leader went away and came back); the new one resumes from the committed offsets.
* Topics are created on first use (AdminClient) with ``partitions`` partitions, one by default: movie events are a
  low-volume stream read by one indexer, and one partition gives a total order. With more partitions the order per
  movie still holds, because the key (the movie id) picks the partition, with the same murmur2 partitioner as the
  Java clients. The replication factor is the broker's default.
* Dead letters go to ``dlq_topic`` with the original key and value and the headers ``reason``, ``original_topic``,
  ``original_partition`` and ``original_offset``.
"""

from __future__ import annotations

import concurrent.futures
import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from movierec.domain.errors import BusUnavailable
from movierec.events.port import EventMessage, MovieUpserted, PublishFailed
from movierec.log import get_logger

log = get_logger(__name__)
# librdkafka's own log lines, routed through the standard library (and from there through structlog's renderer).
_client_log = logging.getLogger("movierec.events.kafka.client")

# Errors that mean "the broker could not be reached in time" rather than "the broker said no".
_UNREACHABLE = frozenset(
    {KafkaError._TIMED_OUT, KafkaError._TRANSPORT, KafkaError._ALL_BROKERS_DOWN, KafkaError._RESOLVE}
)
# A commit refused because the group rebalanced: the partitions moved and their messages will be delivered again.
_REBALANCED = frozenset(
    {
        KafkaError.REBALANCE_IN_PROGRESS,
        KafkaError.ILLEGAL_GENERATION,
        KafkaError.UNKNOWN_MEMBER_ID,
        KafkaError._STATE,
        KafkaError._ASSIGNMENT_LOST,
    }
)


def _as_bytes(value: str | bytes | None) -> bytes | None:
    return value.encode() if isinstance(value, str) else value


def _log_client_error(client: str, error: KafkaError, **fields: Any) -> None:
    # Failed connection attempts repeat at every reconnect and librdkafka logs each one already: keep them quiet.
    level = logging.DEBUG if error.code() == KafkaError._TRANSPORT else logging.WARNING
    log.log(level, "kafka.client_error", client=client, error=error.str(), code=error.name(), **fields)


def _kafka_error(exc: BaseException) -> KafkaError | None:
    if isinstance(exc, KafkaException) and exc.args and isinstance(exc.args[0], KafkaError):
        return exc.args[0]
    return None


def _milliseconds(seconds: float) -> int:
    return max(int(seconds * 1000), 100)


_Headers = list[tuple[str, str | bytes | None]]
_Offsets = tuple[int, int, int]  # partition, position, high watermark
_Record = tuple[str, bytes | None, bytes | None, _Headers | None]  # topic, key, value, headers


class KafkaEventPublisher:
    """Produces to ``topic`` and ``dlq_topic``; ``ensure_topics`` (the factory's) creates them on first use."""

    def __init__(
        self,
        client_config: dict[str, Any],
        *,
        topic: str,
        dlq_topic: str,
        timeout: float,
        ensure_topics: Callable[[set[str]], None],
    ) -> None:
        self._config = client_config
        self.topic = topic
        self.dlq_topic = dlq_topic
        self.timeout = timeout
        self._ensure_topics = ensure_topics
        self._lock = threading.Lock()
        self._producer: Producer | None = None
        self._fatal: KafkaError | None = None
        self._closed = False

    # -- the producer ---------------------------------------------------------------------------------------------
    def _on_error(self, error: KafkaError) -> None:
        if error.fatal():
            self._fatal = error
            log.error("kafka.producer_fatal", error=error.str(), code=error.name())
        else:
            _log_client_error("producer", error)

    def _client(self) -> Producer:
        if self._closed:
            raise PublishFailed("publisher is closed")
        if self._producer is not None and self._fatal is not None:
            # An idempotent producer that hit a fatal error cannot produce any more: replace it.
            self._discard()
        if self._producer is None:
            self._fatal = None
            timeout_ms = _milliseconds(self.timeout)
            self._producer = Producer(
                {
                    **self._config,
                    "enable.idempotence": True,
                    "acks": "all",
                    "partitioner": "murmur2_random",
                    "linger.ms": 5,
                    "message.timeout.ms": timeout_ms,
                    "request.timeout.ms": min(timeout_ms, 30_000),
                    "error_cb": self._on_error,
                }
            )
        return self._producer

    def _discard(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            producer.purge()  # drop what is still queued, so closing does not wait for it
            producer.flush(0)
            producer.close()

    # -- producing --------------------------------------------------------------------------------------------------
    def _send(self, records: Sequence[_Record]) -> None:
        """Produce ``records`` (topic, key, value, headers) and wait for every delivery report, or raise."""
        if not records:
            return
        with self._lock:
            started = time.monotonic()
            try:
                self._ensure_topics({topic for topic, _, _, _ in records})
            except _Unreachable as exc:
                raise PublishFailed(str(exc)) from exc
            producer = self._client()
            failures: list[str] = []
            delivered = 0

            def on_delivery(error: KafkaError | None, _message: Message) -> None:
                nonlocal delivered
                if error is None:
                    delivered += 1
                else:
                    failures.append(f"{error.name()}: {error.str()}")

            try:
                for topic, key, value, headers in records:
                    producer.produce(topic, value=value, key=key, headers=headers, on_delivery=on_delivery)
                    producer.poll(0)
            except BufferError as exc:
                self._discard()
                raise PublishFailed(f"producer queue is full: {exc}") from exc
            except KafkaException as exc:
                self._discard()
                raise PublishFailed(f"produce failed: {exc}") from exc
            # The producer gives up on each message after message.timeout.ms; leave a margin for its report.
            remaining = self.timeout + 1.0 - (time.monotonic() - started)
            left = producer.flush(max(remaining, 0.1))
            if left or failures or delivered != len(records):
                # Drop what is undelivered at the deadline, so it cannot arrive later behind newer events, and
                # start the next publish on a new producer rather than on one whose state went through the failure.
                self._discard()
                reason = failures[0] if failures else f"{left} of {len(records)} messages not acknowledged in time"
                raise PublishFailed(f"kafka did not acknowledge every message ({len(failures)} failed): {reason}")

    def publish(self, events: Sequence[MovieUpserted]) -> None:
        self._send([(self.topic, event.key, event.to_bytes(), None) for event in events])

    def publish_dead_letter(self, message: EventMessage, reason: str) -> None:
        headers: _Headers = [
            ("reason", reason.encode("utf-8", errors="replace")),
            ("original_topic", message.topic.encode()),
            ("original_partition", str(message.position[0]).encode()),
            ("original_offset", str(message.position[1]).encode()),
        ]
        self._send([(self.dlq_topic, message.key, message.value, headers)])

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            producer, self._producer = self._producer, None
        if producer is not None:
            left = producer.flush(self.timeout)
            if left:
                log.warning("kafka.producer_close_undelivered", messages=left)
                producer.purge()
                producer.flush(0)
            producer.close()


class StallWatchdog:
    """Says when a consumer looks stalled: nothing received for ``stall_seconds`` while an assigned partition has
    messages beyond its position (``lagging`` asks the broker; it is asked at most every ``stall_seconds / 2``)."""

    def __init__(self, stall_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.stall_seconds = stall_seconds
        self._clock = clock
        self.reset()

    def reset(self) -> None:
        """A new consumer: it has until ``stall_seconds`` from now."""
        self._progress_at = self._checked_at = self._clock()

    def progressed(self) -> None:
        self._progress_at = self._clock()

    @property
    def idle_seconds(self) -> float:
        return self._clock() - self._progress_at

    def lagging_if_stalled(self, lagging: Callable[[], list[_Offsets]]) -> list[_Offsets]:
        """The lagging partitions when the consumer has been idle long enough to check (else, or when the broker
        cannot say, none)."""
        now = self._clock()
        if now - self._progress_at < self.stall_seconds or now - self._checked_at < self.stall_seconds / 2:
            return []
        self._checked_at = now
        try:
            return lagging()
        except KafkaException as exc:  # the broker is away: nothing to compare; the next check tries again
            log.debug("kafka.stall_check_failed", error=str(exc))
            return []


class KafkaEventConsumer:
    def __init__(
        self, client_config: dict[str, Any], group: str, topic: str, *, timeout: float, stall_seconds: float = 30.0
    ) -> None:
        self._config = client_config
        self._timeout = timeout
        self._topic = topic
        self._group = group
        self._closed = False
        self.watchdog = StallWatchdog(stall_seconds)
        self.restarts = 0
        self._consumer = self._new_consumer()

    def _new_consumer(self) -> Consumer:
        timeout_ms = _milliseconds(self._timeout)
        consumer = Consumer(
            {
                **self._config,
                "group.id": self._group,
                "enable.auto.commit": False,
                "enable.auto.offset.store": False,
                "auto.offset.reset": "earliest",
                "enable.partition.eof": False,
                "partition.assignment.strategy": "cooperative-sticky",
                # The broker's minimum: a consumer that died is noticed, and its partitions reassigned, in seconds.
                "session.timeout.ms": 6000,
                "heartbeat.interval.ms": 1000,
                # Most of a slow search write fits in here before the group considers the indexer stuck.
                "max.poll.interval.ms": max(300_000, timeout_ms * 3),
                "topic.metadata.refresh.interval.ms": 10_000,
                # librdkafka wants fetch.wait.max.ms (500 ms) at least a second below the socket timeout
                "socket.timeout.ms": max(timeout_ms, 1500),
                "error_cb": self._on_error,
            }
        )
        consumer.subscribe([self._topic])
        return consumer

    def _on_error(self, error: KafkaError) -> None:
        _log_client_error("consumer", error, group=self._group)

    def _open(self) -> Consumer:
        if self._closed:
            raise RuntimeError("consumer is closed")
        return self._consumer

    def poll(self, max_messages: int, timeout: float) -> list[EventMessage]:
        if max_messages < 1:
            raise ValueError("max_messages must be at least 1")
        consumer = self._open()
        received = consumer.consume(num_messages=min(max_messages, 1_000_000), timeout=max(timeout, 0.0))
        if received:
            self.watchdog.progressed()
        else:
            self._restart_if_stalled()
        messages: list[EventMessage] = []
        for message in received:
            error = message.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    continue
                if error.fatal():
                    raise KafkaException(error)
                log.warning("kafka.consume_error", topic=message.topic(), error=error.str(), code=error.name())
                continue
            headers = dict(message.headers() or [])
            reason = _as_bytes(headers.get("reason"))
            messages.append(
                EventMessage(
                    key=_as_bytes(message.key()),
                    value=_as_bytes(message.value()),
                    position=(int(message.partition() or 0), int(message.offset() or 0)),
                    topic=message.topic() or self._topic,
                    reason=None if reason is None else reason.decode("utf-8", errors="replace"),
                )
            )
        return messages

    def commit(self, messages: Sequence[EventMessage]) -> None:
        if not messages:
            return
        consumer = self._open()
        next_offsets: dict[tuple[str, int], int] = {}
        for message in messages:
            where = (message.topic or self._topic, message.position[0])
            next_offsets[where] = max(next_offsets.get(where, 0), message.position[1] + 1)
        offsets = [TopicPartition(topic, partition, offset) for (topic, partition), offset in next_offsets.items()]
        try:
            committed = consumer.commit(offsets=offsets, asynchronous=False) or []
        except KafkaException as exc:
            error = _kafka_error(exc)
            if error is not None and error.code() in _REBALANCED:
                log.warning("kafka.commit_after_rebalance", group=self._group, error=error.str(), redelivered=True)
                return
            raise
        for partition in committed:
            if partition.error is not None:
                raise KafkaException(partition.error)

    # -- the stall watchdog ---------------------------------------------------------------------------------------
    def partition_offsets(self, timeout: float = 5.0) -> list[_Offsets]:
        """(partition, position, high watermark) of each assigned partition, asked of the broker (each request
        waits at most ``timeout`` seconds, and no longer than the client's timeout).

        The position is where this consumer will fetch next; before its first fetch it is the committed offset
        (or the low watermark when nothing was committed, as ``auto.offset.reset=earliest`` does).
        """
        consumer = self._open()
        timeout = min(self._timeout, timeout)
        assigned = consumer.assignment()
        if not assigned:
            return []
        positions = {tp.partition: tp.offset for tp in consumer.position(assigned)}
        unknown = [tp for tp in assigned if positions.get(tp.partition, -1) < 0]
        if unknown:
            for tp in consumer.committed(unknown, timeout=timeout):
                positions[tp.partition] = tp.offset
        offsets = []
        for tp in assigned:
            low, high = consumer.get_watermark_offsets(tp, timeout=timeout, cached=False)
            position = positions.get(tp.partition, -1)
            offsets.append((tp.partition, low if position < 0 else position, high))
        return offsets

    def lagging_partitions(self) -> list[_Offsets]:
        """(partition, position, high watermark) of each assigned partition with messages not yet received."""
        return [offsets for offsets in self.partition_offsets() if offsets[2] > offsets[1]]

    def lag(self) -> dict[int, int]:
        # for /metrics, from the indexer's loop: with the broker away, each request of the check gives up after 2 s
        try:
            offsets = self.partition_offsets(2.0)
        except KafkaException as exc:
            raise BusUnavailable(f"kafka lag check failed: {exc}") from exc
        return {partition: max(high - position, 0) for partition, position, high in offsets}

    def _restart_if_stalled(self) -> None:
        """Replace the librdkafka consumer when it holds partitions with messages to read yet delivers nothing.

        librdkafka can leave a partition parked after its leader went away and came back (e.g. a broker restart);
        a new consumer rejoins the group and fetches from the committed offsets, so nothing is skipped.
        """
        lagging = self.watchdog.lagging_if_stalled(self.lagging_partitions)
        if not lagging:
            return
        log.warning(
            "kafka.consumer_stalled",
            group=self._group,
            topic=self._topic,
            idle_seconds=round(self.watchdog.idle_seconds, 1),
            lagging=[{"partition": p, "position": pos, "high": high} for p, pos, high in lagging],
        )
        self._consumer.close()
        self._consumer = self._new_consumer()
        self.restarts += 1
        self.watchdog.reset()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._consumer.close()  # leaves the group, so its partitions move to the other members at once


class _Unreachable(RuntimeError):
    """The broker did not answer in time."""


class KafkaMovieEvents:
    """Factory of Kafka publishers and consumers for one topic (and its dead-letter topic)."""

    name = "kafka"

    def __init__(
        self,
        bootstrap_servers: str,
        *,
        topic: str = "movies",
        dlq_topic: str = "movies.dlq",
        timeout: float = 10.0,
        partitions: int = 1,
        create_topics: bool = True,
        client_id: str = "movierec",
    ) -> None:
        if not bootstrap_servers.strip():
            raise ValueError("bootstrap_servers must name at least one broker (host:port)")
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        if partitions < 1:
            raise ValueError("partitions must be at least 1")
        if not topic or not dlq_topic or topic == dlq_topic:
            raise ValueError("topic and dlq_topic must be two different names")
        self.topic = topic
        self.dlq_topic = dlq_topic
        self.timeout = timeout
        self.partitions = partitions
        self._create_topics = create_topics
        self._ready: set[str] = set()
        self._lock = threading.Lock()
        self._admin: AdminClient | None = None
        self._publishers: list[KafkaEventPublisher] = []
        self._consumers: list[KafkaEventConsumer] = []
        self.client_config: dict[str, Any] = {
            "bootstrap.servers": bootstrap_servers,
            "client.id": client_id,
            "socket.timeout.ms": self.timeout_ms,
            "socket.connection.setup.timeout.ms": self.timeout_ms,
            "reconnect.backoff.max.ms": 2000,
            "logger": _client_log,
        }

    @property
    def timeout_ms(self) -> int:
        return _milliseconds(self.timeout)

    def _admin_client(self) -> AdminClient:
        if self._admin is None:
            self._admin = AdminClient(self.client_config)
        return self._admin

    def ensure_topics(self, topics: set[str]) -> None:
        """Create ``topics`` once (with the DLQ) if missing. Raises ``_Unreachable`` when the broker does not answer.

        Any other refusal (e.g. no permission to create topics) is logged, and producing goes on: the topics may
        exist already or be created by the broker on first use.
        """
        if not self._create_topics:
            return
        with self._lock:
            wanted = sorted(({self.topic, self.dlq_topic} | topics) - self._ready)
            if not wanted:
                return
            new = [NewTopic(name, num_partitions=self.partitions, replication_factor=-1) for name in wanted]
            futures = self._admin_client().create_topics(
                new, operation_timeout=self.timeout, request_timeout=self.timeout
            )
            for name, future in futures.items():
                try:
                    future.result(timeout=self.timeout + 1.0)
                except concurrent.futures.TimeoutError:
                    raise _Unreachable(f"kafka did not answer within {self.timeout}s creating topic {name}") from None
                except KafkaException as exc:
                    error = _kafka_error(exc)
                    if error is not None and error.code() == KafkaError.TOPIC_ALREADY_EXISTS:
                        pass
                    elif error is not None and error.code() in _UNREACHABLE:
                        raise _Unreachable(f"kafka unreachable creating topic {name}: {error.str()}") from exc
                    else:
                        log.warning("kafka.create_topic_failed", topic=name, error=str(exc))
                        continue
                self._ready.add(name)

    def drop_topics(self) -> None:
        """Delete the topic and its dead-letter topic (tests, teardown); a topic that does not exist is fine."""
        with self._lock:
            futures = self._admin_client().delete_topics([self.topic, self.dlq_topic], operation_timeout=self.timeout)
            for future in futures.values():
                try:
                    future.result(timeout=self.timeout + 5.0)
                except KafkaException as exc:
                    error = _kafka_error(exc)
                    if error is None or error.code() != KafkaError.UNKNOWN_TOPIC_OR_PART:
                        raise
            self._ready -= {self.topic, self.dlq_topic}

    def publisher(self) -> KafkaEventPublisher:
        publisher = KafkaEventPublisher(
            self.client_config,
            topic=self.topic,
            dlq_topic=self.dlq_topic,
            timeout=self.timeout,
            ensure_topics=self.ensure_topics,
        )
        self._publishers.append(publisher)
        return publisher

    def consumer(self, group: str, topic: str | None = None, stall_seconds: float = 30.0) -> KafkaEventConsumer:
        if not group:
            raise ValueError("a consumer needs a group id")
        topic = topic or self.topic
        try:
            self.ensure_topics({topic})
        except _Unreachable as exc:
            # The consumer subscribes anyway and starts receiving once the broker is back.
            log.warning("kafka.topics_not_ensured", topic=topic, error=str(exc))
        consumer = KafkaEventConsumer(
            self.client_config, group, topic, timeout=self.timeout, stall_seconds=stall_seconds
        )
        self._consumers.append(consumer)
        return consumer

    def ping(self) -> None:
        """Raises when no broker answers a metadata request within the timeout."""
        metadata = self._admin_client().list_topics(timeout=min(self.timeout, 5.0))
        if not metadata.brokers:
            raise KafkaException(KafkaError(KafkaError._ALL_BROKERS_DOWN))

    def close(self) -> None:
        for consumer in self._consumers:
            try:
                consumer.close()
            except Exception as exc:  # closing is best effort; carry on closing the rest
                log.warning("kafka.consumer_close_failed", error=repr(exc))
        for publisher in self._publishers:
            publisher.close()
        self._consumers.clear()
        self._publishers.clear()
        self._admin = None
