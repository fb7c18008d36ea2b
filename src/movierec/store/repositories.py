"""Repositories over one SQLAlchemy session. They never commit: the unit of work does."""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

import numpy as np
from sqlalchemy import (
    Integer,
    Row,
    String,
    Table,
    any_,
    bindparam,
    delete,
    event,
    func,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY, aggregate_order_by
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from movierec.domain.accounts import User, UsernameTaken, username_key
from movierec.domain.clock import utcnow
from movierec.domain.errors import InvalidInput
from movierec.domain.movies import Movie, MovieDraft, MovieNumbers, UnknownMovie, vote_source
from movierec.store.models import (
    GenreRow,
    MovieOutboxRow,
    MovieRow,
    NotInterestedRow,
    RatingRow,
    RevokedTokenRow,
    UserRow,
    UTCDateTime,
    WatchlistRow,
    movie_genres,
)
from movierec.store.port import (
    MOVIE_FIELDS,
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
)
from movierec.store.port import draft_values as _draft_values

T = TypeVar("T")
MOVIES = cast(Table, MovieRow.__table__)
USERS = cast(Table, UserRow.__table__)
RATINGS = cast(Table, RatingRow.__table__)
GENRES = cast(Table, GenreRow.__table__)
OUTBOX = cast(Table, MovieOutboxRow.__table__)
REVOKED = cast(Table, RevokedTokenRow.__table__)

# Bound parameter lists stay below SQLite's and PostgreSQL's limits.
_CHUNK = 500


def _chunks(items: Sequence[T], size: int = _CHUNK) -> Iterable[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _ids_by_key(session: Session, key: Any, row_id: Any, keys: Sequence[str]) -> Iterator[tuple[str, int]]:
    """(key, id) of the rows whose ``key`` column is one of ``keys``: one ``= ANY(array)`` query on PostgreSQL
    (an import looks up tens of thousands of keys: IN lists of 500 cost 4 s per 60k movies there, mostly the
    server planning each list), IN lists of ``_CHUNK`` on SQLite (its limit on bound parameters)."""
    if session.get_bind().dialect.name == "postgresql":
        if keys:
            keys_param = bindparam("keys", list(keys), type_=ARRAY(String()))
            for found, found_id in session.execute(select(key, row_id).where(key == any_(keys_param))):
                yield found, found_id
        return
    for chunk in _chunks(keys):
        for found, found_id in session.execute(select(key, row_id).where(key.in_(chunk))):
            yield found, found_id


class MovieRepository:
    def __init__(self, session: Session) -> None:
        self.session = session
        self._genre_ids: dict[str, int] | None = None
        self._dialect_name: str | None = None

    # -- reads ---------------------------------------------------------------------------------------------------
    def get(self, movie_id: int) -> Movie | None:
        found = self.get_many([movie_id])
        return found.get(movie_id)

    def exists(self, movie_id: int) -> bool:
        return self.session.scalar(select(MovieRow.id).where(MovieRow.id == movie_id)) is not None

    def get_many(self, movie_ids: Iterable[int]) -> dict[int, Movie]:
        """The movies of ``movie_ids`` that exist, by id: one query per 500 ids, their genres included."""
        ids = list(dict.fromkeys(int(i) for i in movie_ids))
        movies: dict[int, Movie] = {}
        for chunk in _chunks(ids):
            statement = select(MOVIES, self._genre_names()).where(MovieRow.id.in_(chunk))
            for row in self.session.connection().execute(statement):
                movies[row.id] = _to_movie(row, self._genres_of(row.genre_names))
        return movies

    def with_numbers(
        self, movie_ids: Iterable[int], also: Iterable[int] = ()
    ) -> dict[int, tuple[Movie, MovieNumbers | None]]:
        """``get_many`` and ``numbers`` of the same movies (the movies a page shows), and the movies of ``also``
        without their numbers (None: movies a page only names), in one plain-SQL query per 500 ids: no statement
        built nor compiled per call, and only the shown movies' ratings read."""
        ids = list(dict.fromkeys(int(i) for i in movie_ids))
        numbered = set(ids)
        ids += [i for i in dict.fromkeys(int(i) for i in also) if i not in numbered]
        found: dict[int, tuple[Movie, MovieNumbers | None]] = {}
        if not ids:
            return found
        postgresql = self._dialect() == "postgresql"
        connection = self.session.connection()
        for chunk in _chunks(ids):
            rated = [i for i in chunk if i in numbered]
            params: tuple[Any, ...]
            if postgresql:
                sql = _SHOWN_SQL.format(rated="= ANY(%s)", ids="= ANY(%s)", genres=_PG_GENRES)
                params = (rated, chunk)
            else:
                sql = _SHOWN_SQL.format(
                    rated=f"IN ({', '.join('?' * len(rated))})",
                    ids=f"IN ({', '.join('?' * len(chunk))})",
                    genres=_SQLITE_GENRES,
                )
                params = (*rated, *chunk)
            for row in connection.exec_driver_sql(sql, params):
                movie = _shown_movie(row, postgresql)
                numbers = _numbers(row[1], movie, row[13], row[14]) if movie.id in numbered else None
                found[movie.id] = (movie, numbers)
        return found

    def _genre_names(self) -> Any:
        """The genres of each movie selected, by name (the order of ``_genres_for``), as one column: an array on
        PostgreSQL, a JSON array on SQLite (sorted by ``_genres_of``: the binary collation is code point order)."""
        names: Any
        if self._dialect() == "postgresql":
            names = func.array_agg(aggregate_order_by(GenreRow.name, GenreRow.name))
        else:
            names = func.json_group_array(GenreRow.name)
        return (
            select(names)
            .select_from(movie_genres.join(GenreRow, GenreRow.id == movie_genres.c.genre_id))
            .where(movie_genres.c.movie_id == MovieRow.id)
            .scalar_subquery()
            .label("genre_names")
        )

    def _genres_of(self, names: Any) -> tuple[str, ...]:
        if names is None:
            return ()
        if isinstance(names, str):  # SQLite's JSON array, in no promised order
            return tuple(sorted(json.loads(names)))
        return tuple(names)

    def _dialect(self) -> str:
        found = self._dialect_name
        if found is None:
            found = self._dialect_name = self.session.get_bind().dialect.name
        return found

    def latest(self, limit: int, offset: int = 0) -> list[Movie]:
        """The newest releases first (year, then release date; unknown last), then the most recently added.

        A catalogue loaded in one go has nearly one ``added_at``: ordered by it alone, "recently added" would be the
        last batch of the load in id order. Both databases order NULLs last here (PostgreSQL would put them first).
        """
        rows = self.session.execute(
            select(MOVIES)
            .order_by(
                MovieRow.year.desc().nulls_last(),
                MovieRow.release_date.desc().nulls_last(),
                MovieRow.added_at.desc(),
                MovieRow.id.desc(),
            )
            .limit(limit)
            .offset(offset)
        ).all()
        genres = self._genres_for([row.id for row in rows])
        return [_to_movie(row, genres.get(row.id, ())) for row in rows]

    def page_after(self, after_id: int, limit: int) -> list[Movie]:
        """Movies by ascending id after ``after_id``: for reindexing and reconciliation."""
        rows = self.session.execute(
            select(MOVIES).where(MovieRow.id > after_id).order_by(MovieRow.id).limit(limit)
        ).all()
        genres = self._genres_for([row.id for row in rows])
        return [_to_movie(row, genres.get(row.id, ())) for row in rows]

    def count(self) -> int:
        return int(self.session.scalar(select(func.count()).select_from(MovieRow)) or 0)

    def all_ids(self) -> list[int]:
        return list(self.session.scalars(select(MovieRow.id).order_by(MovieRow.id)))

    def ids_by_external_key(self, keys: Iterable[str]) -> dict[str, int]:
        return dict(_ids_by_key(self.session, MovieRow.external_key, MovieRow.id, list(dict.fromkeys(keys))))

    def genre_counts(self) -> list[tuple[str, int]]:
        rows = self.session.execute(
            select(GenreRow.name, func.count(movie_genres.c.movie_id))
            .join(movie_genres, movie_genres.c.genre_id == GenreRow.id)
            .group_by(GenreRow.name)
            .order_by(GenreRow.name)
        )
        return [(name, int(count)) for name, count in rows]

    def ids_in_genre(self, genre: str) -> list[int]:
        rows = self.session.scalars(
            select(movie_genres.c.movie_id)
            .join(GenreRow, GenreRow.id == movie_genres.c.genre_id)
            .where(func.lower(GenreRow.name) == genre.lower())
        )
        return list(rows)

    def numbers(self, movie_ids: Iterable[int]) -> dict[int, MovieNumbers]:
        """Where each movie's numbers come from and this app's own ratings of it (mean, count), by id: one query
        for a page of movies (up to 500 ids), reading only those movies' ratings (by the ``movie_id`` index)."""
        ids = list(dict.fromkeys(int(i) for i in movie_ids))
        found: dict[int, MovieNumbers] = {}
        for chunk in _chunks(ids):
            rated = _community(chunk)
            rows = self.session.connection().execute(
                select(
                    MovieRow.id,
                    MovieRow.external_key,
                    MovieRow.vote_count,
                    MovieRow.popularity,
                    rated.c.average,
                    rated.c.count,
                )
                .outerjoin(rated, rated.c.movie_id == MovieRow.id)
                .where(MovieRow.id.in_(chunk))
            )
            for movie_id, key, vote_count, popularity, average, count in rows:
                found[movie_id] = MovieNumbers(
                    vote_source=vote_source(key, int(vote_count), float(popularity)),
                    community_average=None if not count else round(float(average), 2),
                    community_count=int(count or 0),
                )
        return found

    def snapshot(self) -> CatalogueSnapshot:
        rows = self.session.execute(
            select(MovieRow.id, MovieRow.vote_average, MovieRow.vote_count, MovieRow.year).order_by(MovieRow.id)
        ).all()
        genres = self._genres_for(None)
        return CatalogueSnapshot(
            item_ids=np.array([r.id for r in rows], dtype=np.int64),
            genres=tuple(genres.get(r.id, ()) for r in rows),
            vote_average=np.array([r.vote_average for r in rows], dtype=np.float64),
            vote_count=np.array([r.vote_count for r in rows], dtype=np.int64),
            year=np.array([np.nan if r.year is None else r.year for r in rows], dtype=np.float64),
        )

    def _genres_for(self, movie_ids: list[int] | None) -> dict[int, tuple[str, ...]]:
        found: dict[int, list[str]] = defaultdict(list)
        query = select(movie_genres.c.movie_id, GenreRow.name).join(GenreRow, GenreRow.id == movie_genres.c.genre_id)
        if movie_ids is None:
            batches: Iterable[object] = [query.order_by(GenreRow.name)]
        else:
            batches = (
                query.where(movie_genres.c.movie_id.in_(chunk)).order_by(GenreRow.name) for chunk in _chunks(movie_ids)
            )
        for statement in batches:
            for movie_id, name in self.session.execute(statement):  # type: ignore[call-overload]
                found[movie_id].append(name)
        return {movie_id: tuple(names) for movie_id, names in found.items()}

    # -- writes --------------------------------------------------------------------------------------------------
    def upsert_many(self, drafts: Sequence[MovieDraft]) -> list[UpsertOutcome]:
        """Insert new movies and update changed ones, keyed on ``external_key``. Returns one outcome per draft."""
        by_key = {draft.external_key: draft for draft in drafts}  # the last draft of a key wins
        keys = list(by_key)
        existing: dict[str, Row[Any]] = {}
        for chunk in _chunks(keys):
            for row in self.session.execute(select(MOVIES).where(MovieRow.external_key.in_(chunk))):
                existing[row.external_key] = row
        genre_ids = self._ensure_genres({g for d in by_key.values() for g in d.genres})
        current_genres = self._genres_for([row.id for row in existing.values()])

        now = utcnow()
        new_rows = [
            {"external_key": key, **_draft_values(draft), "added_at": now, "updated_at": now}
            for key, draft in by_key.items()
            if key not in existing
        ]
        outcomes: dict[str, UpsertOutcome] = {}
        if new_rows:
            # A plain executemany, then the new ids by key: psycopg sends it as one parsed statement, pipelined.
            # INSERT ... RETURNING of a chunk becomes one statement with every row's placeholders, which psycopg
            # parses in Python on every call (it caches only statements under 4 KiB): most of the seeding time.
            for rows in _chunks(new_rows):
                self.session.execute(insert(MOVIES), list(rows))
            new_keys = [str(values["external_key"]) for values in new_rows]
            created = self.ids_by_external_key(new_keys)
            for key in new_keys:
                outcomes[key] = UpsertOutcome(created[key], "new")

        changed: list[dict[str, object]] = []
        genre_changes: dict[int, tuple[str, ...]] = {}
        for key, row in existing.items():
            draft = by_key[key]
            values = _draft_values(draft)
            movie_id = row.id
            differs = any(getattr(row, name) != value for name, value in values.items())
            genres_differ = tuple(sorted(current_genres.get(movie_id, ()))) != tuple(sorted(draft.genres))
            if differs:
                changed.append({"_id": movie_id, **values, "updated_at": now})
            if genres_differ:
                genre_changes[movie_id] = draft.genres
            outcomes[key] = UpsertOutcome(movie_id, "updated" if differs or genres_differ else "unchanged")
        if changed:
            table = MOVIES
            statement = (
                update(table)
                .where(table.c.id == bindparam("_id"))
                .values({name: bindparam(name) for name in (*MOVIE_FIELDS, "updated_at")})
            )
            self.session.connection().execute(statement, changed)

        links = [
            {"movie_id": outcomes[key].movie_id, "genre_id": genre_ids[g]}
            for key, draft in by_key.items()
            if outcomes[key].status == "new"
            for g in draft.genres
        ]
        if genre_changes:
            for ids in _chunks(list(genre_changes)):
                self.session.execute(delete(movie_genres).where(movie_genres.c.movie_id.in_(ids)))
            links += [{"movie_id": mid, "genre_id": genre_ids[g]} for mid, gs in genre_changes.items() for g in gs]
        for link_rows in _chunks(links):
            self.session.execute(insert(movie_genres), list(link_rows))
        return [outcomes[draft.external_key] for draft in drafts]

    def _ensure_genres(self, names: set[str]) -> dict[str, int]:
        if self._genre_ids is None:
            self._genre_ids = {name: gid for gid, name in self.session.execute(select(GenreRow.id, GenreRow.name))}
        missing = sorted(names - self._genre_ids.keys())
        if missing:
            self.session.execute(insert(GENRES), [{"name": name} for name in missing])
            self._genre_ids = {name: gid for gid, name in self.session.execute(select(GenreRow.id, GenreRow.name))}
        return self._genre_ids


def _to_user(row: UserRow) -> User:
    return User(row.id, row.username, can_log_in=row.password_hash is not None, token_version=row.token_version)


def _community(movie_ids: Sequence[int]) -> Any:
    """This app's ratings of ``movie_ids``, grouped (movie_id, average, count): filtered before the join, so a page
    of movies reads its own ratings by index instead of PostgreSQL hashing the whole table."""
    return (
        select(RatingRow.movie_id, func.avg(RatingRow.rating).label("average"), func.count().label("count"))
        .where(RatingRow.movie_id.in_(movie_ids))
        .group_by(RatingRow.movie_id)
        .subquery()
    )


def _numbers(external_key: str, movie: Movie, average: Any, count: Any) -> MovieNumbers:
    return MovieNumbers(
        vote_source=vote_source(external_key, movie.vote_count, movie.popularity),
        community_average=None if not count else round(float(average), 2),
        community_count=int(count or 0),
    )


# with_numbers: each movie's columns, its genres by name (as _genres_for orders them), this app's mean and count.
_SHOWN_SQL = (
    "SELECT m.id, m.external_key, m.title, m.year, m.release_date, m.overview, m.vote_average, m.vote_count, "
    "m.popularity, m.poster_path, m.tmdb_id, m.added_at, {genres}, r.average, r.count FROM movies m "
    "LEFT JOIN (SELECT movie_id, avg(rating) AS average, count(*) AS count FROM ratings WHERE movie_id {rated} "
    "GROUP BY movie_id) r ON r.movie_id = m.id WHERE m.id {ids}"
)
_GENRES_OF_M = "FROM movie_genres mg JOIN genres g ON g.id = mg.genre_id WHERE mg.movie_id = m.id)"
_PG_GENRES = "(SELECT array_agg(g.name ORDER BY g.name) " + _GENRES_OF_M
_SQLITE_GENRES = "(SELECT json_group_array(g.name) " + _GENRES_OF_M  # sorted in Python: code point order


def _shown_movie(row: Sequence[Any], postgresql: bool) -> Movie:
    """A movie from a ``_SHOWN_SQL`` row, with the values SQLAlchemy's column types give (UTC ``added_at``)."""
    release_date, added_at, genres = row[4], row[11], row[12]
    if postgresql:
        names = tuple(genres or ())
        added = None if added_at is None else added_at.astimezone(dt.UTC)
    else:  # SQLite keeps dates as ISO text and no zone (UTCDateTime puts UTC back)
        names = tuple(sorted(json.loads(genres))) if genres else ()
        release_date = None if release_date is None else dt.date.fromisoformat(release_date)
        added = None if added_at is None else dt.datetime.fromisoformat(added_at).replace(tzinfo=dt.UTC)
    return Movie(
        id=row[0],
        title=row[2],
        year=row[3],
        release_date=release_date,
        overview=row[5] or "",
        genres=names,
        vote_average=float(row[6]),
        vote_count=int(row[7]),
        popularity=float(row[8]),
        poster_path=row[9],
        tmdb_id=row[10],
        added_at=added,
    )


def _to_movie(row: object, genres: tuple[str, ...]) -> Movie:
    return Movie(
        id=row.id,  # type: ignore[attr-defined]
        title=row.title,  # type: ignore[attr-defined]
        year=row.year,  # type: ignore[attr-defined]
        release_date=row.release_date,  # type: ignore[attr-defined]
        overview=row.overview or "",  # type: ignore[attr-defined]
        genres=genres,
        vote_average=float(row.vote_average),  # type: ignore[attr-defined]
        vote_count=int(row.vote_count),  # type: ignore[attr-defined]
        popularity=float(row.popularity),  # type: ignore[attr-defined]
        poster_path=row.poster_path,  # type: ignore[attr-defined]
        tmdb_id=row.tmdb_id,  # type: ignore[attr-defined]
        added_at=row.added_at,  # type: ignore[attr-defined]
    )


class UserRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, username: str, password_hash: str | None, external_key: str | None = None) -> User:
        """A new user; ``UsernameTaken`` when the username's key (any case) belongs to someone already."""
        row = UserRow(
            username=username,
            username_key=username_key(username),
            password_hash=password_hash,
            external_key=external_key,
        )
        self.session.add(row)
        try:
            self.session.flush()
        except IntegrityError:  # the unit of work rolls back on the way out
            raise UsernameTaken(username) from None
        return _to_user(row)

    def get(self, user_id: int) -> User | None:
        row = self.session.get(UserRow, user_id)
        return None if row is None else _to_user(row)

    def key_taken(self, username: str) -> bool:
        key = username_key(username)
        return self.session.scalar(select(UserRow.id).where(UserRow.username_key == key)) is not None

    def credentials(self, username: str) -> Credentials | None:
        """The account ``username`` logs in to (any case), with its password hash; None when there is none.

        The key decides; an account that kept an exact-case username from before keys were unique (migration 0003)
        is found by that exact username."""
        row = self.session.scalar(select(UserRow).where(UserRow.username_key == username_key(username)))
        if row is None:
            row = self.session.scalar(select(UserRow).where(UserRow.username == username))
        if row is None:
            return None
        return Credentials(_to_user(row), row.password_hash)

    def credentials_of(self, user_id: int) -> Credentials | None:
        row = self.session.get(UserRow, user_id)
        return None if row is None else Credentials(_to_user(row), row.password_hash)

    def set_password_hash(self, user_id: int, password_hash: str, *, revoke_tokens: bool = False) -> int:
        """Store a new hash; with ``revoke_tokens`` every token issued before stops working. The token version."""
        values: dict[str, object] = {"password_hash": password_hash}
        if revoke_tokens:
            values["token_version"] = UserRow.token_version + 1
        self.session.execute(update(UserRow).where(UserRow.id == user_id).values(values))
        return int(self.session.scalar(select(UserRow.token_version).where(UserRow.id == user_id)) or 0)

    def revoke_all_tokens(self, user_id: int) -> int:
        """Every token issued to the user so far stops working; the new token version."""
        self.session.execute(
            update(UserRow).where(UserRow.id == user_id).values(token_version=UserRow.token_version + 1)
        )
        return int(self.session.scalar(select(UserRow.token_version).where(UserRow.id == user_id)) or 0)

    def revoke_token(self, token_id: str, user_id: int, expires_at: dt.datetime) -> None:
        """One token stops working; rows of tokens that have expired anyway are removed on the way."""
        self.session.execute(delete(RevokedTokenRow).where(RevokedTokenRow.expires_at < utcnow()))
        dialect = self.session.get_bind().dialect.name
        table_insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
        self.session.execute(
            table_insert(REVOKED)
            .values(token_id=token_id, user_id=user_id, expires_at=expires_at)
            .on_conflict_do_nothing(index_elements=[RevokedTokenRow.token_id])
        )

    def token_state(self, user_id: int, token_id: str) -> TokenState | None:
        """The user's token version and whether ``token_id`` was revoked, in one query; None for no such user."""
        revoked = select(RevokedTokenRow.token_id).where(RevokedTokenRow.token_id == token_id).exists()
        row = self.session.execute(
            select(UserRow.token_version, revoked.label("revoked")).where(UserRow.id == user_id)
        ).one_or_none()
        return None if row is None else TokenState(int(row.token_version), bool(row.revoked))

    def _ids_by_external_key(self, keys: Sequence[str]) -> dict[str, int]:
        rows = _ids_by_key(self.session, UserRow.external_key, UserRow.id, keys)
        return {key: user_id for key, user_id in rows if key is not None}

    def ensure_external(self, external_keys: Sequence[str]) -> dict[str, int]:
        """Create login-less users for ``external_keys`` (e.g. ``movielens:17``) where missing; return all ids."""
        keys = list(dict.fromkeys(external_keys))
        found = self._ids_by_external_key(keys)
        now = utcnow()
        missing = [key for key in keys if key not in found]
        for chunk in _chunks(missing):
            self.session.execute(
                insert(USERS),
                [
                    {
                        "username": key.replace(":", "-", 1),
                        "username_key": username_key(key.replace(":", "-", 1)),
                        "password_hash": None,
                        "external_key": key,
                        "created_at": now,
                    }
                    for key in chunk
                ],
            )
        if missing:
            found.update(self._ids_by_external_key(missing))
        return found

    def count(self) -> int:
        return int(self.session.scalar(select(func.count()).select_from(UserRow)) or 0)


class RatingRepository:
    def __init__(self, session: Session) -> None:
        self.session = session
        self._import_begun = False  # the first import_many of this unit of work decides on a bulk load
        self._bulk: _BulkLoad | None = None  # what a bulk load dropped, to rebuild in finish_import

    def upsert(self, user_id: int, movie_id: int, rating: int, rated_at: dt.datetime | None = None) -> StoredRating:
        """Store a rating unless one with a later ``rated_at`` is stored already; what is stored afterwards.

        One INSERT ... ON CONFLICT DO UPDATE ... WHERE (PostgreSQL and SQLite): two first ratings of the same movie at
        once cannot both insert, and of two re-ratings racing, the later ``rated_at`` wins whichever commits last.
        ``UnknownMovie`` when the movie does not exist (or was removed meanwhile)."""
        rated_at = rated_at or utcnow()
        dialect = self.session.get_bind().dialect.name
        table_insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
        statement = table_insert(RATINGS).values(user_id=user_id, movie_id=movie_id, rating=rating, rated_at=rated_at)
        try:
            self.session.execute(
                statement.on_conflict_do_update(
                    index_elements=[RatingRow.user_id, RatingRow.movie_id],
                    set_={"rating": statement.excluded.rating, "rated_at": statement.excluded.rated_at},
                    where=RATINGS.c.rated_at <= statement.excluded.rated_at,
                )
            )
        except IntegrityError:  # a foreign key: the movie is gone; the unit of work rolls back on the way out
            raise UnknownMovie(movie_id) from None
        stored = self.session.execute(
            select(RatingRow.rating, RatingRow.rated_at).where(
                RatingRow.user_id == user_id, RatingRow.movie_id == movie_id
            )
        ).one()
        return StoredRating(int(stored.rating), stored.rated_at)

    def get(self, user_id: int, movie_id: int) -> int | None:
        return self.session.scalar(
            select(RatingRow.rating).where(RatingRow.user_id == user_id, RatingRow.movie_id == movie_id)
        )

    def remove(self, user_id: int, movie_id: int) -> bool:
        """Take the user's rating of the movie back; False when there was none."""
        statement = (
            delete(RatingRow)
            .where(RatingRow.user_id == user_id, RatingRow.movie_id == movie_id)
            .returning(RatingRow.movie_id)
        )
        return self.session.execute(statement).first() is not None

    def for_user(self, user_id: int, limit: int, offset: int = 0) -> RatingsPage:
        total = int(
            self.session.scalar(select(func.count()).select_from(RatingRow).where(RatingRow.user_id == user_id)) or 0
        )
        rows = self.session.execute(
            select(RatingRow.movie_id, RatingRow.rating, RatingRow.rated_at)
            .where(RatingRow.user_id == user_id)
            .order_by(RatingRow.rated_at.desc(), RatingRow.movie_id.desc())
            .limit(limit)
            .offset(offset)
        )
        return RatingsPage(total, [RatingEntry(int(m), int(r), at) for m, r, at in rows])

    def history(self, user_id: int) -> RatingHistory:
        """The user's ratings as arrays (movie ids, ratings, unix seconds), oldest first: one query, no datetimes."""
        return self._history(user_id, not_interested=False)[0]

    def history_and_not_interested(self, user_id: int) -> tuple[RatingHistory, list[int]]:
        """``history``, and the movies the user is not interested in, most recently marked first (the order of
        ``not_interested.ids``): one query for both, what a recommendation reads."""
        return self._history(user_id, not_interested=True)

    def _history(self, user_id: int, *, not_interested: bool) -> tuple[RatingHistory, list[int]]:
        dialect, cursor = self._raw_cursor()
        if dialect == "sqlite":
            try:
                return _sqlite_history(cursor, int(user_id), not_interested=not_interested)
            finally:
                cursor.close()
        # PostgreSQL: one row per rating, then (part 1) per movie not interested in; times as epoch microseconds.
        statement = f"SELECT 0, movie_id, rating, {_PG_EPOCH_MICROS_SQL} FROM ratings WHERE user_id = %s"
        params: tuple[int, ...] = (int(user_id),)
        if not_interested:  # (part, movie, -, added_at) rows after the ratings; their order is reversed below
            added_at = _PG_EPOCH_MICROS_SQL.replace("rated_at", "added_at")
            statement += f" UNION ALL SELECT 1, movie_id, 0, {added_at} FROM not_interested WHERE user_id = %s"
            params += (int(user_id),)
        try:
            cursor.execute(statement + " ORDER BY 1, 4, 2", params)
            rows = cursor.fetchall()
        finally:
            cursor.close()
        split = next((n for n, row in enumerate(rows) if row[0] == 1), len(rows))
        banned = [int(row[1]) for row in reversed(rows[split:])]  # added_at, movie_id: both descending
        if not split:
            return _no_history(), banned
        _, movies, ratings, times = zip(*rows[:split], strict=True)
        micros = np.array(times, dtype=np.int64)
        history = RatingHistory(np.array(movies, dtype=np.int64), np.array(ratings, dtype=np.int64), micros / 1e6)
        return history, banned

    def all_interactions(self) -> Interactions:
        """Every rating as arrays (user ids, movie ids, ratings, unix seconds), read in chunks.

        PostgreSQL streams them as a binary ``COPY`` parsed straight into numpy; SQLite is read ``fetchmany`` at
        a time. No row objects or datetimes are made either way (25M ratings fit in about 1 GB of arrays).
        """
        dialect, cursor = self._raw_cursor()
        try:
            chunks = _copy_out_ratings(cursor) if dialect == "postgresql" else _fetch_ratings(cursor)
            parts = list(chunks)
        finally:
            cursor.close()
        if not parts:
            empty = np.zeros(0, dtype=np.int64)
            return Interactions(empty, empty.copy(), empty.copy(), np.zeros(0, dtype=np.float64))
        users = np.concatenate([p[0] for p in parts]).astype(np.int64)
        movies = np.concatenate([p[1] for p in parts]).astype(np.int64)
        ratings = np.concatenate([p[2] for p in parts]).astype(np.int64)
        micros = np.concatenate([p[3] for p in parts])
        del parts
        return Interactions(users, movies, ratings, micros / 1e6)

    def import_many(self, user_ids: np.ndarray, movie_ids: np.ndarray, ratings: np.ndarray, micros: np.ndarray) -> int:
        """Write ratings in bulk (``COPY`` on PostgreSQL, one big ``executemany`` on SQLite); return rows written.

        ``micros`` are unix times in microseconds. A (user, movie) pair already rated keeps its rating unless
        the new one is more recent; within the arrays the most recent of a pair wins (the first among equal
        times). Users and movies must exist and ratings be within 1-10: the caller validates. Call
        ``finish_import`` once after the last of an import's calls, before committing.

        An import whose first call brings at least ``BULK_MIN_ROWS`` ratings, and at least as many as the table
        holds, is a bulk load: see ``_drop_for_bulk_load`` (PostgreSQL) and ``_drop_sqlite_indexes``.
        """
        users, movies, values, times = _latest_of_each_pair(
            np.asarray(user_ids, dtype=np.int64),
            np.asarray(movie_ids, dtype=np.int64),
            np.asarray(ratings, dtype=np.int64),
            np.asarray(micros, dtype=np.int64),
        )
        if len(users) == 0:
            return 0
        dialect, cursor = self._raw_cursor()
        try:
            if not self._import_begun:
                self._import_begun = True
                if dialect == "postgresql":  # durable once acknowledged, even on a server that commits lazily;
                    cursor.execute("SET LOCAL synchronous_commit = on")  # and settle_ratings can mark it visible
                self._begin_bulk_load(dialect, cursor, len(users))
            if self._bulk is not None:
                self._bulk.rows += len(users)
            if dialect == "postgresql":
                return _copy_in_ratings(cursor, users, movies, values, times)
            return _executemany_ratings(cursor, users, movies, values, times)
        finally:
            cursor.close()

    def _begin_bulk_load(self, dialect: str, cursor: Any, rows: int) -> None:
        """A bulk load when the import's first call brings ``BULK_MIN_ROWS`` or more and the table holds no more."""
        if rows < BULK_MIN_ROWS:
            return
        held = _rows_at_most(cursor, rows, "%s" if dialect == "postgresql" else "?")
        if held > rows:
            return
        if dialect == "postgresql":
            self._bulk = _drop_for_bulk_load(cursor, held)
        elif cursor.connection.in_transaction:  # (SQLite runs DDL outside a transaction as its own)
            self._bulk = _drop_sqlite_indexes(cursor, held)
        else:
            return
        event.listen(self.session, "before_commit", self._refuse_unfinished_bulk_load)

    def finish_import(self) -> None:
        """After the last ``import_many`` of the unit of work, before its commit. After a bulk load (an import at
        least as large as the table it goes into) it builds the secondary indexes and, on PostgreSQL, re-adds the
        foreign keys, each checked by one join over the table; a rating of a user or movie that does not exist
        raises ``InvalidInput`` naming it (and the unit of work rolls back). Otherwise it does nothing."""
        bulk, self._bulk = self._bulk, None
        if bulk is None:
            return
        dialect, cursor = self._raw_cursor()
        try:
            if dialect == "postgresql":
                _rebuild_after_bulk_load(cursor, bulk)
            else:
                for statement in bulk.indexes:
                    cursor.execute(statement)
        finally:
            cursor.close()

    def _refuse_unfinished_bulk_load(self, session: Session) -> None:
        if self._bulk is not None:
            raise RuntimeError("a bulk ratings load is committed only after finish_import (its indexes are dropped)")

    def _raw_cursor(self) -> tuple[str, Any]:
        """A DB-API cursor on the session's connection (inside its transaction), for the bulk paths."""
        connection = self.session.connection()
        return connection.dialect.name, connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]

    def count(self) -> int:
        return int(self.session.scalar(select(func.count()).select_from(RatingRow)) or 0)


