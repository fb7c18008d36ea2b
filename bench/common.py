"""What every benchmark shares: percentiles, isolated runs on the shared services, process memory, machine facts."""

from __future__ import annotations

import contextlib
import os
import platform
import re
import secrets
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
from tenacity import RetryError, Retrying, retry_if_result, stop_after_delay, wait_fixed

from movierec.probes import tcp_reachable
from movierec.settings import Settings, load_settings
from movierec_tools.stack import REPO_ROOT, SERVICE_OF, local_services

Report = Callable[[str], None]

# Redis databases of the benchmark's two full-stack runs (the tests use 13 and 14; 0 is the default).
REDIS_DB = {"movielens": 11, "imdb": 12}
LIBRARIES = (
    "flask",
    "werkzeug",
    "gunicorn",
    "sqlalchemy",
    "psycopg",
    "redis",
    "elasticsearch",
    "confluent-kafka",
    "numpy",
    "scipy",
    "rapidfuzz",
    "tantivy",
    "pydantic",
)


class BenchError(RuntimeError):
    """The benchmark cannot run (a service is down, a tool is missing); the message says what to do."""


# ---------------------------------------------------------------------------------------------- statistics


def summarise(samples_ms: Sequence[float]) -> dict[str, float]:
    """p50/p95/p99/mean/max of latencies in milliseconds (linear interpolation between samples)."""
    if not samples_ms:
        raise BenchError("no samples to summarise")
    values = np.asarray(samples_ms, dtype=np.float64)
    p50, p95, p99 = np.percentile(values, [50, 95, 99])
    return {
        "n": int(values.size),
        "p50_ms": round(float(p50), 3),
        "p95_ms": round(float(p95), 3),
        "p99_ms": round(float(p99), 3),
        "mean_ms": round(float(values.mean()), 3),
        "max_ms": round(float(values.max()), 3),
    }


def ratio(numerator: float, denominator: float) -> float:
    return round(numerator / denominator, 3) if denominator else float("nan")


def poll_until(check: Callable[[], bool], timeout: float, interval: float, what: str) -> None:
    """Call ``check`` every ``interval`` seconds until it returns True; TimeoutError after ``timeout`` seconds."""
    try:
        Retrying(stop=stop_after_delay(timeout), wait=wait_fixed(interval), retry=retry_if_result(lambda ok: not ok))(
            check
        )
    except RetryError:
        raise TimeoutError(f"{what}: not after {timeout:.0f} s") from None


