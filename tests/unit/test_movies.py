from __future__ import annotations

import datetime as dt

import pytest

from movierec.domain.documents import movie_from_document, movie_to_document
from movierec.domain.movies import Movie, MovieDraft, natural_title, parse_release_date


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Matrix, The", "The Matrix"),
        ("Usual Suspects, The", "The Usual Suspects"),
        ("Street Fighter, The (Gekitotsu! Satsujin ken)", "The Street Fighter (Gekitotsu! Satsujin ken)"),
        ("Affair to Remember, An", "An Affair to Remember"),
        ("Femme Nikita, La", "La Femme Nikita"),
        ("Toy Story", "Toy Story"),
        ("6th Man, The (Sixth Man, The)", "The 6th Man (The Sixth Man)"),
        ("Shall We Dance? (Shall We Dansu?)", "Shall We Dance? (Shall We Dansu?)"),
        ("Crouching Tiger, Hidden Dragon", "Crouching Tiger, Hidden Dragon"),
        ("  Heat  ", "Heat"),
    ],
)
def test_natural_title(raw: str, expected: str) -> None:
    assert natural_title(raw) == expected


def test_draft_normalises_and_validates() -> None:
    draft = MovieDraft("tmdb:1", "  Heat ", release_date=dt.date(1995, 12, 15), genres=("Crime", " Crime", "", "Drama"))
    assert draft.title == "Heat"
    assert draft.year == 1995
    assert draft.genres == ("Crime", "Drama")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"external_key": "no-colon", "title": "x"},
        {"external_key": "tmdb:1", "title": "   "},
        {"external_key": "tmdb:1", "title": "x", "year": 1200},
        {"external_key": "tmdb:1", "title": "x", "vote_average": 11.0},
        {"external_key": "tmdb:1", "title": "x", "vote_count": -1},
    ],
)
def test_draft_rejects_invalid(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        MovieDraft(**kwargs)  # type: ignore[arg-type]


def test_release_date_parsing() -> None:
    assert parse_release_date("1999-03-31") == dt.date(1999, 3, 31)
    assert parse_release_date("") is None
    assert parse_release_date(None) is None
    with pytest.raises(ValueError):
        parse_release_date("31/03/1999")
    with pytest.raises(ValueError):
        parse_release_date(1999)


def test_poster_url() -> None:
    assert Movie(1, "x", poster_path="/abc.jpg").poster_url() == "https://image.tmdb.org/t/p/w342/abc.jpg"
    assert Movie(1, "x").poster_url() is None


def test_document_round_trip() -> None:
    movie = Movie(
        7,
        "Heat",
        1995,
        dt.date(1995, 12, 15),
        "A heist.",
        ("Crime", "Drama"),
        8.3,
        700,
        12.5,
        "/p.jpg",
        949,
        dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    )
    assert movie_from_document(movie_to_document(movie)) == movie


@pytest.mark.parametrize(
    "doc",
    [
        {"id": "7", "title": "x"},
        {"id": True, "title": "x"},
        {"id": 0, "title": "x"},
        {"id": 7, "title": ""},
        {"id": 7, "title": "x", "genres": "Drama"},
        {"id": 7, "title": "x", "year": "1999"},
        {"id": 7, "title": "x", "release_date": "yesterday"},
    ],
)
def test_document_rejects_bad_documents(doc: dict[str, object]) -> None:
    with pytest.raises((ValueError, KeyError, TypeError)):
        movie_from_document(doc)