# One row per part (0: ratings, 1: not interested), each column's values joined by commas in one pass: the
# history is one statement step instead of one per rating. SQLite's module hands the GIL back around every step, so
# with other threads busy a row-by-row read of a long history kept losing it (2.7x the CPU at 8 threads).
_SQLITE_HISTORY = (
    "SELECT 0, group_concat(movie_id), group_concat(rating), group_concat(rated_at) FROM ratings WHERE user_id = ?1"
)
_SQLITE_NOT_INTERESTED = (
    " UNION ALL SELECT 1, group_concat(movie_id), NULL, group_concat(added_at) FROM not_interested WHERE user_id = ?1"
)


def _sqlite_history(cursor: Any, user_id: int, *, not_interested: bool) -> tuple[RatingHistory, list[int]]:
    """``RatingRepository._history`` on SQLite: ratings oldest first (then by movie id), the movies the user is not
    interested in most recently marked first (then by movie id, descending)."""
    cursor.execute(_SQLITE_HISTORY + (_SQLITE_NOT_INTERESTED if not_interested else ""), (user_id,))
    parts = {int(part): (movies, ratings, times) for part, movies, ratings, times in cursor.fetchall()}
    movies, ratings, times = parts[0]
    if movies is None:  # no ratings: group_concat of no rows is NULL
        history = _no_history()
    else:
        item_ids, micros = _joined_ints(movies), _joined_micros(times)
        order = np.lexsort((item_ids, micros))
        history = RatingHistory(item_ids[order], _joined_ints(ratings)[order], micros[order] / 1e6)
    banned: list[int] = []
    marked, _, added = parts.get(1, (None, None, None))
    if marked is not None:
        ids = _joined_ints(marked)
        banned = ids[np.lexsort((ids, _joined_micros(added)))[::-1]].tolist()
    return history, banned


