"""Typed SQLAlchemy 2 models. Commits happen in the unit of work, never here."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    TypeDecorator,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from movierec.domain.clock import utcnow

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite keeps no zone, so one is put back on read)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: object) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: dt.datetime | None, dialect: object) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


movie_genres = Table(
    "movie_genres",
    Base.metadata,
    Column("movie_id", ForeignKey("movies.id", ondelete="CASCADE"), primary_key=True),
    Column("genre_id", ForeignKey("genres.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class UserRow(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    # What makes two usernames one account (domain.accounts.username_key); see migration 0003 for old duplicates.
    username_key: Mapped[str] = mapped_column(String(80), unique=True)
    # Bumped by a password change or "log out everywhere": tokens carry the version they were issued under.
    token_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # NULL for demo users imported from MovieLens: they exist for their ratings and cannot log in.
    password_hash: Mapped[str | None] = mapped_column(String(255))
    external_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class RevokedTokenRow(Base):
    """Tokens logged out before they expire (``jti``); a row can go once its token has expired anyway."""

    __tablename__ = "revoked_tokens"

    token_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), index=True)


class GenreRow(Base):
    __tablename__ = "genres"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)


class MovieRow(Base):
    __tablename__ = "movies"
    __table_args__ = (
        CheckConstraint("vote_average >= 0 AND vote_average <= 10", name="vote_average_range"),
        Index("ix_movies_added_at_id", "added_at", "id"),
        # Migration 0005 adds ix_movies_release_order (year, release_date, added_at, id, all descending, NULLs last),
        # the order of MovieRepository.latest: declared there, since PostgreSQL needs NULLS LAST and SQLite cannot.
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    external_key: Mapped[str] = mapped_column(String(64), unique=True)
    tmdb_id: Mapped[int | None] = mapped_column(Integer, unique=True)
    title: Mapped[str] = mapped_column(String(300))
    year: Mapped[int | None] = mapped_column(SmallInteger)
    release_date: Mapped[dt.date | None] = mapped_column(Date)
    overview: Mapped[str] = mapped_column(Text, default="")
    vote_average: Mapped[float] = mapped_column(Float, default=0.0)
    vote_count: Mapped[int] = mapped_column(Integer, default=0)
    popularity: Mapped[float] = mapped_column(Float, default=0.0)
    poster_path: Mapped[str | None] = mapped_column(String(300))
    original_language: Mapped[str | None] = mapped_column(String(16))
    added_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    genres: Mapped[list[GenreRow]] = relationship(secondary=movie_genres, lazy="selectin", order_by=GenreRow.name)


class RatingRow(Base):
    __tablename__ = "ratings"
    __table_args__ = (
        CheckConstraint("rating >= 1 AND rating <= 10", name="rating_range"),
        Index("ix_ratings_user_rated_at", "user_id", "rated_at"),
        Index("ix_ratings_movie_id_rating", "movie_id", "rating"),  # migration 0006: numbers from the index alone
    )

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    movie_id: Mapped[int] = mapped_column(ForeignKey("movies.id", ondelete="CASCADE"), primary_key=True)
    rating: Mapped[int] = mapped_column(SmallInteger)
    rated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class MovieOutboxRow(Base):
    """Movies written to the database and not yet acknowledged by the event bus (the transactional outbox)."""

    __tablename__ = "movie_outbox"
    __table_args__ = {"sqlite_autoincrement": True}  # ids never reused: see migration 0002

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    movie_id: Mapped[int] = mapped_column(ForeignKey("movies.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class WatchlistRow(Base):
    """Movies a user means to watch: one row per (user, movie), newest first by ``added_at``."""

    __tablename__ = "watchlist"
    __table_args__ = (Index("ix_watchlist_user_added_at", "user_id", "added_at"),)

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    movie_id: Mapped[int] = mapped_column(ForeignKey("movies.id", ondelete="CASCADE"), primary_key=True, index=True)
    added_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class NotInterestedRow(Base):
    """Movies a user never wants recommended (and a negative signal for movies like them)."""

    __tablename__ = "not_interested"
    __table_args__ = (Index("ix_not_interested_user_added_at", "user_id", "added_at"),)

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    movie_id: Mapped[int] = mapped_column(ForeignKey("movies.id", ondelete="CASCADE"), primary_key=True, index=True)
    added_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