def timed_ms(action: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = action()
    return (time.perf_counter() - started) * 1000.0, result


# ---------------------------------------------------------------------------------------------- processes


def proc_status(pid: int) -> dict[str, int]:
    """VmHWM (peak resident set) and VmRSS of a process, in KiB; empty when the process is gone."""
    found: dict[str, int] = {}
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return found
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key in ("VmHWM", "VmRSS"):
            found[key] = int(value.split()[0])
    return found


def children_of(pid: int) -> list[int]:
    """Direct child processes of ``pid`` (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may hold spaces and parentheses, so split after the last ')'
        fields = stat.rsplit(")", 1)[-1].split()
        if len(fields) > 1 and int(fields[1]) == pid:
            found.append(int(entry.name))
    return sorted(found)


def peak_memory(pid: int) -> dict[str, Any]:
    """Peak RSS of a process and of each of its direct children (gunicorn: the master and its workers), MiB."""
    own = proc_status(pid)
    workers = {child: proc_status(child) for child in children_of(pid)}
    return {
        "pid": pid,
        "peak_rss_mib": round(own.get("VmHWM", 0) / 1024, 1),
        "workers_peak_rss_mib": [round(s.get("VmHWM", 0) / 1024, 1) for s in workers.values() if s],
        "total_peak_rss_mib": round((own.get("VmHWM", 0) + sum(s.get("VmHWM", 0) for s in workers.values())) / 1024, 1),
    }


def load_average() -> list[float]:
    return [round(value, 2) for value in os.getloadavg()]


def machine() -> dict[str, Any]:
    meminfo = Path("/proc/meminfo").read_text() if Path("/proc/meminfo").exists() else ""
    total_kib = int(re.search(r"MemTotal:\s+(\d+)", meminfo).group(1)) if "MemTotal" in meminfo else 0  # type: ignore[union-attr]
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = re.search(r"model name\s*:\s*(.+)", cpuinfo)
    return {
        "cores": os.cpu_count(),
        "cpu": model.group(1).strip() if model else platform.processor(),
        "memory_gib": round(total_kib / 1024 / 1024, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "os": _os_name(),
    }


def _os_name() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip('"')
    return platform.system()


def library_versions() -> dict[str, str]:
    found = {}
    for name in LIBRARIES:
        with contextlib.suppress(metadata.PackageNotFoundError):
            found[name] = metadata.version(name)
    return found


def tool_version(argv: list[str], pattern: str) -> str | None:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(pattern, done.stdout + done.stderr)
    return match.group(1) if match else None


def kafka_pinned_version() -> str | None:
    """The broker scripts/services runs (the broker does not report its version to clients)."""
    script = REPO_ROOT / "scripts" / "services"
    with contextlib.suppress(OSError):
        match = re.search(r"^KAFKA_VERSION=([\w.]+)", script.read_text(), re.MULTILINE)
        return match.group(1) if match else None
    return None


def git_commit() -> str | None:
    return tool_version(["git", "-C", str(REPO_ROOT), "rev-parse", "--short", "HEAD"], r"([0-9a-f]{7,})")


# ---------------------------------------------------------------------------------------------- settings


def embedded_settings(data_dir: Path) -> Settings:
    """Embedded defaults in ``data_dir``, whatever service URLs the environment holds."""
    return load_settings(data_dir=data_dir, **dict.fromkeys(SERVICE_OF, None))


def local_service_urls() -> dict[str, str]:
    """The services ``scripts/services`` runs on loopback; raises when one is not reachable."""
    urls = {name: url for name, (_, url, _) in local_services().items()}
    down = [
        local_services()[name][0]
        for name, url in urls.items()
        if not tcp_reachable(url, local_services()[name][2], timeout=2.0)
    ]
    if down:
        raise BenchError(
            f"not reachable: {', '.join(down)}. Start them with `scripts/services start`, "
            "or run `movierec bench --embedded-only`"
        )
    return urls


@dataclass
class FullStackRun:
    """One isolated run on the shared services: a fresh PostgreSQL database, its own Redis database, Kafka topics
    and consumer group, and Elasticsearch alias. ``close()`` removes them all."""

    name: str
    data_dir: Path
    urls: dict[str, str]
    unique: str = field(default_factory=lambda: uuid.uuid4().hex[:10])
    settings: Settings | None = None
    _database: str | None = None

    def open(self) -> Settings:
        import redis
        from sqlalchemy.engine import make_url

        self._database = f"movierec_bench_{self.name}_{self.unique}"
        self._admin(f'CREATE DATABASE "{self._database}"')
        server = make_url(self.urls["database_url"])
        database_url = server.set(database=self._database).render_as_string(hide_password=False)
        redis_url = self.urls["redis_url"].rsplit("/", 1)[0] + f"/{REDIS_DB[self.name]}"
        client = redis.Redis.from_url(redis_url, socket_timeout=5)
        client.flushdb()
        client.close()
        self.settings = load_settings(
            data_dir=self.data_dir,
            database_url=database_url,
            redis_url=redis_url,
            kafka_bootstrap_servers=self.urls["kafka_bootstrap_servers"],
            elasticsearch_url=self.urls["elasticsearch_url"],
            secret_key=secrets.token_urlsafe(32),
            kafka_topic=f"bench-movies-{self.unique}",
            kafka_dlq_topic=f"bench-movies-{self.unique}.dlq",
            kafka_group=f"bench-indexer-{self.unique}",
            search_index=f"bench-movies-{self.unique}",
        )
        return self.settings

    def _admin(self, statement: str) -> None:
        postgres_admin(self.urls, statement)

    def close(self) -> None:
        settings = self.settings
        if settings is None:
            return
        import redis

        from movierec.events.kafka import KafkaMovieEvents
        from movierec.search.elastic import ElasticMovieIndex

        with contextlib.suppress(Exception):
            index = ElasticMovieIndex(str(settings.elasticsearch_url), alias=settings.search_index, timeout=30.0)
            index.drop()
            index.close()
        with contextlib.suppress(Exception):
            events = KafkaMovieEvents(
                str(settings.kafka_bootstrap_servers), topic=settings.kafka_topic, dlq_topic=settings.kafka_dlq_topic
            )
            events.drop_topics()
            events.close()
        with contextlib.suppress(Exception):
            client = redis.Redis.from_url(str(settings.redis_url), socket_timeout=5)
            client.flushdb()
            client.close()
        if self._database is not None:
            with contextlib.suppress(Exception):
                self._admin(f'DROP DATABASE IF EXISTS "{self._database}" WITH (FORCE)')
        self.settings = None


def postgres_admin(urls: dict[str, str], statement: str) -> None:
    """Run one statement (CREATE/DROP DATABASE) on the server's ``postgres`` database."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin = create_engine(
        make_url(urls["database_url"]).set(database="postgres"),
        isolation_level="AUTOCOMMIT",
        connect_args={"connect_timeout": 5},
    )
    try:
        with admin.connect() as connection:
            connection.execute(text(statement))
    finally:
        admin.dispose()


@contextlib.contextmanager
def fresh_database(urls: dict[str, str], label: str) -> Iterator[str]:
    """An empty PostgreSQL database (its URL), dropped afterwards."""
    from sqlalchemy.engine import make_url

    name = f"movierec_bench_{label}_{uuid.uuid4().hex[:10]}"
    postgres_admin(urls, f'CREATE DATABASE "{name}"')
    try:
        yield make_url(urls["database_url"]).set(database=name).render_as_string(hide_password=False)
    finally:
        with contextlib.suppress(Exception):
            postgres_admin(urls, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def full_stack_run(name: str, data_dir: Path, urls: dict[str, str]) -> Iterator[FullStackRun]:
    run = FullStackRun(name, data_dir, urls)
    try:
        run.open()
        yield run
    finally:
        run.close()


def server_versions(settings: Settings) -> dict[str, str | None]:
    """PostgreSQL, Redis and Elasticsearch report their versions; Kafka's is the pinned one."""
    import redis
    from elasticsearch import Elasticsearch
    from sqlalchemy import create_engine, text

    found: dict[str, str | None] = {}
    engine = create_engine(str(settings.database_url), connect_args={"connect_timeout": 5})
    try:
        with engine.connect() as connection:
            found["postgresql"] = connection.execute(text("SHOW server_version")).scalar_one()
    finally:
        engine.dispose()
    client = redis.Redis.from_url(str(settings.redis_url), socket_timeout=5)
    found["redis"] = str(client.info("server")["redis_version"])
    client.close()
    es = Elasticsearch(str(settings.elasticsearch_url), request_timeout=10)
    nodes = es.nodes.info(metric="process")  # GET / is not available in this distribution
    node: dict[str, Any] = next(iter(nodes["nodes"].values()), {})
    found["elasticsearch"] = node.get("version")
    es.close()
    found["kafka"] = kafka_pinned_version()
    return found