def _no_history() -> RatingHistory:
    empty = np.zeros(0, dtype=np.int64)
    return RatingHistory(empty, empty.copy(), np.zeros(0, dtype=np.float64))


def _joined_ints(joined: str) -> np.ndarray:
    return np.array(joined.split(","), dtype=np.int64)


def _joined_micros(joined: str) -> np.ndarray:
    """SQLAlchemy's SQLite datetimes ("YYYY-MM-DD HH:MM:SS.ffffff", UTC), joined by commas, as epoch microseconds."""
    return np.array(joined.split(","), dtype="datetime64[us]").astype(np.int64)


# ------------------------------------------------------------------------------------------ bulk rating paths

# ``rated_at`` as integer microseconds since the epoch, computed by PostgreSQL. SQLite holds SQLAlchemy's text
# ("YYYY-MM-DD HH:MM:SS.ffffff", UTC here), which numpy parses as datetime64[us] in one call per chunk.
_PG_EPOCH_MICROS_SQL = "CAST(EXTRACT(EPOCH FROM rated_at) * 1000000 AS BIGINT)"
_FETCH_ROWS = 200_000
_WRITE_ROWS = 500_000
_SQLITE_IMPORT_CACHE_KIB = -262_144  # negative: KiB, i.e. 256 MB
_PG_EPOCH_MICROS = 946_684_800_000_000  # PostgreSQL's binary timestamps count from 2000-01-01 UTC
_COPY_SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + b"\x00" * 8  # signature, flags, no header extension
_COPY_TRAILER = b"\xff\xff"
# One binary COPY tuple of (int4 user_id, int4 movie_id, int2 rating, int8 micros): field count, then each
# field's byte length and big-endian value.
_COPY_ROW = np.dtype(
    [
        ("fields", ">i2"),
        ("user_len", ">i4"),
        ("user", ">i4"),
        ("movie_len", ">i4"),
        ("movie", ">i4"),
        ("rating_len", ">i4"),
        ("rating", ">i2"),
        ("time_len", ">i4"),
        ("time", ">i8"),
    ]
)


