"""Usernames unique without case (a ``username_key`` column), a per-user token version, revoked tokens.

Existing accounts whose usernames differ only in case or width (``Ada`` and ``ada``) are kept, deterministically:
the oldest (lowest id) gets the plain key and still logs in with any case; each later one gets the key
``<key>#<id>``, which no new username can take (``#`` is not allowed in usernames), and logs in with its exact
username. Nobody loses an account or a rating.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from movierec.domain.accounts import username_key
from movierec.store.models import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def assign_keys(users: list[tuple[int, str]]) -> dict[int, str]:
    """Each user id's key; ``users`` in any order. The lowest id of each key keeps it; later ones get ``key#id``."""
    keys: dict[int, str] = {}
    taken: set[str] = set()
    for user_id, username in sorted(users):
        key = username_key(username)
        keys[user_id] = key if key not in taken else f"{key}#{user_id}"
        taken.add(key)
    return keys


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("username_key", sa.String(80), nullable=True))
        batch.add_column(sa.Column("token_version", sa.Integer(), nullable=False, server_default="0"))
    connection = op.get_bind()
    users = sa.table("users", sa.column("id", sa.Integer()), sa.column("username", sa.String()))
    keys = assign_keys([(int(i), str(u)) for i, u in connection.execute(sa.select(users.c.id, users.c.username))])
    if keys:
        statement = sa.text("UPDATE users SET username_key = :key WHERE id = :id")
        connection.execute(statement, [{"id": user_id, "key": key} for user_id, key in keys.items()])
    with op.batch_alter_table("users") as batch:
        batch.alter_column("username_key", existing_type=sa.String(80), nullable=False)
        batch.create_unique_constraint("uq_users_username_key", ["username_key"])
    op.create_table(
        "revoked_tokens",
        sa.Column("token_id", sa.String(64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_revoked_tokens_user_id_users", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("token_id", name="pk_revoked_tokens"),
    )
    op.create_index("ix_revoked_tokens_expires_at", "revoked_tokens", ["expires_at"])


def downgrade() -> None:
    op.drop_table("revoked_tokens")
    with op.batch_alter_table("users") as batch:
        batch.drop_constraint("uq_users_username_key", type_="unique")
        batch.drop_column("token_version")
        batch.drop_column("username_key")
