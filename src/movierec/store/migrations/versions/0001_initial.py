"""Initial schema: users, movies, genres, ratings and the movie outbox.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from movierec.store.models import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=True),
        sa.Column("external_key", sa.String(64), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
        sa.UniqueConstraint("username", name="uq_users_username"),
        sa.UniqueConstraint("external_key", name="uq_users_external_key"),
    )
    op.create_table(
        "genres",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_genres"),
        sa.UniqueConstraint("name", name="uq_genres_name"),
    )
    op.create_table(
        "movies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("external_key", sa.String(64), nullable=False),
        sa.Column("tmdb_id", sa.Integer(), nullable=True),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("year", sa.SmallInteger(), nullable=True),
        sa.Column("release_date", sa.Date(), nullable=True),
        sa.Column("overview", sa.Text(), nullable=False),
        sa.Column("vote_average", sa.Float(), nullable=False),
        sa.Column("vote_count", sa.Integer(), nullable=False),
        sa.Column("popularity", sa.Float(), nullable=False),
        sa.Column("poster_path", sa.String(300), nullable=True),
        sa.Column("original_language", sa.String(16), nullable=True),
        sa.Column("added_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint("vote_average >= 0 AND vote_average <= 10", name="ck_movies_vote_average_range"),
        sa.PrimaryKeyConstraint("id", name="pk_movies"),
        sa.UniqueConstraint("external_key", name="uq_movies_external_key"),
        sa.UniqueConstraint("tmdb_id", name="uq_movies_tmdb_id"),
    )
    op.create_index("ix_movies_added_at_id", "movies", ["added_at", "id"])
    op.create_table(
        "movie_genres",
        sa.Column("movie_id", sa.Integer(), nullable=False),
        sa.Column("genre_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["movie_id"], ["movies.id"], name="fk_movie_genres_movie_id_movies", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["genre_id"], ["genres.id"], name="fk_movie_genres_genre_id_genres", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("movie_id", "genre_id", name="pk_movie_genres"),
    )
    op.create_index("ix_movie_genres_genre_id", "movie_genres", ["genre_id"])
    op.create_table(
        "ratings",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("movie_id", sa.Integer(), nullable=False),
        sa.Column("rating", sa.SmallInteger(), nullable=False),
        sa.Column("rated_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint("rating >= 1 AND rating <= 10", name="ck_ratings_rating_range"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_ratings_user_id_users", ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["movie_id"], ["movies.id"], name="fk_ratings_movie_id_movies", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id", "movie_id", name="pk_ratings"),
    )
    op.create_index("ix_ratings_movie_id", "ratings", ["movie_id"])
    op.create_index("ix_ratings_user_rated_at", "ratings", ["user_id", "rated_at"])
    op.create_table(
        "movie_outbox",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("movie_id", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["movie_id"], ["movies.id"], name="fk_movie_outbox_movie_id_movies", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_movie_outbox"),
    )
    op.create_index("ix_movie_outbox_movie_id", "movie_outbox", ["movie_id"])


def downgrade() -> None:
    op.drop_table("movie_outbox")
    op.drop_table("ratings")
    op.drop_table("movie_genres")
    op.drop_table("movies")
    op.drop_table("genres")
    op.drop_table("users")