def _fetch_ratings(cursor: Any) -> Iterator[tuple[np.ndarray, ...]]:
    cursor.execute("SELECT user_id, movie_id, rating, rated_at FROM ratings")
    while rows := cursor.fetchmany(_FETCH_ROWS):
        users, movies, ratings, times = zip(*rows, strict=True)
        yield (
            np.array(users, dtype=np.int32),
            np.array(movies, dtype=np.int32),
            np.array(ratings, dtype=np.int8),
            np.array(times, dtype="datetime64[us]").astype(np.int64),
        )


def _parse_copy_rows(buffer: memoryview) -> tuple[np.ndarray, ...]:
    rows = np.frombuffer(buffer, dtype=_COPY_ROW)
    if len(rows) and ((rows["fields"] != 4).any() or (rows["user_len"] != 4).any() or (rows["time_len"] != 8).any()):
        raise ValueError("unexpected binary COPY layout for ratings")
    return (
        rows["user"].astype(np.int32),
        rows["movie"].astype(np.int32),
        rows["rating"].astype(np.int8),
        rows["time"].astype(np.int64),
    )


def _copy_out_ratings(cursor: Any) -> Iterator[tuple[np.ndarray, ...]]:
    """``COPY (SELECT ...) TO STDOUT (FORMAT BINARY)``, parsed a few MB at a time."""
    statement = (
        "COPY (SELECT user_id::int4, movie_id::int4, rating::int2, "
        f"{_PG_EPOCH_MICROS_SQL} FROM ratings) TO STDOUT (FORMAT BINARY)"
    )
    size = _COPY_ROW.itemsize
    pending = bytearray()
    header_done = False
    with cursor.copy(statement) as copy:
        for data in copy:
            pending += data
            if not header_done and len(pending) >= len(_COPY_SIGNATURE):
                if bytes(pending[:11]) != _COPY_SIGNATURE[:11]:
                    raise ValueError("not a binary COPY stream")
                del pending[: len(_COPY_SIGNATURE)]
                header_done = True
            if header_done and len(pending) >= 4 * 1024 * 1024:
                whole = (len(pending) - len(_COPY_TRAILER)) // size * size
                yield _parse_copy_rows(memoryview(bytes(pending[:whole])))
                del pending[:whole]
    if not header_done or bytes(pending[-2:]) != _COPY_TRAILER or (len(pending) - 2) % size:
        raise ValueError("truncated binary COPY stream")
    if len(pending) > 2:
        yield _parse_copy_rows(memoryview(bytes(pending[:-2])))


