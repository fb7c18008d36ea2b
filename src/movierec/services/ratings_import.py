"""Importing ratings in bulk: a CSV of one's own community (``movierec import-ratings``) and MovieLens' demo
ratings (``movierec seed movielens --with-ratings``) share one path, ``COPY`` on PostgreSQL and big
``executemany`` transactions on SQLite.

The CSV has a header line and these columns (others are ignored):

* ``user`` (required): your identifier for the person (text; with the ``<source>:`` prefix at most 64
  characters). Each becomes a login-less user keyed ``<source>:<user>`` (``--source``, default ``csv``),
  created on first sight and reused after.
* ``movie`` (required): the movie, either the catalogue's external key (``movielens:1``, ``imdb:42``,
  ``tmdb:603``) or movierec's numeric movie id. Ratings of movies the catalogue does not have are skipped and
  counted (the first such line is reported).
* ``rating`` (required): an integer from 1 to 10, or 0.5-5 stars with ``--stars`` (stored as stars x 2, rounded
  half up).
* ``timestamp`` (optional): when it was rated, unix seconds (decimals allowed); empty or absent = now.

A bad row (missing value, rating out of range, a timestamp that is not a number) refuses the whole file with
the line it is on; nothing is written. Re-running an import is harmless: a (user, movie) pair keeps its rating
unless the file's is more recent; within a file the most recent rating of a pair wins (the first among equal
times).

The next chunk is read and validated in a thread while the current one is written. An import whose first chunk
is large and at least the size of the table is a bulk load (``RatingRepository.import_many``); on PostgreSQL it
locks ``ratings``, ``users`` and ``movies`` until it commits.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import numpy as np
import pandas as pd

from movierec.domain.errors import DatabaseUnavailable, InvalidInput
from movierec.ingest import offline
from movierec.log import get_logger
from movierec.store.port import Store, UnitOfWork

log = get_logger(__name__)

REQUIRED_COLUMNS = ("user", "movie", "rating")
USER_KEY_MAX = 64  # users.external_key and users.username are 64 characters
CHUNK_ROWS = 500_000
MAX_TIMESTAMP = 253_402_300_799  # 9999-12-31T23:59:59Z


@dataclass
class ImportReport:
    rows: int = 0
    written: int = 0  # inserted, or updated because more recent
    unknown_movies: int = 0
    first_unknown_line: int | None = None
    users: int = 0
    seconds: float = 0.0

    def summary(self, source: str) -> str:
        text = f"{source}: {self.rows:,} ratings read, {self.written:,} written, {self.users:,} users"
        if self.unknown_movies:
            text += (
                f"; {self.unknown_movies:,} skipped: movie not in the catalogue (first on line "
                f"{self.first_unknown_line})"
            )
        rate = self.rows / self.seconds if self.seconds > 0 else 0.0
        return text + f" in {self.seconds:.1f} s ({rate:,.0f} ratings/s)"


@dataclass(frozen=True, slots=True)
class RatingBatch:
    """Validated ratings: user keys, movie references (external key or id as text), 1-10, unix microseconds;
    ``lines`` is each row's line in the file (for messages)."""

    user_keys: np.ndarray
    movies: np.ndarray
    ratings: np.ndarray
    micros: np.ndarray
    lines: np.ndarray


