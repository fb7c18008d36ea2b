"""Embedded search engines side by side in one run: Tantivy (the embedded adapter), SQLite FTS5 and the hand-written
inverted index it replaced, on the IMDB catalogue (58,788 movies) and on 300k and 1M movies synthesised from it.

    .venv/bin/python -m bench.search_engines [--sizes 58788,300000,1000000] [--rounds 5]
        [--engines tantivy,fts5,inverted] [--json results.json] [--elasticsearch http://127.0.0.1:59200]

For each size and engine: the index is built through the adapter's ``index_movies`` in batches of 500 (as the
indexer and ``movierec reconcile`` write, each batch searchable on return), timed; then a **new process** opens the
index and answers the query mix: the time from spawning it to its first answer (interpreter and imports included)
and from opening the index to that answer, p50/p95 per kind of query (``rounds`` passes after one warm-up pass;
wall time, and the CPU time of the searching thread, which a busy machine does not inflate),
and its resident memory (VmRSS: private memory plus the index pages it mapped, which the page cache shares between
processes; RssAnon: private memory only) beside the same process before it opened the index. Relevance beside the
hand-written engine: same first result, and overlap of the first five, on the same queries.

Synthesised movies (seed 11): the real catalogue, then titles made of the first words of one real title and the last
words of another, the genres of one real movie and the vote count of another (so the vote distribution and the title
vocabulary stay the real ones). The queries are always drawn from the real, most voted titles (seed 7).

Tantivy's index is then rewritten into one segment by the adapter's ``compact()`` (timed) and served again by a new
process: the ``compacted`` column (``--no-compact`` skips it). Every prefix and typo clause of a query walks each
segment's term dictionary, and batch writes leave several segments of each size, so the count is part of the cost.

With ``--elasticsearch`` the run adds, at the real catalogue's size only, the cost of making a batch visible on
Elasticsearch three ways (explicit refresh, ``refresh=wait_for``, ``refresh=true``); its indices are deleted.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from movierec.domain.movies import Movie
from movierec.search.port import MovieIndex, SearchQuery, words

BATCH = 500
REAL_SIZE = 58_788
ENGINES = ("tantivy", "fts5", "inverted")
TIMED_KINDS = ("exact title", "typo", "prefix")
OBVIOUS = ["toy story", "matirx", "termin", "star wars", "godfather", "the matrix", "lord of the rings", "amelie"]
GENRE_WORDS = ["comedy", "drama", "action romance", "animation", "documentary", "short comedy", "romance"]
GENRES = ["Action", "Comedy", "Drama", "Documentary", "Animation", "Romance", "Short"]
TARGET_P95_MS, TARGET_RSS_MIB, TARGET_FIRST_QUERY_S = 25.0, 300.0, 2.0


def open_engine(engine: str, path: Path, timeout: float = 30.0) -> MovieIndex:
    if engine == "tantivy":
        from movierec.search.embedded import EmbeddedMovieIndex

        return EmbeddedMovieIndex(path, timeout=timeout)
    if engine == "fts5":
        from bench.engines.fts5 import Fts5MovieIndex

        return Fts5MovieIndex(path / "fts5.sqlite3", timeout=timeout)
    if engine == "inverted":
        from bench.engines.inverted_index import InvertedMovieIndex

        return InvertedMovieIndex(path / "search.sqlite3", timeout=timeout)
    raise SystemExit(f"unknown engine {engine!r}: one of {', '.join(ENGINES)}")


# ---------------------------------------------------------------------------------------------- data and queries


def catalogue() -> list[Movie]:
    from movierec.ingest.offline import imdb_movies

    return [
        Movie(
            id=n,
            title=d.title,
            year=d.year,
            genres=d.genres,
            overview=d.overview,
            vote_average=d.vote_average,
            vote_count=d.vote_count,
            popularity=d.popularity,
        )
        for n, d in enumerate(imdb_movies(), start=1)
    ]


def synthesised(real: Sequence[Movie], size: int, seed: int = 11) -> list[Movie]:
    """The real movies, then ``size - len(real)`` made from them (seeded): see the module's docstring."""
    if size <= len(real):
        return list(real[:size])
    rng = random.Random(seed)
    made = list(real)
    for movie_id in range(len(real) + 1, size + 1):
        first, second, third = rng.choice(real), rng.choice(real), rng.choice(real)
        head, tail = first.title.split(), second.title.split()
        title = " ".join(head[: rng.randint(1, len(head))] + tail[rng.randint(0, len(tail) - 1) :])
        made.append(
            Movie(
                id=movie_id,
                title=title,
                year=rng.randint(1900, 2025),
                genres=first.genres,
                vote_average=third.vote_average,
                vote_count=third.vote_count,
                popularity=float(third.vote_count),
            )
        )
    return made