def _latest_of_each_pair(
    users: np.ndarray, movies: np.ndarray, ratings: np.ndarray, micros: np.ndarray
) -> tuple[np.ndarray, ...]:
    """One entry per (user, movie), the most recent (the first among equal times), ordered by (user, movie):
    in key order the primary key and the per-user index grow at their right edge instead of page by page."""
    if len(users) < 2:
        return users, movies, ratings, micros
    order = np.lexsort((np.arange(len(users)), -micros, movies, users))
    u, m = users[order], movies[order]
    keep = order[np.r_[True, (u[1:] != u[:-1]) | (m[1:] != m[:-1])]]
    return users[keep], movies[keep], ratings[keep], micros[keep]


def _copy_rows(
    cursor: Any, table: str, users: np.ndarray, movies: np.ndarray, values: np.ndarray, micros: np.ndarray
) -> None:
    rows = np.empty(len(users), dtype=_COPY_ROW)
    rows["fields"] = 4
    rows["user_len"], rows["movie_len"], rows["rating_len"], rows["time_len"] = 4, 4, 2, 8
    rows["user"], rows["movie"], rows["rating"] = users, movies, values
    rows["time"] = micros - _PG_EPOCH_MICROS
    with cursor.copy(f"COPY {table} (user_id, movie_id, rating, rated_at) FROM STDIN (FORMAT BINARY)") as copy:
        copy.write(_COPY_SIGNATURE)
        copy.write(rows.tobytes())
        copy.write(_COPY_TRAILER)


