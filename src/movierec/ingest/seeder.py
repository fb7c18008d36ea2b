"""The TMDB seeder: pages of popular movies, in order, into the catalogue, resumable after an interruption.

Pages are fetched a few at a time (a small thread pool) but stored strictly in page order, a few pages per
``CatalogueService.upsert`` batch. After each batch the last stored page is written to a small JSON state file, so
an interrupted run resumes after it. A run that reaches its last page marks the state complete: the next run starts
again at page 1 and updates what changed (upserts are keyed on ``tmdb:<id>``, so nothing is duplicated).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import threading
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

from movierec.domain.movies import MovieDraft
from movierec.files import write_atomically
from movierec.ingest.tmdb import MAX_PAGE, DiscoverPage, TmdbClient, TmdbError
from movierec.log import get_logger
from movierec.services.catalogue import CatalogueService

log = get_logger(__name__)

STATE_FILE_NAME = "tmdb_seed.json"


class SeedPlanError(TmdbError):
    """The requested pages make no sense (e.g. a start page after the last page)."""


@dataclass(frozen=True, slots=True)
class SeedState:
    """What the last run stored: pages up to ``last_page`` of ``base_url``; ``complete`` when it reached its end."""

    base_url: str
    last_page: int
    end_page: int
    complete: bool
    updated_at: str

    @classmethod
    def load(cls, path: Path) -> SeedState | None:
        try:
            raw = json.loads(path.read_text())
            state = cls(
                base_url=str(raw["base_url"]),
                last_page=int(raw["last_page"]),
                end_page=int(raw["end_page"]),
                complete=bool(raw["complete"]),
                updated_at=str(raw.get("updated_at", "")),
            )
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("tmdb.state_unreadable", path=str(path), error=repr(exc), note="starting at page 1")
            return None
        if not 1 <= state.last_page <= MAX_PAGE:
            return None
        return state

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(path, json.dumps(asdict(self), indent=2) + "\n")


@dataclass
class SeedReport:
    start_page: int
    end_page: int
    resumed: bool = False
    last_page: int | None = None
    pages_done: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    duplicates: int = 0
    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    error: str | None = None

    @property
    def movies(self) -> int:
        return self.new + self.updated + self.unchanged

    @property
    def next_page(self) -> int:
        """Where a resumed run starts."""
        return (self.last_page or self.start_page - 1) + 1

    def summary(self) -> str:
        if self.start_page > self.end_page:
            pages = f"TMDB: nothing to do (pages up to {self.end_page} are already stored)"
        elif self.last_page is None:
            pages = f"TMDB: no page stored (planned pages {self.start_page}-{self.end_page})"
        else:
            pages = f"TMDB: pages {self.start_page}-{self.last_page} of {self.start_page}-{self.end_page} stored"
        if self.resumed:
            pages += f" (resumed at page {self.start_page})"
        return "\n".join(
            (
                f"{pages}; {self.pages_done} pages done",
                f"movies: {self.new} new, {self.updated} updated, {self.unchanged} unchanged, "
                f"{self.skipped} skipped (invalid), {self.duplicates} repeated within a batch",
                f"requests: {self.requests}, retries: {self.retries} ({self.rate_limited} rate-limited); "
                f"errors: {0 if self.error is None else 1}",
            )
        )


class _Stop(Exception):
    """Ends the page loop after the report got its error."""


class TmdbSeeder:
    def __init__(
        self,
        client: TmdbClient,
        catalogue: CatalogueService,
        state_path: Path,
        *,
        concurrency: int = 4,
        pages_per_batch: int = 5,
    ) -> None:
        if concurrency < 1 or pages_per_batch < 1:
            raise ValueError("concurrency and pages_per_batch must be at least 1")
        self.client = client
        self.catalogue = catalogue
        self.state_path = state_path
        self.concurrency = concurrency
        self.pages_per_batch = pages_per_batch

    def state(self) -> SeedState | None:
        return SeedState.load(self.state_path)

    def plan(self, pages: int = MAX_PAGE, start_page: int | None = None) -> tuple[int, int, bool]:
        """(first page, last page, resumed): ``start_page`` if given, else after an unfinished run's last page."""
        if not 1 <= pages <= MAX_PAGE:
            raise SeedPlanError(f"--pages must be between 1 and {MAX_PAGE}, not {pages}")
        if start_page is not None:
            if not 1 <= start_page <= pages:
                raise SeedPlanError(f"--start-page must be between 1 and --pages ({pages}), not {start_page}")
            return start_page, pages, False
        state = self.state()
        if state is not None and not state.complete and state.base_url == self.client.base_url:
            return state.last_page + 1, pages, True
        return 1, pages, False

    def run(
        self,
        pages: int = MAX_PAGE,
        start_page: int | None = None,
        *,
        genres: Mapping[int, str] | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> SeedReport:
        """Fetch and store pages; TMDB and storage failures end the run with ``report.error`` set."""
        start, end, resumed = self.plan(pages, start_page)
        report = SeedReport(start_page=start, end_page=end, resumed=resumed)
        before = (self.client.stats.requests, self.client.stats.retries, self.client.stats.rate_limited)
        log.info("tmdb.seed_started", start_page=start, end_page=end, resumed=resumed)
        try:
            if start <= end:
                self._run_pages(report, genres, progress)
        finally:
            stats = self.client.stats
            report.requests = stats.requests - before[0]
            report.retries = stats.retries - before[1]
            report.rate_limited = stats.rate_limited - before[2]
        log.info("tmdb.seed_finished", **{k: v for k, v in vars(report).items() if v is not None})
        return report

    def _run_pages(
        self, report: SeedReport, genres: Mapping[int, str] | None, progress: Callable[[int], None] | None
    ) -> None:
        batch: dict[str, MovieDraft] = {}
        batch_pages: list[int] = []

        def flush() -> None:
            if not batch_pages:
                return
            try:
                summary = self.catalogue.upsert(list(batch.values()))
            except Exception as exc:  # a boundary: whatever storing hit is logged, reported and ends the run
                log.exception("tmdb.store_failed", pages=f"{batch_pages[0]}-{batch_pages[-1]}")
                report.error = f"storing pages {batch_pages[0]}-{batch_pages[-1]} failed: {exc!r}"
                raise _Stop from exc
            report.new += summary.new
            report.updated += summary.updated
            report.unchanged += summary.unchanged
            report.pages_done += len(batch_pages)
            report.last_page = batch_pages[-1]
            SeedState(
                base_url=self.client.base_url,
                last_page=report.last_page,
                end_page=report.end_page,
                complete=report.last_page >= report.end_page,
                updated_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            ).save(self.state_path)
            if progress is not None:
                progress(len(batch_pages))
            batch.clear()
            batch_pages.clear()

        def take(page: DiscoverPage) -> None:
            report.skipped += len(page.skipped)
            for draft in page.drafts:
                if draft.external_key in batch:  # popularity shifted while paging: keep one copy
                    report.duplicates += 1
                batch[draft.external_key] = draft
            batch_pages.append(page.page)
            if len(batch_pages) >= self.pages_per_batch or page.page >= report.end_page:
                flush()

        stop = threading.Event()
        try:
            if genres is None:
                genres = self.client.genres()
            first = self.client.discover(report.start_page, genres, stop=stop)
            # TMDB serves at most 500 pages, and fewer when the listing is short.
            available = min(first.total_pages, MAX_PAGE)
            if available < report.end_page:
                report.end_page = max(available, report.start_page)
            take(first)
            with ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="tmdb-page") as pool:
                in_flight: deque[Future[DiscoverPage]] = deque()
                next_page = report.start_page + 1
                try:
                    while True:
                        while next_page <= report.end_page and len(in_flight) < self.concurrency:
                            in_flight.append(pool.submit(self.client.discover, next_page, genres, stop=stop))
                            next_page += 1
                        if not in_flight:
                            break
                        take(in_flight.popleft().result())
                finally:
                    stop.set()  # pages still in flight give up their retries; they are fetched again on resume
                    for future in in_flight:
                        future.cancel()
            flush()
        except TmdbError as exc:
            report.error = str(exc)
            log.warning("tmdb.seed_stopped", error=report.error, last_page=report.last_page)
            with contextlib.suppress(_Stop):
                flush()  # the pages fetched before the failure, in order
        except _Stop:
            pass
