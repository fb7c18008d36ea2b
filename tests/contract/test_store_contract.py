"""The store contract: repositories behave the same on SQLite, PostgreSQL and in memory; migrations and the
database's own constraints the same on SQLite and PostgreSQL (``sql_only``)."""

from __future__ import annotations

import datetime as dt
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy import event, insert, inspect, text
from sqlalchemy.exc import IntegrityError, OperationalError
from tenacity import Retrying, retry_if_result, stop_after_delay, wait_fixed

from movierec.domain.accounts import UsernameTaken
from movierec.domain.movies import MovieDraft, UnknownMovie
from movierec.store import migrate
from movierec.store.database import create_db_engine, normalise_url
from movierec.store.models import RatingRow
from movierec.store.port import Store
from movierec.store.uow import SqlStore
from tests.conftest import service_url
from tests.contract.conftest import database_url


def drafts(*specs: tuple[str, str, tuple[str, ...]]) -> list[MovieDraft]:
    return [
        MovieDraft(key, title, 2000, genres=genres, vote_average=7.0, vote_count=10) for key, title, genres in specs
    ]


@pytest.mark.sql_only("migrations")
def test_migrations_reach_head_and_go_back(store: Store) -> None:
    assert migrate.current_revision(store.engine) == migrate.head_revision()
    migrate.downgrade(store.engine, "base")
    assert migrate.current_revision(store.engine) is None
    migrate.upgrade(store.engine)
    assert migrate.current_revision(store.engine) == migrate.head_revision()


def test_upsert_new_updated_unchanged(store: Store) -> None:
    with store.uow() as uow:
        first = uow.movies.upsert_many(drafts(("t:1", "Heat", ("Crime",)), ("t:2", "Up", ("Animation",))))
        uow.commit()
    assert [o.status for o in first] == ["new", "new"]
    with store.uow() as uow:
        second = uow.movies.upsert_many(drafts(("t:1", "Heat", ("Crime", "Drama")), ("t:2", "Up", ("Animation",))))
        uow.commit()
    assert [o.status for o in second] == ["updated", "unchanged"]
    assert [o.movie_id for o in second] == [o.movie_id for o in first]
    with store.uow() as uow:
        heat = uow.movies.get(first[0].movie_id)
        assert heat is not None and heat.genres == ("Crime", "Drama")
        assert uow.movies.count() == 2
        assert uow.movies.genre_counts() == [("Animation", 1), ("Crime", 1), ("Drama", 1)]
        assert sorted(uow.movies.ids_in_genre("crime")) == [first[0].movie_id]


def test_uncommitted_work_is_rolled_back(store: Store) -> None:
    with store.uow() as uow:
        uow.movies.upsert_many(drafts(("t:1", "Heat", ())))
    with store.uow() as uow:
        assert uow.movies.count() == 0


def test_latest_newest_first(store: Store) -> None:
    for n in range(3):
        with store.uow() as uow:
            uow.movies.upsert_many(drafts((f"t:{n}", f"Movie {n}", ())))
            uow.commit()
    with store.uow() as uow:
        assert [m.title for m in uow.movies.latest(2)] == ["Movie 2", "Movie 1"]
        assert [m.title for m in uow.movies.latest(2, offset=2)] == ["Movie 0"]


def _user_and_movie(store: Store) -> tuple[int, int]:
    with store.uow() as uow:
        user = uow.users.add("alice", "hash")
        (outcome,) = uow.movies.upsert_many(drafts(("t:1", "Heat", ("Crime",))))
        uow.commit()
    return user.id, outcome.movie_id


def test_rating_again_replaces(store: Store) -> None:
    user_id, movie_id = _user_and_movie(store)
    early = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    with store.uow() as uow:
        uow.ratings.upsert(user_id, movie_id, 4, early)
        uow.commit()
    with store.uow() as uow:
        uow.ratings.upsert(user_id, movie_id, 9, early + dt.timedelta(days=1))
        uow.commit()
    with store.uow() as uow:
        assert uow.ratings.count() == 1
        assert uow.ratings.get(user_id, movie_id) == 9
        total, rows = uow.ratings.for_user(user_id, 10)
        assert total == 1 and rows[0][2] == early + dt.timedelta(days=1)