def _copy_in_ratings(cursor: Any, users: np.ndarray, movies: np.ndarray, values: np.ndarray, micros: np.ndarray) -> int:
    """Per chunk, binary ``COPY``: the ratings of users with no rating yet straight into ``ratings``, the others
    into a temporary table and then one ``INSERT ... SELECT ... ON CONFLICT``.

    A user with no rating cannot conflict. Imported users are login-less, so only another import could rate for
    them meanwhile, and its duplicate key would fail this transaction as a whole rather than lose anything.
    """
    cursor.execute(
        "CREATE TEMP TABLE IF NOT EXISTS ratings_import "
        "(user_id int4, movie_id int4, rating int2, rated_at timestamptz) ON COMMIT DROP"
    )
    written = 0
    for start in range(0, len(users), _WRITE_ROWS):
        chunk = slice(start, min(start + _WRITE_ROWS, len(users)))
        cursor.execute(
            "SELECT DISTINCT user_id FROM ratings WHERE user_id = ANY(%s)", (np.unique(users[chunk]).tolist(),)
        )
        rated = np.isin(users[chunk], np.array([row[0] for row in cursor.fetchall()], dtype=np.int64))
        fresh = ~rated
        if fresh.any():
            _copy_rows(cursor, "ratings", *(a[chunk][fresh] for a in (users, movies, values, micros)))
            written += int(fresh.sum())
        if not rated.any():
            continue
        cursor.execute("TRUNCATE ratings_import")
        _copy_rows(cursor, "ratings_import", *(a[chunk][rated] for a in (users, movies, values, micros)))
        cursor.execute(
            "INSERT INTO ratings (user_id, movie_id, rating, rated_at) "
            "SELECT user_id, movie_id, rating, rated_at FROM ratings_import "
            "ON CONFLICT (user_id, movie_id) DO UPDATE SET rating = EXCLUDED.rating, rated_at = EXCLUDED.rated_at "
            "WHERE EXCLUDED.rated_at > ratings.rated_at"
        )
        written += max(cursor.rowcount, 0)
    return written


