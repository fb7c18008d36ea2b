"""The movie as JSON: one shape for API responses, search documents and movie events."""

from __future__ import annotations

import datetime as dt
from typing import Any

from movierec.domain.movies import Movie


def movie_to_document(movie: Movie) -> dict[str, Any]:
    """A JSON-ready dict of every stored field (``poster_path``, ``added_at`` included)."""
    return {
        "id": movie.id,
        "tmdb_id": movie.tmdb_id,
        "title": movie.title,
        "year": movie.year,
        "release_date": movie.release_date.isoformat() if movie.release_date else None,
        "genres": list(movie.genres),
        "overview": movie.overview,
        "vote_average": movie.vote_average,
        "vote_count": movie.vote_count,
        "popularity": movie.popularity,
        "poster_path": movie.poster_path,
        "added_at": movie.added_at.isoformat() if movie.added_at else None,
    }


def movie_from_document(doc: dict[str, Any]) -> Movie:
    """The inverse of ``movie_to_document``; raises ``ValueError``/``KeyError``/``TypeError`` on a bad document."""
    movie_id = doc["id"]
    if isinstance(movie_id, bool) or not isinstance(movie_id, int) or movie_id < 1:
        raise ValueError("movie id must be a positive integer")
    title = doc["title"]
    if not isinstance(title, str) or not title.strip():
        raise ValueError("movie title must be a non-empty string")
    genres = doc.get("genres") or []
    if not isinstance(genres, list) or not all(isinstance(g, str) for g in genres):
        raise ValueError("genres must be a list of strings")
    release = doc.get("release_date")
    added = doc.get("added_at")
    year = doc.get("year")
    if year is not None and (isinstance(year, bool) or not isinstance(year, int)):
        raise ValueError("year must be an integer")
    tmdb_id = doc.get("tmdb_id")
    if tmdb_id is not None and (isinstance(tmdb_id, bool) or not isinstance(tmdb_id, int)):
        raise ValueError("tmdb_id must be an integer")
    return Movie(
        id=movie_id,
        title=title,
        year=year,
        release_date=dt.date.fromisoformat(release) if release else None,
        overview=str(doc.get("overview") or ""),
        genres=tuple(genres),
        vote_average=float(doc.get("vote_average") or 0.0),
        vote_count=int(doc.get("vote_count") or 0),
        popularity=float(doc.get("popularity") or 0.0),
        poster_path=doc.get("poster_path") or None,
        tmdb_id=tmdb_id,
        added_at=dt.datetime.fromisoformat(added) if added else None,
    )
