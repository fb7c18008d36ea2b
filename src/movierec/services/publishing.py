"""The outbox relay: publishes movies written to the database to the event bus, then forgets them.

A movie and its outbox entry are written in one transaction, so a movie in the database is never left
unpublished: if the bus is down, the entry stays and a later ``drain`` publishes it.

Drains of one relay run one at a time: seeding drains in a background thread (``BackgroundDrain``) while the
indexer worker drains every second, and two interleaved drains on SQLite (no ``SKIP LOCKED``, ids of deleted
outbox rows reused) could delete entries written after they read theirs, so those movies would never be published.
"""

from __future__ import annotations

import threading
from types import TracebackType

from movierec.domain.errors import Unavailable
from movierec.events.port import MovieEventPublisher, MovieUpserted, PublishFailed
from movierec.log import get_logger
from movierec.store.port import Store

log = get_logger(__name__)


class OutboxRelay:
    def __init__(self, store: Store, publisher: MovieEventPublisher, batch_size: int = 500) -> None:
        self.store = store
        self.publisher = publisher
        self.batch_size = batch_size
        self._draining = threading.Lock()

    def drain(self, max_batches: int | None = None) -> int:
        """Publish pending entries in order; returns how many were published. Stops at the first failure."""
        with self._draining:
            return self._drain(max_batches)

    def _drain(self, max_batches: int | None) -> int:
        published = 0
        batches = 0
        while max_batches is None or batches < max_batches:
            with self.store.uow() as uow:
                pending = uow.outbox.pending(self.batch_size)
                if not pending:
                    break
                movies = uow.movies.get_many(movie_id for _, movie_id in pending)
                # A movie rewritten twice before publishing is published once, as it is now.
                events = [
                    MovieUpserted(movies[movie_id])
                    for movie_id in dict.fromkeys(m for _, m in pending)
                    if movie_id in movies
                ]
                try:
                    self.publisher.publish(events)
                except PublishFailed as exc:
                    log.warning("outbox.publish_failed", pending=len(pending), error=str(exc))
                    break
                uow.outbox.remove(outbox_id for outbox_id, _ in pending)
                uow.commit()
            published += len(events)
            batches += 1
        return published

    def drain_or_warn(self) -> int:
        """``drain`` for background loops: an error is logged, not raised, and the next call tries again."""
        try:
            return self.drain()
        except Unavailable as exc:  # the database (or the bus) is briefly away; the outbox keeps everything
            log.warning("outbox.drain_failed", error=repr(exc))
            return 0

    def pending(self) -> int:
        with self.store.uow() as uow:
            return uow.outbox.count()


class BackgroundDrain:
    """Drains a relay in a thread while a bulk writer goes on writing, so publishing one batch overlaps writing the
    next; the writer calls ``poke`` after each commit. Leaving the block stops the thread, then drains once more
    inline, so what was written is published (or left in the outbox if the bus is down) when the block ends."""

    def __init__(self, relay: OutboxRelay) -> None:
        self.relay = relay
        self._wake = threading.Event()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="movierec-relay", daemon=True)

    def __enter__(self) -> BackgroundDrain:
        self._thread.start()
        return self

    def poke(self) -> None:
        self._wake.set()

    def _run(self) -> None:
        while not self._done.is_set():
            self._wake.wait(0.5)
            self._wake.clear()
            if self._done.is_set():
                return
            self.relay.drain_or_warn()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self._done.set()
        self._wake.set()
        self._thread.join()
        if kind is None:
            self.relay.drain()
