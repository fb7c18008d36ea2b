"""Movie value objects and the rules that keep catalogue data clean."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from movierec.domain.errors import NotFound

_TRAILING_ARTICLE = re.compile(
    r"^(?P<body>.+?), (?P<article>The|A|An|Les|La|Le|L'|Il|Lo|Gli|I|Das|Der|Die|Den|Det|El|Los|Las|Una|Un)"
    r"(?P<rest>(?: \(.*\))?)$"
)
_PARENTHESISED = re.compile(r"\(([^()]+, (?:The|A|An|Les|La|Le|L'|Il|Das|Der|Die|El|Los|Las))\)")


def natural_title(title: str) -> str:
    """Turn catalogue titles such as ``"Matrix, The"`` into ``"The Matrix"``.

    A trailing parenthesised alternative title is kept after the moved article:
    ``"Street Fighter, The (Gekitotsu! Satsujin ken)"`` becomes ``"The Street Fighter (Gekitotsu! Satsujin ken)"``.
    """
    title = " ".join(title.split())
    # Alternative titles in parentheses follow the same convention: "(Sixth Man, The)" -> "(The Sixth Man)".
    title = _PARENTHESISED.sub(lambda m: f"({_move_article(m[1])})", title)
    return _move_article(title)


def _move_article(title: str) -> str:
    match = _TRAILING_ARTICLE.match(title)
    if not match:
        return title
    article = match["article"]
    sep = "" if article.endswith("'") else " "
    return f"{article}{sep}{match['body']}{match['rest']}"


def parse_release_date(value: object) -> dt.date | None:
    """Parse an ISO ``YYYY-MM-DD`` date; empty means unknown. Raises ``ValueError`` on a malformed date."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.date):
        return value
    if not isinstance(value, str):
        raise ValueError(f"release date must be a string, not {type(value).__name__}")
    return dt.date.fromisoformat(value)


@dataclass(frozen=True, slots=True)
class MovieDraft:
    """A movie as a source describes it, before it has an id in our catalogue.

    ``external_key`` names the movie in its source (``tmdb:603``, ``movielens:2571``, ``imdb:32709``); upserts are
    keyed on it, so loading the same source twice updates instead of duplicating.
    """

    external_key: str
    title: str
    year: int | None = None
    release_date: dt.date | None = None
    overview: str = ""
    genres: tuple[str, ...] = ()
    vote_average: float = 0.0
    vote_count: int = 0
    popularity: float = 0.0
    poster_path: str | None = None
    tmdb_id: int | None = None
    original_language: str | None = None

    def __post_init__(self) -> None:
        if not self.external_key or ":" not in self.external_key:
            raise ValueError("external_key must look like 'source:id'")
        title = " ".join((self.title or "").split())
        if not title:
            raise ValueError("a movie needs a title")
        object.__setattr__(self, "title", title[:300])
        if self.release_date is not None and self.year is None:
            object.__setattr__(self, "year", self.release_date.year)
        if self.year is not None and not 1870 <= self.year <= 2100:
            raise ValueError(f"implausible year {self.year}")
        if not 0.0 <= self.vote_average <= 10.0:
            raise ValueError("vote_average must be within 0-10")
        if self.vote_count < 0 or self.popularity < 0:
            raise ValueError("vote_count and popularity cannot be negative")
        genres = tuple(dict.fromkeys(g.strip() for g in self.genres if g and g.strip()))
        object.__setattr__(self, "genres", genres)


@dataclass(frozen=True, slots=True)
class Movie:
    """A movie in our catalogue."""

    id: int
    title: str
    year: int | None = None
    release_date: dt.date | None = None
    overview: str = ""
    genres: tuple[str, ...] = ()
    vote_average: float = 0.0
    vote_count: int = 0
    popularity: float = 0.0
    poster_path: str | None = None
    tmdb_id: int | None = None
    added_at: dt.datetime | None = None
    extra: dict[str, object] = field(default_factory=dict, compare=False)

    def poster_url(self, base: str = "https://image.tmdb.org/t/p/w342") -> str | None:
        if not self.poster_path:
            return None
        if self.poster_path.startswith(("http://", "https://")):
            return self.poster_path
        return f"{base}{self.poster_path}"


class UnknownMovie(NotFound):
    """No movie has this id (it was never there, or it was removed while the request ran)."""

    def __init__(self, movie_id: int) -> None:
        super().__init__(f"movie {movie_id} not found")
        self.movie_id = movie_id


# Where a catalogue's ``vote_average``/``vote_count`` come from, by the prefix of the movie's ``external_key``.
_VOTE_SOURCES = {"tmdb": "TMDB", "imdb": "IMDb"}


def vote_source(external_key: str, vote_count: int, popularity: float) -> str | None:
    """Who gave the movie its ``vote_average`` and ``vote_count``: ``"TMDB"``, ``"IMDb"``, ``"MovieLens"`` or None.

    TMDB movies carry TMDB's vote average and count, the IMDB catalogue IMDb's rating and votes. A MovieLens movie
    carries IMDb's rating and votes when IMDb has the same title and year, else the MovieLens mean rating x 2 and its
    number of MovieLens ratings, which is also its ``popularity``: the offline catalogue keeps IMDb's numbers only
    where IMDb's vote count differs from the MovieLens count, so equal counts say "MovieLens" without doubt.
    """
    prefix = external_key.partition(":")[0]
    if prefix == "movielens":
        return "MovieLens" if vote_count == int(popularity) else "IMDb"
    return _VOTE_SOURCES.get(prefix)


@dataclass(frozen=True, slots=True)
class MovieNumbers:
    """Where the numbers on a movie's card come from: the catalogue's source, and this app's own ratings."""

    vote_source: str | None
    community_average: float | None  # the mean of this app's ratings of the movie (1-10); None when nobody rated it
    community_count: int
