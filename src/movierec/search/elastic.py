"""The Elasticsearch adapter of the Search port: the same contract as the embedded engine.

Text is folded in Python with the port's ``index_words``/``words``, so both engines split and fold words the same
way; Elasticsearch only sees lowercase words separated by spaces (whitespace analyzer). Per query word a ``dis_max``
picks the best of: exact title word (weighted by rarity, BM25 idf), title word prefix (``index_prefixes``, also
idf-weighted), title word with typos (``fuzzy``, ``fuzziness: AUTO``), and the same three on genre words at a flat
weight. Every word must match; a title equal to the query gets a bonus; ``log1p(vote_count)`` is added on top.

The index is versioned behind an alias (``<alias>-v<MAPPING_VERSION>``), document id = movie id, one shard (so idf is
the same for every query), and the whole movie document is stored so results need no database read. User text is
only ever used as term values, never parsed as query syntax.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, ParamSpec, TypeVar

from elastic_transport import TransportError
from elasticsearch import ApiError, BadRequestError, Elasticsearch, NotFoundError
from elasticsearch.helpers import BulkIndexError, streaming_bulk

from movierec.domain.documents import movie_from_document, movie_to_document
from movierec.domain.movies import Movie
from movierec.log import get_logger
from movierec.search.port import SearchPage, SearchQuery, SearchUnavailable, fold, index_words, max_edits, words

log = get_logger(__name__)

MAPPING_VERSION = 1
PREFIX_MAX_CHARS = 19  # the longest prefix Elasticsearch indexes; longer query words use a constant-score prefix
MIN_PREFIX = 2
# Match weights, as the embedded engine: exact > prefix > typo; genre words at a flat weight below title words.
EXACT, PREFIX, FUZZY = 3.0, 2.0, 1.0
GENRE_EXACT, GENRE_PREFIX, GENRE_FUZZY = 1.5, 1.0, 0.5
EXACT_TITLE_BONUS = 40.0
# The embedded engine adds 0.3 * ln(1 + votes); Elasticsearch's log1p modifier is log10(1 + votes).
POPULARITY_WEIGHT = 0.3 * 2.302585092994046
FUZZY_MAX_EXPANSIONS = 200
BULK_CHUNK = 500
IDS_PAGE = 10_000

SETTINGS: dict[str, Any] = {
    "number_of_shards": 1,
    "number_of_replicas": 0,
    "similarity": {
        # Every scored clause is boost * idf (BM25 with k1 = 0 ignores term frequency and length): the
        # hidden prefix field gets this one, as it cannot name a similarity of its own.
        "default": {"type": "BM25", "k1": 0.0, "b": 0.0},
        # Exact and typo title matches: short titles containing the word rank a little above long ones
        # (the embedded engine's "coverage").
        "title_words": {"type": "BM25", "k1": 0.6, "b": 0.5},
    },
}

MAPPINGS: dict[str, Any] = {
    "dynamic": "strict",
    "properties": {
        "id": {"type": "long"},
        "title": {"type": "text", "analyzer": "standard", "fields": {"raw": {"type": "keyword", "ignore_above": 1024}}},
        "title_words": {
            "type": "text",
            "analyzer": "whitespace",
            "similarity": "title_words",
            "index_prefixes": {"min_chars": MIN_PREFIX, "max_chars": PREFIX_MAX_CHARS},
        },
        "title_norm": {"type": "keyword", "ignore_above": 1024},
        "genres": {"type": "keyword", "normalizer": "lowercase"},
        "genre_words": {
            "type": "text",
            "analyzer": "whitespace",
            "norms": False,
            "index_prefixes": {"min_chars": MIN_PREFIX, "max_chars": PREFIX_MAX_CHARS},
        },
        "year": {"type": "integer"},
        "vote_average": {"type": "float"},
        "vote_count": {"type": "long"},
        "popularity": {"type": "double"},
        "movie": {"type": "object", "enabled": False},
    },
}

P = ParamSpec("P")
R = TypeVar("R")


class BulkWriteFailed(SearchUnavailable):
    """Some documents of a bulk write were rejected; the caller retries the whole batch (writes are upserts)."""

    def __init__(self, message: str, errors: list[dict[str, Any]]) -> None:
        super().__init__(message)
        self.errors = errors


def _surface_errors(method: Callable[P, R]) -> Callable[P, R]:
    """Turn client and server errors into ``SearchUnavailable`` (the API answers 503, the indexer backs off)."""

    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(*args, **kwargs)
        except SearchUnavailable:
            raise
        except BulkIndexError as exc:
            first = exc.errors[0] if exc.errors else {}
            raise BulkWriteFailed(f"{len(exc.errors)} document(s) failed to index: {first}", exc.errors) from exc
        except (ApiError, TransportError) as exc:
            raise SearchUnavailable(f"elasticsearch {method.__name__} failed: {exc}") from exc

    return wrapper


def movie_fields(movie: Movie) -> dict[str, Any]:
    """The indexed document of a movie: folded words for matching, numbers for ranking, the movie itself."""
    genre_words = list(dict.fromkeys(w for genre in movie.genres for w in index_words(genre)))
    return {
        "id": movie.id,
        "title": movie.title,
        "title_words": " ".join(index_words(movie.title)),
        "title_norm": " ".join(words(movie.title)),
        "genres": [fold(genre) for genre in movie.genres],
        "genre_words": " ".join(genre_words),
        "year": movie.year,
        "vote_average": movie.vote_average,
        "vote_count": movie.vote_count,
        "popularity": movie.popularity,
        "movie": movie_to_document(movie),
    }


def word_query(word: str) -> dict[str, Any]:
    """How one query word may match a movie: the best of exact, prefix and typo matches on title and genre words."""
    title: list[dict[str, Any]] = [{"term": {"title_words": {"value": word, "boost": EXACT}}}]
    genre: list[dict[str, Any]] = [
        {"constant_score": {"filter": {"term": {"genre_words": word}}, "boost": GENRE_EXACT}}
    ]
    if len(word) >= MIN_PREFIX:
        # A scoring rewrite turns the prefix into one term query on the hidden prefix field, scored with its idf.
        rewrite = "scoring_boolean" if len(word) <= PREFIX_MAX_CHARS else "constant_score"
        title.append({"prefix": {"title_words": {"value": word, "boost": PREFIX, "rewrite": rewrite}}})
        genre.append({"constant_score": {"filter": {"prefix": {"genre_words": word}}, "boost": GENRE_PREFIX}})
    if max_edits(word):
        fuzzy = {"value": word, "fuzziness": "AUTO", "transpositions": True, "max_expansions": FUZZY_MAX_EXPANSIONS}
        title.append({"fuzzy": {"title_words": {**fuzzy, "boost": FUZZY}}})
        genre.append({"constant_score": {"filter": {"fuzzy": {"genre_words": fuzzy}}, "boost": GENRE_FUZZY}})
    return {"dis_max": {"queries": title + genre}}


def text_query(query_words: Sequence[str], genre: str | None) -> dict[str, Any]:
    """The scored query for ``query_words`` (all required), optionally within one genre."""
    boolean: dict[str, Any] = {
        "must": [word_query(word) for word in query_words],
        "should": [
            {
                "constant_score": {
                    "filter": {"term": {"title_norm": " ".join(query_words)}},
                    "boost": EXACT_TITLE_BONUS,
                }
            }
        ],
    }
    if genre is not None:
        boolean["filter"] = [genre_filter(genre)]
    return {
        "function_score": {
            "query": {"bool": boolean},
            "functions": [
                {
                    "field_value_factor": {"field": "vote_count", "modifier": "log1p", "missing": 0},
                    "weight": POPULARITY_WEIGHT,
                }
            ],
            "score_mode": "sum",
            "boost_mode": "sum",
        }
    }


def genre_filter(genre: str) -> dict[str, Any]:
    return {"term": {"genres": fold(genre.strip())}}


class ElasticMovieIndex:
    """Search port adapter on Elasticsearch 8 (same contract as ``EmbeddedMovieIndex``)."""

    name = "elasticsearch"

    def __init__(
        self,
        url: str,
        alias: str = "movies",
        timeout: float = 5.0,
        max_retries: int = 1,
        client: Elasticsearch | None = None,
    ) -> None:
        if not alias or alias != alias.lower() or alias.startswith(("-", "_", "+")) or "*" in alias:
            raise ValueError(f"invalid index alias {alias!r}: lowercase, no '*', not starting with - _ +")
        self.alias = alias
        self.timeout = timeout
        self._client = client or Elasticsearch(
            url, request_timeout=timeout, max_retries=max_retries, retry_on_timeout=False
        )
        self._ensured = False

    @property
    def index_name(self) -> str:
        """The concrete index that ``ensure_index`` creates for the current mapping version."""
        return f"{self.alias}-v{MAPPING_VERSION}"

    # -- index lifecycle -----------------------------------------------------------------------------------------
    @_surface_errors
    def ensure_index(self) -> None:
        """Create ``<alias>-v<version>`` with the mapping and the alias, unless the alias exists (idempotent)."""
        if self._ensured:
            return
        if not self._client.indices.exists_alias(name=self.alias):
            self._create(self.index_name, with_alias=True)
        self._ensured = True

    def _create(self, index: str, *, with_alias: bool) -> None:
        try:
            self._client.indices.create(index=index, settings=SETTINGS, mappings=MAPPINGS)
            log.info("search.index_created", index=index)
        except BadRequestError as exc:
            if exc.error != "resource_already_exists_exception":
                raise
            # Another process created it first (or stopped before adding the alias): carry on from there.
        if with_alias:
            # The alias goes on only once the shard can answer, so readers in other processes never meet an
            # index whose shard is still starting (their searches would fail with "all shards failed").
            self._wait_ready(index)
            self._client.indices.put_alias(index=index, name=self.alias)

    def _wait_ready(self, index: str) -> None:
        health = self._client.cluster.health(
            index=index, wait_for_status="yellow", timeout=f"{max(int(self.timeout * 1000) - 500, 100)}ms"
        )
        if health.get("timed_out"):
            raise SearchUnavailable(f"index {index} did not become ready within {self.timeout} s")

    def _aliased_indices(self) -> list[str]:
        try:
            return sorted(self._client.indices.get_alias(name=self.alias))
        except NotFoundError:
            return []

    @_surface_errors
    def reset(self) -> None:
        """Delete the indices behind the alias and create an empty one (there is no delete-by-query)."""
        self.drop()
        self.ensure_index()

    def compact(self) -> None:
        """Nothing to do: Elasticsearch merges segments itself, in the background, by its merge policy."""
        return None

    @_surface_errors
    def drop(self) -> None:
        """Delete the alias, every index behind it and any concrete index named like the alias (tests, teardown)."""
        # The alias name resolves to the indices behind it, or to a concrete index of that name.
        names = sorted(
            self._client.indices.get(
                index=f"{self.alias},{self.index_name}", ignore_unavailable=True, allow_no_indices=True
            )
        )
        if names:
            self._client.options(ignore_status=404).indices.delete(index=",".join(sorted(names)))
        self._ensured = False

    @_surface_errors
    def reindex_into_new_version(self) -> str:
        """Copy every document into a fresh index with the current mapping, then swap the alias atomically.

        Documents are rebuilt from the stored movies, so a mapping change only needs ``MAPPING_VERSION`` bumped.
        Writes made during the copy land in the old index and are lost with it: pause the indexer first (or
        replay the topic afterwards). Returns the new index name.
        """
        old = self._aliased_indices()
        target = self.index_name
        if target in old or self._client.indices.exists(index=target):
            target = f"{self.index_name}-{int(time.time() * 1000)}"
        self._create(target, with_alias=False)
        copied = 0
        for batch in self._scan_movies(old):
            self._bulk(self._index_actions(batch, target), require_alias=False)
            copied += len(batch)
        self._client.indices.refresh(index=target)
        actions: list[dict[str, Any]] = [{"remove": {"index": name, "alias": self.alias}} for name in old]
        actions.append({"add": {"index": target, "alias": self.alias}})
        self._client.indices.update_aliases(actions=actions)
        if old:
            self._client.indices.delete(index=",".join(old))
        log.info("search.reindexed", alias=self.alias, old=old, new=target, documents=copied)
        self._ensured = True
        return target

    def _scan_movies(self, indices: Sequence[str]) -> Iterator[list[Movie]]:
        if not indices:
            return
        after: list[Any] | None = None
        while True:
            response = self._client.search(
                index=",".join(indices),
                size=BULK_CHUNK,
                sort=[{"id": "asc"}],
                source_includes=["movie"],
                search_after=after,
                track_total_hits=False,
            )
            hits = response["hits"]["hits"]
            if not hits:
                return
            yield [movie_from_document(hit["_source"]["movie"]) for hit in hits]
            after = hits[-1]["sort"]

    # -- writes --------------------------------------------------------------------------------------------------
    def _index_actions(self, movies: Iterable[Movie], index: str) -> Iterator[dict[str, Any]]:
        for movie in movies:
            yield {"_op_type": "index", "_index": index, "_id": str(movie.id), "_source": movie_fields(movie)}

    def _bulk(
        self, actions: Iterable[dict[str, Any]], *, require_alias: bool, ignore_status: tuple[int, ...] = ()
    ) -> int:
        done = 0
        try:
            for _ok, _item in streaming_bulk(
                self._client,
                actions,
                chunk_size=BULK_CHUNK,
                raise_on_error=True,
                raise_on_exception=True,
                max_retries=0,
                ignore_status=ignore_status,
                require_alias=require_alias,
            ):
                done += 1
        except BulkIndexError:
            self._ensured = False  # the index may have been deleted behind our back: look again on the retry
            raise
        return done

    @_surface_errors
    def index_movies(self, movies: Sequence[Movie]) -> None:
        """Upsert by movie id (the last of duplicates wins); raises if any document failed; visible on return."""
        if not movies:
            return
        latest = {movie.id: movie for movie in movies}
        self.ensure_index()
        started = time.perf_counter()
        self._bulk(self._index_actions(latest.values(), self.alias), require_alias=True)
        # An explicit refresh makes the batch searchable in ~tens of ms; refresh=wait_for waits for the next
        # scheduled refresh (~1 s) instead (bench/search_engines.py measures both).
        self._client.indices.refresh(index=self.alias)
        log.debug("search.indexed", documents=len(latest), ms=round((time.perf_counter() - started) * 1000, 1))

    @_surface_errors
    def delete_movies(self, movie_ids: Iterable[int]) -> None:
        ids = sorted(set(movie_ids))
        if not ids:
            return
        self.ensure_index()
        actions = ({"_op_type": "delete", "_index": self.alias, "_id": str(i)} for i in ids)
        self._bulk(actions, require_alias=True, ignore_status=(404,))
        self._client.indices.refresh(index=self.alias)

    # -- reads ---------------------------------------------------------------------------------------------------
    @_surface_errors
    def search(self, query: SearchQuery) -> SearchPage:
        query_words = list(dict.fromkeys(words(query.text or "")))
        if query_words:
            body = text_query(query_words, query.genre)
            sort: list[Any] = ["_score", {"popularity": "desc"}, {"id": "asc"}]
        elif query.text and query.text.strip():
            return SearchPage(0, [])  # only punctuation: nothing to match
        else:
            body = {"bool": {"filter": [genre_filter(query.genre)]}} if query.genre else {"match_all": {}}
            sort = [{"popularity": "desc"}, {"vote_count": "desc"}, {"id": "asc"}]
        response = self._client.search(
            index=self.alias,
            query=body,
            sort=sort,
            from_=query.offset,
            size=query.limit,
            track_total_hits=True,
            source_includes=["movie"],
            filter_path=["hits.total.value", "hits.hits._source"],
            ignore_unavailable=True,
            allow_no_indices=True,
        )
        hits = response["hits"]
        return SearchPage(
            total=int(hits["total"]["value"]),
            movies=[movie_from_document(hit["_source"]["movie"]) for hit in hits.get("hits", ())],
        )

    @_surface_errors
    def get(self, movie_id: int) -> Movie | None:
        try:
            found = self._client.get(index=self.alias, id=str(movie_id), source_includes=["movie"])
        except NotFoundError:
            return None
        return movie_from_document(found["_source"]["movie"])

    @_surface_errors
    def count(self) -> int:
        response = self._client.count(index=self.alias, ignore_unavailable=True, allow_no_indices=True)
        return int(response["count"])

    @_surface_errors
    def ids(self) -> set[int]:
        """Every movie id, paged with ``search_after`` on the id (works for any catalogue size)."""
        found: set[int] = set()
        after: list[Any] | None = None
        while True:
            response = self._client.search(
                index=self.alias,
                size=IDS_PAGE,
                sort=[{"id": "asc"}],
                source=False,
                search_after=after,
                track_total_hits=False,
                ignore_unavailable=True,
                allow_no_indices=True,
            )
            hits = response["hits"]["hits"]
            found.update(int(hit["sort"][0]) for hit in hits)
            if len(hits) < IDS_PAGE:
                return found
            after = hits[-1]["sort"]

    @_surface_errors
    def ping(self) -> None:
        health = self._client.options(request_timeout=min(self.timeout, 2.0)).cluster.health()
        if health.get("status") == "red":
            raise SearchUnavailable("elasticsearch cluster status is red")

    def close(self) -> None:
        self._client.close()