class _Importer:
    """Maps keys to ids (creating users, caching both) and writes batches inside one unit of work."""

    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow
        self.user_ids: dict[str, int] = {}
        self.movie_ids: dict[str, int] = {}
        self.known_ids: np.ndarray | None = None
        self.report = ImportReport()

    def _movie_ids(self, references: np.ndarray) -> np.ndarray:
        """Movie id per reference, -1 when the catalogue has no such movie."""
        out = np.full(len(references), -1, dtype=np.int64)
        numeric = np.char.isdigit(references.astype(str))
        if numeric.any():
            if self.known_ids is None:
                self.known_ids = np.array(self.uow.movies.all_ids(), dtype=np.int64)
            ids = references[numeric].astype(np.int64)
            out[numeric] = np.where(np.isin(ids, self.known_ids), ids, -1)
        keys = references[~numeric]
        missing = [k for k in pd.unique(keys) if k not in self.movie_ids]
        if missing:
            found = self.uow.movies.ids_by_external_key(missing)
            self.movie_ids.update({k: found.get(k, -1) for k in missing})
        if len(keys):
            codes, uniques = pd.factorize(keys)  # map each distinct key once, then gather
            out[~numeric] = np.array([self.movie_ids[k] for k in uniques], dtype=np.int64)[codes]
        return out

    def write(self, batch: RatingBatch) -> None:
        report = self.report
        report.rows += len(batch.ratings)
        movies = self._movie_ids(batch.movies)
        unknown = movies < 0
        if unknown.any():
            report.unknown_movies += int(unknown.sum())
            if report.first_unknown_line is None:
                report.first_unknown_line = int(batch.lines[unknown][0])
        keep = ~unknown
        codes, uniques = pd.factorize(batch.user_keys[keep])
        missing = [k for k in uniques if k not in self.user_ids]
        if missing:
            self.user_ids.update(self.uow.users.ensure_external(missing))
        users = np.array([self.user_ids[k] for k in uniques], dtype=np.int64)[codes]
        report.users = len(self.user_ids)
        report.written += self.uow.ratings.import_many(users, movies[keep], batch.ratings[keep], batch.micros[keep])


_DONE = object()


def _read_ahead(batches: Iterator[RatingBatch]) -> Generator[RatingBatch]:
    """The batches, the next one read and validated in a thread while the caller writes the current one: the
    writer mostly waits for the database (psycopg releases the GIL), so parsing the CSV costs no extra time.
    An error of the reader is raised where its batch would have come; the reader stops when the caller does."""
    handoff: queue.Queue[object] = queue.Queue(maxsize=1)
    stopped = threading.Event()

    def read() -> None:
        try:
            for batch in batches:
                while not stopped.is_set():
                    try:
                        handoff.put(batch, timeout=0.5)
                        break
                    except queue.Full:
                        continue
                if stopped.is_set():
                    return
            handoff.put(_DONE)
        except BaseException as exc:  # handed to the caller, raised there
            handoff.put(exc)

    reader = threading.Thread(target=read, name="ratings-import-reader", daemon=True)
    reader.start()
    try:
        while True:
            item = handoff.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield cast(RatingBatch, item)
    finally:
        stopped.set()
        with contextlib.suppress(queue.Empty):
            handoff.get_nowait()  # unblock a reader waiting to hand over
        reader.join()


def import_batches(
    store: Store, batches: Iterator[RatingBatch], progress: Callable[[int], None] | None = None
) -> ImportReport:
    """Write every batch in one transaction: a refused batch (``InvalidInput``) leaves the database unchanged."""
    started = time.perf_counter()
    with store.uow() as uow:
        importer = _Importer(uow)
        with contextlib.closing(_read_ahead(batches)) as ahead:
            for batch in ahead:
                importer.write(batch)
                if progress is not None:
                    progress(len(batch.ratings))
        uow.ratings.finish_import()
        uow.commit()
    try:
        store.settle_ratings(importer.report.written)
    except DatabaseUnavailable:  # committed already: the database's own maintenance does it later
        log.warning("ratings_import.settle_failed", written=importer.report.written)
    importer.report.seconds = time.perf_counter() - started
    return importer.report


def _refuse(frame: pd.DataFrame, bad: np.ndarray, first_line: int, column: str, why: str) -> None:
    index = int(np.flatnonzero(bad)[0])
    value = frame[column].iloc[index] if column in frame else ""
    raise InvalidInput(f"line {first_line + index}: {column} {value!r} {why}")