def typo(word: str, rng: random.Random) -> str:
    """Swap two neighbouring letters (one edit for ``fuzziness: AUTO`` with transpositions)."""
    at = rng.randrange(1, len(word) - 2)
    return word[:at] + word[at + 1] + word[at] + word[at + 2 :]


def query_mix(movies: Sequence[Movie], seed: int = 7) -> dict[str, list[SearchQuery]]:
    rng = random.Random(seed)
    popular = sorted(movies, key=lambda m: -m.vote_count)[:3000]
    picked = rng.sample(popular, 40)
    exact = [SearchQuery(text=m.title) for m in picked]
    typos, prefixes = [], []
    for movie in picked:
        title_words = words(movie.title)
        longest = max(title_words, key=len)
        if len(longest) >= 5:
            typos.append(SearchQuery(text=" ".join(typo(w, rng) if w == longest else w for w in title_words)))
        first = next((w for w in title_words if len(w) >= 4 and w not in {"the", "and"}), longest)
        prefixes.append(SearchQuery(text=first[: rng.randint(3, min(6, len(first)))]))
    genre_words = [SearchQuery(text=text) for text in GENRE_WORDS]
    genre_filters = [SearchQuery(genre=g) for g in GENRES] + [
        SearchQuery(text="love", genre="Romance"),
        SearchQuery(text="war", genre="Drama"),
        SearchQuery(text="night", genre="Comedy"),
        SearchQuery(text="star", genre="Action"),
    ]
    return {
        "exact title": exact,
        "typo": typos,
        "prefix": prefixes,
        "genre words": genre_words,
        "genre filter": genre_filters,
    }


def pct(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


# ---------------------------------------------------------------------------------------------- the serving process


def memory_kib() -> dict[str, int]:
    found = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "RssAnon", "RssFile", "VmHWM"):
            found[key] = int(value.split()[0])
    return found


def serve(engine: str, path: Path, queries_file: Path, rounds: int) -> dict[str, Any]:
    """Run in a new process: open the index, answer the first query, then the whole mix ``rounds`` times."""
    mix = {kind: [SearchQuery(**q) for q in qs] for kind, qs in json.loads(queries_file.read_text()).items()}
    before = memory_kib()
    started = time.perf_counter()
    index = open_engine(engine, path)
    first_query = next(iter(mix.values()))[0]
    index.search(first_query)
    first_answer_at = time.time()
    open_to_first_s = time.perf_counter() - started
    latencies: dict[str, list[float]] = {}
    answers: dict[str, list[dict[str, Any]]] = {}
    for kind, queries in mix.items():
        answers[kind] = []
        for query in queries:  # warm-up pass, whose answers are kept for the relevance comparison
            page = index.search(SearchQuery(text=query.text, genre=query.genre, limit=5))
            answers[kind].append({"total": page.total, "ids": [m.id for m in page.movies]})
    cpu: dict[str, list[float]] = {}
    for kind, queries in mix.items():
        found, spent = latencies.setdefault(kind, []), cpu.setdefault(kind, [])
        for _ in range(rounds):
            for query in queries:
                t0, c0 = time.perf_counter(), time.thread_time()
                index.search(query)
                spent.append((time.thread_time() - c0) * 1000)
                found.append((time.perf_counter() - t0) * 1000)
    after = memory_kib()
    # Tantivy walks each segment's term dictionary once per prefix and typo clause: the count explains the query cost
    segments = index.segments() if engine == "tantivy" else 0  # type: ignore[attr-defined]
    index.close()
    return {
        "segments": segments,
        "first_answer_at": first_answer_at,
        "open_to_first_query_s": open_to_first_s,
        "memory_before_kib": before,
        "memory_after_kib": after,
        "latencies_ms": latencies,
        "cpu_ms": cpu,
        "answers": answers,
    }


