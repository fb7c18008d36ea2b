"""Store port: the database as the services see it. A ``Store`` opens units of work; a unit of work holds one
transaction and its repositories, and is the only place that commits.

``with store.uow() as uow: ...; uow.commit()``: leaving the block without ``commit()`` rolls everything back.

Behaviour every adapter has (the contract suite in ``tests/contract/test_store_contract.py`` checks it on SQLite,
PostgreSQL and the in-memory store):

* Repositories return domain types and the small named types below, and raise the domain's errors:
  ``UsernameTaken`` for a username whose key is taken, ``UnknownMovie`` for a movie that does not exist (or was
  removed meanwhile), ``DatabaseUnavailable`` when the database does not answer.
* Rating upserts keep the latest ``rated_at`` of a (user, movie) pair, whatever order writers commit in.
* A user's movie lists (watchlist, not interested) hold a movie once, newest first.
* Outbox ids only grow: an id is never given to a newer entry.
* Times are timezone-aware UTC.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Literal, NamedTuple, Protocol, Self

import numpy as np

from movierec.domain.accounts import User
from movierec.domain.movies import Movie, MovieDraft, MovieNumbers

UpsertStatus = Literal["new", "updated", "unchanged"]
# The fields of a MovieDraft a store keeps (besides its key and genres); a draft differing in any is an update.
MOVIE_FIELDS = (
    "title",
    "year",
    "release_date",
    "overview",
    "vote_average",
    "vote_count",
    "popularity",
    "poster_path",
    "tmdb_id",
    "original_language",
)


def draft_values(draft: MovieDraft) -> dict[str, object]:
    """The draft's ``MOVIE_FIELDS``, by name."""
    return {name: getattr(draft, name) for name in MOVIE_FIELDS}


@dataclass(frozen=True, slots=True)
class UpsertOutcome:
    movie_id: int
    status: UpsertStatus


@dataclass(frozen=True, slots=True)
class CatalogueSnapshot:
    """What recommenders need to know about every movie, as parallel arrays (ordered by movie id)."""

    item_ids: np.ndarray
    genres: tuple[tuple[str, ...], ...]
    vote_average: np.ndarray
    vote_count: np.ndarray
    year: np.ndarray


class StoredRating(NamedTuple):
    """What a (user, movie) pair holds after an upsert."""

    rating: int
    rated_at: dt.datetime


class RatingEntry(NamedTuple):
    movie_id: int
    rating: int
    rated_at: dt.datetime


class RatingsPage(NamedTuple):
    total: int  # every rating of the user
    entries: list[RatingEntry]  # one page, most recent first


class RatingHistory(NamedTuple):
    """One user's ratings as arrays, oldest first."""

    item_ids: np.ndarray
    ratings: np.ndarray
    timestamps: np.ndarray  # unix seconds


class Interactions(NamedTuple):
    """Every rating as parallel arrays."""

    user_ids: np.ndarray
    item_ids: np.ndarray
    ratings: np.ndarray
    timestamps: np.ndarray  # unix seconds


class ListEntry(NamedTuple):
    movie_id: int
    added_at: dt.datetime


class ListPage(NamedTuple):
    total: int
    entries: list[ListEntry]  # one page, most recently added first


class OutboxEntry(NamedTuple):
    outbox_id: int
    movie_id: int


class Credentials(NamedTuple):
    user: User
    password_hash: str | None  # None: a login-less (imported) user


class TokenState(NamedTuple):
    token_version: int
    revoked: bool


class MovieRepository(Protocol):
    def get(self, movie_id: int) -> Movie | None: ...
    def exists(self, movie_id: int) -> bool: ...
    def get_many(self, movie_ids: Iterable[int]) -> dict[int, Movie]: ...
    def latest(self, limit: int, offset: int = 0) -> list[Movie]: ...
    def numbers(self, movie_ids: Iterable[int]) -> dict[int, MovieNumbers]: ...
    def with_numbers(
        self, movie_ids: Iterable[int], also: Iterable[int] = ()
    ) -> dict[int, tuple[Movie, MovieNumbers | None]]: ...
    def page_after(self, after_id: int, limit: int) -> list[Movie]: ...
    def count(self) -> int: ...
    def all_ids(self) -> list[int]: ...
    def ids_by_external_key(self, keys: Iterable[str]) -> dict[str, int]: ...
    def genre_counts(self) -> list[tuple[str, int]]: ...
    def ids_in_genre(self, genre: str) -> list[int]: ...
    def snapshot(self) -> CatalogueSnapshot: ...
    def upsert_many(self, drafts: Sequence[MovieDraft]) -> list[UpsertOutcome]: ...


