"""Search port: title and genre search over the catalogue, shared by every adapter.

Behaviour every adapter has (the contract suite in ``tests/contract/test_search_contract.py`` checks it):

* ``text`` is split into words (letters and digits, case and accents ignored). Every word must match the title
  or a genre of a movie, exactly, as a prefix (2+ letters) or with typos (1 edit for 3-5 letters, 2 for longer;
  a swap of neighbouring letters is one edit).
* Ranking: exact words beat prefixes beat typos; a title equal to the query comes first; among equal text
  matches, more popular movies come first.
* ``genre`` filters by genre name (case-insensitive). Without ``text``, a genre lists its movies by popularity.
* ``total`` counts all matches; ``limit``/``offset`` page through them in a stable order.
* ``index_movies`` is an upsert by movie id (replaying an event never duplicates) and is visible to searches as
  soon as it returns.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from movierec.domain.errors import SearchUnavailable
from movierec.domain.movies import Movie
from movierec.domain.text import MAX_QUERY_LENGTH, MAX_RESULT_WINDOW

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_INDEX_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*", re.UNICODE)
# Adapters raise SearchUnavailable (the domain's) when the engine is away or fails; these names are the port's.
__all__ = [
    "MAX_QUERY_LENGTH",
    "MAX_RESULT_WINDOW",
    "MovieIndex",
    "SearchPage",
    "SearchQuery",
    "SearchUnavailable",
    "fold",
    "index_words",
    "max_edits",
    "words",
]


@dataclass(frozen=True, slots=True)
class SearchQuery:
    text: str | None = None
    genre: str | None = None
    limit: int = 20
    offset: int = 0


@dataclass(frozen=True, slots=True)
class SearchPage:
    total: int
    movies: list[Movie]


def fold(text: str, keep_apostrophes: bool = False) -> str:
    """Lowercase and strip accents; apostrophes are dropped (``Schindler's`` -> ``schindlers``) unless kept."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold().replace("\u2019", "'")
    return stripped if keep_apostrophes else stripped.replace("'", "")


def words(text: str) -> list[str]:
    """The words of a query, in order: ``"Schindler's list"`` -> ``["schindlers", "list"]``."""
    return _WORD.findall(fold(text))


def index_words(text: str) -> list[str]:
    """The words a title is found by: query words plus the parts of words joined by an apostrophe.

    ``"Le fabuleux destin d'Amélie"`` is found by ``damelie`` and by ``amelie``.
    """
    found: list[str] = []
    for token in _INDEX_WORD.findall(fold(text, keep_apostrophes=True)):
        found.append(token.replace("'", ""))
        if "'" in token:
            found.extend(part for part in token.split("'") if part)
    return list(dict.fromkeys(found))


def max_edits(word: str) -> int:
    """Typo budget of a query word, as Elasticsearch's ``fuzziness: AUTO``."""
    if len(word) <= 2:
        return 0
    return 1 if len(word) <= 5 else 2


# A burst of at least this many movies written (a first load, a rebuild, a big import) is followed by a compaction
# once the writes stop: on the embedded engine a 1M-movie index built in batches has a dozen segments, and each prefix
# and typo clause of a query walks every segment (p95 49 ms as built, 15 ms compacted, bench/search_engines.py).
COMPACT_AFTER_WRITES = 100_000


class MovieIndex(Protocol):
    name: str

    def ensure_index(self) -> None: ...

    def index_movies(self, movies: Sequence[Movie]) -> None: ...

    def delete_movies(self, movie_ids: Iterable[int]) -> None: ...

    def search(self, query: SearchQuery) -> SearchPage: ...

    def get(self, movie_id: int) -> Movie | None: ...

    def count(self) -> int: ...

    def ids(self) -> set[int]: ...

    def reset(self) -> None:
        """Remove every document (tests and full reindexing)."""
        ...

    def compact(self) -> int | None:
        """Make searches cheaper after many writes (merge what the writes left into as few segments as possible);
        the number of segments afterwards, or None where the engine merges by itself. Called once a burst of writes
        is over (COMPACT_AFTER_WRITES)."""
        ...

    def ping(self) -> None: ...

    def close(self) -> None: ...
