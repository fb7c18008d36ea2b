"""Loading offline catalogues and the MovieLens community's ratings through the normal catalogue path."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable

from movierec.domain.movies import MovieDraft
from movierec.ingest import offline
from movierec.log import get_logger
from movierec.services.catalogue import CatalogueService, UpsertSummary
from movierec.store.uow import Store

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

    Idempotent: users are keyed ``movielens:<userId>``; a (user, movie) pair already rated is left alone.
    """
    ratings = list(offline.movielens_ratings())
    with store.uow() as uow:
        users = uow.users.ensure_external([r.user_key for r in ratings])
        movies = uow.movies.ids_by_external_key({r.movie_key for r in ratings})
        uow.commit()
    rows = [
        {
            "user_id": users[r.user_key],
            "movie_id": movies[r.movie_key],
            "rating": r.rating,
            "rated_at": dt.datetime.fromtimestamp(r.timestamp, dt.UTC),
        }
        for r in ratings
        if r.movie_key in movies
    ]
    inserted = 0
    step = 10_000
    for start in range(0, len(rows), step):
        with store.uow() as uow:
            inserted += uow.ratings.bulk_insert(rows[start : start + step])
            uow.commit()
        if progress is not None:
            progress(min(step, len(rows) - start))
    log.info(
        "ratings.imported", source="movielens", users=len(users), inserted=inserted, skipped=len(ratings) - inserted
    )
    return inserted
