"""TMDB discover items to MovieDraft, key handling and Retry-After parsing."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import pytest
from tests.fakes.tmdb_server import DEFAULT_API_KEY, DEFAULT_TOKEN, MALFORMED_ITEMS

from movierec.domain.movies import vote_source
from movierec.ingest.tmdb import (
    MISSING_KEY_MESSAGE,
    InvalidItem,
    TmdbAuthError,
    TmdbClient,
    TmdbError,
    draft_from_item,
    is_bearer_token,
    parse_retry_after,
)

GENRES = {28: "Action", 878: "Science Fiction", 18: "Drama"}

MATRIX: dict[str, Any] = {
    "adult": False,
    "backdrop_path": "/tlm8UkiQsitc8rSuIAscQDCnP8d.jpg",
    "genre_ids": [28, 878],
    "id": 603,
    "original_language": "en",
    "original_title": "The Matrix",
    "overview": "Set in the 22nd century, The Matrix tells the story of a computer hacker...",
    "popularity": 84.213,
    "poster_path": "/f89U3ADr1oiB1s9GkdPOEpXUk5H.jpg",
    "release_date": "1999-03-31",
    "title": "The Matrix",
    "video": False,
    "vote_average": 8.2,
    "vote_count": 26352,
}


def test_a_discover_item_maps_field_by_field() -> None:
    draft = draft_from_item(MATRIX, GENRES)
    assert draft.external_key == "tmdb:603" and draft.tmdb_id == 603
    assert draft.title == "The Matrix"
    assert draft.release_date == dt.date(1999, 3, 31) and draft.year == 1999
    assert draft.overview == MATRIX["overview"]
    assert draft.genres == ("Action", "Science Fiction")
    assert (draft.vote_average, draft.vote_count, draft.popularity) == (8.2, 26352, 84.213)
    assert draft.poster_path == "/f89U3ADr1oiB1s9GkdPOEpXUk5H.jpg"
    assert draft.original_language == "en"
    assert vote_source(draft.external_key, draft.vote_count, draft.popularity) == "TMDB"


def test_optional_fields_may_be_missing_or_empty() -> None:
    item = {"id": 42, "title": "  A   Title  ", "release_date": "", "poster_path": None, "genre_ids": [99999, 18]}
    draft = draft_from_item(item, GENRES)
    assert draft.title == "A Title"
    assert (draft.release_date, draft.year) == (None, None)
    assert draft.genres == ("Drama",)  # a genre id TMDB's list does not name is dropped
    assert (draft.vote_average, draft.vote_count, draft.popularity) == (0.0, 0, 0.0)
    assert draft.poster_path is None and draft.overview == "" and draft.original_language is None


@pytest.mark.parametrize("item", MALFORMED_ITEMS, ids=lambda item: str(item)[:40])
def test_the_fake_servers_malformed_items_are_invalid(item: object) -> None:
    with pytest.raises(InvalidItem):
        draft_from_item(item, GENRES)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"id": True}, "id"),
        ({"id": 0}, "id"),
        ({"id": "603"}, "id"),
        ({"id": 2**31}, "id"),
        ({"title": None}, "title"),
        ({"title": "   "}, "title"),
        ({"adult": True}, "adult"),
        ({"release_date": "31/03/1999"}, "release_date"),
        ({"release_date": 1999}, "release_date"),
        ({"release_date": "1850-01-01"}, "year"),
        ({"vote_average": 10.01}, "vote_average"),
        ({"vote_average": -1}, "vote_average"),
        ({"vote_average": math.nan}, "vote_average"),
        ({"vote_count": 12.5}, "vote_count"),
        ({"popularity": math.inf}, "popularity"),
        ({"genre_ids": [28, "x"]}, "genre_ids"),
        ({"overview": ["no"]}, "overview"),
        ({"poster_path": 7}, "poster_path"),
    ],
)
def test_invalid_values_are_rejected_with_the_reason(change: dict[str, object], reason: str) -> None:
    with pytest.raises(InvalidItem, match=reason):
        draft_from_item({**MATRIX, **change}, GENRES)


def test_boundary_values_are_accepted() -> None:
    assert draft_from_item({**MATRIX, "vote_average": 10}, GENRES).vote_average == 10.0
    assert draft_from_item({**MATRIX, "vote_average": 0, "vote_count": 0}, GENRES).vote_count == 0
    assert draft_from_item({**MATRIX, "genre_ids": None}, GENRES).genres == ()


def test_key_kinds() -> None:
    assert not is_bearer_token(DEFAULT_API_KEY)
    assert is_bearer_token(DEFAULT_TOKEN)
    assert not is_bearer_token("a.b.c")


@pytest.mark.parametrize("key", [None, "", "   "])
def test_a_missing_key_is_refused_with_one_clear_message(key: str | None) -> None:
    with pytest.raises(TmdbAuthError) as raised:
        TmdbClient(key)
    assert str(raised.value) == MISSING_KEY_MESSAGE


def test_a_key_with_spaces_or_a_bad_base_url_is_refused() -> None:
    with pytest.raises(TmdbAuthError, match="spaces"):
        TmdbClient("abc def")
    with pytest.raises(TmdbError, match="http"):
        TmdbClient(DEFAULT_API_KEY, base_url="ftp://example.org/3")


def test_retry_after_seconds_and_http_dates() -> None:
    now = dt.datetime(2024, 5, 1, 12, 0, 0, tzinfo=dt.UTC)
    assert parse_retry_after("3", now) == 3.0
    assert parse_retry_after(" 0.5 ", now) == 0.5
    assert parse_retry_after("Wed, 01 May 2024 12:00:07 GMT", now) == 7.0
    assert parse_retry_after("Wed, 01 May 2024 11:00:00 GMT", now) == 0.0  # in the past: go now
    assert parse_retry_after("-4", now) == 0.0
    for garbled in (None, "", "soon", "nan", "inf"):
        assert parse_retry_after(garbled, now) is None
