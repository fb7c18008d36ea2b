"""Reconciliation: compare the database with the search index and repair the difference.

The outbox, the bus and the indexer already make sure every movie written reaches search; this is the safety net
for anything outside them (an index restored from an old snapshot, a manual delete, a bug).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from movierec.log import get_logger
from movierec.search.port import COMPACT_AFTER_WRITES, MovieIndex
from movierec.store.port import Store

log = get_logger(__name__)

REBUILD_BATCH = 5_000


@dataclass
class ReconcileReport:
    in_database: int
    in_index: int
    missing: list[int] = field(default_factory=list)  # in the database, not in search
    extra: list[int] = field(default_factory=list)  # in search, not in the database
    repaired: bool = False

    @property
    def consistent(self) -> bool:
        return not self.missing and not self.extra


def reconcile(
    store: Store,
    index: MovieIndex,
    *,
    repair: bool = True,
    batch_size: int = 500,
    compact_after: int = COMPACT_AFTER_WRITES,
) -> ReconcileReport:
    with store.uow() as uow:
        database_ids = set(uow.movies.all_ids())
    index_ids = index.ids()
    report = ReconcileReport(
        in_database=len(database_ids),
        in_index=len(index_ids),
        missing=sorted(database_ids - index_ids),
        extra=sorted(index_ids - database_ids),
    )
    if repair and not report.consistent:
        for start in range(0, len(report.missing), batch_size):
            with store.uow() as uow:
                movies = uow.movies.get_many(report.missing[start : start + batch_size])
            index.index_movies(list(movies.values()))
        if report.extra:
            index.delete_movies(report.extra)
        report.repaired = True
        if len(report.missing) + len(report.extra) >= compact_after:
            index.compact()  # a rebuild is a burst of writes: merge what it left, as the indexer does after one
    log.info(
        "reconcile.done",
        in_database=report.in_database,
        in_index=report.in_index,
        missing=len(report.missing),
        extra=len(report.extra),
        repaired=report.repaired,
    )
    return report


def rebuild_if_empty(store: Store, index: MovieIndex) -> ReconcileReport | None:
    """Fill an empty search index from the database when the database has movies; None when nothing to do.

    This is how a data dir written by an earlier search engine (or one whose index was deleted) gets its index
    back on the first start: by the same reconciliation as ``movierec reconcile``.
    """
    if index.count() > 0:
        return None
    with store.uow() as uow:
        if uow.movies.count() == 0:
            return None
    log.info("search.rebuild_from_database", reason="empty search index")
    # Bigger batches than the indexer's: each batch is one commit (and one fsync) on the embedded engine.
    return reconcile(store, index, batch_size=REBUILD_BATCH)
