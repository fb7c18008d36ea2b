"""SQLite FTS5 as a Search port engine, for the benchmark: the candidate that needs no extra dependency.

* Title and genre words (folded in Python by the port's ``index_words``) go to an FTS5 table whose rowid is the movie
  id, with prefix indexes of 2 and 3 characters so ``word*`` is cheap.
* Typos: FTS5 has no fuzzy query and Python's ``sqlite3`` ships without ``spellfix1``, so every indexed word is kept
  in a vocabulary table with an FTS5 ``trigram`` index; a query word's candidates are the vocabulary words sharing
  a trigram with it, kept when their optimal-string-alignment distance is within the port's budget (rapidfuzz),
  and added to the word's ``OR`` group. A word under 3 letters has no trigram and gets no typo candidates.
* Ranking: ``bm25`` (title words weighted 3, genre words 1), a title equal to the query first, then
  ``0.3 * ln(1 + votes)``; ties by popularity, then id. There are no exact > prefix > typo tiers: FTS5 scores each
  matched term by its own idf, so a rare typo candidate can outrank an exact common word (the benchmark compares
  its answers with the other engines' on the same queries).
"""

from __future__ import annotations

import json
import math
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path

from rapidfuzz.distance import OSA

from movierec.domain.documents import movie_from_document, movie_to_document
from movierec.domain.movies import Movie
from movierec.search.port import SearchPage, SearchQuery, fold, index_words, max_edits, words

