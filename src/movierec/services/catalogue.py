"""The catalogue: upserts movies (database + outbox in one transaction), then publishes them to the bus."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from movierec.domain.movies import Movie, MovieDraft
from movierec.log import get_logger
from movierec.services.errors import NotFound
from movierec.services.publishing import BackgroundDrain, OutboxRelay
from movierec.store.uow import Store

log = get_logger(__name__)


@dataclass
class UpsertSummary:
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    movie_ids: list[int] = field(default_factory=list)

    def add(self, other: UpsertSummary) -> None:
        self.new += other.new
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.movie_ids.extend(other.movie_ids)


class CatalogueService:
    def __init__(self, store: Store, relay: OutboxRelay | None = None) -> None:
        self.store = store
        self.relay = relay

    def upsert(self, drafts: Sequence[MovieDraft], *, publish: bool = True) -> UpsertSummary:
        """Write one batch. New and changed movies enter the outbox in the same transaction as the movie."""
        summary = UpsertSummary()
        if not drafts:
            return summary
        with self.store.uow() as uow:
            outcomes = uow.movies.upsert_many(drafts)
            changed = [o.movie_id for o in outcomes if o.status != "unchanged"]
            uow.outbox.add(dict.fromkeys(changed))
            uow.commit()
        for outcome in outcomes:
            setattr(summary, outcome.status, getattr(summary, outcome.status) + 1)
            summary.movie_ids.append(outcome.movie_id)
        if publish and changed and self.relay is not None:
            self.relay.drain()
        return summary

    def upsert_all(self, drafts: Iterable[MovieDraft], batch_size: int = 1000, progress=None) -> UpsertSummary:  # noqa: ANN001
        """Upsert ``drafts`` in batches; a background relay publishes each batch while the next one is written."""
        total = UpsertSummary()
        with contextlib.ExitStack() as stack:
            background = None if self.relay is None else stack.enter_context(BackgroundDrain(self.relay))
            iterator = iter(drafts)
            while batch := list(itertools.islice(iterator, batch_size)):
                total.add(self.upsert(batch, publish=False))
                if background is not None:
                    background.poke()
                if progress is not None:
                    progress(len(batch))
        return total

    def get(self, movie_id: int) -> Movie:
        with self.store.uow() as uow:
            movie = uow.movies.get(movie_id)
        if movie is None:
            raise NotFound(f"movie {movie_id} not found")
        return movie

    def latest(self, limit: int, offset: int = 0) -> list[Movie]:
        with self.store.uow() as uow:
            return uow.movies.latest(limit, offset)

    def genres(self) -> list[tuple[str, int]]:
        with self.store.uow() as uow:
            return uow.movies.genre_counts()

    def count(self) -> int:
        with self.store.uow() as uow:
            return uow.movies.count()