def test_concurrent_first_ratings_of_one_movie_do_not_conflict(store: Store) -> None:
    """Two requests rating the same movie for the same user at once (a double click): one wins, neither fails."""
    user_id, movie_id = _user_and_movie(store)
    for attempt in range(5):
        with store.uow() as uow:
            uow.ratings.remove(user_id, movie_id)
            uow.commit()
        barrier = threading.Barrier(2)
        errors: list[BaseException] = []

        def rate(value: int, barrier: threading.Barrier = barrier, errors: list[BaseException] = errors) -> None:
            try:
                with store.uow() as uow:
                    barrier.wait(timeout=10)
                    uow.ratings.upsert(user_id, movie_id, value)
                    uow.commit()
            except BaseException as exc:  # reported below, with the attempt
                errors.append(exc)

        threads = [threading.Thread(target=rate, args=(value,)) for value in (3, 8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert errors == [], f"attempt {attempt}: {errors!r}"
        with store.uow() as uow:
            assert uow.ratings.count() == 1 and uow.ratings.get(user_id, movie_id) in (3, 8)


@pytest.mark.sql_only("a CHECK constraint of the ratings table")
@pytest.mark.parametrize("bad", [0, 11, -3])
def test_database_enforces_rating_range(store: Store, bad: int) -> None:
    user_id, movie_id = _user_and_movie(store)
    with store.uow() as uow, pytest.raises(IntegrityError):
        uow.session.execute(
            insert(RatingRow.__table__).values(
                user_id=user_id, movie_id=movie_id, rating=bad, rated_at=dt.datetime.now(dt.UTC)
            )
        )
        uow.session.flush()


@pytest.mark.sql_only("the primary key of the ratings table")
def test_database_enforces_one_rating_per_user_and_movie(store: Store) -> None:
    user_id, movie_id = _user_and_movie(store)
    now = dt.datetime.now(dt.UTC)
    with store.uow() as uow:
        uow.ratings.upsert(user_id, movie_id, 5, now)
        uow.commit()
    with store.uow() as uow, pytest.raises(IntegrityError):
        uow.session.execute(
            insert(RatingRow.__table__).values(user_id=user_id, movie_id=movie_id, rating=6, rated_at=now)
        )
        uow.session.flush()


def test_history_and_interactions(store: Store) -> None:
    with store.uow() as uow:
        user = uow.users.add("alice", "hash")
        outcomes = uow.movies.upsert_many(drafts(("t:1", "A", ()), ("t:2", "B", ()), ("t:3", "C", ())))
        uow.commit()
    base = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    with store.uow() as uow:
        for n, outcome in enumerate(outcomes):
            uow.ratings.upsert(user.id, outcome.movie_id, n + 5, base + dt.timedelta(hours=n))
        uow.commit()
    with store.uow() as uow:
        items, ratings, times = uow.ratings.history(user.id)
        assert items.tolist() == [o.movie_id for o in outcomes]
        assert ratings.tolist() == [5, 6, 7]
        assert times[0] == base.timestamp()
        total, newest = uow.ratings.for_user(user.id, 2)
        assert total == 3 and [r[0] for r in newest] == [outcomes[2].movie_id, outcomes[1].movie_id]
        users, movies, values, _ = uow.ratings.all_interactions()
        assert sorted(values.tolist()) == [5, 6, 7] and set(users.tolist()) == {user.id}


def test_usernames_are_unique(store: Store) -> None:
    with store.uow() as uow:
        uow.users.add("alice", "hash")
        uow.commit()
    with store.uow() as uow, pytest.raises(UsernameTaken):  # a domain error, not the database's
        uow.users.add("alice", "other")


def test_external_users_are_created_once(store: Store) -> None:
    with store.uow() as uow:
        first = uow.users.ensure_external(["movielens:1", "movielens:2", "movielens:1"])
        uow.commit()
    with store.uow() as uow:
        second = uow.users.ensure_external(["movielens:2", "movielens:3"])
        uow.commit()
        assert second["movielens:2"] == first["movielens:2"]
        assert uow.users.count() == 3
        user, password_hash = uow.users.credentials("movielens-1")  # type: ignore[misc]
        assert password_hash is None and not user.can_log_in


def test_outbox_in_order_and_removed(store: Store) -> None:
    with store.uow() as uow:
        outcomes = uow.movies.upsert_many(drafts(("t:1", "A", ()), ("t:2", "B", ())))
        uow.outbox.add([o.movie_id for o in outcomes])
        uow.commit()
    with store.uow() as uow:
        pending = uow.outbox.pending(10)
        assert [movie_id for _, movie_id in pending] == [o.movie_id for o in outcomes]
        uow.outbox.remove([pending[0][0]])
        uow.commit()
    with store.uow() as uow:
        assert uow.outbox.count() == 1


def test_timestamps_are_utc(store: Store) -> None:
    user_id, movie_id = _user_and_movie(store)
    with store.uow() as uow:
        uow.ratings.upsert(user_id, movie_id, 7)
        uow.commit()
    with store.uow() as uow:
        _, rows = uow.ratings.for_user(user_id, 1)
        assert rows[0][2].tzinfo is not None and rows[0][2].utcoffset() == dt.timedelta(0)
        movie = uow.movies.get(movie_id)
        assert movie is not None and movie.added_at is not None and movie.added_at.tzinfo is not None


def test_url_normalisation() -> None:
    assert normalise_url("postgres://u:p@h/db").startswith("postgresql+psycopg://")
    assert normalise_url("postgresql://u:p@h/db").startswith("postgresql+psycopg://")
    assert normalise_url("sqlite:///x.db") == "sqlite:///x.db"
    with pytest.raises(ValueError):
        create_db_engine("mysql://u:p@h/db")


@pytest.mark.slow  # two Python processes: 3-4 s, more on a busy machine
def test_concurrent_migrations_on_postgres(tmp_path: Path) -> None:
    """Two `movierec migrate` processes on one fresh database: both wait for the lock, one migrates, both succeed."""
    with database_url("postgres", tmp_path) as url:
        _concurrent_migrations(url, tmp_path)


def _concurrent_migrations(url: str, tmp_path: Path) -> None:
    engine = create_db_engine(url)
    try:
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "SECRET_KEY": "a-test-secret-that-is-long-enough",
            "MOVIEREC_DATA_DIR": str(tmp_path / "data"),
            # a lock timeout shorter than the time the lock is held below: waiting for a migration in progress
            # must not count against it
            "DB_TIMEOUT": "1",
        }
        with engine.connect() as holder:
            # Hold the migrators' lock, start both, and let them go only once both are waiting for it.
            holder.execute(text("SELECT pg_advisory_lock(:key)"), {"key": migrate._PG_LOCK_KEY})
            holder.commit()
            processes = [
                subprocess.Popen(
                    [sys.executable, "-m", "movierec", "migrate"],
                    env=env,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )
                for _ in range(2)
            ]
            try:
                waiting = text(
                    "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database "
                    "WHERE l.locktype = 'advisory' AND NOT l.granted AND d.datname = current_database()"
                )

                def waiting_processes() -> int:
                    count = holder.execute(waiting).scalar_one()
                    holder.commit()
                    return int(count)

                wait_for_both = Retrying(
                    stop=stop_after_delay(30), wait=wait_fixed(0.1), retry=retry_if_result(lambda n: n < 2)
                )
                assert wait_for_both(waiting_processes) == 2
                time.sleep(1.5)  # longer than the lock timeout the processes run with
            finally:
                holder.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": migrate._PG_LOCK_KEY})
                holder.commit()
            results = [process.communicate(timeout=60) for process in processes]
        codes = [process.returncode for process in processes]
        assert codes == [0, 0], results
        head = migrate.head_revision()
        assert all(f"database at revision {head}" in out for out, _ in results)
        assert migrate.current_revision(engine) == head
        with engine.connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM alembic_version")).scalar_one() == 1
        store = SqlStore(engine)
        with store.uow() as uow:
            assert uow.movies.count() == 0
    finally:
        engine.dispose()


def test_outbox_ids_are_never_reused(store: Store) -> None:
    """A relay deletes the ids it published; an id reused by a newer entry would be deleted unpublished."""
    with store.uow() as uow:
        (outcome,) = uow.movies.upsert_many(drafts(("t:1", "A", ())))
        uow.outbox.add([outcome.movie_id, outcome.movie_id])
        uow.commit()
    with store.uow() as uow:
        first = [outbox_id for outbox_id, _ in uow.outbox.pending(10)]
        uow.outbox.remove(first)  # the outbox is now empty
        uow.commit()
    with store.uow() as uow:
        uow.outbox.add([outcome.movie_id])
        uow.commit()
    with store.uow() as uow:
        (newer,) = [outbox_id for outbox_id, _ in uow.outbox.pending(10)]
    assert newer > max(first)


def test_of_racing_re_ratings_the_latest_rated_at_is_kept(store: Store) -> None:
    """Re-ratings of one movie committed in any order: what stays is the one with the latest ``rated_at``, and
    every upsert answers with what is stored."""
    user_id, movie_id = _user_and_movie(store)
    base = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    stamps = [base + dt.timedelta(seconds=n) for n in range(40)]
    order = stamps[::2][::-1] + stamps[1::2]  # later ones first, then earlier ones interleaved
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []
    answers: list[tuple[int, dt.datetime]] = []

    def rate(chunk: list[dt.datetime]) -> None:
        try:
            barrier.wait(timeout=30)
            for at in chunk:
                with store.uow() as uow:
                    answers.append(uow.ratings.upsert(user_id, movie_id, at.second % 10 + 1, at))
                    uow.commit()
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=rate, args=(order[n::8],)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    latest = max(stamps)
    with store.uow() as uow:
        assert uow.ratings.get(user_id, movie_id) == latest.second % 10 + 1
        _, rows = uow.ratings.for_user(user_id, 10)
        assert rows[0][2] == latest
    assert all(rating == at.second % 10 + 1 for rating, at in answers)  # each answer is a stored pair
    with store.uow() as uow:  # an older rating arriving now changes nothing, and says what is kept
        assert uow.ratings.upsert(user_id, movie_id, 1, base) == (latest.second % 10 + 1, latest)
        uow.commit()


def test_usernames_are_one_account_in_any_case(store: Store) -> None:
    with store.uow() as uow:
        ada = uow.users.add("Ada", "hash")
        uow.commit()
    for lookalike in ("ada", "ADA", "ＡＤＡ"):
        with store.uow() as uow:
            assert uow.users.key_taken(lookalike)
            with pytest.raises(UsernameTaken):
                uow.users.add(lookalike, "hash")
    with store.uow() as uow:
        found = uow.users.credentials("aDA")
        assert found is not None and found[0].id == ada.id and found[0].username == "Ada"


@pytest.mark.sql_only("migrations")
def test_migration_keeps_old_lookalike_accounts_apart_deterministically(store: Store) -> None:
    """Accounts from before 0003 that differ only in case: the oldest keeps the key, each still logs in."""
    migrate.downgrade(store.engine, "0002")
    with store.engine.begin() as connection:
        for user_id, name in ((3, "ada"), (1, "Ada"), (2, "ADA"), (4, "bob")):
            connection.execute(
                text("INSERT INTO users (id, username, password_hash, created_at) VALUES (:id, :name, 'h', :at)"),
                {"id": user_id, "name": name, "at": dt.datetime(2026, 1, 1, tzinfo=dt.UTC)},
            )
    migrate.upgrade(store.engine)
    with store.engine.connect() as connection:
        keys = dict(connection.execute(text("SELECT id, username_key FROM users")).all())
    assert keys == {1: "ada", 2: "ada#2", 3: "ada#3", 4: "bob"}
    with store.uow() as uow:
        assert uow.users.credentials("ADA")[0].id == 1  # type: ignore[index]  # the key: the oldest
        assert uow.users.credentials("aDa")[0].id == 1  # type: ignore[index]
        assert uow.users.credentials("ada") is not None
        assert {uow.users.credentials(name)[0].id for name in ("Ada", "bob")} == {1, 4}  # type: ignore[index]


def test_token_state_follows_revocations(store: Store) -> None:
    user_id, _ = _user_and_movie(store)
    expires = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    with store.uow() as uow:
        assert uow.users.token_state(user_id, "a" * 32) == (0, False)
        assert uow.users.token_state(user_id + 1000, "a" * 32) is None
        uow.users.revoke_token("a" * 32, user_id, expires)
        uow.users.revoke_token("a" * 32, user_id, expires)  # twice is harmless
        uow.users.revoke_token("b" * 32, user_id, dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
        uow.commit()
    with store.uow() as uow:
        assert uow.users.token_state(user_id, "a" * 32) == (0, True)
        assert uow.users.token_state(user_id, "c" * 32) == (0, False)
        assert uow.users.revoke_all_tokens(user_id) == 1
        assert uow.users.set_password_hash(user_id, "new hash", revoke_tokens=True) == 2
        uow.users.revoke_token("c" * 32, user_id, expires)  # purges rows of tokens that expired anyway
        uow.commit()
    if isinstance(store, SqlStore):  # the rows themselves: what the purge left
        with store.engine.connect() as connection:
            remaining = {row[0] for row in connection.execute(text("SELECT token_id FROM revoked_tokens"))}
        assert remaining == {"a" * 32, "c" * 32}


@pytest.mark.services
def test_a_command_waits_for_the_database_to_answer(tmp_path: Path) -> None:
    """A one-shot command started while PostgreSQL restarts (or its host name briefly does not resolve) waits for
    it, bounded: nothing listens at first, then a real server does, and the wait ends on its first answer."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    real = urlsplit(normalise_url(service_url("postgres")))
    store = SqlStore(create_db_engine(f"postgresql://movierec:movierec@127.0.0.1:{port}/movierec", timeout=1.0))
    relay = subprocess.Popen(  # after a while, a TCP relay on that port forwards to the real server
        [sys.executable, "-c", RELAY, str(port), real.hostname or "127.0.0.1", str(real.port or 5432)]
    )
    try:
        assert store.wait_until_reachable(timeout=120) >= 2  # refused at least once, then answered
    finally:
        relay.kill()
        relay.wait(10)
        store.dispose()
    down = SqlStore(create_db_engine(f"postgresql://movierec:movierec@127.0.0.1:{port}/movierec", timeout=1.0))
    with pytest.raises(OperationalError):
        down.wait_until_reachable(timeout=1.0)  # never answers: the last error, once the wait is over
    down.dispose()


RELAY = """
import socket, sys, threading, time
port, host, target = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
time.sleep(2)
server = socket.socket(); server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("127.0.0.1", port)); server.listen(8)
def pipe(a, b):
    try:
        while data := a.recv(65536):
            b.sendall(data)
    except OSError:
        pass
    finally:
        a.close(); b.close()
while True:
    client, _ = server.accept()
    upstream = socket.create_connection((host, target))
    threading.Thread(target=pipe, args=(client, upstream), daemon=True).start()
    threading.Thread(target=pipe, args=(upstream, client), daemon=True).start()
"""


@pytest.mark.parametrize("kind", ["watchlist", "not_interested"])
def test_a_users_movie_list_adds_once_removes_once_newest_first(store: Store, kind: str) -> None:
    user_id, heat = _user_and_movie(store)
    with store.uow() as uow:
        (up,) = uow.movies.upsert_many(drafts(("t:2", "Up", ("Animation",))))
        bob = uow.users.add("bob", "hash")
        uow.commit()
    early = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    with store.uow() as uow:
        lists = getattr(uow, kind)
        assert lists.add(user_id, heat, early) is True
        assert lists.add(user_id, heat, early + dt.timedelta(days=5)) is False  # already there: kept as it was
        assert lists.add(user_id, up.movie_id, early + dt.timedelta(days=1)) is True
        uow.commit()
    with store.uow() as uow:
        lists = getattr(uow, kind)
        assert lists.ids(user_id) == [up.movie_id, heat]
        total, rows = lists.page(user_id, 1, 0)
        assert total == 2 and rows == [(up.movie_id, early + dt.timedelta(days=1))]
        assert lists.page(user_id, 10, 1) == (2, [(heat, early)])
        assert lists.contains(user_id, heat) and not lists.contains(bob.id, heat)
        assert lists.ids(bob.id) == []
        assert lists.remove(user_id, heat) is True
        assert lists.remove(user_id, heat) is False
        assert lists.remove(bob.id, up.movie_id) is False  # someone else's entry is not touched
        uow.commit()
    with store.uow() as uow:
        lists = getattr(uow, kind)
        assert lists.ids(user_id) == [up.movie_id]


@pytest.mark.parametrize("kind", ["watchlist", "not_interested"])
def test_adding_an_unknown_movie_raises_a_domain_error_and_leaves_the_transaction_usable(
    store: Store, kind: str
) -> None:
    user_id, heat = _user_and_movie(store)
    with store.uow() as uow:
        lists = getattr(uow, kind)
        with pytest.raises(UnknownMovie):
            lists.add(user_id, heat + 1000)
        assert lists.add(user_id, heat) is True
        uow.commit()
    with store.uow() as uow:
        assert getattr(uow, kind).ids(user_id) == [heat]


@pytest.mark.sql_only("ON DELETE CASCADE (the port removes no movies)")
def test_lists_and_ratings_go_with_their_movie_and_user(store: Store) -> None:
    user_id, heat = _user_and_movie(store)
    with store.uow() as uow:
        uow.watchlist.add(user_id, heat)
        uow.not_interested.add(user_id, heat)
        uow.commit()
    with store.uow() as uow:
        uow.session.execute(text("DELETE FROM movies"))
        uow.commit()
    with store.uow() as uow:
        assert uow.watchlist.ids(user_id) == [] and uow.not_interested.ids(user_id) == []


def test_removing_a_rating_takes_it_back_once(store: Store) -> None:
    user_id, movie_id = _user_and_movie(store)
    with store.uow() as uow:
        uow.ratings.upsert(user_id, movie_id, 7)
        uow.commit()
    with store.uow() as uow:
        assert uow.ratings.remove(user_id, movie_id) is True
        assert uow.ratings.remove(user_id, movie_id) is False
        uow.commit()
    with store.uow() as uow:
        assert uow.ratings.get(user_id, movie_id) is None
        assert uow.ratings.for_user(user_id, 10) == (0, [])


@pytest.mark.sql_only("migrations")
def test_migration_0004_adds_the_lists_and_its_downgrade_removes_them(store: Store) -> None:
    user_id, movie_id = _user_and_movie(store)
    migrate.downgrade(store.engine, "0003")
    with store.engine.connect() as connection:
        tables = set(inspect(connection).get_table_names())
    assert not {"watchlist", "not_interested"} & tables
    migrate.upgrade(store.engine)
    with store.uow() as uow:  # users and movies from before the migration can use the new lists at once
        assert uow.watchlist.add(user_id, movie_id) and uow.not_interested.add(user_id, movie_id)
        uow.commit()


def test_latest_puts_the_newest_releases_first_when_everything_was_added_at_once(store: Store) -> None:
    """One batch, so one ``added_at``: release year orders, then release date; unknown years come last; later
    batches win only among movies of the same release."""
    batch = [
        MovieDraft("t:old", "Casablanca", 1942),
        MovieDraft("t:undated", "Undated"),
        MovieDraft("t:new-early", "Early 2016", release_date=dt.date(2016, 2, 1)),
        MovieDraft("t:mid", "Heat", 1995),
        MovieDraft("t:new-late", "Late 2016", release_date=dt.date(2016, 11, 30)),
        MovieDraft("t:new-yearonly", "Some 2016", 2016),
    ]
    with store.uow() as uow:
        uow.movies.upsert_many(batch)
        uow.commit()
    with store.uow() as uow:
        uow.movies.upsert_many([MovieDraft("t:added-later", "Also 1995", 1995)])
        uow.commit()
    with store.uow() as uow:
        titles = [m.title for m in uow.movies.latest(10)]
        assert titles == ["Late 2016", "Early 2016", "Some 2016", "Also 1995", "Heat", "Casablanca", "Undated"]
        assert [m.title for m in uow.movies.latest(3, offset=3)] == titles[3:6]


def test_numbers_say_where_votes_come_from_and_count_this_apps_ratings_in_one_query(store: Store) -> None:
    specs = [
        MovieDraft("tmdb:603", "The Matrix", 1999, vote_average=8.2, vote_count=20_000, popularity=80.5),
        MovieDraft("imdb:1", "Heat", 1995, vote_average=8.3, vote_count=600, popularity=600.0),
        MovieDraft("movielens:1", "Toy Story", 1995, vote_average=8.1, vote_count=900, popularity=247.0),
        MovieDraft("movielens:2", "Obscure", 2001, vote_average=7.0, vote_count=3, popularity=3.0),
        MovieDraft("other:9", "Unknown source", 2001),
    ]
    with store.uow() as uow:
        ids = [o.movie_id for o in uow.movies.upsert_many(specs)]
        users = [uow.users.add(f"user{n}", "hash").id for n in range(3)]
        for user_id, value in zip(users, (9, 6, 8), strict=True):
            uow.ratings.upsert(user_id, ids[0], value)
        uow.ratings.upsert(users[0], ids[3], 4)
        uow.commit()
    statements: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement)

    engine = store.engine if isinstance(store, SqlStore) else None  # on SQL: one query for the page
    if engine is not None:
        event.listen(engine, "before_cursor_execute", count)
    try:
        with store.uow() as uow:
            numbers = uow.movies.numbers([*ids, 999_999])
    finally:
        if engine is not None:
            event.remove(engine, "before_cursor_execute", count)
    if engine is not None:
        assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) == 1
    assert set(numbers) == set(ids)  # an id no movie has is simply absent
    by_title = {spec.title: numbers[movie_id] for spec, movie_id in zip(specs, ids, strict=True)}
    assert by_title["The Matrix"].vote_source == "TMDB"
    assert (by_title["The Matrix"].community_average, by_title["The Matrix"].community_count) == (7.67, 3)
    assert by_title["Heat"].vote_source == "IMDb"
    assert by_title["Toy Story"].vote_source == "IMDb"  # IMDb's votes: not the MovieLens count (its popularity)
    assert by_title["Obscure"].vote_source == "MovieLens"
    assert (by_title["Obscure"].community_average, by_title["Obscure"].community_count) == (4.0, 1)
    assert by_title["Unknown source"].vote_source is None
    assert (by_title["Heat"].community_average, by_title["Heat"].community_count) == (None, 0)


@pytest.mark.sql_only("migrations")
def test_migration_0005_adds_the_release_order_index_and_its_downgrade_removes_it(store: Store) -> None:
    def indexes() -> set[str]:
        with store.engine.connect() as connection:
            return {str(i["name"]) for i in inspect(connection).get_indexes("movies")}

    assert "ix_movies_release_order" in indexes()
    migrate.downgrade(store.engine, "0004")
    assert "ix_movies_release_order" not in indexes()
    migrate.upgrade(store.engine)
    assert "ix_movies_release_order" in indexes()
    with store.uow() as uow:
        uow.movies.upsert_many([MovieDraft("t:1", "Heat", 1995), MovieDraft("t:2", "Undated")])
        uow.commit()
    with store.uow() as uow:
        assert [m.title for m in uow.movies.latest(5)] == ["Heat", "Undated"]


@pytest.mark.sql_only("migrations")
def test_migration_0006_moves_the_ratings_movie_index_onto_movie_and_rating_and_its_downgrade_back(
    store: Store,
) -> None:
    def indexes() -> dict[str, list[str]]:
        with store.engine.connect() as connection:
            return {str(i["name"]): list(i["column_names"]) for i in inspect(connection).get_indexes("ratings")}

    assert indexes()["ix_ratings_movie_id_rating"] == ["movie_id", "rating"]
    assert "ix_ratings_movie_id" not in indexes()
    migrate.downgrade(store.engine, "0005")
    assert indexes()["ix_ratings_movie_id"] == ["movie_id"]
    assert "ix_ratings_movie_id_rating" not in indexes()
    migrate.upgrade(store.engine)
    assert indexes()["ix_ratings_movie_id_rating"] == ["movie_id", "rating"]


def _selects(store: Store) -> tuple[list[str], object]:
    """The SELECT statements a block runs on a SQL store (None on the in-memory one): a list and a remover."""
    statements: list[str] = []
    engine = store.engine if isinstance(store, SqlStore) else None

    def count(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append(statement)

    if engine is not None:
        event.listen(engine, "before_cursor_execute", count)
    return statements, (lambda: event.remove(engine, "before_cursor_execute", count)) if engine else None


def test_movies_with_their_numbers_are_read_in_one_query_as_get_many_and_numbers_give_them(store: Store) -> None:
    specs = [
        MovieDraft("tmdb:603", "The Matrix", 1999, genres=("Sci-Fi", "Action", "Drama"), vote_count=20),
        MovieDraft("movielens:2", "Obscure", 2001, vote_average=7.0, vote_count=3, popularity=3.0),
        MovieDraft("imdb:1", "Heat", 1995, genres=("Thriller", "Crime", "War"), vote_count=600),
    ]
    with store.uow() as uow:
        ids = [o.movie_id for o in uow.movies.upsert_many(specs)]
        users = [uow.users.add(f"user{n}", "hash").id for n in range(3)]
        for user_id, value in zip(users, (9, 6, 8), strict=True):
            uow.ratings.upsert(user_id, ids[0], value)
        uow.ratings.upsert(users[0], ids[1], 4)
        uow.commit()
    wanted = [ids[2], 999_999, ids[0], ids[1], ids[0]]
    with store.uow() as uow:
        movies, numbers = uow.movies.get_many(wanted), uow.movies.numbers(wanted)
    statements, stop = _selects(store)
    try:
        with store.uow() as uow:
            both = uow.movies.with_numbers(wanted)
    finally:
        if callable(stop):
            stop()
    if stop is not None:
        assert len(statements) == 1
    assert sorted(both) == sorted(ids)  # each once; an id no movie has is simply absent
    assert both == {movie_id: (movies[movie_id], numbers[movie_id]) for movie_id in both}
    matrix, figures = both[ids[0]]
    assert matrix.genres == ("Action", "Drama", "Sci-Fi")  # by name, as every read gives them
    assert both[ids[2]][0].genres == ("Crime", "Thriller", "War")
    assert (figures.community_average, figures.community_count, figures.vote_source) == (7.67, 3, "TMDB")
    assert (both[ids[2]][1].community_average, both[ids[2]][1].community_count) == (None, 0)
    assert both[ids[1]][0].genres == () and both[ids[1]][1].community_count == 1
    with store.uow() as uow:  # movies a page only names come without numbers, in the same query
        named = uow.movies.with_numbers([ids[1]], also=[ids[0], ids[1], 999_999])
        only_named = uow.movies.with_numbers([], also=[ids[2]])
    assert named == {ids[1]: both[ids[1]], ids[0]: (movies[ids[0]], None)}
    assert only_named == {ids[2]: (movies[ids[2]], None)}


def test_history_and_not_interested_read_together_are_what_each_read_alone_gives(store: Store) -> None:
    with store.uow() as uow:
        user = uow.users.add("alice", "hash")
        other = uow.users.add("bob", "hash")
        outcomes = uow.movies.upsert_many(drafts(*((f"t:{n}", f"M{n}", ()) for n in range(6))))
        uow.commit()
    movie = [o.movie_id for o in outcomes]
    base = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    with store.uow() as uow:
        uow.ratings.upsert(user.id, movie[2], 9, base + dt.timedelta(hours=2))
        uow.ratings.upsert(user.id, movie[0], 7, base + dt.timedelta(hours=1))
        uow.ratings.upsert(user.id, movie[1], 5, base + dt.timedelta(hours=1))  # the same time: by movie id
        uow.ratings.upsert(other.id, movie[3], 8, base)
        uow.not_interested.add(user.id, movie[3], base)
        uow.not_interested.add(user.id, movie[5], base + dt.timedelta(days=1))
        uow.not_interested.add(user.id, movie[4], base + dt.timedelta(days=1))  # the same time: by movie id
        uow.not_interested.add(other.id, movie[0], base)
        uow.commit()
    for who in (user.id, other.id, 999_999):
        with store.uow() as uow:
            expected_history, expected_banned = uow.ratings.history(who), uow.not_interested.ids(who)
        with store.uow() as uow:
            history, banned = uow.ratings.history_and_not_interested(who)
        assert banned == expected_banned
        for got, expected in zip(history, expected_history, strict=True):
            assert got.tolist() == expected.tolist()
    with store.uow() as uow:
        history, banned = uow.ratings.history_and_not_interested(user.id)
    assert history[0].tolist() == [movie[0], movie[1], movie[2]] and history[1].tolist() == [7, 5, 9]
    assert history[2].tolist() == [(base + dt.timedelta(hours=h)).timestamp() for h in (1, 1, 2)]
    assert banned == [movie[5], movie[4], movie[3]]


def test_a_reader_sees_each_commit_at_once_and_refuses_to_commit(store: Store) -> None:
    with store.uow() as uow:
        user = uow.users.add("alice", "hash")
        (heat,) = uow.movies.upsert_many(drafts(("t:1", "Heat", ("Crime",))))
        uow.commit()
    with store.reader() as reader:
        assert reader.ratings.history_and_not_interested(user.id)[0][0].tolist() == []
        if isinstance(store, SqlStore):  # each statement reads the latest commit (memory: one unit at a time)
            with store.uow() as uow:
                uow.ratings.upsert(user.id, heat.movie_id, 8)
                uow.commit()
            assert reader.ratings.history(user.id)[1].tolist() == [8]
        assert reader.movies.with_numbers([heat.movie_id])[heat.movie_id][0].title == "Heat"
        with pytest.raises(RuntimeError, match="does not write"):
            reader.commit()
    with store.uow() as uow:
        assert uow.ratings.get(user.id, heat.movie_id) == (8 if isinstance(store, SqlStore) else None)
