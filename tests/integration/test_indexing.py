"""Nothing written to the database goes missing from search: outbox, event log and indexer under failures."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from movierec.domain.movies import Movie, MovieDraft
from movierec.events.embedded import EmbeddedMovieEvents
from movierec.events.indexer import MovieIndexer
from movierec.events.port import EventMessage, MovieUpserted
from movierec.runtime import IndexerWorker
from movierec.search.embedded import EmbeddedMovieIndex
from movierec.search.port import SearchQuery
from movierec.services.publishing import OutboxRelay
from movierec.services.reconcile import reconcile
from movierec.settings import Settings
from movierec.wiring import Container, build_container
from tests.conftest import index_everything


def drafts(n: int, prefix: str = "test") -> list[MovieDraft]:
    return [MovieDraft(f"{prefix}:{i}", f"Film number {i}", 2000, genres=("Drama",)) for i in range(n)]


def database_ids(container: Container) -> set[int]:
    with container.store.uow() as uow:
        return set(uow.movies.all_ids())


def test_seeded_movies_reach_search(container: Container) -> None:
    container.catalogue.upsert(drafts(1200))
    index_everything(container)
    assert container.index.ids() == database_ids(container)
    assert container.search.search("film number 1199", None, 5, 0).movies[0].title == "Film number 1199"


def test_outbox_keeps_movies_while_the_bus_is_down(settings: Settings, container: Container) -> None:
    broken = EmbeddedMovieEvents(settings.data_dir / "broken-events.sqlite3")
    broken.close()  # a bus that cannot take writes
    container.catalogue.relay = OutboxRelay(container.store, broken.publisher())
    summary = container.catalogue.upsert(drafts(50))
    assert summary.new == 50
    assert container.relay.pending() == 50  # written to the database, not yet published
    container.catalogue.relay = container.relay
    index_everything(container)  # the bus is back: the relay publishes and the indexer indexes
    assert container.index.ids() == database_ids(container)
    assert container.relay.pending() == 0


def test_bulk_upsert_publishes_every_batch_by_the_time_it_returns(container: Container) -> None:
    summary = container.catalogue.upsert_all(drafts(2_500), batch_size=300)  # the relay drains in the background
    assert summary.new == 2_500
    assert container.relay.pending() == 0
    consumer = container.events.consumer("bulk-check")
    published: set[int] = set()
    while batch := consumer.poll(1_000, 0.2):
        published |= {MovieUpserted.from_bytes(message.value).movie.id for message in batch}
    assert published == database_ids(container)


def test_bulk_upsert_while_the_bus_is_down_keeps_every_movie_in_the_outbox(
    settings: Settings, container: Container
) -> None:
    broken = EmbeddedMovieEvents(settings.data_dir / "broken-events.sqlite3")
    broken.close()
    container.catalogue.relay = OutboxRelay(container.store, broken.publisher())
    summary = container.catalogue.upsert_all(drafts(1_000), batch_size=200)
    assert summary.new == 1_000
    assert container.relay.pending() == 1_000
    container.catalogue.relay = container.relay
    index_everything(container)
    assert container.index.ids() == database_ids(container)


def test_unchanged_movies_are_not_published_again(container: Container) -> None:
    container.catalogue.upsert(drafts(10))
    index_everything(container)
    summary = container.catalogue.upsert(drafts(10))
    assert (summary.new, summary.updated, summary.unchanged) == (0, 0, 10)
    assert container.relay.pending() == 0


class FailingOnceIndex(EmbeddedMovieIndex):
    """A real embedded index whose first write fails, as a search engine that blinks."""

    failures = 1

    def index_movies(self, movies: Sequence[Movie]) -> None:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("search engine unavailable")
        super().index_movies(movies)


def test_indexer_retries_and_commits_only_after_the_write(settings: Settings, container: Container) -> None:
    container.catalogue.upsert(drafts(30))
    container.relay.drain()
    index = FailingOnceIndex(settings.data_dir / "flaky-search.sqlite3")
    consumer = container.events.consumer("flaky-group")
    indexer = MovieIndexer(consumer, container.events.publisher(), index, batch_seconds=0.05, max_backoff_seconds=0.1)
    assert indexer.run_once() == 30
    assert indexer.stats.retries == 1 and index.count() == 30
    consumer.close()
    # Everything was committed once written: a new consumer of the group has nothing left.
    assert container.events.consumer("flaky-group").poll(100, 0.2) == []


def test_crash_before_commit_redelivers_without_duplicates(settings: Settings, container: Container) -> None:
    container.catalogue.upsert(drafts(40))
    container.relay.drain()
    consumer = container.events.consumer("crashy")
    messages = consumer.poll(100, 1.0)
    # The batch reaches search, then the indexer dies before committing its offsets.
    container.index.index_movies([MovieUpserted.from_bytes(m.value).movie for m in messages])
    consumer.close()
    restarted = MovieIndexer(container.events.consumer("crashy"), container.events.publisher(), container.index)
    assert restarted.run_once() == 40  # delivered again
    assert container.index.count() == 40  # document id = movie id: no duplicates
    assert container.index.ids() == database_ids(container)


def test_poison_message_is_dead_lettered_and_indexing_goes_on(container: Container) -> None:
    poison = EventMessage(key=b"oops", value=b"{not json", position=(0, 0))
    # Put a raw poison message on the topic, between two valid batches.
    container.catalogue.upsert(drafts(3, "before"))
    container.relay.drain()
    assert isinstance(container.events, EmbeddedMovieEvents)
    container.events._log.append(container.events.topic, [(poison.key, poison.value, None)])
    container.catalogue.upsert(drafts(3, "after"))
    index_everything(container)
    assert container.index.count() == 6
    dead = container.events.consumer("dlq-reader", topic=container.events.dlq_topic).poll(10, 0.5)
    assert [m.value for m in dead] == [b"{not json"]
    assert dead[0].reason is not None and "not JSON" in dead[0].reason


def test_restart_keeps_search_and_resumes(settings: Settings) -> None:
    first = build_container(settings, run_migrations=True)
    first.catalogue.upsert(drafts(25))
    index_everything(first)
    first.catalogue.upsert(drafts(5, "later"))  # written and published, not yet indexed
    first.close()

    second = build_container(settings, run_migrations=True)
    try:
        assert second.index.count() == 25  # the embedded index is durable
        index_everything(second)  # the indexer group resumes after its last commit
        assert second.index.ids() == database_ids(second)
        assert second.search.search("film", None, 100, 0).total == 30
    finally:
        second.close()


def test_api_process_sees_what_another_process_indexed(settings: Settings, container: Container) -> None:
    """The API reads the search file that the indexer (another process in production) writes."""
    reader = EmbeddedMovieIndex(settings.search_path)
    assert reader.search(SearchQuery(text="film")).total == 0
    container.catalogue.upsert(drafts(7))
    index_everything(container)
    assert reader.search(SearchQuery(text="film")).total == 7
    reader.close()


@pytest.mark.parametrize("batch_size", [1, 7, 500])
def test_worker_batches(container: Container, batch_size: int) -> None:
    container.catalogue.upsert(drafts(20))
    worker = IndexerWorker(container, relay_every_seconds=0.0, batch_size=batch_size, batch_seconds=0.01)
    for _ in range(40):
        worker.step()
    assert container.index.count() == 20
    assert worker.indexer.stats.batches >= -(-20 // batch_size)


def test_the_worker_compacts_the_index_once_a_burst_of_writes_is_over(container: Container) -> None:
    index = container.index
    assert isinstance(index, EmbeddedMovieIndex)  # the embedded defaults
    container.catalogue.upsert(drafts(30))
    worker = IndexerWorker(container, relay_every_seconds=0.0, batch_size=5, batch_seconds=0.01, compact_after=25)
    while index.count() < 30:  # five movies a commit: a segment each, as a first load leaves them
        worker.step()
        assert index.segments() > 1 or index.count() < 10  # nothing is compacted while movies keep coming
    assert worker.step() == 0  # the burst is over: this round found nothing, and compacted
    assert index.segments() == 1
    assert index.count() == 30 and container.search.search("film number 29", None, 5, 0).movies[0].title == (
        "Film number 29"
    )
    container.catalogue.upsert(drafts(3, prefix="later"))
    for _ in range(20):
        worker.step()
    assert index.count() == 33 and index.segments() > 1  # a few writes later: under the threshold, left as they are


def test_a_rebuild_from_the_database_compacts_what_it_wrote(container: Container) -> None:
    index = container.index
    assert isinstance(index, EmbeddedMovieIndex)
    container.catalogue.upsert(drafts(40))
    report = reconcile(container.store, index, batch_size=7, compact_after=40)
    assert report.repaired and index.count() == 40 and index.segments() == 1
    container.catalogue.upsert(drafts(5, prefix="more"))
    reconcile(container.store, index, batch_size=2, compact_after=40)
    assert index.count() == 45 and index.segments() > 1  # a small repair is not a burst