# An import at least this large, into a table holding at most as many ratings, is a bulk load (both databases).
BULK_MIN_ROWS = 100_000
# Budget of the rebuild statements of a bulk load per rating in the table (measured: ~2 us; the connection's
# own statement timeout is sized for the serving queries).
_REBUILD_MICROS_PER_ROW = 50


@dataclass(slots=True)
class _BulkLoad:
    """The secondary indexes (their CREATE INDEX statements) and foreign keys (name, definition) of ``ratings``
    that a bulk load dropped, and the rows the table has at most since (to size the rebuild's timeout)."""

    indexes: list[str]
    foreign_keys: list[tuple[str, str]]
    rows: int = field(default=0)


def _rows_at_most(cursor: Any, limit: int, placeholder: str) -> int:
    """How many ratings the table holds, counted up to ``limit + 1`` (reads at most that many index entries)."""
    cursor.execute(f"SELECT count(*) FROM (SELECT 1 FROM ratings LIMIT {placeholder}) AS held", (limit + 1,))
    return int(cursor.fetchone()[0])


def _drop_sqlite_indexes(cursor: Any, rows: int) -> _BulkLoad:
    """SQLite's bulk load: the secondary indexes dropped inside the import's transaction and built once at its
    end (their foreign keys stay: SQLite checks one by a lookup in the parent's primary key). SQLite has one
    writer, which the import is already, and readers keep reading the last commit, indexes included: no
    reader waits longer than without it."""
    cursor.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'ratings' AND sql IS NOT NULL"
    )
    indexes = cursor.fetchall()
    for name, _ in indexes:
        cursor.execute(f'DROP INDEX "{name}"')
    return _BulkLoad([str(statement) for _, statement in indexes], [], rows)


def _drop_for_bulk_load(cursor: Any, rows: int) -> _BulkLoad:
    """Drop the secondary indexes and the foreign keys of ``ratings`` inside the import's transaction, as
    ``pg_restore`` loads a table: each row then costs its heap tuple and primary-key entry only (measured on
    1M ratings, server side: 1.8 s, against 23 s with two indexes and two per-row foreign-key triggers).

    The transaction holds ACCESS EXCLUSIVE locks on ``ratings``, ``users`` and ``movies`` (dropping a foreign key
    locks the table it references) until it commits or rolls back: other transactions on those tables wait
    (up to their lock timeout) and see either nothing of the import or all of it, rebuilt."""
    from psycopg import sql

    cursor.execute(
        "SELECT pg_get_indexdef(i.indexrelid), c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
        "WHERE i.indrelid = 'ratings'::regclass AND NOT i.indisprimary ORDER BY c.relname"
    )
    indexes = cursor.fetchall()
    cursor.execute(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = 'ratings'::regclass AND contype = 'f' ORDER BY conname"
    )
    foreign_keys = [(str(name), str(definition)) for name, definition in cursor.fetchall()]
    for name, _ in foreign_keys:
        cursor.execute(sql.SQL("ALTER TABLE ratings DROP CONSTRAINT {}").format(sql.Identifier(name)))
    for _, name in indexes:
        cursor.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(name)))
    return _BulkLoad([str(statement) for statement, _ in indexes], foreign_keys, rows)


def _rebuild_after_bulk_load(cursor: Any, bulk: _BulkLoad) -> None:
    """Build each dropped index once, then re-add each foreign key: PostgreSQL checks an added key with one
    join over the table (measured on 1M ratings: 1.2 s for both indexes, 0.7 s for both keys)."""
    from psycopg import errors, sql

    cursor.execute("SHOW statement_timeout")
    (timeout,) = cursor.fetchone()
    budget_ms = _maintenance_budget_ms(bulk.rows)
    cursor.execute(sql.SQL("SET LOCAL statement_timeout = {}").format(sql.Literal(budget_ms)))
    # each index is built by one sort of the whole table: the default 64 MB spills a 25M-row sort to many runs
    cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")
    for statement in bulk.indexes:
        cursor.execute(statement)
    try:
        for name, definition in bulk.foreign_keys:
            cursor.execute(
                sql.SQL("ALTER TABLE ratings ADD CONSTRAINT {} {}").format(sql.Identifier(name), sql.SQL(definition))
            )
    except errors.ForeignKeyViolation as exc:
        detail = exc.diag.message_detail or str(exc)
        raise InvalidInput(f"ratings of a user or movie that does not exist: {detail}") from None
    cursor.execute(sql.SQL("SET LOCAL statement_timeout = {}").format(sql.Literal(timeout)))


def settle_ratings(connection: Any, rows: int) -> None:
    """``Store.settle_ratings`` on an autocommit connection. PostgreSQL: ``VACUUM (ANALYZE) ratings``. Rows a
    ``COPY`` just wrote are not yet marked all-visible, so the count and mean of a movie's ratings (the numbers a
    page shows) visit every heap page they sit on until autovacuum comes by, minutes later: 2.8 ms for 20 popular
    MovieLens movies against 1.2 ms from the ``(movie_id, rating)`` index alone. (A page is marked only once the
    commit that wrote it is flushed: ``import_many`` commits synchronously.) SQLite: ``ANALYZE ratings``."""
    if connection.dialect.name != "postgresql":
        connection.exec_driver_sql("ANALYZE ratings")
        return
    budget_ms = _maintenance_budget_ms(rows)  # a session setting: autocommit has no LOCAL
    connection.exec_driver_sql(f"SET statement_timeout = {int(budget_ms)}")
    try:
        connection.exec_driver_sql("VACUUM (ANALYZE) ratings")
    finally:
        connection.exec_driver_sql("RESET statement_timeout")


