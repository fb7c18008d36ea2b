"""Contract suites run one set of tests against every adapter of a port (embedded and real)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from movierec.store import migrate
from movierec.store.database import create_db_engine
from movierec.store.uow import Store
from tests.conftest import fresh_postgres_database


@contextlib.contextmanager
def database_url(kind: str, tmp_path: Path) -> Iterator[str]:
    """A fresh database of ``kind`` (``sqlite`` or ``postgres``, the real server), removed afterwards."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.sqlite3'}"
        return
    with fresh_postgres_database() as url:
        yield url


@pytest.fixture(params=["postgres", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """The store contract's subject: a migrated store on each database."""
    with database_url(request.param, tmp_path) as url:
        built = Store(create_db_engine(url))
        try:
            migrate.upgrade(built.engine)
            yield built
        finally:
            built.dispose()
