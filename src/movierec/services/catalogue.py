"""The catalogue: upserts movies (database + outbox in one transaction), then publishes them to the bus."""

from __future__ import annotations

import contextlib
import itertools
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar, cast

from cachetools import TTLCache

from movierec.domain.errors import NotFound
from movierec.domain.movies import Movie, MovieDraft, MovieNumbers
from movierec.log import get_logger
from movierec.services.publishing import BackgroundDrain, OutboxRelay
from movierec.store.port import Store, UnitOfWork

T = TypeVar("T")
K = TypeVar("K")
V = TypeVar("V")

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


class Expiring(Generic[K, V]):
    """A bounded map whose entries expire ``ttl`` seconds after they were written (the oldest written goes first when
    full), read many keys per call: what cachetools' TTLCache gave these caches, without its several Python calls per
    key (a recommendation list looks up to 200 movies and numbers). Not thread-safe: callers hold their lock."""

    def __init__(self, maxsize: int, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._data: dict[K, tuple[float, V]] = {}
        self._maxsize = maxsize
        self._ttl = ttl
        self._clock = clock

    def get_many(self, keys: Iterable[K]) -> dict[K, V]:
        """The live entries of ``keys``, in their order."""
        now, data, found = self._clock(), self._data, {}
        for key in keys:
            entry = data.get(key)
            if entry is not None and entry[0] > now:
                found[key] = entry[1]
        return found

    def __setitem__(self, key: K, value: V) -> None:
        data = self._data
        data.pop(key, None)  # re-inserted last: the newest written
        data[key] = (self._clock() + self._ttl, value)
        while len(data) > self._maxsize:
            del data[next(iter(data))]

    def update(self, values: Mapping[K, V]) -> None:
        for key, value in values.items():
            self[key] = value

    def pop(self, key: K, default: V | None = None) -> V | None:
        entry = self._data.pop(key, None)
        return default if entry is None else entry[1]

    def clear(self) -> None:
        self._data.clear()

    def __len__(self) -> int:
        return len(self._data)


class CatalogueService:
    def __init__(
        self,
        store: Store,
        relay: OutboxRelay | None = None,
        listing_seconds: float = 5.0,
        movie_seconds: float = 60.0,
        movie_cache_size: int = 20_000,
        numbers_seconds: float = 5.0,
    ) -> None:
        self.store = store
        self.relay = relay
        # Movies by id, for the lists every recommendation renders: a movie changes only when the catalogue is
        # written (this process forgets them at once; another process within ``movie_seconds``).
        self._movies: Expiring[int, Movie] = Expiring(maxsize=movie_cache_size, ttl=movie_seconds)
        self._numbers: Expiring[int, MovieNumbers] = Expiring(maxsize=movie_cache_size, ttl=numbers_seconds)
        # "Recently added" pages and the genre list are read on every page view and change only when movies are
        # written: each process keeps them for a few seconds, and forgets them at once when it writes movies.
        self._listings: TTLCache[tuple[object, ...], Any] = TTLCache(maxsize=256, ttl=listing_seconds)
        self._listings_lock = threading.Lock()

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
        if changed:
            with self._listings_lock:
                self._listings.clear()
                self._movies.clear()
        for outcome in outcomes:
            setattr(summary, outcome.status, getattr(summary, outcome.status) + 1)
            summary.movie_ids.append(outcome.movie_id)
        if publish and changed and self.relay is not None:
            self.relay.drain()
        return summary

    def upsert_all(
        self, drafts: Iterable[MovieDraft], batch_size: int = 1000, progress: Callable[[int], None] | None = None
    ) -> UpsertSummary:
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

    def get_many(self, movie_ids: Iterable[int], uow: UnitOfWork | None = None) -> dict[int, Movie]:
        """The movies of ``movie_ids`` that exist, by id; those not remembered are read in ``uow`` (or a new one)."""

        def read(missing: list[int]) -> dict[int, Movie]:
            if uow is not None:
                return uow.movies.get_many(missing)
            with self.store.uow() as own:
                return own.movies.get_many(missing)

        return self._remembered(self._movies, movie_ids, read)

    def numbers(
        self, movie_ids: Iterable[int], uow: UnitOfWork | None = None, *, fresh: bool = False
    ) -> dict[int, MovieNumbers]:
        """Where the movies' numbers come from, and this app's own ratings of them. Remembered for
        ``numbers_seconds`` per process (pages are read far more often than movies are rated), except a movie this
        process just saw rated (``forget_numbers``); ``fresh`` reads them now (the answer to a rating). Those not
        remembered are read in ``uow`` (or a new one)."""

        def read(missing: list[int]) -> dict[int, MovieNumbers]:
            if uow is not None:
                return uow.movies.numbers(missing)
            with self.store.uow() as own:
                return own.movies.numbers(missing)

        return self._remembered(self._numbers, movie_ids, read, fresh=fresh)

    def shown(
        self, movie_ids: Iterable[int], uow: UnitOfWork, also: Iterable[int] = ()
    ) -> tuple[dict[int, Movie], dict[int, MovieNumbers]]:
        """``get_many`` and ``numbers`` of the movies a page shows, as those give them, and the movies of ``also``
        (no numbers needed: movies a page names): what the caches lack is read in ``uow``, in one query."""
        wanted, named = list(dict.fromkeys(movie_ids)), list(dict.fromkeys(also))
        with self._listings_lock:
            movies, numbers = self._movies.get_many([*wanted, *named]), self._numbers.get_many(wanted)
        missing = [i for i in wanted if i not in movies or i not in numbers]
        unnamed = [i for i in named if i not in movies]
        if missing or unnamed:
            read = uow.movies.with_numbers(missing, also=unnamed)
            with self._listings_lock:
                for movie_id, (movie, figures) in read.items():
                    self._movies[movie_id] = movies[movie_id] = movie
                    if figures is not None:
                        self._numbers[movie_id] = numbers[movie_id] = figures
        return movies, numbers

    def _remembered(
        self,
        cache: Expiring[int, V],
        ids: Iterable[int],
        read: Callable[[list[int]], dict[int, V]],
        *,
        fresh: bool = False,
    ) -> dict[int, V]:
        """What ``cache`` remembers of ``ids``, and the rest from ``read`` (then remembered); ``fresh``: all read."""
        wanted = list(dict.fromkeys(ids))
        found: dict[int, V] = {}
        if not fresh:
            with self._listings_lock:
                found = cache.get_many(wanted)
        missing = [i for i in wanted if i not in found]
        if missing:
            read_now = read(missing)
            with self._listings_lock:
                cache.update(read_now)
            found.update(read_now)
        return found

    def forget_numbers(self, movie_id: int) -> None:
        with self._listings_lock:
            self._numbers.pop(movie_id, None)

    def latest(self, limit: int, offset: int = 0) -> list[Movie]:
        return self._listing(_latest_key(limit, offset), lambda uow: uow.movies.latest(limit, offset))

    def held_latest(self, limit: int, offset: int = 0) -> tuple[list[Movie], dict[int, MovieNumbers]] | None:
        """``latest``'s page and the numbers of its movies when this process holds both now (no database read: what
        ``latest`` and ``numbers`` would return); None otherwise."""
        with self._listings_lock:
            movies: list[Movie] | None = self._listings.get(_latest_key(limit, offset))
        if movies is None:
            return None
        numbers = self.held_numbers([movie.id for movie in movies])
        return None if numbers is None else (movies, numbers)

    def held_numbers(self, movie_ids: Sequence[int]) -> dict[int, MovieNumbers] | None:
        """What ``numbers`` would return for these movies when this process holds all of them now; else None."""
        with self._listings_lock:
            numbers = self._numbers.get_many(movie_ids)
        return numbers if len(numbers) == len(set(movie_ids)) else None

    def genres(self) -> list[tuple[str, int]]:
        return self._listing(("genres",), lambda uow: uow.movies.genre_counts())

    def _listing(self, key: tuple[object, ...], read: Callable[[UnitOfWork], T]) -> T:
        with self._listings_lock:
            found = self._listings.get(key)
        if found is not None:
            return cast(T, found)
        with self.store.uow() as uow:
            value = read(uow)
        with self._listings_lock:
            self._listings[key] = value
        return value

    def count(self) -> int:
        with self.store.uow() as uow:
            return uow.movies.count()


def _latest_key(limit: int, offset: int) -> tuple[object, ...]:
    """Where a page of ``latest`` is kept among the listings (what ``held_latest`` looks up)."""
    return ("latest", limit, offset)
