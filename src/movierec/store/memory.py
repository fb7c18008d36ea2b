"""An in-memory store: the store port (``store/port.py``) in plain dicts, for service tests that need no database.

It passes the same contract suite as SQLite and PostgreSQL (``tests/contract/test_store_contract.py``), except
the tests of SQL-only mechanisms (migrations, COPY, constraints checked by the database itself).

Transactions: a unit of work takes the store's lock at its first repository call and holds it until it ends, and
works on its own copy of the data, which ``commit()`` makes the store's. So units of work are serialisable, an
uncommitted one leaves nothing behind, and two racing writers queue instead of conflicting. A unit of work opened
inside another one in the same thread would wait for itself: it raises ``RuntimeError`` instead.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import numpy as np

from movierec.domain.accounts import User, UsernameTaken, username_key
from movierec.domain.clock import utcnow
from movierec.domain.errors import NotFound
from movierec.domain.movies import Movie, MovieDraft, MovieNumbers, UnknownMovie, vote_source
from movierec.store.port import (
    CatalogueSnapshot,
    Credentials,
    Interactions,
    ListEntry,
    ListPage,
    OutboxEntry,
    RatingEntry,
    RatingHistory,
    RatingsPage,
    StoredRating,
    TokenState,
    UpsertOutcome,
    draft_values,
)


@dataclass(frozen=True, slots=True)
class _MovieRecord:
    id: int
    external_key: str
    values: dict[str, Any]  # the draft's fields (never mutated: a change makes a new record)
    genres: tuple[str, ...]  # sorted by name, as the SQL store returns them
    added_at: dt.datetime

    def movie(self) -> Movie:
        v = self.values
        return Movie(
            id=self.id,
            title=v["title"],
            year=v["year"],
            release_date=v["release_date"],
            overview=v["overview"] or "",
            genres=self.genres,
            vote_average=float(v["vote_average"]),
            vote_count=int(v["vote_count"]),
            popularity=float(v["popularity"]),
            poster_path=v["poster_path"],
            tmdb_id=v["tmdb_id"],
            added_at=self.added_at,
        )


@dataclass(frozen=True, slots=True)
class _UserRecord:
    id: int
    username: str
    username_key: str
    password_hash: str | None
    external_key: str | None
    token_version: int = 0

    def user(self) -> User:
        return User(self.id, self.username, can_log_in=self.password_hash is not None, token_version=self.token_version)


@dataclass
class _State:
    movies: dict[int, _MovieRecord] = field(default_factory=dict)
    users: dict[int, _UserRecord] = field(default_factory=dict)
    revoked: dict[str, tuple[int, dt.datetime]] = field(default_factory=dict)  # token id -> (user id, expires at)
    ratings: dict[tuple[int, int], tuple[int, dt.datetime]] = field(default_factory=dict)
    lists: dict[str, dict[tuple[int, int], dt.datetime]] = field(
        default_factory=lambda: {"watchlist": {}, "not_interested": {}}
    )
    outbox: dict[int, int] = field(default_factory=dict)  # outbox id -> movie id, in id order
    last_movie_id: int = 0
    last_user_id: int = 0
    last_outbox_id: int = 0

    def copy(self) -> _State:
        return _State(
            movies=dict(self.movies),
            users=dict(self.users),
            revoked=dict(self.revoked),
            ratings=dict(self.ratings),
            lists={name: dict(entries) for name, entries in self.lists.items()},
            outbox=dict(self.outbox),
            last_movie_id=self.last_movie_id,
            last_user_id=self.last_user_id,
            last_outbox_id=self.last_outbox_id,
        )


class _Repository:
    def __init__(self, uow: MemoryUnitOfWork) -> None:
        self._uow = uow

    @property
    def _state(self) -> _State:
        return self._uow.state()


class MemoryMovieRepository(_Repository):
    def get(self, movie_id: int) -> Movie | None:
        record = self._state.movies.get(movie_id)
        return None if record is None else record.movie()

    def exists(self, movie_id: int) -> bool:
        return movie_id in self._state.movies

    def get_many(self, movie_ids: Iterable[int]) -> dict[int, Movie]:
        movies = self._state.movies
        return {int(i): movies[int(i)].movie() for i in dict.fromkeys(movie_ids) if int(i) in movies}

    def latest(self, limit: int, offset: int = 0) -> list[Movie]:
        """As the SQL store orders it: newest release first (year, then date; unknown last), then added, then id."""

        def newest_first(r: _MovieRecord) -> tuple[Any, ...]:
            year, released = r.values["year"], r.values["release_date"]
            return (
                year is None,
                -(year or 0),
                released is None,
                -(released.toordinal() if released else 0),
                -r.added_at.timestamp(),
                -r.id,
            )

        ordered = sorted(self._state.movies.values(), key=newest_first)
        return [record.movie() for record in ordered[offset : offset + limit]]

    def numbers(self, movie_ids: Iterable[int]) -> dict[int, MovieNumbers]:
        state = self._state
        wanted = {int(i) for i in movie_ids if int(i) in state.movies}
        given: dict[int, list[int]] = {i: [] for i in wanted}
        for (_, movie_id), (rating, _) in state.ratings.items():
            if movie_id in given:
                given[movie_id].append(rating)
        found = {}
        for movie_id, ratings in given.items():
            v = state.movies[movie_id].values
            found[movie_id] = MovieNumbers(
                vote_source=vote_source(
                    state.movies[movie_id].external_key, int(v["vote_count"]), float(v["popularity"])
                ),
                community_average=round(sum(ratings) / len(ratings), 2) if ratings else None,
                community_count=len(ratings),
            )
        return found

    def with_numbers(
        self, movie_ids: Iterable[int], also: Iterable[int] = ()
    ) -> dict[int, tuple[Movie, MovieNumbers | None]]:
        ids = list(dict.fromkeys(int(i) for i in movie_ids))
        numbers = self.numbers(ids)
        movies = self.get_many([*ids, *also])
        return {i: (movie, numbers.get(i)) for i, movie in movies.items()}

    def page_after(self, after_id: int, limit: int) -> list[Movie]:
        ids = sorted(i for i in self._state.movies if i > after_id)[:limit]
        return [self._state.movies[i].movie() for i in ids]

    def count(self) -> int:
        return len(self._state.movies)

    def all_ids(self) -> list[int]:
        return sorted(self._state.movies)

    def ids_by_external_key(self, keys: Iterable[str]) -> dict[str, int]:
        wanted = set(keys)
        return {r.external_key: r.id for r in self._state.movies.values() if r.external_key in wanted}

    def genre_counts(self) -> list[tuple[str, int]]:
        counts: dict[str, int] = {}
        for record in self._state.movies.values():
            for genre in record.genres:
                counts[genre] = counts.get(genre, 0) + 1
        return sorted(counts.items())

    def ids_in_genre(self, genre: str) -> list[int]:
        wanted = genre.lower()
        return [r.id for r in self._state.movies.values() if any(g.lower() == wanted for g in r.genres)]

    def snapshot(self) -> CatalogueSnapshot:
        records = [self._state.movies[i] for i in sorted(self._state.movies)]
        return CatalogueSnapshot(
            item_ids=np.array([r.id for r in records], dtype=np.int64),
            genres=tuple(r.genres for r in records),
            vote_average=np.array([r.values["vote_average"] for r in records], dtype=np.float64),
            vote_count=np.array([r.values["vote_count"] for r in records], dtype=np.int64),
            year=np.array(
                [np.nan if r.values["year"] is None else r.values["year"] for r in records], dtype=np.float64
            ),
        )

    def upsert_many(self, drafts: Sequence[MovieDraft]) -> list[UpsertOutcome]:
        state = self._state
        by_key = {draft.external_key: draft for draft in drafts}  # the last draft of a key wins
        existing = {r.external_key: r for r in state.movies.values() if r.external_key in by_key}
        now = utcnow()
        outcomes: dict[str, UpsertOutcome] = {}
        for key, draft in by_key.items():
            values = draft_values(draft)
            genres = tuple(sorted(draft.genres))
            found = existing.get(key)
            if found is None:
                state.last_movie_id += 1
                state.movies[state.last_movie_id] = _MovieRecord(state.last_movie_id, key, values, genres, now)
                outcomes[key] = UpsertOutcome(state.last_movie_id, "new")
            elif found.values != values or found.genres != genres:
                state.movies[found.id] = dataclasses.replace(found, values=values, genres=genres)
                outcomes[key] = UpsertOutcome(found.id, "updated")
            else:
                outcomes[key] = UpsertOutcome(found.id, "unchanged")
        return [outcomes[draft.external_key] for draft in drafts]


class MemoryUserRepository(_Repository):
    def add(self, username: str, password_hash: str | None, external_key: str | None = None) -> User:
        state = self._state
        key = username_key(username)
        if any(record.username_key == key for record in state.users.values()):
            raise UsernameTaken(username)
        state.last_user_id += 1
        record = _UserRecord(state.last_user_id, username, key, password_hash, external_key)
        state.users[record.id] = record
        return record.user()

    def get(self, user_id: int) -> User | None:
        record = self._state.users.get(user_id)
        return None if record is None else record.user()

    def key_taken(self, username: str) -> bool:
        key = username_key(username)
        return any(record.username_key == key for record in self._state.users.values())

    def credentials(self, username: str) -> Credentials | None:
        key = username_key(username)
        users = self._state.users.values()
        record = next((r for r in users if r.username_key == key), None)
        if record is None:
            record = next((r for r in users if r.username == username), None)
        return None if record is None else Credentials(record.user(), record.password_hash)

    def credentials_of(self, user_id: int) -> Credentials | None:
        record = self._state.users.get(user_id)
        return None if record is None else Credentials(record.user(), record.password_hash)

    def set_password_hash(self, user_id: int, password_hash: str, *, revoke_tokens: bool = False) -> int:
        record = self._state.users.get(user_id)
        if record is None:
            return 0
        version = record.token_version + 1 if revoke_tokens else record.token_version
        self._state.users[user_id] = dataclasses.replace(record, password_hash=password_hash, token_version=version)
        return version

    def revoke_all_tokens(self, user_id: int) -> int:
        record = self._state.users.get(user_id)
        if record is None:
            return 0
        self._state.users[user_id] = dataclasses.replace(record, token_version=record.token_version + 1)
        return record.token_version + 1

    def revoke_token(self, token_id: str, user_id: int, expires_at: dt.datetime) -> None:
        now = utcnow()
        revoked = self._state.revoked
        for expired in [token for token, (_, expires) in revoked.items() if expires < now]:
            del revoked[expired]
        revoked.setdefault(token_id, (user_id, expires_at))

    def token_state(self, user_id: int, token_id: str) -> TokenState | None:
        record = self._state.users.get(user_id)
        return None if record is None else TokenState(record.token_version, token_id in self._state.revoked)

    def ensure_external(self, external_keys: Sequence[str]) -> dict[str, int]:
        state = self._state
        found = {r.external_key: r.id for r in state.users.values() if r.external_key is not None}
        result: dict[str, int] = {}
        for key in dict.fromkeys(external_keys):
            if key not in found:
                username = key.replace(":", "-", 1)
                state.last_user_id += 1
                state.users[state.last_user_id] = _UserRecord(
                    state.last_user_id, username, username_key(username), None, key
                )
                found[key] = state.last_user_id
            result[key] = found[key]
        return result

    def count(self) -> int:
        return len(self._state.users)


class MemoryRatingRepository(_Repository):
    def upsert(self, user_id: int, movie_id: int, rating: int, rated_at: dt.datetime | None = None) -> StoredRating:
        state = self._state
        if movie_id not in state.movies:
            raise UnknownMovie(movie_id)
        if user_id not in state.users:
            raise NotFound(f"user {user_id} not found")
        rated_at = rated_at or utcnow()
        stored = state.ratings.get((user_id, movie_id))
        if stored is None or stored[1] <= rated_at:
            state.ratings[(user_id, movie_id)] = stored = (rating, rated_at)
        return StoredRating(*stored)

    def get(self, user_id: int, movie_id: int) -> int | None:
        stored = self._state.ratings.get((user_id, movie_id))
        return None if stored is None else stored[0]

    def remove(self, user_id: int, movie_id: int) -> bool:
        return self._state.ratings.pop((user_id, movie_id), None) is not None

    def _of_user(self, user_id: int) -> list[RatingEntry]:
        return [RatingEntry(m, r, at) for (u, m), (r, at) in self._state.ratings.items() if u == user_id]

    def for_user(self, user_id: int, limit: int, offset: int = 0) -> RatingsPage:
        entries = sorted(self._of_user(user_id), key=lambda e: (e.rated_at, e.movie_id), reverse=True)
        return RatingsPage(len(entries), entries[offset : offset + limit])

    def history(self, user_id: int) -> RatingHistory:
        entries = sorted(self._of_user(user_id), key=lambda e: (e.rated_at, e.movie_id))
        return RatingHistory(
            np.array([e.movie_id for e in entries], dtype=np.int64),
            np.array([e.rating for e in entries], dtype=np.int64),
            np.array([e.rated_at.timestamp() for e in entries], dtype=np.float64),
        )

    def history_and_not_interested(self, user_id: int) -> tuple[RatingHistory, list[int]]:
        return self.history(user_id), self._uow.not_interested.ids(user_id)

    def all_interactions(self) -> Interactions:
        items = list(self._state.ratings.items())
        return Interactions(
            np.array([u for (u, _), _ in items], dtype=np.int64),
            np.array([m for (_, m), _ in items], dtype=np.int64),
            np.array([r for _, (r, _) in items], dtype=np.int64),
            np.array([at.timestamp() for _, (_, at) in items], dtype=np.float64),
        )

    def import_many(self, user_ids: np.ndarray, movie_ids: np.ndarray, ratings: np.ndarray, micros: np.ndarray) -> int:
        """As the SQL store: a pair keeps its rating unless the new one is more recent; within the arrays the most
        recent of a pair wins (the first among equal times)."""
        latest: dict[tuple[int, int], tuple[int, int]] = {}
        for user, movie, value, at in zip(
            user_ids.tolist(), movie_ids.tolist(), ratings.tolist(), micros.tolist(), strict=True
        ):
            kept = latest.get((user, movie))
            if kept is None or at > kept[1]:
                latest[(user, movie)] = (value, at)
        written = 0
        stored = self._state.ratings
        for pair, (value, at) in latest.items():
            rated_at = dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=at)
            current = stored.get(pair)
            if current is None or rated_at > current[1]:
                stored[pair] = (value, rated_at)
                written += 1
        return written

    def finish_import(self) -> None:
        """Nothing to rebuild: the dictionary is complete after every ``import_many``."""

    def count(self) -> int:
        return len(self._state.ratings)


class MemoryMovieList(_Repository):
    def __init__(self, uow: MemoryUnitOfWork, name: str) -> None:
        super().__init__(uow)
        self._name = name

    @property
    def _entries(self) -> dict[tuple[int, int], dt.datetime]:
        return self._state.lists[self._name]

    def add(self, user_id: int, movie_id: int, added_at: dt.datetime | None = None) -> bool:
        if movie_id not in self._state.movies:
            raise UnknownMovie(movie_id)
        if (user_id, movie_id) in self._entries:
            return False
        self._entries[(user_id, movie_id)] = added_at or utcnow()
        return True

    def remove(self, user_id: int, movie_id: int) -> bool:
        return self._entries.pop((user_id, movie_id), None) is not None

    def contains(self, user_id: int, movie_id: int) -> bool:
        return (user_id, movie_id) in self._entries

    def _newest_first(self, user_id: int) -> list[ListEntry]:
        entries = [ListEntry(m, at) for (u, m), at in self._entries.items() if u == user_id]
        return sorted(entries, key=lambda e: (e.added_at, e.movie_id), reverse=True)

    def ids(self, user_id: int) -> list[int]:
        return [entry.movie_id for entry in self._newest_first(user_id)]

    def page(self, user_id: int, limit: int, offset: int = 0) -> ListPage:
        entries = self._newest_first(user_id)
        return ListPage(len(entries), entries[offset : offset + limit])


class MemoryOutboxRepository(_Repository):
    def add(self, movie_ids: Iterable[int]) -> None:
        state = self._state
        for movie_id in movie_ids:
            state.last_outbox_id += 1
            state.outbox[state.last_outbox_id] = movie_id

    def pending(self, limit: int) -> list[OutboxEntry]:
        return [OutboxEntry(i, m) for i, m in sorted(self._state.outbox.items())[:limit]]

    def remove(self, outbox_ids: Iterable[int]) -> None:
        for outbox_id in outbox_ids:
            self._state.outbox.pop(outbox_id, None)

    def count(self) -> int:
        return len(self._state.outbox)


class MemoryUnitOfWork:
    def __init__(self, store: MemoryStore, *, read_only: bool = False) -> None:
        self._store = store
        self._read_only = read_only
        self._work: _State | None = None
        self.movies = MemoryMovieRepository(self)
        self.users = MemoryUserRepository(self)
        self.ratings = MemoryRatingRepository(self)
        self.outbox = MemoryOutboxRepository(self)
        self.watchlist = MemoryMovieList(self, "watchlist")
        self.not_interested = MemoryMovieList(self, "not_interested")

    def state(self) -> _State:
        """This unit of work's copy of the data, taken (with the store's lock) at its first use."""
        if self._work is None:
            self._work = self._store._begin()
        return self._work

    def __enter__(self) -> MemoryUnitOfWork:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._work is not None:
            self._work = None
            self._store._end()

    def commit(self) -> None:
        if self._read_only:
            raise RuntimeError("a reader does not write: open store.uow() to commit")
        if self._work is not None:
            self._store._state = self._work
            self._work = self._work.copy()


class MemoryStore:
    """The store port in memory; ``dialect`` is ``memory``."""

    def __init__(self) -> None:
        self._state = _State()
        self._lock = threading.Lock()
        self._owner: int | None = None

    @property
    def dialect(self) -> str:
        return "memory"

    def uow(self) -> MemoryUnitOfWork:
        return MemoryUnitOfWork(self)

    def reader(self) -> MemoryUnitOfWork:
        return MemoryUnitOfWork(self, read_only=True)

    def _begin(self) -> _State:
        if self._owner == threading.get_ident():
            raise RuntimeError("a unit of work is open in this thread already: pass it on instead of opening another")
        self._lock.acquire()
        self._owner = threading.get_ident()
        return self._state.copy()

    def _end(self) -> None:
        self._owner = None
        self._lock.release()

    def ping(self) -> None:
        return None

    def settle_ratings(self, rows_written: int) -> None:
        return None  # nothing is kept about the data: every read walks it

    def dispose(self) -> None:
        return None
