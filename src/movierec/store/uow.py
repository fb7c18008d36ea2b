"""The unit of work: one session, its repositories, and the only place that commits."""

from __future__ import annotations

from types import TracebackType

from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker
from tenacity import Retrying, retry_if_exception_type, stop_after_delay, wait_exponential

from movierec.store.database import make_session_factory
from movierec.store.repositories import (
    MovieRepository,
    NotInterestedRepository,
    OutboxRepository,
    RatingRepository,
    UserRepository,
    WatchlistRepository,
)


class UnitOfWork:
    """``with store.uow() as uow: ...; uow.commit()``: leaving without commit rolls back."""

    movies: MovieRepository
    users: UserRepository
    ratings: RatingRepository
    outbox: OutboxRepository
    watchlist: WatchlistRepository
    not_interested: NotInterestedRepository

    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self._factory = session_factory
        self.session: Session | None = None

    def __enter__(self) -> UnitOfWork:
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
        finally:
            self.session.close()
            self.session = None

    def commit(self) -> None:
        assert self.session is not None
        self.session.commit()


class Store:
    """The database: an engine and a factory of units of work."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._factory = make_session_factory(engine)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self._factory)

    def ping(self) -> None:
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
                self.ping()
        return attempts

    def dispose(self) -> None:
        self.engine.dispose()
