"""The unit of work: one session, its repositories, and the only place that commits."""

from __future__ import annotations

from types import TracebackType

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from movierec.store.database import make_session_factory
from movierec.store.repositories import MovieRepository, OutboxRepository, RatingRepository, UserRepository


class UnitOfWork:
    """``with store.uow() as uow: ...; uow.commit()``: leaving without commit rolls back."""

    movies: MovieRepository
    users: UserRepository
    ratings: RatingRepository
    outbox: OutboxRepository

    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self._factory = session_factory
        self.session: Session | None = None

    def __enter__(self) -> UnitOfWork:
        self.session = self._factory()
        self.movies = MovieRepository(self.session)
        self.users = UserRepository(self.session)
        self.ratings = RatingRepository(self.session)
        self.outbox = OutboxRepository(self.session)
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

    def dispose(self) -> None:
        self.engine.dispose()