TRIGRAM_CANDIDATES = 2_000
EXACT_TITLE_BONUS = 1_000.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS movies (
    id INTEGER PRIMARY KEY, title_norm TEXT NOT NULL, popularity REAL NOT NULL, vote_count INTEGER NOT NULL,
    boost REAL NOT NULL, body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ix_movies_order ON movies (popularity DESC, vote_count DESC, id);
CREATE INDEX IF NOT EXISTS ix_movies_title ON movies (title_norm);
CREATE TABLE IF NOT EXISTS movie_genres (genre TEXT NOT NULL, id INTEGER NOT NULL, PRIMARY KEY (genre, id));
CREATE INDEX IF NOT EXISTS ix_movie_genres_id ON movie_genres (id);
CREATE VIRTUAL TABLE IF NOT EXISTS texts USING fts5(
    title_words, genre_words, tokenize = 'unicode61 remove_diacritics 0', prefix = '2 3'
);
CREATE TABLE IF NOT EXISTS vocabulary (word TEXT PRIMARY KEY) WITHOUT ROWID;
CREATE VIRTUAL TABLE IF NOT EXISTS vocabulary_trigrams USING fts5(word, tokenize = 'trigram');
"""


def _quoted(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


class Fts5MovieIndex:
    name = "sqlite-fts5"

    def __init__(self, path: Path | str, timeout: float = 5.0) -> None:
        self.path = str(path)
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(self.path, timeout=timeout, check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._lock = threading.Lock()
        self.ensure_index()

    def ensure_index(self) -> None:
        with self._lock:
            self._conn.executescript(_SCHEMA)

    def _remove(self, ids: Sequence[int]) -> None:
        rows = [(i,) for i in ids]
        self._conn.executemany("DELETE FROM texts WHERE rowid = ?", rows)
        self._conn.executemany("DELETE FROM movie_genres WHERE id = ?", rows)
        self._conn.executemany("DELETE FROM movies WHERE id = ?", rows)

    def index_movies(self, movies: Sequence[Movie]) -> None:
        latest = list({movie.id: movie for movie in movies}.values())
        if not latest:
            return
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._remove([m.id for m in latest])
                vocabulary: set[str] = set()
                texts, rows, genres = [], [], []
                for movie in latest:
                    title_words = index_words(movie.title)
                    genre_words = list(dict.fromkeys(w for g in movie.genres for w in index_words(g)))
                    vocabulary.update(title_words, genre_words)
                    texts.append((movie.id, " ".join(title_words), " ".join(genre_words)))
                    boost = 0.3 * math.log1p(max(movie.vote_count, 0))
                    body = json.dumps(movie_to_document(movie), separators=(",", ":"))
                    title_norm = " ".join(words(movie.title))
                    rows.append((movie.id, title_norm, movie.popularity, movie.vote_count, boost, body))
                    genres.extend((fold(g.strip()), movie.id) for g in dict.fromkeys(movie.genres))
                self._conn.executemany("INSERT INTO texts (rowid, title_words, genre_words) VALUES (?, ?, ?)", texts)
                self._conn.executemany("INSERT INTO movies VALUES (?, ?, ?, ?, ?, ?)", rows)
                self._conn.executemany("INSERT OR IGNORE INTO movie_genres VALUES (?, ?)", genres)
                new_words = [
                    (w,)
                    for w in vocabulary
                    if self._conn.execute("INSERT OR IGNORE INTO vocabulary VALUES (?)", (w,)).rowcount
                ]
                self._conn.executemany("INSERT INTO vocabulary_trigrams (word) VALUES (?)", new_words)
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise

    def delete_movies(self, movie_ids: Iterable[int]) -> None:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            self._remove(sorted(set(movie_ids)))
            self._conn.execute("COMMIT")

    def reset(self) -> None:
        with self._lock:
            for table in ("texts", "movie_genres", "movies", "vocabulary", "vocabulary_trigrams"):
                self._conn.execute(f"DELETE FROM {table}")  # fixed table names

    def _typos(self, word: str) -> list[str]:
        edits = max_edits(word)
        if not edits or len(word) < 3:
            return []
        grams = list(dict.fromkeys(word[i : i + 3] for i in range(len(word) - 2)))
        found = self._conn.execute(
            "SELECT word FROM vocabulary_trigrams WHERE vocabulary_trigrams MATCH ? LIMIT ?",
            (" OR ".join(_quoted(g) for g in grams), TRIGRAM_CANDIDATES),
        ).fetchall()
        return [
            w
            for (w,) in found
            if w != word and abs(len(w) - len(word)) <= edits and OSA.distance(word, w, score_cutoff=edits) <= edits
        ]

    def _match(self, query_words: Sequence[str]) -> str:
        groups = []
        for word in query_words:
            terms = [_quoted(word)] + [_quoted(t) for t in self._typos(word)]
            if len(word) >= 2:
                terms.append(_quoted(word) + "*")
            groups.append("(" + " OR ".join(terms) + ")")
        return " AND ".join(groups)

    def search(self, query: SearchQuery) -> SearchPage:
        query_words = list(dict.fromkeys(words(query.text or "")))
        if not query_words and query.text and query.text.strip():
            return SearchPage(0, [])
        genre = fold(query.genre.strip()) if query.genre else None
        in_genre = " AND m.id IN (SELECT id FROM movie_genres WHERE genre = :genre)" if genre else ""
        with self._lock:
            if not query_words:
                where = "WHERE m.id IN (SELECT id FROM movie_genres WHERE genre = :genre)" if genre else ""
                params: dict[str, object] = {"genre": genre, "limit": query.limit, "offset": query.offset}
                total = self._conn.execute(f"SELECT count(*) FROM movies m {where}", params).fetchone()[0]
                rows = self._conn.execute(
                    f"SELECT body FROM movies m {where} "
                    "ORDER BY popularity DESC, vote_count DESC, id LIMIT :limit OFFSET :offset",
                    params,
                ).fetchall()
            else:
                params = {
                    "match": self._match(query_words),
                    "title": " ".join(query_words),
                    "bonus": EXACT_TITLE_BONUS,
                    "genre": genre,
                    "limit": query.limit,
                    "offset": query.offset,
                }
                source = f"FROM texts JOIN movies m ON m.id = texts.rowid WHERE texts MATCH :match{in_genre}"
                total = self._conn.execute(f"SELECT count(*) {source}", params).fetchone()[0]
                rows = self._conn.execute(
                    f"SELECT m.body {source} "
                    "ORDER BY bm25(texts, 3.0, 1.0) - m.boost - (m.title_norm = :title) * :bonus, "
                    "m.popularity DESC, m.id LIMIT :limit OFFSET :offset",
                    params,
                ).fetchall()
        return SearchPage(total=int(total), movies=[movie_from_document(json.loads(body)) for (body,) in rows])

    def get(self, movie_id: int) -> Movie | None:
        with self._lock:
            row = self._conn.execute("SELECT body FROM movies WHERE id = ?", (movie_id,)).fetchone()
        return None if row is None else movie_from_document(json.loads(row[0]))

    def count(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT count(*) FROM movies").fetchone()[0])

    def ids(self) -> set[int]:
        with self._lock:
            return {i for (i,) in self._conn.execute("SELECT id FROM movies")}

    def ping(self) -> None:
        with self._lock:
            self._conn.execute("SELECT 1").fetchone()

    def close(self) -> None:
        with self._lock:
            self._conn.close()
