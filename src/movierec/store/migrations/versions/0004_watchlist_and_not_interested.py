"""A watchlist and a "not interested" list per user: one row per (user, movie), removed with either.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from movierec.store.models import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TABLES = ("watchlist", "not_interested")


def upgrade() -> None:
    for table in TABLES:
        op.create_table(
            table,
            sa.Column("user_id", sa.Integer(), nullable=False),
            sa.Column("movie_id", sa.Integer(), nullable=False),
            sa.Column("added_at", UTCDateTime(), nullable=False),
            sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=f"fk_{table}_user_id_users", ondelete="CASCADE"),
            sa.ForeignKeyConstraint(
                ["movie_id"], ["movies.id"], name=f"fk_{table}_movie_id_movies", ondelete="CASCADE"
            ),
            sa.PrimaryKeyConstraint("user_id", "movie_id", name=f"pk_{table}"),
        )
        op.create_index(f"ix_{table}_movie_id", table, ["movie_id"])
        op.create_index(f"ix_{table}_user_added_at", table, ["user_id", "added_at"])


def downgrade() -> None:
    for table in reversed(TABLES):
        op.drop_table(table)