def _validate(frame: pd.DataFrame, first_line: int, source: str, stars: bool, now_micros: int) -> RatingBatch:
    """One chunk of the CSV (all text) to a batch; the first bad row raises ``InvalidInput`` naming its line."""
    frame = frame.fillna("")  # a blank line reads as missing values
    problems: list[tuple[int, str, str, np.ndarray]] = []  # (first bad index, column, why, mask)

    def check(column: str, bad: np.ndarray, why: str) -> None:
        if bad.any():
            problems.append((int(np.flatnonzero(bad)[0]), column, why, bad))

    users = frame["user"].str.strip()
    check("user", (users == "").to_numpy(), "is empty")
    check("user", (users.str.len() > USER_KEY_MAX - len(source) - 1).to_numpy(), "is too long")
    movies = frame["movie"].str.strip()
    check("movie", (movies == "").to_numpy(), "is empty")
    raw_rating = pd.to_numeric(frame["rating"].str.strip(), errors="coerce").to_numpy(dtype=np.float64)
    if stars:
        check("rating", ~((raw_rating >= 0.5) & (raw_rating <= 5)), "is not 0.5-5 stars")
        ratings = np.clip(np.floor(np.nan_to_num(raw_rating) * 2 + 0.5), 1, 10)
    else:
        whole = raw_rating == np.round(raw_rating)
        check("rating", ~(whole & (raw_rating >= 1) & (raw_rating <= 10)), "is not an integer from 1 to 10")
        ratings = np.nan_to_num(raw_rating)
    if "timestamp" in frame:
        text = frame["timestamp"].str.strip()
        given = (text != "").to_numpy()
        seconds = pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64)
        check(
            "timestamp",
            given & ~((seconds >= 0) & (seconds <= MAX_TIMESTAMP)),
            "is not unix seconds (a number from 0 to year 9999)",
        )
        micros = np.where(given, np.round(np.nan_to_num(seconds) * 1e6), now_micros).astype(np.int64)
    else:
        micros = np.full(len(frame), now_micros, dtype=np.int64)
    if problems:
        index, column, why, bad = min(problems, key=lambda p: p[0])
        _refuse(frame, bad, first_line, column, why)
    return RatingBatch(
        user_keys=(source + ":" + users).to_numpy(dtype=object),
        movies=movies.to_numpy(dtype=object),
        ratings=ratings.astype(np.int64),
        micros=micros,
        lines=first_line + np.arange(len(frame), dtype=np.int64),
    )


def csv_batches(path: Path, *, source: str = "csv", stars: bool = False) -> Iterator[RatingBatch]:
    """The CSV file, validated ``CHUNK_ROWS`` rows at a time (line numbers count the header as line 1)."""
    now_micros = int(time.time() * 1e6)
    try:
        with pd.read_csv(
            path, dtype=str, keep_default_na=False, skip_blank_lines=False, chunksize=CHUNK_ROWS, engine="c"
        ) as reader:
            first_line = 2
            columns: list[str] = []
            for number, frame in enumerate(reader):
                if number == 0:
                    frame.columns = [str(c).strip().lower() for c in frame.columns]
                    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
                    if missing:
                        raise InvalidInput(
                            f"line 1: the header lacks {', '.join(missing)} (columns: user, movie, rating[, timestamp])"
                        )
                    columns = list(frame.columns)
                else:
                    frame.columns = columns
                yield _validate(frame, first_line, source, stars, now_micros)
                first_line += len(frame)
    except pd.errors.EmptyDataError:
        raise InvalidInput("line 1: the file is empty (expected a header: user,movie,rating[,timestamp])") from None
    except pd.errors.ParserError as exc:
        raise InvalidInput(f"not a well-formed CSV: {exc}") from None
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"not UTF-8 text: {exc}") from None


def import_csv(
    store: Store,
    path: Path,
    *,
    source: str = "csv",
    stars: bool = False,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    if not source or ":" in source or len(source) > 16:
        raise InvalidInput("the source must be 1-16 characters without ':'")
    report = import_batches(store, csv_batches(path, source=source, stars=stars), progress)
    log.info(
        "ratings.imported",
        source=source,
        rows=report.rows,
        written=report.written,
        unknown_movies=report.unknown_movies,
        seconds=round(report.seconds, 2),
    )
    return report


def movielens_batch() -> RatingBatch:
    """MovieLens' 100,004 ratings (users ``movielens:<userId>``, movies ``movielens:<movieId>``), 1-10."""
    frame = offline.movielens_frame()
    stars = frame["rating"].to_numpy(dtype=np.float64)
    return RatingBatch(
        user_keys=("movielens:" + frame["userId"].astype(np.int64).astype(str)).to_numpy(dtype=object),
        movies=("movielens:" + frame["movieId"].astype(np.int64).astype(str)).to_numpy(dtype=object),
        ratings=np.clip(np.floor(stars * 2 + 0.5), 1, 10).astype(np.int64),
        micros=frame["timestamp"].to_numpy(dtype=np.int64) * 1_000_000,
        lines=np.arange(len(frame), dtype=np.int64),
    )
