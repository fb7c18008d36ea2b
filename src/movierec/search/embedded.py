"""The embedded search engine: a Tantivy index in a directory of the data dir, shared by every process.

Tantivy (through its Python bindings) keeps the index as immutable, memory-mapped segment files, so a process
that opens the index reads only the small ``meta.json`` and maps the segments: nothing is replayed into memory,
and every process on the machine shares the same pages of the page cache.

Writes: Tantivy allows one ``IndexWriter`` per index directory and guards it with a lock file
(``.tantivy-writer.lock``, an OS file lock, so a crashed process never leaves it held). Each ``index_movies`` /
``delete_movies`` call takes the writer, applies its batch (delete by movie id, then add: an upsert), commits,
waits for the merges the commit started and lets the lock go. A writer in another process (the indexer while
``movierec reconcile`` repairs, say) waits for the lock up to the timeout, then the call fails with
``SearchUnavailable`` and the caller retries (the indexer does, with backoff); writes are upserts, so a retry is
harmless. A batch is durable and searchable when the call returns.

Reads: every read first compares ``meta.json`` (rewritten atomically by each commit) with the one the current
searcher was opened on, a single ``stat``; when it changed, the reader reloads. So a search in any process sees
every commit made before it started, in this process or another.

Relevance is the port's (see ``movierec.search.port``), built from Tantivy queries on words folded in Python by
the port's ``index_words``/``words``, so both adapters split and fold text the same way. Per query word, a
``disjunction_max`` of: the exact title word, a title word prefix, a title word with typos (a Levenshtein
automaton, a swap of neighbours costing one edit), each scored a constant 3 / 2 / 1 times the word's rarity
(idf), and the same three on genre words at a flat 1.5 / 1 / 0.5. Every word must match; the BM25 score of the
exact title word is added on top (more for short titles, as the Elasticsearch adapter's title similarity); a title
equal to the query gets a bonus that puts it first. The sum is then multiplied by ``1 + 0.02 * ln(1 + vote_count)``
(Tantivy's ``weight_by_field``, at most 1.3 for any real vote count), so among equal text matches the more voted
movie comes first, and a weaker kind of match of a word never overtakes a stronger one of the same word. User text
only ever becomes term values, never query syntax.
"""

from __future__ import annotations

import fcntl
import json
import math
import os
import struct
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TypeVar

import tantivy
from tenacity import RetryError, retry, retry_if_exception, stop_after_delay, wait_exponential

from movierec.domain.documents import movie_from_document, movie_to_document
from movierec.domain.movies import Movie
from movierec.log import get_logger
from movierec.search.port import SearchPage, SearchQuery, SearchUnavailable, fold, index_words, max_edits, words

log = get_logger(__name__)

SCHEMA_VERSION = 1  # bump when the schema or the indexed text changes: a new directory, rebuilt by reconcile
EXACT, PREFIX, FUZZY = 3.0, 2.0, 1.0
GENRE_EXACT, GENRE_PREFIX, GENRE_FUZZY = 1.5, 1.0, 0.5
COVERAGE_WEIGHT = 1.0  # times the BM25 score of an exact title word: shorter titles first among equal matches
EXACT_TITLE_BONUS = 10_000.0  # more than any text score can reach: a title equal to the query comes first
POPULARITY_FACTOR = 0.02  # score *= 1 + POPULARITY_FACTOR * ln(1 + vote_count)
MIN_PREFIX = 2
PREFIX_TERMS_FOR_IDF = 64  # prefix terms whose document counts are summed for a word's rarity
WRITER_HEAP_BYTES = 32_000_000
COMPACT_HEAP_BYTES = 1_000_000_000  # compact's writer: a segment is cut when this fills
IDS_PAGE = 50_000

T = TypeVar("T")


def _schema() -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    builder.add_integer_field("id", indexed=True, fast=True)
    builder.add_text_field("title_words", tokenizer_name="whitespace", index_option="freq")
    builder.add_text_field("title_norm", tokenizer_name="raw", index_option="basic")
    builder.add_text_field("genre_words", tokenizer_name="whitespace", index_option="basic")
    builder.add_text_field("genres", tokenizer_name="raw", index_option="basic")
    builder.add_float_field("popularity", fast=True)
    builder.add_unsigned_field("rank", fast=True)  # popularity, then vote count: the order without text
    builder.add_float_field("weight", fast=True)  # log2(2 + weight) = 1 + POPULARITY_FACTOR * ln(1 + votes)
    builder.add_bytes_field("movie", stored=True)
    return builder.build()


