"""Two drains of one outbox relay at once (seeding publishes inline while the indexer worker drains every second,
as in ``movierec up``) lose nothing, even though SQLite reuses the ids of deleted outbox rows."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from movierec.domain.movies import MovieDraft
from movierec.events.port import MovieEventPublisher, MovieUpserted
from movierec.wiring import Container


def drafts(prefix: str, n: int) -> list[MovieDraft]:
    return [MovieDraft(f"{prefix}:{i}", f"{prefix} film {i}", 2001, genres=("Drama",)) for i in range(n)]


class InterleavingPublisher:
    """Publishes for real; during its first publish, lets another thread drain the same relay and seed more movies."""

    def __init__(self, real: MovieEventPublisher, meanwhile: threading.Thread) -> None:
        self.real = real
        self.meanwhile = meanwhile
        self.published: list[int] = []
        self._first = True

    def publish(self, events: Sequence[MovieUpserted]) -> None:
        if self._first:
            self._first = False
            self.meanwhile.start()
            self.meanwhile.join(2.0)  # without serialised drains it runs to the end here, inside this drain
        self.real.publish(events)
        self.published.extend(event.movie.id for event in events)

    def __getattr__(self, name: str) -> object:
        return getattr(self.real, name)


def test_concurrent_drains_of_one_relay_publish_every_movie(container: Container) -> None:
    relay = container.relay
    first = container.catalogue.upsert(drafts("first", 30), publish=False)
    second_ids: list[int] = []

    def other_thread() -> None:
        relay.drain()  # the worker's periodic drain
        second_ids.extend(container.catalogue.upsert(drafts("second", 30), publish=False).movie_ids)

    publisher = InterleavingPublisher(relay.publisher, threading.Thread(target=other_thread))
    relay.publisher = publisher  # type: ignore[assignment]
    relay.drain()
    publisher.meanwhile.join(30)
    relay.drain()  # whatever is still pending

    assert len(second_ids) == 30
    assert relay.pending() == 0
    assert set(first.movie_ids) | set(second_ids) <= set(publisher.published)
