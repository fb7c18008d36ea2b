"""The embedded engine before Tantivy, kept as the benchmark's baseline: an in-memory inverted index written by
hand and kept durable in a SQLite file.

Writes go to SQLite first (one transaction per batch) and then to memory, so a crash never loses an acknowledged
write. Each document row carries a sequence number; another process sharing the file notices a change through
``PRAGMA data_version`` and loads only the rows written since it last looked.
"""

from __future__ import annotations

import bisect
import json
import math
import sqlite3
import threading
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
from rapidfuzz import process
from rapidfuzz.distance import OSA

from movierec.domain.documents import movie_from_document, movie_to_document
from movierec.domain.movies import Movie
from movierec.search.port import SearchPage, SearchQuery, fold, index_words, max_edits, words

EXACT, PREFIX, FUZZY = 3.0, 2.0, 1.0
GENRE_WEIGHT = 1.5
EXACT_TITLE_BONUS = 4.0
POPULARITY_WEIGHT = 0.3
MIN_PREFIX = 2

_SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    id INTEGER PRIMARY KEY,
    seq INTEGER NOT NULL,
    body TEXT
);
CREATE INDEX IF NOT EXISTS ix_documents_seq ON documents (seq);
"""


class _Memory:
    """Documents in dense rows with numpy columns, and postings from word to rows."""

    def __init__(self) -> None:
        self.movies: list[Movie | None] = []
        self.row_of: dict[int, int] = {}
        self.title_words: list[tuple[str, ...]] = []
        self.genre_words: list[tuple[str, ...]] = []
        self.capacity = 0
        self.popularity = np.zeros(0)
        self.vote_count = np.zeros(0)
        self.boost = np.zeros(0)
        self.title_size = np.ones(0)
        self.title_postings: dict[str, set[int]] = defaultdict(set)
        self.genre_postings: dict[str, set[int]] = defaultdict(set)
        self.by_genre: dict[str, set[int]] = defaultdict(set)
        self.by_title: dict[str, set[int]] = defaultdict(set)
        self.arrays: dict[tuple[str, str], np.ndarray] = {}
        self.vocabulary: list[str] = []
        self.by_length: dict[int, list[str]] = {}
        self.vocabulary_dirty = True

    def _grow(self) -> None:
        capacity = max(1024, self.capacity * 2)
        for name, fill in (("popularity", 0.0), ("vote_count", 0.0), ("boost", 0.0), ("title_size", 1.0)):
            column = np.full(capacity, fill)
            column[: self.capacity] = getattr(self, name)[: self.capacity]
            setattr(self, name, column)
        self.capacity = capacity

    def postings(self, kind: str, word: str) -> np.ndarray:
        key = (kind, word)
        cached = self.arrays.get(key)
        if cached is None:
            source = self.title_postings if kind == "title" else self.genre_postings
            cached = np.fromiter(source.get(word, ()), dtype=np.int64)
            self.arrays[key] = cached
        return cached

    def add(self, movie: Movie) -> None:
        row = len(self.movies)
        if row >= self.capacity:
            self._grow()
        self.movies.append(movie)
        self.row_of[movie.id] = row
        title_words = tuple(index_words(movie.title))
        genre_words = tuple(dict.fromkeys(w for g in movie.genres for w in index_words(g)))
        self.title_words.append(title_words)
        self.genre_words.append(genre_words)
        self.popularity[row] = movie.popularity
        self.vote_count[row] = movie.vote_count
        self.boost[row] = POPULARITY_WEIGHT * math.log1p(max(movie.vote_count, 0))
        self.title_size[row] = max(len(words(movie.title)), 1)
        for word in title_words:
            self.title_postings[word].add(row)
            self.arrays.pop(("title", word), None)
        for word in genre_words:
            self.genre_postings[word].add(row)
            self.arrays.pop(("genre", word), None)
        for genre in movie.genres:
            self.by_genre[fold(genre)].add(row)
        self.by_title[" ".join(words(movie.title))].add(row)
        self.vocabulary_dirty = True

    def remove(self, movie_id: int) -> None:
        row = self.row_of.pop(movie_id, None)
        if row is None:
            return
        movie = self.movies[row]
        assert movie is not None
        self.movies[row] = None
        for kind, postings, words_of_row in (
            ("title", self.title_postings, self.title_words[row]),
            ("genre", self.genre_postings, self.genre_words[row]),
        ):
            for word in words_of_row:
                members = postings.get(word)
                if members is not None:
                    members.discard(row)
                    if not members:
                        del postings[word]
                self.arrays.pop((kind, word), None)
        for genre in movie.genres:
            self.by_genre.get(fold(genre), set()).discard(row)
        self.by_title.get(" ".join(words(movie.title)), set()).discard(row)
        self.vocabulary_dirty = True

    def live_rows(self) -> np.ndarray:
        return np.fromiter(self.row_of.values(), dtype=np.int64, count=len(self.row_of))

    def vocabulary_index(self) -> tuple[list[str], dict[int, list[str]]]:
        if self.vocabulary_dirty:
            vocabulary = sorted(set(self.title_postings) | set(self.genre_postings))
            by_length: dict[int, list[str]] = defaultdict(list)
            for word in vocabulary:
                by_length[len(word)].append(word)
            self.vocabulary, self.by_length = vocabulary, dict(by_length)
            self.vocabulary_dirty = False
        return self.vocabulary, self.by_length


class InvertedMovieIndex:
    """The previous embedded adapter (same contract), replayed into memory by every process that opens it."""

    name = "inverted"

    def __init__(self, path: Path | str, timeout: float = 5.0) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(self.path, timeout=timeout, check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.execute(f"PRAGMA busy_timeout={int(timeout * 1000)}")
        self._lock = threading.RLock()
        self._memory = _Memory()
        self._seq = 0
        self._data_version: int | None = None
        self.ensure_index()

    # -- durability ----------------------------------------------------------------------------------------------
    def ensure_index(self) -> None:
        with self._lock:
            self._conn.executescript(_SCHEMA)
            self._refresh(force=True)

    def _refresh(self, force: bool = False) -> None:
        """Load rows other connections wrote since the last look (cheap when nothing changed)."""
        version = self._conn.execute("PRAGMA data_version").fetchone()[0]
        if not force and version == self._data_version:
            return
        self._data_version = version
        rows = self._conn.execute(
            "SELECT id, seq, body FROM documents WHERE seq > ? ORDER BY seq", (self._seq,)
        ).fetchall()
        for movie_id, seq, body in rows:
            self._seq = max(self._seq, seq)
            self._forget(movie_id)
            if body is not None:
                self._remember(movie_from_document(json.loads(body)))

    def index_movies(self, movies: Sequence[Movie]) -> None:
        if not movies:
            return
        latest = {movie.id: movie for movie in movies}
        with self._lock:
            self._refresh()
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                (seq,) = self._conn.execute("SELECT COALESCE(MAX(seq), 0) FROM documents").fetchone()
                rows = []
                for offset, movie in enumerate(latest.values(), start=1):
                    rows.append((movie.id, seq + offset, json.dumps(movie_to_document(movie))))
                self._conn.executemany(
                    "INSERT INTO documents (id, seq, body) VALUES (?, ?, ?) "
                    "ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, body = excluded.body",
                    rows,
                )
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            # Apply what was written (and anything another process wrote in between) to memory.
            self._refresh(force=True)

    def delete_movies(self, movie_ids: Iterable[int]) -> None:
        ids = sorted(set(movie_ids))
        if not ids:
            return
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                (seq,) = self._conn.execute("SELECT COALESCE(MAX(seq), 0) FROM documents").fetchone()
                self._conn.executemany(
                    "UPDATE documents SET body = NULL, seq = ? WHERE id = ?",
                    [(seq + n, movie_id) for n, movie_id in enumerate(ids, start=1)],
                )
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._refresh(force=True)

    def reset(self) -> None:
        with self._lock:
            self._conn.execute("DELETE FROM documents")
            self._memory = _Memory()
            self._seq = 0
            self._data_version = None

    def _remember(self, movie: Movie) -> None:
        self._memory.add(movie)

    def _forget(self, movie_id: int) -> None:
        self._memory.remove(movie_id)

    # -- queries -------------------------------------------------------------------------------------------------
    def _expansions(self, word: str) -> dict[str, float]:
        """Vocabulary words that ``word`` matches, each with its match weight (exact > prefix > typo)."""
        memory = self._memory
        vocabulary, by_length = memory.vocabulary_index()
        found: dict[str, float] = {}
        edits = max_edits(word)
        if edits:
            for length in range(len(word) - edits, len(word) + edits + 1):
                candidates = by_length.get(length)
                if not candidates:
                    continue
                for candidate, _distance, _ in process.extract(
                    word, candidates, scorer=OSA.distance, score_cutoff=edits, limit=None
                ):
                    found[candidate] = FUZZY
        if len(word) >= MIN_PREFIX:
            start = bisect.bisect_left(vocabulary, word)
            for candidate in vocabulary[start:]:
                if not candidate.startswith(word):
                    break
                found[candidate] = PREFIX
        if word in memory.title_postings or word in memory.genre_postings:
            found[word] = EXACT
        return found

    def _word_scores(self, word: str) -> np.ndarray:
        """Per row: how well ``word`` matches (0 = not at all), scaled by how rare its matches are."""
        memory = self._memory
        title = np.zeros(memory.capacity)
        genre = np.zeros(memory.capacity)
        # Apply weaker matches first so a stronger match of the same row overwrites them.
        for candidate, weight in sorted(self._expansions(word).items(), key=lambda kv: kv[1]):
            rows = memory.postings("title", candidate)
            if rows.size:
                title[rows] = np.maximum(title[rows], weight)
            rows = memory.postings("genre", candidate)
            if rows.size:
                genre[rows] = np.maximum(genre[rows], GENRE_WEIGHT * weight / EXACT)
        matched = np.count_nonzero(title)
        live = max(len(memory.row_of), 1)
        idf = math.log(1 + (live - matched + 0.5) / (matched + 0.5))
        return np.maximum(title * idf, genre)

    def search(self, query: SearchQuery) -> SearchPage:
        with self._lock:
            self._refresh()
            memory = self._memory
            if memory.capacity == 0:
                return SearchPage(0, [])
            allowed: np.ndarray | None = None
            if query.genre:
                allowed = np.zeros(memory.capacity, dtype=bool)
                allowed[list(memory.by_genre.get(fold(query.genre.strip()), ()))] = True
            query_words = list(dict.fromkeys(words(query.text or "")))
            if not query_words:
                if query.text and query.text.strip():
                    return SearchPage(0, [])  # only punctuation: nothing to match
                rows = memory.live_rows() if allowed is None else np.flatnonzero(allowed)
                order = np.lexsort((self._ids(rows), -memory.vote_count[rows], -memory.popularity[rows]))
                return self._page(rows[order], query)

            total = np.zeros(memory.capacity)
            matches_all = np.ones(memory.capacity, dtype=bool) if allowed is None else allowed.copy()
            title_hits = np.zeros(memory.capacity)
            for word in query_words:
                scores = self._word_scores(word)
                matches_all &= scores > 0
                total += scores
                exact_rows = memory.postings("title", word)
                if exact_rows.size:
                    title_hits[exact_rows] += 1
            rows = np.flatnonzero(matches_all)
            if rows.size == 0:
                return SearchPage(0, [])
            text = total[rows]
            coverage = np.minimum(title_hits[rows] / memory.title_size[rows], 1.0)
            score = text * (1.0 + 0.5 * coverage) + memory.boost[rows]
            exact_title = np.isin(rows, list(memory.by_title.get(" ".join(query_words), ())))
            score += EXACT_TITLE_BONUS * text * exact_title
            order = np.lexsort((self._ids(rows), -memory.popularity[rows], -np.round(score, 9)))
            return self._page(rows[order], query)

    def _ids(self, rows: np.ndarray) -> np.ndarray:
        movies = self._memory.movies
        return np.fromiter((movies[r].id for r in rows), dtype=np.int64, count=rows.size)  # type: ignore[union-attr]

    def _page(self, ranked_rows: np.ndarray, query: SearchQuery) -> SearchPage:
        window = ranked_rows[query.offset : query.offset + query.limit]
        movies = [self._memory.movies[int(r)] for r in window]
        return SearchPage(total=int(ranked_rows.size), movies=[m for m in movies if m is not None])

    def get(self, movie_id: int) -> Movie | None:
        with self._lock:
            self._refresh()
            row = self._memory.row_of.get(movie_id)
            return None if row is None else self._memory.movies[row]

    def count(self) -> int:
        with self._lock:
            self._refresh()
            return len(self._memory.row_of)

    def ids(self) -> set[int]:
        with self._lock:
            self._refresh()
            return set(self._memory.row_of)

    def ping(self) -> None:
        with self._lock:
            self._conn.execute("SELECT 1").fetchone()

    def close(self) -> None:
        with self._lock:
            self._conn.close()
