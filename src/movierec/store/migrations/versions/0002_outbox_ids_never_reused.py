"""Outbox ids are never reused on SQLite (AUTOINCREMENT), so a relay deleting the entries it published can never
delete a newer entry that got a reused id. PostgreSQL sequences never reuse ids: nothing to do there.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    with op.batch_alter_table("movie_outbox", recreate="always", table_kwargs={"sqlite_autoincrement": True}):
        pass


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    with op.batch_alter_table("movie_outbox", recreate="always", table_kwargs={"sqlite_autoincrement": False}):
        pass
