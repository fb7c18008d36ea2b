"""Alembic environment: the connection comes from ``movierec.store.migrate`` (which reads Settings)."""

from __future__ import annotations

from alembic import context

from movierec.store.models import Base

config = context.config
connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `movierec migrate`, which passes the configured connection")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
