"""The SQL store (SQLite or PostgreSQL) behind the store port (``store/port.py``): a unit of work is one session,
its repositories, and the only place that commits.

A database that does not answer (refused, dropped, timed out, locked for too long, the pool exhausted) surfaces as
the domain's ``DatabaseUnavailable``, so nothing above the store knows SQLAlchemy's errors."""

from __future__ import annotations

from types import TracebackType

from sqlalchemy import Engine, text
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session, sessionmaker
from tenacity import Retrying, retry_if_exception_type, stop_after_delay, wait_exponential

from movierec.domain.errors import DatabaseUnavailable
from movierec.store.database import make_session_factory
from movierec.store.repositories import (
    MovieRepository,
    NotInterestedRepository,
    OutboxRepository,
    RatingRepository,
    UserRepository,
    WatchlistRepository,
    settle_ratings,
)

# What a database that does not answer raises (a SQL error of the statement itself is none of these).
UNREACHABLE = (OperationalError, InterfaceError, PoolTimeout)


class SqlUnitOfWork:
    """``with store.uow() as uow: ...; uow.commit()``: leaving without commit rolls back."""

    movies: MovieRepository
    users: UserRepository
    ratings: RatingRepository
    outbox: OutboxRepository
    watchlist: WatchlistRepository
    not_interested: NotInterestedRepository

    def __init__(self, session_factory: sessionmaker[Session], *, read_only: bool = False) -> None:
        self._factory = session_factory
        self._read_only = read_only
        self.session: Session | None = None

    def __enter__(self) -> SqlUnitOfWork:
        self.session = self._factory()
        self.movies = MovieRepository(self.session)
        self.users = UserRepository(self.session)
        self.ratings = RatingRepository(self.session)
        self.outbox = OutboxRepository(self.session)
        self.watchlist = WatchlistRepository(self.session)
        self.not_interested = NotInterestedRepository(self.session)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self.session is not None
        try:
            self.session.rollback()
        except UNREACHABLE:
            if exc is None:
                raise DatabaseUnavailable() from None
        finally:
            self.session.close()
            self.session = None
        if isinstance(exc, UNREACHABLE):
            raise DatabaseUnavailable() from exc

    def commit(self) -> None:
        assert self.session is not None
        if self._read_only:
            raise RuntimeError("a reader does not write: open store.uow() to commit")
        self.session.commit()


class SqlStore:
    """The database: an engine and a factory of units of work."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._factory = make_session_factory(engine)
        # Readers run each statement on its own (autocommit): no BEGIN or ROLLBACK round trip on PostgreSQL. SQLite's
        # driver begins a transaction only before a write, so its reads are on their own already: switching the
        # connection to autocommit and back would only add a PRAGMA and two driver calls per reader.
        self._read_factory = (
            make_session_factory(engine.execution_options(isolation_level="AUTOCOMMIT"))
            if engine.dialect.name == "postgresql"
            else self._factory
        )

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def uow(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self._factory)

    def reader(self) -> SqlUnitOfWork:
        """A unit of work that only reads, each statement seeing the latest commit (no transaction: two round
        trips fewer on PostgreSQL, the BEGIN and the ROLLBACK); its ``commit`` raises."""
        return SqlUnitOfWork(self._read_factory, read_only=True)

    def ping(self) -> None:
        try:
            self._ping()
        except UNREACHABLE as exc:
            raise DatabaseUnavailable() from exc

    def settle_ratings(self, rows_written: int) -> None:
        if rows_written <= 0:
            return
        try:
            with self.engine.connect() as connection:
                settle_ratings(connection.execution_options(isolation_level="AUTOCOMMIT"), rows_written)
        except UNREACHABLE as exc:
            raise DatabaseUnavailable() from exc

    def _ping(self) -> None:
        with self.engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    def wait_until_reachable(self, timeout: float) -> int:
        """Ping until the database answers, for at most ``timeout`` seconds (then the last error is raised): a
        one-shot command started while the database restarts, or while its name briefly does not resolve in a
        container network, waits for it instead of failing. The number of attempts it took."""
        retrying = Retrying(
            stop=stop_after_delay(timeout),
            wait=wait_exponential(multiplier=0.2, max=2.0),
            retry=retry_if_exception_type(OperationalError),
            reraise=True,
        )
        attempts = 0
        for attempt in retrying:
            with attempt:
                attempts = attempt.retry_state.attempt_number
                self._ping()
        return attempts

    def dispose(self) -> None:
        self.engine.dispose()
