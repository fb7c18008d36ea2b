"""Bulk ratings on SQLite and PostgreSQL: the CSV import (good files, bad rows, re-runs), the bulk write and the
array reads it feeds (every rating for training, one user's history for serving)."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from sqlalchemy import text

from movierec.cli import main
from movierec.domain.errors import InvalidInput
from movierec.domain.movies import MovieDraft
from movierec.services.ratings_import import import_csv
from movierec.store import migrate, repositories
from movierec.store.database import create_db_engine
from movierec.store.port import Store
from movierec.store.uow import SqlStore
from tests.contract.conftest import database_url, migrated_store


@pytest.fixture
def movies(store: Store) -> dict[str, int]:
    """Three catalogue movies: external key -> movie id."""
    with store.uow() as uow:
        outcomes = uow.movies.upsert_many(
            [MovieDraft(f"movielens:{n}", f"Film {n}", 2000, genres=("Drama",)) for n in (1, 2, 3)]
        )
        uow.commit()
    return {f"movielens:{n}": o.movie_id for n, o in zip((1, 2, 3), outcomes, strict=True)}


def write(tmp_path: Path, text: str, name: str = "ratings.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def ratings_of(store: Store) -> set[tuple[str, int, int, float]]:
    """(user key, movie id, rating, unix seconds) of every rating."""
    with store.uow() as uow:
        users, items, values, times = uow.ratings.all_interactions()
        keys = {}
        for user in set(users.tolist()):
            found = uow.users.get(user)
            assert found is not None
            keys[user] = found.username
    return {
        (keys[u], i, r, t)
        for u, i, r, t in zip(users.tolist(), items.tolist(), values.tolist(), times.tolist(), strict=True)
    }


def test_a_csv_is_imported_with_users_created_and_unknown_movies_counted(
    store: Store, movies: dict[str, int], tmp_path: Path
) -> None:
    by_id = movies["movielens:3"]
    path = write(
        tmp_path,
        "user,movie,rating,timestamp,comment\n"
        "alice,movielens:1,9,1700000000,loved it\n"
        f"alice,{by_id},4,1700000060.25,\n"
        "bob,movielens:2,10,,\n"
        "bob,movielens:999,7,1700000000,not in the catalogue\n"
        "carol,77777,7,1700000000,no such id\n",
    )
    before = dt.datetime.now(dt.UTC).timestamp()
    report = import_csv(store, path, source="club")
    assert (report.rows, report.written, report.unknown_movies, report.first_unknown_line) == (5, 3, 2, 5)
    found = ratings_of(store)
    assert ("club-alice", movies["movielens:1"], 9, 1_700_000_000.0) in found
    assert ("club-alice", by_id, 4, 1_700_000_060.25) in found
    (bob,) = [r for r in found if r[0] == "club-bob"]
    assert bob[:3] == ("club-bob", movies["movielens:2"], 10) and bob[3] >= before - 1  # no timestamp: now
    with store.uow() as uow:
        assert uow.users.count() == 2  # carol rated nothing the catalogue has


def test_stars_are_stored_on_the_ten_point_scale(store: Store, movies: dict[str, int], tmp_path: Path) -> None:
    path = write(tmp_path, "user,movie,rating\nu,movielens:1,3.5\nu,movielens:2,0.5\nu,movielens:3,5\n")
    import_csv(store, path, stars=True)
    assert sorted(r[2] for r in ratings_of(store)) == [1, 7, 10]


def test_re_running_changes_nothing_and_only_a_more_recent_rating_wins(
    store: Store, movies: dict[str, int], tmp_path: Path
) -> None:
    first = write(tmp_path, "user,movie,rating,timestamp\na,movielens:1,6,100\na,movielens:2,6,100\n")
    assert import_csv(store, first).written == 2
    assert import_csv(store, first).written == 0
    later = write(
        tmp_path,
        "user,movie,rating,timestamp\na,movielens:1,9,200\na,movielens:2,2,50\nb,movielens:3,4,10\n",
        "later.csv",
    )  # a known user (more recent once, older once) and a new one in the same chunk
    assert import_csv(store, later).written == 2
    assert {(r[0], r[1], r[2]) for r in ratings_of(store)} == {
        ("csv-a", movies["movielens:1"], 9),
        ("csv-a", movies["movielens:2"], 6),
        ("csv-b", movies["movielens:3"], 4),
    }


def test_within_a_file_the_most_recent_rating_of_a_pair_wins(
    store: Store, movies: dict[str, int], tmp_path: Path
) -> None:
    path = write(
        tmp_path,
        "user,movie,rating,timestamp\na,movielens:1,3,300\na,movielens:1,8,100\na,movielens:1,5,300\n",
    )
    assert import_csv(store, path).written == 1
    assert [(r[2], r[3]) for r in ratings_of(store)] == [(3, 300.0)]  # the first of the two at time 300


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ("a,movielens:1,7,1\n,movielens:2,7,1\n", "line 4: user '' is empty"),
        ("a,movielens:1,11,1\n", "line 3: rating '11' is not an integer from 1 to 10"),
        ("a,movielens:1,7.5,1\n", "line 3: rating '7.5' is not an integer"),
        ("a,movielens:1,seven,1\n", "line 3: rating 'seven'"),
        ("a,movielens:1,7,1\na,movielens:2,7,yesterday\n", "line 4: timestamp 'yesterday' is not unix seconds"),
        ("a,movielens:1,7,-5\n", "line 3: timestamp '-5'"),
        ("a,,7,1\n", "line 3: movie '' is empty"),
        ("a,movielens:1,7,1\n\nb,movielens:2,7,1\n", "line 4: user '' is empty"),
        ("a,movielens:1,7,1,extra,fields\n", "not a well-formed CSV"),
    ],
)
def test_a_bad_row_refuses_the_whole_file_naming_its_line(
    store: Store, movies: dict[str, int], tmp_path: Path, rows: str, message: str
) -> None:
    path = write(tmp_path, "user,movie,rating,timestamp\nfirst,movielens:3,8,1\n" + rows)
    with pytest.raises(InvalidInput, match=message):
        import_csv(store, path)
    with store.uow() as uow:
        assert uow.ratings.count() == 0 and uow.users.count() == 0  # nothing written, not even the good rows


def test_a_bad_row_in_a_later_chunk_still_writes_nothing(
    store: Store, movies: dict[str, int], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from movierec.services import ratings_import

    monkeypatch.setattr(ratings_import, "CHUNK_ROWS", 2)
    path = write(tmp_path, "user,movie,rating\na,movielens:1,7\nb,movielens:1,7\nc,movielens:1,7\nd,movielens:1,0\n")
    with pytest.raises(InvalidInput, match="line 5: rating '0'"):
        import_csv(store, path)
    with store.uow() as uow:
        assert uow.ratings.count() == 0 and uow.users.count() == 0


@pytest.mark.parametrize(
    ("text", "message"),
    [("", "the file is empty"), ("user,film,rating\na,movielens:1,7\n", "line 1: the header lacks movie")],
)
def test_a_file_without_the_columns_is_refused(
    store: Store, movies: dict[str, int], tmp_path: Path, text: str, message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        import_csv(store, write(tmp_path, text))


def test_bulk_write_and_array_reads_round_trip_many_ratings(store: Store, movies: dict[str, int]) -> None:
    # more than one read chunk on either database (PostgreSQL's binary COPY is parsed 4 MB at a time)
    rng = np.random.default_rng(3)
    with store.uow() as uow:
        users = np.sort(list(uow.users.ensure_external([f"t:{n}" for n in range(60_000)]).values()))
        uow.commit()
    n = 180_000
    user_ids = np.repeat(users, 3)
    movie_ids = np.tile(np.array(sorted(movies.values())), len(users))
    values = rng.integers(1, 11, size=n)
    micros = rng.integers(0, 2_000_000_000_000_000, size=n)
    with store.uow() as uow:
        assert uow.ratings.import_many(user_ids, movie_ids, values, micros) == n
        uow.ratings.finish_import()
        uow.commit()
    with store.uow() as uow:
        got_users, got_movies, got_values, got_times = uow.ratings.all_interactions()
        mine, mine_values, mine_times = uow.ratings.history(int(users[7]))
    order = np.lexsort((got_movies, got_users))
    np.testing.assert_array_equal(got_users[order], user_ids)
    np.testing.assert_array_equal(got_movies[order], movie_ids)
    np.testing.assert_array_equal(got_values[order], values)
    np.testing.assert_array_equal(got_times[order], micros / 1e6)
    expected = np.lexsort((movie_ids[21:24], micros[21:24]))  # oldest first, ties by movie id
    np.testing.assert_array_equal(mine, movie_ids[21:24][expected])
    np.testing.assert_array_equal(mine_values, values[21:24][expected])
    np.testing.assert_array_equal(mine_times, micros[21:24][expected] / 1e6)


def test_history_reads_ratings_written_one_by_one(store: Store, movies: dict[str, int]) -> None:
    with store.uow() as uow:
        user = uow.users.add("dora", "hash")
        moment = dt.datetime(2026, 3, 4, 5, 6, 7, 891_234, tzinfo=dt.UTC)
        uow.ratings.upsert(user.id, movies["movielens:2"], 8, moment)
        uow.ratings.upsert(user.id, movies["movielens:1"], 3, moment - dt.timedelta(days=1))
        uow.commit()
    with store.uow() as uow:
        items, values, times = uow.ratings.history(user.id)
        empty = uow.ratings.history(user.id + 1000)
    assert items.tolist() == [movies["movielens:1"], movies["movielens:2"]]
    assert values.tolist() == [3, 8]
    assert times.tolist() == [(moment - dt.timedelta(days=1)).timestamp(), moment.timestamp()]
    assert [len(a) for a in empty] == [0, 0, 0]


def test_import_ratings_command(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = {"MOVIEREC_DATA_DIR": str(data), "DATABASE_URL": "", "REDIS_URL": "", "ELASTICSEARCH_URL": ""}
    env["KAFKA_BOOTSTRAP_SERVERS"] = ""
    store = SqlStore(create_db_engine(f"sqlite:///{data / 'movierec.sqlite3'}"))
    migrate.upgrade(store.engine)
    with store.uow() as uow:
        uow.movies.upsert_many([MovieDraft("movielens:1", "Film", 2000)])
        uow.commit()
    bad = write(tmp_path, "user,movie,rating\na,movielens:1,12\n", "bad.csv")
    result = CliRunner().invoke(main, ["import-ratings", str(bad)], env=env)
    assert result.exit_code == 1 and "line 2: rating '12'" in result.output and "nothing was imported" in result.output
    good = write(tmp_path, "user,movie,rating\na,movielens:1,7\nb,movielens:2,7\n", "good.csv")
    result = CliRunner().invoke(main, ["import-ratings", str(good)], env=env)
    assert result.exit_code == 0, result.output
    assert "2 ratings read, 1 written" in result.output and "1 skipped" in result.output
    with store.uow() as uow:
        assert uow.ratings.count() == 1
    store.dispose()


# ------------------------------------------------------------------ PostgreSQL bulk loads and concurrent ratings


@pytest.fixture
def pg_store(tmp_path: Path) -> Iterator[SqlStore]:
    with migrated_store("postgres", tmp_path) as built:
        yield built


@pytest.fixture
def bulk_from_two(monkeypatch: pytest.MonkeyPatch) -> None:
    """A bulk load from two ratings on (instead of 100,000), so small files take that path."""
    monkeypatch.setattr(repositories, "BULK_MIN_ROWS", 2)


def ratings_schema(store: Store) -> set[tuple[str, str]]:
    """The secondary indexes and constraints of ``ratings``, as the database describes them."""
    assert isinstance(store, SqlStore)
    with store.engine.connect() as connection:
        if store.dialect == "sqlite":
            rows = connection.execute(text("SELECT name, sql FROM sqlite_master WHERE tbl_name = 'ratings'"))
            return {(str(a), str(b)) for a, b in rows}
        indexes = connection.execute(text("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'ratings'"))
        constraints = connection.execute(
            text("SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'ratings'::regclass")
        )
        return {(str(a), str(b)) for a, b in [*indexes, *constraints]}


def catalogue(store: Store, count: int) -> list[int]:
    with store.uow() as uow:
        outcomes = uow.movies.upsert_many([MovieDraft(f"movielens:{n}", f"Film {n}", 2000) for n in range(count)])
        uow.commit()
    return [o.movie_id for o in outcomes]


@pytest.mark.sql_only("indexes dropped and rebuilt")
@pytest.mark.usefixtures("bulk_from_two")
def test_a_bulk_load_rebuilds_what_it_dropped_and_keeps_newer_wins(store: Store, tmp_path: Path) -> None:
    catalogue(store, 3)
    schema = ratings_schema(store)
    assert {"ix_ratings_movie_id_rating", "ix_ratings_user_rated_at"} <= {name for name, _ in schema}
    first = write(tmp_path, "user,movie,rating,timestamp\na,movielens:0,6,100\n")  # one rating: not a bulk load
    assert import_csv(store, first).written == 1
    later = write(
        tmp_path,
        "user,movie,rating,timestamp\na,movielens:0,9,50\na,movielens:1,2,50\nb,movielens:2,4,10\n",
        "later.csv",
    )  # three ratings into a table of one: a bulk load, with an older re-rating of the stored one
    assert import_csv(store, later).written == 2
    assert ratings_schema(store) == schema
    assert {(r[0], r[2]) for r in ratings_of(store)} == {("csv-a", 6), ("csv-a", 2), ("csv-b", 4)}


@pytest.mark.sql_only("indexes dropped and rebuilt")
@pytest.mark.usefixtures("bulk_from_two")
def test_a_bulk_load_refused_in_a_later_chunk_leaves_the_table_as_it_was(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from movierec.services import ratings_import

    monkeypatch.setattr(ratings_import, "CHUNK_ROWS", 2)
    catalogue(store, 2)
    schema = ratings_schema(store)
    path = write(tmp_path, "user,movie,rating\na,movielens:0,7\nb,movielens:1,7\nc,movielens:1,7\nd,movielens:1,0\n")
    with pytest.raises(InvalidInput, match="line 5: rating '0'"):
        import_csv(store, path)
    assert ratings_schema(store) == schema
    with store.uow() as uow:
        assert uow.ratings.count() == 0 and uow.users.count() == 0


@pytest.mark.usefixtures("bulk_from_two")
def test_a_bulk_load_checks_its_foreign_keys_once_and_names_a_bad_row(pg_store: SqlStore) -> None:
    (movie,) = catalogue(pg_store, 1)
    schema = ratings_schema(pg_store)
    with pg_store.uow() as uow:
        (user,) = uow.users.ensure_external(["t:1"]).values()
        uow.commit()
    with pg_store.uow() as uow, pytest.raises(InvalidInput, match=rf"movie_id\)=\({movie + 1000}\)"):
        uow.ratings.import_many(np.array([user, user]), np.array([movie, movie + 1000]), np.array([5, 5]), np.zeros(2))
        uow.ratings.finish_import()  # the per-row triggers were dropped: the join at the end finds it
    assert ratings_schema(pg_store) == schema
    with pg_store.uow() as uow:
        assert uow.ratings.count() == 0


@pytest.mark.usefixtures("bulk_from_two")
def test_a_bulk_load_is_not_committed_without_its_rebuild(pg_store: SqlStore) -> None:
    movies = catalogue(pg_store, 2)
    schema = ratings_schema(pg_store)
    with pg_store.uow() as uow:
        (user,) = uow.users.ensure_external(["t:1"]).values()
        uow.commit()
    with pg_store.uow() as uow, pytest.raises(RuntimeError, match="finish_import"):
        uow.ratings.import_many(np.array([user, user]), np.array(movies), np.array([5, 5]), np.zeros(2))
        uow.commit()
    assert ratings_schema(pg_store) == schema


def _import_while_rating(store: Store, concurrent_user: int, movies: list[int], waiting: Callable[[], bool]) -> bool:
    """Import two ratings of user ``t:1`` (movies[0] at time 100, movies[1] at time 100) in an open unit of work;
    meanwhile another thread rates movies[0] for ``concurrent_user`` at time 200 through ``upsert``, as the API
    does. The import commits once ``waiting()`` says the other write waits for it. True when that write was
    acknowledged."""
    acknowledged = threading.Event()
    failed: list[BaseException] = []

    def rate() -> None:
        try:
            with store.uow() as uow:
                moment = dt.datetime.fromtimestamp(200, dt.UTC)
                uow.ratings.upsert(concurrent_user, movies[0], 3, moment)
                uow.commit()
            acknowledged.set()
        except BaseException as exc:  # raised in the test below
            failed.append(exc)

    with store.uow() as uow:
        (user,) = uow.users.ensure_external(["t:1"]).values()
        users = np.array([user, user, concurrent_user])
        micros = np.array([100, 100, 100]) * 1_000_000
        assert uow.ratings.import_many(users, np.array([*movies, movies[0]]), np.array([8, 8, 8]), micros) == 3
        rater = threading.Thread(target=rate)
        rater.start()
        deadline = time.monotonic() + 60
        while not waiting() and not acknowledged.is_set() and time.monotonic() < deadline:
            time.sleep(0.02)
        uow.ratings.finish_import()
        uow.commit()
    rater.join(timeout=60)
    if failed:
        raise failed[0]
    return acknowledged.is_set()


@pytest.mark.parametrize("bulk", [True, False], ids=["bulk-load", "row-by-row"])
def test_a_rating_written_during_a_postgres_import_is_not_lost(
    pg_store: SqlStore, monkeypatch: pytest.MonkeyPatch, bulk: bool
) -> None:
    monkeypatch.setattr(repositories, "BULK_MIN_ROWS", 2 if bulk else 10**9)
    movies = catalogue(pg_store, 2)
    with pg_store.uow() as uow:
        dora = uow.users.add("dora", "hash").id
        uow.commit()

    def waiting() -> bool:  # the other write waits for a lock the import holds
        with pg_store.engine.connect() as connection:
            return bool(
                connection.execute(
                    text(
                        "SELECT count(*) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                    )
                ).scalar()
            )

    assert _import_while_rating(pg_store, dora, movies, waiting)
    found = ratings_of(pg_store)
    assert ("dora", movies[0], 3, 200.0) in found  # the API's later rating won over the imported one
    assert {("t-1", movies[0], 8, 100.0), ("t-1", movies[1], 8, 100.0)} <= found


def test_a_rating_written_during_a_sqlite_import_is_not_lost(tmp_path: Path) -> None:
    with database_url("sqlite", tmp_path) as url:
        store = SqlStore(create_db_engine(url, timeout=60))
        migrate.upgrade(store.engine)
        movies = catalogue(store, 2)
        with store.uow() as uow:
            dora = uow.users.add("dora", "hash").id
            uow.commit()
        # SQLite has one writer: the other write waits for the import's commit (up to its busy timeout), which
        # comes half a second after it started (however late it really starts waiting, it writes after the import)
        started = time.monotonic()
        assert _import_while_rating(store, dora, movies, lambda: time.monotonic() > started + 0.5)
        found = ratings_of(store)
        store.dispose()
    assert ("dora", movies[0], 3, 200.0) in found
    assert {("t-1", movies[0], 8, 100.0), ("t-1", movies[1], 8, 100.0)} <= found


@pytest.mark.sql_only("what a SQL database keeps about a table")
def test_an_import_leaves_the_table_analysed_and_on_postgres_all_visible(store: Store, tmp_path: Path) -> None:
    """Reads by movie (a page's rating counts and means) answer from the (movie_id, rating) index alone only once
    the imported pages are marked all-visible; the import does that itself instead of leaving it to autovacuum."""
    assert isinstance(store, SqlStore)
    catalogue(store, 100)
    rows = "".join(f"u{u},movielens:{m},{1 + (u + m) % 10},{1_700_000_000 + m}\n" for u in range(30) for m in range(99))
    assert import_csv(store, write(tmp_path, "user,movie,rating,timestamp\n" + rows)).written == 2970
    with store.engine.connect() as connection:
        if store.dialect == "sqlite":
            analysed = connection.execute(text("SELECT count(*) FROM sqlite_stat1 WHERE tbl = 'ratings'")).scalar()
            assert analysed
            return
        pages, visible, tuples = connection.execute(
            text("SELECT relpages, relallvisible, reltuples FROM pg_class WHERE relname = 'ratings'")
        ).one()
    assert pages > 1 and visible == pages
    assert tuples == 2970
