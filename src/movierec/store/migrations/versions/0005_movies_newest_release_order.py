"""An index in the order of "recently added": newest release first (year, then date; unknown last), then added.

Without it, every uncached ``GET /movies/latest`` sorts the whole catalogue (70 ms at 68k movies on SQLite, against
0.5 ms by the ``added_at`` index alone). PostgreSQL puts NULLs first in a descending index, so it is told NULLS LAST;
SQLite's descending order already ends with NULLs, and its planner uses the plain descending index for NULLS LAST.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

INDEX = "ix_movies_release_order"


def upgrade() -> None:
    nulls = " NULLS LAST" if op.get_bind().dialect.name == "postgresql" else ""
    op.create_index(
        INDEX,
        "movies",
        [
            sa.text(f"year DESC{nulls}"),
            sa.text(f"release_date DESC{nulls}"),
            sa.text("added_at DESC"),
            sa.text("id DESC"),
        ],
    )


def downgrade() -> None:
    op.drop_index(INDEX, table_name="movies")
