"""The indexer: consumes movie events and bulk-writes them into search, committing only after the write.

* batches by size and time (``poll(batch_size, batch_seconds)``); each batch is one ``index_movies`` call, i.e. one
  refresh on Elasticsearch (bulk requests inside stay at 500 documents), so bigger batches make catching up cheaper
  without delaying a lone event (it still waits at most ``batch_seconds``);
* a message that is not a valid movie event goes to the dead-letter topic with the reason, and the rest of the
  batch carries on;
* while search is down it retries with exponential backoff and commits nothing, so nothing is lost;
* ``stop()`` (SIGTERM) lets the current batch finish and commit; ``movierec.runtime.IndexerWorker`` runs the loop
  (with the outbox relay) and closes the consumer.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from tenacity import Retrying, retry_if_exception_type, stop_when_event_set, wait_exponential

from movierec import metrics
from movierec.domain.movies import Movie
from movierec.events.port import (
    EventMessage,
    InvalidEvent,
    MovieEventConsumer,
    MovieEventPublisher,
    MovieUpserted,
)
from movierec.log import get_logger
from movierec.search.port import MovieIndex

log = get_logger(__name__)


@dataclass
class IndexerStats:
    batches: int = 0
    indexed: int = 0
    dead_lettered: int = 0
    retries: int = 0


class MovieIndexer:
    def __init__(
        self,
        consumer: MovieEventConsumer,
        publisher: MovieEventPublisher,
        index: MovieIndex,
        *,
        batch_size: int = 2000,
        batch_seconds: float = 0.5,
        max_backoff_seconds: float = 10.0,
        on_indexed: Callable[[], None] | None = None,
    ) -> None:
        """``on_indexed`` is called after each write to the index (a search cache of this process to forget)."""
        self.consumer = consumer
        self.publisher = publisher
        self.index = index
        self.batch_size = batch_size
        self.batch_seconds = batch_seconds
        self.max_backoff_seconds = max_backoff_seconds
        self.on_indexed = on_indexed
        self.stats = IndexerStats()
        self._stop = threading.Event()

    def stop(self) -> None:
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def _retrying(self, what: str) -> Retrying:
        def before_sleep(state: object) -> None:
            self.stats.retries += 1
            metrics.indexer_retried()
            outcome = getattr(state, "outcome", None)
            error = outcome.exception() if outcome is not None else None
            log.warning("indexer.retry", step=what, attempt=getattr(state, "attempt_number", 0), error=repr(error))

        # A boundary: a write to the index or the dead-letter topic is retried whatever it hit (each adapter's
        # client raises its own transport errors), with backoff, until it succeeds or the indexer is stopped; the
        # writes are upserts, so a retry is harmless, and nothing is committed before it succeeds.
        return Retrying(
            retry=retry_if_exception_type(Exception),
            wait=wait_exponential(multiplier=0.2, max=self.max_backoff_seconds),
            stop=stop_when_event_set(self._stop),
            before_sleep=before_sleep,
            reraise=True,
        )

    def process(self, messages: Sequence[EventMessage]) -> None:
        """Index one batch, dead-letter its invalid messages, then commit it. Raises if stopped before done."""
        started = time.perf_counter()
        latest: dict[int, Movie] = {}
        for message in messages:
            try:
                event = MovieUpserted.from_bytes(message.value)
            except InvalidEvent as exc:
                reason = str(exc)
                log.warning("indexer.dead_letter", position=message.position, reason=reason)
                for attempt in self._retrying("dead_letter"):
                    with attempt:
                        self.publisher.publish_dead_letter(message, reason)
                self.stats.dead_lettered += 1
                metrics.indexer_dead_lettered()
                continue
            latest[event.movie.id] = event.movie  # the last event of a movie in the batch wins
        if latest:
            for attempt in self._retrying("index"):
                with attempt:
                    self.index.index_movies(list(latest.values()))
            if self.on_indexed is not None:
                self.on_indexed()
        self.consumer.commit(messages)
        self.stats.batches += 1
        self.stats.indexed += len(latest)
        metrics.indexer_batch(time.perf_counter() - started, len(latest))

    def run_once(self) -> int:
        messages = self.consumer.poll(self.batch_size, self.batch_seconds)
        if messages:
            self.process(messages)
        return len(messages)