class UserRepository(Protocol):
    def add(self, username: str, password_hash: str | None, external_key: str | None = None) -> User: ...
    def get(self, user_id: int) -> User | None: ...
    def key_taken(self, username: str) -> bool: ...
    def credentials(self, username: str) -> Credentials | None: ...
    def credentials_of(self, user_id: int) -> Credentials | None: ...
    def set_password_hash(self, user_id: int, password_hash: str, *, revoke_tokens: bool = False) -> int: ...
    def revoke_all_tokens(self, user_id: int) -> int: ...
    def revoke_token(self, token_id: str, user_id: int, expires_at: dt.datetime) -> None: ...
    def token_state(self, user_id: int, token_id: str) -> TokenState | None: ...
    def ensure_external(self, external_keys: Sequence[str]) -> dict[str, int]: ...
    def count(self) -> int: ...


class RatingRepository(Protocol):
    def upsert(self, user_id: int, movie_id: int, rating: int, rated_at: dt.datetime | None = None) -> StoredRating: ...
    def get(self, user_id: int, movie_id: int) -> int | None: ...
    def remove(self, user_id: int, movie_id: int) -> bool: ...
    def for_user(self, user_id: int, limit: int, offset: int = 0) -> RatingsPage: ...
    def history(self, user_id: int) -> RatingHistory: ...
    def history_and_not_interested(self, user_id: int) -> tuple[RatingHistory, list[int]]: ...
    def all_interactions(self) -> Interactions: ...
    def import_many(
        self, user_ids: np.ndarray, movie_ids: np.ndarray, ratings: np.ndarray, micros: np.ndarray
    ) -> int: ...
    def finish_import(self) -> None: ...
    def count(self) -> int: ...


class MovieListRepository(Protocol):
    """A set of movies per user, each with the time it was added (the watchlist, "not interested")."""

    def add(self, user_id: int, movie_id: int, added_at: dt.datetime | None = None) -> bool: ...
    def remove(self, user_id: int, movie_id: int) -> bool: ...
    def contains(self, user_id: int, movie_id: int) -> bool: ...
    def ids(self, user_id: int) -> list[int]: ...
    def page(self, user_id: int, limit: int, offset: int = 0) -> ListPage: ...


class OutboxRepository(Protocol):
    def add(self, movie_ids: Iterable[int]) -> None: ...
    def pending(self, limit: int) -> list[OutboxEntry]: ...
    def remove(self, outbox_ids: Iterable[int]) -> None: ...
    def count(self) -> int: ...


class UnitOfWork(Protocol):
    @property
    def movies(self) -> MovieRepository: ...
    @property
    def users(self) -> UserRepository: ...
    @property
    def ratings(self) -> RatingRepository: ...
    @property
    def outbox(self) -> OutboxRepository: ...
    @property
    def watchlist(self) -> MovieListRepository: ...
    @property
    def not_interested(self) -> MovieListRepository: ...

    def __enter__(self) -> Self: ...
    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...
    def commit(self) -> None: ...


class Store(Protocol):
    @property
    def dialect(self) -> str:
        """The adapter's name for health checks: ``sqlite``, ``postgresql``, ``memory``."""
        ...

    def uow(self) -> UnitOfWork: ...
    def reader(self) -> UnitOfWork:
        """A unit of work for reads only (``commit`` raises); each read sees the latest commit, not one snapshot."""
        ...

    def ping(self) -> None:
        """Raise ``DatabaseUnavailable`` unless the database answers."""
        ...

    def settle_ratings(self, rows_written: int) -> None:
        """After a ratings import committed ``rows_written`` rows: bring what the database keeps about the table up
        to date (planner statistics; on PostgreSQL the visibility map too, so reads by movie are answered from an
        index alone), instead of waiting for background maintenance. ``DatabaseUnavailable`` when it cannot."""
        ...

    def dispose(self) -> None: ...