def _rank(movie: Movie) -> int:
    """An unsigned key ordering movies by popularity (as float32), then vote count, both descending."""
    bits: int
    (bits,) = struct.unpack(">I", struct.pack(">f", float(movie.popularity)))
    ordered = bits ^ 0xFFFFFFFF if bits & 0x80000000 else bits | 0x80000000  # IEEE-754 order as unsigned
    return (ordered << 32) | min(max(movie.vote_count, 0), 0xFFFFFFFF)


def _weight(movie: Movie) -> float:
    weight: float = 2.0 ** (1.0 + POPULARITY_FACTOR * math.log1p(max(movie.vote_count, 0)))
    return weight - 2.0


def _document(movie: Movie) -> tantivy.Document:
    doc = tantivy.Document()
    doc.add_integer("id", movie.id)
    doc.add_text("title_words", " ".join(index_words(movie.title)))
    doc.add_text("title_norm", " ".join(words(movie.title)))
    doc.add_text("genre_words", " ".join(dict.fromkeys(w for genre in movie.genres for w in index_words(genre))))
    for genre in movie.genres:
        doc.add_text("genres", fold(genre.strip()))
    doc.add_float("popularity", float(movie.popularity))
    doc.add_unsigned("rank", _rank(movie))
    doc.add_float("weight", _weight(movie))
    doc.add_bytes("movie", json.dumps(movie_to_document(movie), separators=(",", ":")).encode())
    return doc


def _lock_busy(exc: BaseException) -> bool:
    return isinstance(exc, ValueError) and "LockBusy" in str(exc)


