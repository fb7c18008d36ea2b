"""render_items and render_my_ratings serialise without pydantic validation: they must give exactly the bytes the
response models give, field for field, for every kind of value a page holds."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from pydantic import TypeAdapter

from movierec.api.numbers import MovieJson
from movierec.api.routes.movies import search_page
from movierec.api.routes.ratings import render_my_ratings
from movierec.api.routes.recommendations import render_items
from movierec.api.schemas import MovieList, MovieOut, MyRatingsResponse, RatedMovieOut, RecommendedMovie, SearchResponse
from movierec.domain.movies import Movie, MovieNumbers
from movierec.domain.ratings import RatedMovie
from movierec.services.recommendations import Recommendation

MODEL = TypeAdapter(list[RecommendedMovie])

FULL = Movie(
    id=7,
    title='Amélie «Le Fabuleux Destin» "quoted" \\ ☃',
    year=2001,
    release_date=dt.date(2001, 4, 25),
    overview="line one\nline two\t</script>",
    genres=("Comedy", "Romance"),
    vote_average=7.0,
    vote_count=12_000,
    popularity=41.25,
    poster_path="/abc.jpg",
    tmdb_id=194,
    added_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
)
BARE = Movie(id=2_147_483_647, title="Untitled")
ABSOLUTE_POSTER = Movie(id=3, title="Heat", year=1995, poster_path="https://example.org/heat.png", vote_average=8.25)

ITEMS = [
    Recommendation(FULL, 1.0, "because you rated Heat 9/10", 8.5, MovieNumbers("TMDB", 7.67, 3)),
    Recommendation(BARE, 0.0, "popular with people", None, None),
    Recommendation(ABSOLUTE_POSTER, -0.125, "x", 10.0, MovieNumbers(None, None, 0)),
    Recommendation(FULL, 1e-17, "", 1.0, MovieNumbers("MovieLens", 10.0, 1)),
]


def by_the_model(items: list[Recommendation]) -> bytes:
    return MODEL.dump_json([RecommendedMovie.of_recommendation(item) for item in items])


@pytest.mark.parametrize("items", [ITEMS, ITEMS[:1], ITEMS[1:2], []], ids=["all", "full", "bare", "none"])
def test_render_items_gives_the_models_bytes(items: list[Recommendation]) -> None:
    assert render_items(items) == by_the_model(items)


def test_every_field_of_the_model_is_rendered_in_its_order_and_validates() -> None:
    rendered = json.loads(render_items(ITEMS))
    assert [list(item) for item in rendered] == [list(RecommendedMovie.model_fields)] * len(ITEMS)
    assert [RecommendedMovie.model_validate(item).model_dump(mode="json") for item in rendered] == rendered
    assert rendered[0]["release_date"] == "2001-04-25" and rendered[0]["vote_average"] == 7.0
    assert rendered[1]["community_count"] is None and rendered[2]["community_count"] == 0


def test_my_ratings_are_rendered_as_the_model_renders_them() -> None:
    rated = [
        RatedMovie(FULL, 9, dt.datetime(2026, 3, 4, 5, 6, 7, 890123, tzinfo=dt.UTC)),
        RatedMovie(BARE, 1, dt.datetime(2026, 3, 4, tzinfo=dt.UTC)),
        RatedMovie(ABSOLUTE_POSTER, 10, dt.datetime(1999, 12, 31, 23, 59, 59, tzinfo=dt.UTC)),
    ]
    numbers = {FULL.id: MovieNumbers("TMDB", 7.67, 3), ABSOLUTE_POSTER.id: MovieNumbers(None, None, 0)}
    expected = MyRatingsResponse(
        user_id=42,
        total=17,
        items=[
            RatedMovieOut(movie=MovieOut.of(r.movie, numbers.get(r.movie.id)), rating=r.rating, rated_at=r.rated_at)
            for r in rated
        ],
    ).model_dump_json()
    assert render_my_ratings(42, 17, rated, numbers) == expected.encode()
    empty = MyRatingsResponse(user_id=42, total=0, items=[])
    assert render_my_ratings(42, 0, [], {}) == empty.model_dump_json().encode()
    assert list(MovieOut.fields_of(FULL)) == list(MovieOut.model_fields)


PAGE = [(item.movie, item.numbers) for item in ITEMS]


def page_of(memo: MovieJson, page: list[tuple[Movie, MovieNumbers | None]]) -> bytes:
    return b"[" + b",".join(memo.one(movie, numbers) for movie, numbers in page) + b"]"


@pytest.mark.parametrize("page", [PAGE, PAGE[1:2], []], ids=["all", "bare", "none"])
def test_latest_and_search_pages_give_the_models_bytes(page: list[tuple[Movie, MovieNumbers | None]]) -> None:
    memo = MovieJson()
    models = [MovieOut.of(movie, numbers) for movie, numbers in page]
    for _ in range(2):  # rendered, then remembered
        items = page_of(memo, page)
        assert b'{"items":' + items + b"}" == MovieList(items=models).model_dump_json().encode()
        by_the_model = SearchResponse(total=1234, limit=20, offset=40, items=models).model_dump_json().encode()
        assert search_page(1234, 20, 40, items) == by_the_model


def test_a_movie_is_rendered_again_when_it_or_its_numbers_are_new_objects() -> None:
    memo = MovieJson(maxsize=2)
    first = memo.one(FULL, MovieNumbers("TMDB", 7.67, 3))
    assert memo.one(FULL, MovieNumbers("TMDB", 8.0, 4)) != first  # numbers read again after a rating
    renamed = Movie(id=FULL.id, title="Amélie (restored)", year=2001)
    assert b"restored" in memo.one(renamed, None)  # the movie written again: same id, a new object
    for n in range(10):  # past maxsize the memo starts again; answers stay right
        movie = Movie(id=100 + n, title=f"Film {n}")
        assert memo.one(movie, None) == MovieOut.of(movie).model_dump_json().encode()
