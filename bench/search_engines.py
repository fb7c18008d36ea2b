"""Embedded search engine vs Elasticsearch on the IMDB catalogue (58,788 movies), side by side in one run.

    .venv/bin/python bench/search_engines.py [--url http://127.0.0.1:59200] [--rounds 5]

Prints: bulk-index time (batches of 500, as the indexer writes), the cost of making a batch visible
(explicit refresh vs ``refresh=wait_for`` vs ``refresh=true``), p50/p95 search latency per kind of query straight on
each adapter, and both engines' top 5 for a few obvious queries. Elasticsearch must be running
(``scripts/services start elasticsearch``); the benchmark's indices are deleted at the end.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

from elasticsearch.helpers import streaming_bulk

from movierec.domain.movies import Movie
from movierec.ingest.offline import imdb_movies
from movierec.log import configure_logging
from movierec.search.elastic import ElasticMovieIndex, movie_fields
from movierec.search.embedded import EmbeddedMovieIndex
from movierec.search.port import MovieIndex, SearchQuery, words

BATCH = 500
OBVIOUS = ["toy story", "matirx", "termin", "star wars", "godfather", "the matrix", "lord of the rings", "amelie"]
GENRE_WORDS = ["comedy", "drama", "action romance", "animation", "documentary", "short comedy", "romance"]
GENRES = ["Action", "Comedy", "Drama", "Documentary", "Animation", "Romance", "Short"]


def catalogue() -> list[Movie]:
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


def timed_index(index: MovieIndex, movies: Sequence[Movie]) -> tuple[float, list[float]]:
    per_batch = []
    started = time.perf_counter()
    for start in range(0, len(movies), BATCH):
        t0 = time.perf_counter()
        index.index_movies(movies[start : start + BATCH])
        per_batch.append(time.perf_counter() - t0)
    return time.perf_counter() - started, per_batch


def latencies(index: MovieIndex, queries: Sequence[SearchQuery], rounds: int) -> list[float]:
    for query in queries:  # warm up
        index.search(query)
    found = []
    for _ in range(rounds):
        for query in queries:
            t0 = time.perf_counter()
            index.search(query)
            found.append((time.perf_counter() - t0) * 1000)
    return found


def pct(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def refresh_strategies(url: str, movies: Sequence[Movie], batches: int) -> dict[str, list[float]]:
    """Per-batch time of bulk-writing 500 new movies and making them searchable, three ways, each on a fresh index."""
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


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:59200", help="Elasticsearch URL")
    parser.add_argument("--rounds", type=int, default=5, help="timed passes over the query mix")
    parser.add_argument("--refresh-batches", type=int, default=20, help="batches per refresh strategy")
    args = parser.parse_args(argv)
    configure_logging("WARNING")

    t0 = time.perf_counter()
    movies = catalogue()
    print(f"catalogue: {len(movies)} movies loaded in {time.perf_counter() - t0:.1f} s\n")
    mix = query_mix(movies)

    with tempfile.TemporaryDirectory() as tmp:
        engines: dict[str, MovieIndex] = {
            "embedded": EmbeddedMovieIndex(Path(tmp) / "search.sqlite3"),
            "elasticsearch": ElasticMovieIndex(args.url, alias=f"bench-{uuid.uuid4().hex[:8]}", timeout=30.0),
        }
        try:
            for engine in engines.values():
                engine.ensure_index()
            print(f"bulk index, batches of {BATCH} (each searchable when it returns)")
            print(f"{'engine':<15}{'total s':>10}{'batch p50 ms':>15}{'batch p95 ms':>15}")
            for name, engine in engines.items():
                total, per_batch = timed_index(engine, movies)
                ms = [b * 1000 for b in per_batch]
                print(f"{name:<15}{total:>10.1f}{pct(ms, 0.5):>15.1f}{pct(ms, 0.95):>15.1f}")
                if engine.count() != len(movies):
                    print(f"  !! {name} holds {engine.count()} documents", file=sys.stderr)

            print(f"\nsearch latency straight on the adapter, ms ({args.rounds} rounds after a warm-up)")
            header = f"{'queries':<16}{'n':>4}"
            for name in engines:
                header += f"{name + ' p50':>18}{name + ' p95':>18}"
            print(header)
            everything: dict[str, list[float]] = {name: [] for name in engines}
            for kind, queries in mix.items():
                line = f"{kind:<16}{len(queries):>4}"
                for name, engine in engines.items():
                    found = latencies(engine, queries, args.rounds)
                    everything[name].extend(found)
                    line += f"{pct(found, 0.5):>18.1f}{pct(found, 0.95):>18.1f}"
                print(line)
            line = f"{'all':<16}{sum(len(q) for q in mix.values()):>4}"
            for name in engines:
                line += f"{pct(everything[name], 0.5):>18.1f}{pct(everything[name], 0.95):>18.1f}"
            print(line)

            print("\nagreement of the two engines on the query mix")
            same_top1 = same_total = overlap = n = 0
            for queries in mix.values():
                for query in queries:
                    a, b = (engines[name].search(first_page(query)) for name in ("embedded", "elasticsearch"))
                    ids_a, ids_b = [m.id for m in a.movies], [m.id for m in b.movies]
                    n += 1
                    same_top1 += bool(ids_a[:1] == ids_b[:1])
                    same_total += a.total == b.total
                    overlap += len(set(ids_a) & set(ids_b)) / max(len(ids_a), 1)
            print(f"same first result {same_top1}/{n}, same total {same_total}/{n}, top-5 overlap {overlap / n:.0%}")

            print("\ntop 5 for obvious queries (title (year) votes)")
            for text in OBVIOUS:
                print(f"\n  {text!r}")
                pages = {name: engine.search(SearchQuery(text=text, limit=5)) for name, engine in engines.items()}
                for name, page in pages.items():
                    shown = "; ".join(f"{m.title} ({m.year}) {m.vote_count}" for m in page.movies)
                    print(f"    {name:<14} total {page.total:>5}: {shown}")
        finally:
            for name, engine in engines.items():
                if name == "elasticsearch":
                    engine.drop()  # type: ignore[attr-defined]
                engine.close()

    print(f"\nmaking a batch of {BATCH} searchable, {args.refresh_batches} batches each, ms per batch")
    print(f"{'strategy':<36}{'p50':>8}{'p95':>8}{'mean':>8}")
    for name, timings in refresh_strategies(args.url, movies, args.refresh_batches).items():
        print(f"{name:<36}{pct(timings, 0.5):>8.1f}{pct(timings, 0.95):>8.1f}{statistics.fmean(timings):>8.1f}")
    return 0


def first_page(query: SearchQuery) -> SearchQuery:
    return SearchQuery(text=query.text, genre=query.genre, limit=5, offset=0)


if __name__ == "__main__":
    raise SystemExit(main())