class EmbeddedMovieIndex:
    """Search port adapter with no server: same contract as the Elasticsearch adapter."""

    name = "embedded"

    def __init__(self, path: Path | str, timeout: float = 5.0) -> None:
        self.root = Path(path)
        self.path = self.root / f"tantivy-v{SCHEMA_VERSION}"
        self.timeout = timeout
        self._schema = _schema()
        self._write_lock = threading.Lock()  # one writer per process; the lock file orders processes
        self._read_lock = threading.Lock()
        self._meta_seen: tuple[int, int, int] | None = None
        self._index = self._open()

    # -- lifecycle -----------------------------------------------------------------------------------------------
    def _open(self) -> tantivy.Index:
        self.path.mkdir(parents=True, exist_ok=True)
        # Two processes starting at once must not both create the index: creation happens under a file lock.
        with open(self.root / ".create.lock", "a+b") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                index = tantivy.Index(self._schema, path=str(self.path), reuse=True)
            except (OSError, ValueError) as exc:
                raise SearchUnavailable(f"cannot open the search index in {self.path}: {exc}") from exc
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
        index.config_reader(reload_policy="Manual", num_warmers=0)
        return index

    def ensure_index(self) -> None:
        """The index is created when the adapter opens it; nothing more to do."""

    def _meta_stamp(self) -> tuple[int, int, int] | None:
        try:
            stat = os.stat(self.path / "meta.json")
        except FileNotFoundError:
            return None
        return (stat.st_ino, stat.st_mtime_ns, stat.st_size)

    def _searcher(self) -> tantivy.Searcher:
        """The current searcher, reloaded first when a commit (of any process) changed ``meta.json``."""
        stamp = self._meta_stamp()
        if stamp != self._meta_seen:
            with self._read_lock:
                if stamp != self._meta_seen:
                    self._index.reload()
                    self._meta_seen = stamp
        return self._index.searcher()

    def _read(self, action: Callable[[tantivy.Searcher], T]) -> T:
        try:
            return action(self._searcher())
        except (OSError, ValueError) as exc:
            raise SearchUnavailable(f"embedded search failed: {exc}") from exc

    # -- writes --------------------------------------------------------------------------------------------------
    def _writer(self, heap_bytes: int = WRITER_HEAP_BYTES) -> tantivy.IndexWriter:
        """Tantivy's writer, waiting for another process's writer to finish (up to the timeout)."""

        @retry(
            retry=retry_if_exception(_lock_busy),
            wait=wait_exponential(multiplier=0.01, max=0.25),
            stop=stop_after_delay(self.timeout),
            reraise=False,
        )
        def acquire() -> tantivy.IndexWriter:
            return self._index.writer(heap_size=heap_bytes, num_threads=1)

        try:
            return acquire()
        except RetryError as exc:
            raise SearchUnavailable(
                f"the search index is being written by another process (waited {self.timeout} s for its lock)"
            ) from exc
        except (OSError, ValueError) as exc:
            raise SearchUnavailable(f"cannot write the search index: {exc}") from exc

    def _write(self, apply: Callable[[tantivy.IndexWriter], None]) -> None:
        """Apply one batch under the writer lock, commit it, and make it visible to this process's searches."""
        with self._write_lock:
            writer = self._writer()
            try:
                apply(writer)
                writer.commit()
            except (OSError, ValueError) as exc:
                raise SearchUnavailable(f"embedded search write failed: {exc}") from exc
            finally:
                # Waits for the merges this commit started and releases the lock; uncommitted work is dropped.
                writer.wait_merging_threads()
        self._read(lambda searcher: searcher.num_docs)  # reload now: the batch is searchable on return

    def index_movies(self, movies: Sequence[Movie]) -> None:
        if not movies:
            return
        latest = {movie.id: movie for movie in movies}
        documents = [_document(movie) for movie in latest.values()]

        def apply(writer: tantivy.IndexWriter) -> None:
            for movie_id, document in zip(latest, documents, strict=True):
                writer.delete_documents_by_term("id", movie_id)
                writer.add_document(document)

        self._write(apply)

    def delete_movies(self, movie_ids: Iterable[int]) -> None:
        ids = sorted(set(movie_ids))
        if not ids:
            return

        def apply(writer: tantivy.IndexWriter) -> None:
            for movie_id in ids:
                writer.delete_documents_by_term("id", movie_id)

        self._write(apply)

    def reset(self) -> None:
        self._write(lambda writer: writer.delete_all_documents())

    def compact(self, heap_bytes: int = COMPACT_HEAP_BYTES) -> int:
        """Rewrite every movie into as few segments as ``heap_bytes`` of writer memory allows (one, for a million
        movies in the default); return how many segments the index has afterwards.

        Each batch write adds a segment and Tantivy's merge policy (which the Python bindings do not let us tune)
        keeps several of each size, so a rebuilt index ends with many; every prefix and typo clause of a query walks
        each segment's term dictionary, so fewer segments answer in less CPU time. The movies are re-read from the
        index itself under the writer lock (no write of any process can come between) and committed at once:
        searches see the old segments until the commit, then the new ones; nothing is lost if it fails midway.
        """
        with self._write_lock:
            writer = self._writer(heap_bytes)
            try:
                self._index.reload()
                searcher = self._index.searcher()  # keeps reading the current segments until it is dropped
                writer.delete_all_documents()
                for _, address in self._pages(searcher):
                    writer.add_document(_document(self._movie(searcher.doc(address))))
                writer.commit()
            except (OSError, ValueError) as exc:
                raise SearchUnavailable(f"embedded search compaction failed: {exc}") from exc
            finally:
                writer.wait_merging_threads()
        return self.segments()

    def segments(self) -> int:
        """How many segments the index has now (each a commit's worth of writes, until merged or compacted)."""
        return int(self._read(lambda searcher: searcher.num_segments))

    # -- queries -------------------------------------------------------------------------------------------------
    def _rarity(self, searcher: tantivy.Searcher, word: str) -> float:
        """BM25's idf of a word over titles, counting the titles that have it or a word it begins."""
        found = searcher.doc_freq("title_words", word)
        if len(word) >= MIN_PREFIX:
            found += sum(
                count
                for term, count in searcher.terms_with_prefix("title_words", word, limit=PREFIX_TERMS_FOR_IDF)
                if term != word
            )
        live = max(searcher.num_docs, 1)
        found = min(found, live)
        return math.log(1 + (live - found + 0.5) / (found + 0.5))

    def _word_query(self, searcher: tantivy.Searcher, word: str) -> tantivy.Query:
        schema, edits, idf = self._schema, max_edits(word), self._rarity(searcher, word)
        choices: list[tantivy.Query] = []
        for field, weights in (("title_words", (EXACT * idf, PREFIX * idf, FUZZY * idf)),
                               ("genre_words", (GENRE_EXACT, GENRE_PREFIX, GENRE_FUZZY))):  # fmt: skip
            exact, prefix, fuzzy = weights
            choices.append(tantivy.Query.const_score_query(tantivy.Query.term_query(schema, field, word), exact))
            if len(word) >= MIN_PREFIX:
                starts = tantivy.Query.fuzzy_term_query(schema, field, word, distance=0, prefix=True)
                choices.append(tantivy.Query.const_score_query(starts, prefix))
            if edits:
                typo = tantivy.Query.fuzzy_term_query(schema, field, word, distance=edits, transposition_cost_one=True)
                choices.append(tantivy.Query.const_score_query(typo, fuzzy))
        return tantivy.Query.disjunction_max_query(choices)

    def _text_query(self, searcher: tantivy.Searcher, query_words: Sequence[str]) -> tantivy.Query:
        schema = self._schema
        clauses: list[tuple[tantivy.Occur, tantivy.Query]] = []
        for word in query_words:
            clauses.append((tantivy.Occur.Must, self._word_query(searcher, word)))
            coverage = tantivy.Query.boost_query(tantivy.Query.term_query(schema, "title_words", word), COVERAGE_WEIGHT)
            clauses.append((tantivy.Occur.Should, coverage))
        same_title = tantivy.Query.term_query(schema, "title_norm", " ".join(query_words))
        clauses.append((tantivy.Occur.Should, tantivy.Query.const_score_query(same_title, EXACT_TITLE_BONUS)))
        return tantivy.Query.boolean_query(clauses)

    def _genre_filter(self, genre: str) -> tantivy.Query:
        return tantivy.Query.const_score_query(
            tantivy.Query.term_query(self._schema, "genres", fold(genre.strip())), 0.0
        )

    def search(self, query: SearchQuery) -> SearchPage:
        query_words = list(dict.fromkeys(words(query.text or "")))
        if not query_words and query.text and query.text.strip():
            return SearchPage(0, [])  # only punctuation: nothing to match

        def run(searcher: tantivy.Searcher) -> SearchPage:
            if searcher.num_docs == 0:
                return SearchPage(0, [])
            if query_words:
                text = self._text_query(searcher, query_words)
                if query.genre:
                    text = text.and_must_match(self._genre_filter(query.genre))
                result = searcher.search(
                    text, limit=query.limit, offset=query.offset, count=True, weight_by_field="weight"
                )
            else:
                listing = self._genre_filter(query.genre) if query.genre else tantivy.Query.all_query()
                result = searcher.search(
                    listing, limit=query.limit, offset=query.offset, count=True, order_by_field="rank"
                )
            movies = [self._movie(searcher.doc(address)) for _key, address in result.hits]
            return SearchPage(total=int(result.count or 0), movies=movies)  # type: ignore[attr-defined]

        return self._read(run)

    @staticmethod
    def _movie(doc: tantivy.Document) -> Movie:
        body = doc.get_first("movie")
        if not isinstance(body, bytes):
            raise SearchUnavailable("a search document has no stored movie")
        return movie_from_document(json.loads(body))

    def get(self, movie_id: int) -> Movie | None:
        def run(searcher: tantivy.Searcher) -> Movie | None:
            hits = searcher.search(tantivy.Query.term_query(self._schema, "id", movie_id), limit=1, count=False).hits
            return self._movie(searcher.doc(hits[0][1])) if hits else None

        return self._read(run)

    def count(self) -> int:
        return self._read(lambda searcher: int(searcher.num_docs))

    def ids(self) -> set[int]:
        """Every movie id, read from the id column in pages (any catalogue size)."""
        return self._read(lambda searcher: {movie_id for movie_id, _ in self._pages(searcher)})

    def _pages(self, searcher: tantivy.Searcher) -> Iterator[tuple[int, tantivy.DocAddress]]:
        """Every (movie id, document address), by id, read in pages of ``IDS_PAGE``."""
        after: int | None = None
        while True:
            scope = (
                tantivy.Query.all_query()
                if after is None
                else tantivy.Query.range_query(
                    self._schema, "id", tantivy.FieldType.Integer, lower_bound=after, include_lower=False
                )
            )
            order = tantivy.Order.Asc
            hits = searcher.search(scope, limit=IDS_PAGE, count=False, order_by_field="id", order=order).hits
            for key, address in hits:
                yield int(key), address
            if len(hits) < IDS_PAGE:
                return
            after = int(hits[-1][0])

    def ping(self) -> None:
        if self._meta_stamp() is None:
            raise SearchUnavailable(f"the search index in {self.path} is gone")
        self._read(lambda searcher: searcher.num_docs)

    def close(self) -> None:
        """Nothing to release: the writer lock is only held during a write, and segments are unmapped on exit."""