def serve_in_new_process(engine: str, path: Path, queries_file: Path, rounds: int) -> dict[str, Any]:
    spawned_at = time.time()
    done = subprocess.run(
        [sys.executable, "-m", "bench.search_engines", "--serve", engine, str(path), str(queries_file), str(rounds)],
        capture_output=True,
        text=True,
        timeout=3600,
        cwd=Path(__file__).resolve().parent.parent,
        env={**os.environ, "MOVIEREC_LOG_LEVEL": "WARNING"},
    )
    if done.returncode != 0:
        raise RuntimeError(f"{engine} serving process failed: {done.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    result["spawn_to_first_query_s"] = result["first_answer_at"] - spawned_at
    return result


# ---------------------------------------------------------------------------------------------- one size


def build(engine: str, path: Path, movies: Sequence[Movie]) -> dict[str, float]:
    index = open_engine(engine, path)
    per_batch = []
    started = time.perf_counter()
    for start in range(0, len(movies), BATCH):
        t0 = time.perf_counter()
        index.index_movies(movies[start : start + BATCH])
        per_batch.append((time.perf_counter() - t0) * 1000)
    total = time.perf_counter() - started
    count = index.count()
    index.close()
    if count != len(movies):
        raise RuntimeError(f"{engine} holds {count} documents, not {len(movies)}")
    disk = sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    return {
        "build_s": total,
        "batch_p50_ms": pct(per_batch, 0.5),
        "batch_p95_ms": pct(per_batch, 0.95),
        "disk_mib": disk / 2**20,
    }


def run_size(
    size: int,
    real: Sequence[Movie],
    engines: Sequence[str],
    rounds: int,
    workdir: Path,
    report: Callable[[str], None],
    compact: bool = True,
) -> dict[str, Any]:
    movies = synthesised(real, size)
    mix = query_mix(real)
    queries_file = workdir / "queries.json"
    queries_file.write_text(json.dumps({k: [{"text": q.text, "genre": q.genre} for q in qs] for k, qs in mix.items()}))
    results: dict[str, Any] = {}
    for engine in engines:
        path = workdir / f"{engine}-{size}"
        report(f"  {engine}: building {size:,} movies...")
        built = build(engine, path, movies)
        served = serve_in_new_process(engine, path, queries_file, rounds)
        results[engine] = {**built, **served}
        if engine == "tantivy" and compact:  # the same index rewritten into one segment, served by a new process
            report(f"  {engine}: compacting...")
            started = time.perf_counter()
            segments = open_engine(engine, path).compact()  # type: ignore[attr-defined]
            compacted = {**built, "compact_s": time.perf_counter() - started, "compacted_segments": segments}
            results["compacted"] = {**compacted, **serve_in_new_process(engine, path, queries_file, rounds)}
        shutil.rmtree(path, ignore_errors=True)
    del movies
    print_size(size, results, report)
    return results


def print_size(size: int, results: dict[str, Any], report: Callable[[str], None]) -> None:
    engines = list(results)
    report(f"\n{size:,} movies" + ("" if size == REAL_SIZE else " (synthesised from the IMDB catalogue)"))
    head = f"  {'':<28}" + "".join(f"{e:>14}" for e in engines)
    baseline = "inverted" if "inverted" in results else None
    if baseline:
        head += "".join(f"{e + '/inv':>14}" for e in engines if e != baseline)
    report(head)

    def row(label: str, value: Callable[[dict[str, Any]], float], fmt: str = "{:>14.1f}") -> None:
        values = {e: value(results[e]) for e in engines}
        line = f"  {label:<28}" + "".join(fmt.format(values[e]) for e in engines)
        if baseline:
            line += "".join(
                f"{(values[e] / values[baseline] if values[baseline] else float('nan')):>13.2f}x"
                for e in engines
                if e != baseline
            )
        report(line)

    row("build s (batches of 500)", lambda r: r["build_s"])
    row("batch p95 ms", lambda r: r["batch_p95_ms"])
    row("index on disk MiB", lambda r: r["disk_mib"])
    row("new process: spawn→answer s", lambda r: r["spawn_to_first_query_s"], "{:>14.2f}")
    row("new process: open→answer s", lambda r: r["open_to_first_query_s"], "{:>14.2f}")
    row("RSS MiB (VmRSS)", lambda r: r["memory_after_kib"]["VmRSS"] / 1024)
    row("  of which private (RssAnon)", lambda r: r["memory_after_kib"]["RssAnon"] / 1024)
    row("  before opening the index", lambda r: r["memory_before_kib"]["VmRSS"] / 1024)
    row("index segments (tantivy)", lambda r: r.get("segments", 0), "{:>14.0f}")
    row("compact s (tantivy)", lambda r: r.get("compact_s", 0.0))
    for kind in results[engines[0]]["latencies_ms"]:
        for q, name in ((0.5, "p50"), (0.95, "p95")):
            row(f"{kind} {name} ms", lambda r, k=kind, q=q: pct(r["latencies_ms"][k], q), "{:>14.2f}")
        row(f"{kind} p95 CPU ms", lambda r, k=kind: pct(r["cpu_ms"][k], 0.95), "{:>14.2f}")
    if baseline:
        for engine in engines:
            if engine == baseline:
                continue
            same = overlap = n = 0
            for kind, answers in results[engine]["answers"].items():
                for mine, theirs in zip(answers, results[baseline]["answers"][kind], strict=True):
                    n += 1
                    same += mine["ids"][:1] == theirs["ids"][:1]
                    shared = len(set(mine["ids"]) & set(theirs["ids"]))
                    overlap += shared / len(theirs["ids"]) if theirs["ids"] else float(not mine["ids"])
            report(f"  {engine} vs inverted: same first result {same}/{n}, top-5 overlap {overlap / n:.0%}")


def print_targets(size: int, results: dict[str, Any], report: Callable[[str], None]) -> None:
    report(
        f"\ntargets at {size:,} movies: p95 <= {TARGET_P95_MS:.0f} ms for exact, typo and prefix; "
        f"<= {TARGET_RSS_MIB:.0f} MB per process; a new process answers within {TARGET_FIRST_QUERY_S:.0f} s"
    )
    for engine, result in results.items():
        p95 = {kind: pct(result["latencies_ms"][kind], 0.95) for kind in TIMED_KINDS}
        cpu = max(pct(result["cpu_ms"][kind], 0.95) for kind in TIMED_KINDS)
        rss = result["memory_after_kib"]["VmRSS"] / 1024
        first = result["spawn_to_first_query_s"]
        verdicts = [
            ("p95 " + "/".join(f"{v:.1f}" for v in p95.values()) + " ms", max(p95.values()) <= TARGET_P95_MS),
            (f"(CPU p95 at most {cpu:.1f} ms)", cpu <= TARGET_P95_MS),
            (f"RSS {rss:.0f} MiB", rss <= TARGET_RSS_MIB),
            (f"first answer {first:.2f} s", first <= TARGET_FIRST_QUERY_S),
        ]
        report(f"  {engine:<10}" + "; ".join(f"{text} {'met' if ok else 'MISSED'}" for text, ok in verdicts))


# ---------------------------------------------------------------------------------------------- Elasticsearch


def refresh_strategies(url: str, movies: Sequence[Movie], batches: int) -> dict[str, list[float]]:
    """Per-batch time of bulk-writing 500 new movies and making them searchable, three ways, each on a fresh index."""
    from elasticsearch.helpers import streaming_bulk

    from movierec.search.elastic import ElasticMovieIndex, movie_fields

    chunks = [movies[i * BATCH : (i + 1) * BATCH] for i in range(batches)]

    def raw_bulk(index: ElasticMovieIndex, refresh: str | bool) -> Callable[[Sequence[Movie]], None]:
        def write(chunk: Sequence[Movie]) -> None:
            actions = ({"_index": index.alias, "_id": str(m.id), "_source": movie_fields(m)} for m in chunk)
            for _ in streaming_bulk(index._client, actions, chunk_size=BATCH, refresh=refresh, require_alias=True):
                pass

        return write

    strategies: dict[str, Callable[[ElasticMovieIndex], Callable[[Sequence[Movie]], None]]] = {
        "bulk + explicit refresh (adapter)": lambda index: index.index_movies,
        "bulk refresh=wait_for": lambda index: raw_bulk(index, "wait_for"),
        "bulk refresh=true": lambda index: raw_bulk(index, True),
    }
    results: dict[str, list[float]] = {}
    for name, writer in strategies.items():
        index = ElasticMovieIndex(url, alias=f"bench-refresh-{uuid.uuid4().hex[:8]}", timeout=30.0)
        try:
            index.ensure_index()
            write = writer(index)
            timings = []
            for chunk in chunks:
                t0 = time.perf_counter()
                write(chunk)
                timings.append((time.perf_counter() - t0) * 1000)
            results[name] = timings
        finally:
            index.drop()
            index.close()
    return results


# ---------------------------------------------------------------------------------------------- main


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sizes", default=f"{REAL_SIZE},300000,1000000", help="catalogue sizes, comma-separated")
    parser.add_argument("--engines", default=",".join(ENGINES), help="engines, comma-separated")
    parser.add_argument("--rounds", type=int, default=5, help="timed passes over the query mix")
    parser.add_argument("--json", type=Path, help="also write every figure to this JSON file")
    parser.add_argument("--workdir", type=Path, help="where the indices are built (default: a temporary folder)")
    parser.add_argument(
        "--no-compact", action="store_true", help="skip serving Tantivy's index again after compact() (one segment)"
    )
    parser.add_argument("--elasticsearch", metavar="URL", help="also measure Elasticsearch's refresh strategies")
    parser.add_argument("--refresh-batches", type=int, default=20, help="batches per refresh strategy")
    parser.add_argument("--serve", nargs=4, metavar=("ENGINE", "PATH", "QUERIES", "ROUNDS"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        engine, path, queries_file, rounds = args.serve
        print(json.dumps(serve(engine, Path(path), Path(queries_file), int(rounds))))
        return 0

    from movierec.log import configure_logging

    configure_logging("WARNING")
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    sizes = [int(s) for s in args.sizes.split(",")]
    t0 = time.perf_counter()
    real = catalogue()
    print(f"catalogue: {len(real)} movies loaded in {time.perf_counter() - t0:.1f} s; engines {', '.join(engines)}")
    print(f"machine: {os.cpu_count()} cores, load {', '.join(f'{v:.2f}' for v in os.getloadavg())}")
    everything: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        for size in sizes:
            everything[str(size)] = run_size(
                size, real, engines, args.rounds, Path(tmp), print, compact=not args.no_compact
            )
    print_targets(sizes[-1], everything[str(sizes[-1])], print)
    if args.json:
        for by_engine in everything.values():
            for result in by_engine.values():
                result["latencies_summary"] = {
                    kind: {
                        "p50_ms": pct(v, 0.5),
                        "p95_ms": pct(v, 0.95),
                        "cpu_p95_ms": pct(result["cpu_ms"][kind], 0.95),
                    }
                    for kind, v in result["latencies_ms"].items()
                }
                del result["latencies_ms"], result["cpu_ms"], result["answers"]
        args.json.write_text(json.dumps(everything, indent=2))

    if args.elasticsearch:
        print(f"\nElasticsearch: making a batch of {BATCH} searchable, {args.refresh_batches} batches each, ms")
        print(f"{'strategy':<36}{'p50':>8}{'p95':>8}{'mean':>8}")
        for name, timings in refresh_strategies(args.elasticsearch, real, args.refresh_batches).items():
            print(f"{name:<36}{pct(timings, 0.5):>8.1f}{pct(timings, 0.95):>8.1f}{statistics.fmean(timings):>8.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
