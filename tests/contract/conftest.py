"""Contract suites run one set of tests against every adapter of a port (embedded and real)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from movierec.store import migrate
from movierec.store.database import create_db_engine
from movierec.store.memory import MemoryStore
from movierec.store.port import Store
from movierec.store.uow import SqlStore
from tests.conftest import fresh_postgres_database


@contextlib.contextmanager
def database_url(kind: str, tmp_path: Path) -> Iterator[str]:
    """A fresh database of ``kind`` (``sqlite`` or ``postgres``, the real server), removed afterwards."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.sqlite3'}"
        return
    with fresh_postgres_database() as url:
        yield url


@contextlib.contextmanager
def migrated_store(kind: str, tmp_path: Path) -> Iterator[SqlStore]:
    """A fresh database of ``kind``, migrated, as a store; disposed of (and the database removed) afterwards."""
    with database_url(kind, tmp_path) as url:
        built = SqlStore(create_db_engine(url))
        try:
            migrate.upgrade(built.engine)
            yield built
        finally:
            built.dispose()


@pytest.fixture(params=["postgres", "sqlite", "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """The store contract's subject: a migrated store on each database, and the in-memory store. A test marked
    ``sql_only`` (about a mechanism of SQL databases: migrations, constraints, COPY) skips the in-memory store."""
    if request.param == "memory":
        marker = request.node.get_closest_marker("sql_only")
        if marker is not None:
            pytest.skip(f"a SQL mechanism: {marker.args[0]}")
        yield MemoryStore()
        return
    with migrated_store(request.param, tmp_path) as built:
        yield built
