"""Search: a fixed, seeded mix of queries through the API beside the same queries straight to the engine.

The mix (seed 7) over the IMDB catalogue's 5,000 most voted titles: exact titles 30%, titles with two neighbouring
letters swapped in their longest word (one edit) 25%, word prefixes of 3-6 letters 20%, genre words 10%, genre
filters 15% (alone, or with a common title word). Each query is sent, in rotating order, three ways:

* ``api``: ``GET /search?q=&genre=&limit=20`` through the Flask app (validation, the service, JSON), in-process;
* ``adapter``: the search adapter's ``search()`` (query building, the engine, decoding the movies);
* ``client`` (Elasticsearch only): ``Elasticsearch.search`` with the adapter's request built beforehand (the engine
  and the HTTP round trip alone).

Throughput is sequential (one query at a time): queries / sum of latencies.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from typing import Any

from bench.common import ratio, summarise
from bench.search_engines import typo
from movierec.api import create_app
from movierec.domain.movies import MovieDraft
from movierec.ingest.offline import IMDB_GENRES
from movierec.search.port import SearchQuery, words
from movierec.wiring import Container

MIX = {"exact title": 0.30, "typo": 0.25, "prefix": 0.20, "genre words": 0.10, "genre filter": 0.15}
GENRE_WORDS = ["comedy", "drama", "action", "romance", "animation", "documentary", "short", "action romance"]
COMMON_WORDS = ["love", "war", "night", "star", "man", "day", "life", "girl", "death", "city", "king", "house"]
STOPWORDS = {"the", "and", "of", "a", "an", "in", "on", "to"}
LIMIT = 20


def query_mix(drafts: Sequence[MovieDraft], count: int, seed: int = 7) -> list[tuple[str, SearchQuery]]:
    rng = random.Random(seed)
    popular = [d for d in sorted(drafts, key=lambda d: -d.vote_count)[:5000] if words(d.title)]
    wanted = {kind: round(share * count) for kind, share in MIX.items()}
    wanted["exact title"] += count - sum(wanted.values())
    queries: list[tuple[str, SearchQuery]] = []
    exact = rng.sample(popular, wanted["exact title"])
    queries += [("exact title", SearchQuery(text=d.title, limit=LIMIT)) for d in exact]
    typos: list[SearchQuery] = []
    while len(typos) < wanted["typo"]:
        title_words = words(rng.choice(popular).title)
        longest = max(title_words, key=len)
        if len(longest) >= 5:
            typos.append(
                SearchQuery(text=" ".join(typo(w, rng) if w == longest else w for w in title_words), limit=LIMIT)
            )
    queries += [("typo", q) for q in typos]
    prefixes: list[SearchQuery] = []
    while len(prefixes) < wanted["prefix"]:
        candidates = [w for w in words(rng.choice(popular).title) if len(w) >= 4 and w not in STOPWORDS]
        if candidates:
            word = candidates[0]
            prefixes.append(SearchQuery(text=word[: rng.randint(3, min(6, len(word)))], limit=LIMIT))
    queries += [("prefix", q) for q in prefixes]
    queries += [
        ("genre words", SearchQuery(text=rng.choice(GENRE_WORDS), limit=LIMIT)) for _ in range(wanted["genre words"])
    ]
    for n in range(wanted["genre filter"]):
        genre = rng.choice(IMDB_GENRES)
        with_word = None if n % 2 == 0 else rng.choice(COMMON_WORDS)
        queries.append(("genre filter", SearchQuery(text=with_word, genre=genre, limit=LIMIT)))
    rng.shuffle(queries)
    return queries


def _api_params(query: SearchQuery) -> dict[str, Any]:
    params: dict[str, Any] = {"limit": query.limit}
    if query.text is not None:
        params["q"] = query.text
    if query.genre is not None:
        params["genre"] = query.genre
    return params


def _elastic_request(alias: str, query: SearchQuery) -> dict[str, Any]:
    """The request ElasticMovieIndex.search sends for ``query`` (same query, sort, paging and filtering)."""
    from movierec.search.elastic import genre_filter, text_query

    query_words = list(dict.fromkeys(words(query.text or "")))
    if query_words:
        body = text_query(query_words, query.genre)
        sort: list[Any] = ["_score", {"popularity": "desc"}, {"id": "asc"}]
    else:
        body = {"bool": {"filter": [genre_filter(query.genre)]}} if query.genre else {"match_all": {}}
        sort = [{"popularity": "desc"}, {"vote_count": "desc"}, {"id": "asc"}]
    return {
        "index": alias,
        "query": body,
        "sort": sort,
        "from_": query.offset,
        "size": query.limit,
        "track_total_hits": True,
        "source_includes": ["movie"],
        "filter_path": ["hits.total.value", "hits.hits._source"],
        "ignore_unavailable": True,
        "allow_no_indices": True,
    }


def measure(container: Container, queries: Sequence[tuple[str, SearchQuery]]) -> dict[str, Any]:
    client = create_app(container=container).test_client()
    index = container.index

    def api(query: SearchQuery) -> None:
        container.search.forget()  # the engine's latency, not the API's kept pages
        response = client.get("/search", query_string=_api_params(query))
        if response.status_code != 200:
            raise RuntimeError(f"/search answered {response.status_code}: {response.get_data(as_text=True)[:200]}")

    ways: dict[str, Callable[[int], object]] = {
        "api": lambda n: api(queries[n][1]),
        "adapter": lambda n: index.search(queries[n][1]),
    }
    if index.name == "elasticsearch":
        requests = [_elastic_request(index.alias, q) for _, q in queries]  # type: ignore[attr-defined]
        es = index._client  # type: ignore[attr-defined]
        ways["client"] = lambda n: es.search(**requests[n])
    for n in range(len(queries)):  # warm up: caches, connection pools, the embedded vocabulary
        ways["api"](n)
    samples: dict[str, list[float]] = {way: [] for way in ways}
    order = list(ways)
    for n in range(len(queries)):
        order = order[1:] + order[:1]  # rotate, so no way always runs first (or last) on a query
        for way in order:
            started = time.perf_counter()
            ways[way](n)
            samples[way].append((time.perf_counter() - started) * 1000.0)
    result: dict[str, Any] = {"queries": len(queries), "movies": index.count(), "engine": index.name}
    for way, values in samples.items():
        result[way] = {**summarise(values), "queries_per_s": round(len(values) / (sum(values) / 1000.0), 1)}
    result["by_kind"] = {
        kind: {
            way: summarise([samples[way][n] for n, (k, _) in enumerate(queries) if k == kind])["p95_ms"] for way in ways
        }
        for kind in MIX
    }
    baseline = "adapter"
    result["api_over_adapter"] = {
        "p50": ratio(result["api"]["p50_ms"], result[baseline]["p50_ms"]),
        "p95": ratio(result["api"]["p95_ms"], result[baseline]["p95_ms"]),
        "throughput": ratio(result["api"]["queries_per_s"], result[baseline]["queries_per_s"]),
    }
    if "client" in result:
        result["api_over_client"] = {
            "p50": ratio(result["api"]["p50_ms"], result["client"]["p50_ms"]),
            "p95": ratio(result["api"]["p95_ms"], result["client"]["p95_ms"]),
            "throughput": ratio(result["api"]["queries_per_s"], result["client"]["queries_per_s"]),
        }
    return result