def _maintenance_budget_ms(rows: int) -> int:
    """The statement timeout for a pass over a whole ratings table of about ``rows`` rows (an index build, a
    VACUUM): a minute at least, more for a large table."""
    return max(60_000, rows * _REBUILD_MICROS_PER_ROW // 1000)


def _sqlite_times(micros: np.ndarray) -> list[str]:
    """Unix microseconds as SQLAlchemy's SQLite datetime text ("YYYY-MM-DD HH:MM:SS.ffffff")."""
    text = np.datetime_as_string(micros.astype("datetime64[us]"), unit="us")
    return np.strings.replace(text, "T", " ").tolist()  # type: ignore[no-any-return]


def _executemany_ratings(
    cursor: Any, users: np.ndarray, movies: np.ndarray, values: np.ndarray, micros: np.ndarray
) -> int:
    statement = (
        "INSERT INTO ratings (user_id, movie_id, rating, rated_at) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (user_id, movie_id) DO UPDATE SET rating = excluded.rating, rated_at = excluded.rated_at "
        "WHERE excluded.rated_at > ratings.rated_at"
    )
    # A bigger page cache for this connection while it writes: the movie and user indexes take rows in random
    # order, and SQLite's default 2 MB cache would spill and re-read their pages all along.
    cursor.execute("PRAGMA cache_size")
    (cache_size,) = cursor.fetchone()
    cursor.execute(f"PRAGMA cache_size = {_SQLITE_IMPORT_CACHE_KIB}")
    try:
        written = _executemany_chunks(cursor, statement, users, movies, values, micros)
    finally:
        cursor.execute(f"PRAGMA cache_size = {int(cache_size)}")
    return written


def _executemany_chunks(
    cursor: Any, statement: str, users: np.ndarray, movies: np.ndarray, values: np.ndarray, micros: np.ndarray
) -> int:
    written = 0
    for start in range(0, len(users), _WRITE_ROWS):
        stop = start + _WRITE_ROWS
        rows = zip(
            users[start:stop].tolist(),
            movies[start:stop].tolist(),
            values[start:stop].tolist(),
            _sqlite_times(micros[start:stop]),
            strict=True,
        )
        cursor.executemany(statement, rows)
        written += max(cursor.rowcount, 0)
    return written


class _UserMovieList:
    """A set of movies per user, each with the time it was added (the watchlist, "not interested")."""

    row: type[WatchlistRow] | type[NotInterestedRow]

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, user_id: int, movie_id: int, added_at: dt.datetime | None = None) -> bool:
        """Add the movie (True), or leave an entry already there as it is (False). ``UnknownMovie`` for no such movie.

        One INSERT ... SELECT FROM movies ... ON CONFLICT DO NOTHING: two adds racing (a double click) cannot both
        insert nor fail, and a movie removed meanwhile inserts nothing instead of breaking the transaction."""
        row = self.row
        table = cast(Table, row.__table__)
        dialect = self.session.get_bind().dialect.name
        table_insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
        source = select(literal(user_id, Integer()), MovieRow.id, literal(added_at or utcnow(), UTCDateTime())).where(
            MovieRow.id == movie_id
        )
        statement = table_insert(table).from_select(["user_id", "movie_id", "added_at"], source)
        added = self.session.execute(
            statement.on_conflict_do_nothing(index_elements=[row.user_id, row.movie_id]).returning(row.movie_id)
        ).first()
        if added is not None:
            return True
        if not self.session.scalar(select(MovieRow.id).where(MovieRow.id == movie_id)):
            raise UnknownMovie(movie_id)
        return False

    def remove(self, user_id: int, movie_id: int) -> bool:
        """Take the movie off the list; False when it was not on it."""
        row = self.row
        statement = delete(row).where(row.user_id == user_id, row.movie_id == movie_id).returning(row.movie_id)
        return self.session.execute(statement).first() is not None

    def contains(self, user_id: int, movie_id: int) -> bool:
        row = self.row
        found = self.session.scalar(select(row.movie_id).where(row.user_id == user_id, row.movie_id == movie_id))
        return found is not None

    def ids(self, user_id: int) -> list[int]:
        """Every movie id on the user's list, most recently added first."""
        row = self.row
        return list(
            self.session.scalars(
                select(row.movie_id).where(row.user_id == user_id).order_by(row.added_at.desc(), row.movie_id.desc())
            )
        )

    def page(self, user_id: int, limit: int, offset: int = 0) -> ListPage:
        """How many movies the list holds, and one page of (movie id, added at), most recently added first."""
        row = self.row
        total = int(self.session.scalar(select(func.count()).select_from(row).where(row.user_id == user_id)) or 0)
        rows = self.session.execute(
            select(row.movie_id, row.added_at)
            .where(row.user_id == user_id)
            .order_by(row.added_at.desc(), row.movie_id.desc())
            .limit(limit)
            .offset(offset)
        )
        return ListPage(total, [ListEntry(int(movie_id), added_at) for movie_id, added_at in rows])


class WatchlistRepository(_UserMovieList):
    row = WatchlistRow


class NotInterestedRepository(_UserMovieList):
    row = NotInterestedRow


class OutboxRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, movie_ids: Iterable[int]) -> None:
        now = utcnow()
        rows = [{"movie_id": movie_id, "created_at": now} for movie_id in movie_ids]
        for chunk in _chunks(rows):
            self.session.execute(insert(OUTBOX), list(chunk))

    def pending(self, limit: int) -> list[OutboxEntry]:
        """The oldest ``limit`` entries as (outbox id, movie id)."""
        # SKIP LOCKED (PostgreSQL) lets several relays drain one outbox without publishing an entry twice.
        rows = self.session.execute(
            select(MovieOutboxRow.id, MovieOutboxRow.movie_id)
            .order_by(MovieOutboxRow.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return [OutboxEntry(int(outbox_id), int(movie_id)) for outbox_id, movie_id in rows]

    def remove(self, outbox_ids: Iterable[int]) -> None:
        for chunk in _chunks(list(outbox_ids)):
            self.session.execute(delete(MovieOutboxRow).where(MovieOutboxRow.id.in_(chunk)))

    def count(self) -> int:
        return int(self.session.scalar(select(func.count()).select_from(MovieOutboxRow)) or 0)


__all__ = [
    "CatalogueSnapshot",
    "MovieRepository",
    "NotInterestedRepository",
    "OutboxRepository",
    "RatingRepository",
    "UpsertOutcome",
    "UserRepository",
    "WatchlistRepository",
]
