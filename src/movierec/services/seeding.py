"""Loading offline catalogues and the MovieLens community's ratings through the normal catalogue path."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from movierec.domain.movies import MovieDraft
from movierec.ingest import offline
from movierec.log import get_logger
from movierec.services.catalogue import CatalogueService, UpsertSummary
from movierec.services.ratings_import import import_batches, movielens_batch
from movierec.store.port import Store

log = get_logger(__name__)

OFFLINE_CATALOGUES: dict[str, Callable[[], Iterable[MovieDraft]]] = {
    "movielens": offline.movielens_movies,
    "imdb": offline.imdb_movies,
}


def load_catalogue(
    catalogue: CatalogueService,
    source: str,
    *,
    batch_size: int = 1000,
    progress: Callable[[int], None] | None = None,
) -> UpsertSummary:
    """Upsert every movie of an offline catalogue; each reaches the outbox, the bus and search."""
    drafts = OFFLINE_CATALOGUES[source]()
    summary = catalogue.upsert_all(drafts, batch_size=batch_size, progress=progress)
    log.info("catalogue.loaded", source=source, new=summary.new, updated=summary.updated, unchanged=summary.unchanged)
    return summary


def import_movielens_ratings(store: Store, progress: Callable[[int], None] | None = None) -> int:
    """Import MovieLens' 671 users (login-less demo users) and their 100,004 ratings on the 1-10 scale.

    Idempotent: users are keyed ``movielens:<userId>``; a (user, movie) pair already rated keeps its rating
    unless MovieLens' is more recent. Goes through the bulk path of ``movierec import-ratings``.
    """
    report = import_batches(store, iter([movielens_batch()]), progress)
    log.info(
        "ratings.imported",
        source="movielens",
        users=report.users,
        written=report.written,
        skipped=report.unknown_movies,
        seconds=round(report.seconds, 2),
    )
    return report.written
