from __future__ import annotations

from flask import Blueprint, Response

from movierec.api.binding import endpoint, json_response
from movierec.api.extension import container
from movierec.api.numbers import movie_json, numbers_of
from movierec.api.schemas import (
    GenreOut,
    GenresResponse,
    LatestQuery,
    MovieList,
    MovieOut,
    RecommendedMovie,
    SearchQueryIn,
    SearchResponse,
    SimilarQuery,
    SimilarResponse,
)
from movierec.services.accounts import Caller
from movierec.wiring import Container

bp = Blueprint("movies", __name__)


def _latest_ready(services: Container, query: LatestQuery) -> bytes | None:
    """The page's answer when this process holds the page and its movies' numbers (api/answers.py)."""
    held = services.catalogue.held_latest(query.limit, query.offset)
    return None if held is None else _movie_list(movie_json.page_with(*held))


def _movie_list(items: bytes) -> bytes:
    return b'{"items":' + items + b"}"  # a MovieList (tests/unit/test_render_items)


@bp.get("/movies/latest")
@endpoint(
    summary="The newest movies: latest release year first, then the most recently added",
    description="Newest release first (year, then release date; movies of unknown year last), then the most "
    "recently added, so that a catalogue loaded all at once still starts with its newest films.",
    tags=("movies",),
    query=LatestQuery,
    response=MovieList,
    ready=_latest_ready,
)
def latest(query: LatestQuery) -> Response:
    movies = container().catalogue.latest(query.limit, query.offset)
    return json_response(_movie_list(movie_json.page(movies)))


@bp.get("/movies/<movie_id>")
@endpoint(
    summary="One movie",
    tags=("movies",),
    response=MovieOut,
    errors=(404,),
    path_params={"movie_id": "the movie's id"},
)
def get_movie(movie_id: int) -> MovieOut:
    movie = container().catalogue.get(movie_id)
    return MovieOut.of(movie, numbers_of([movie.id]).get(movie.id))


@bp.get("/movies/<movie_id>/similar")
@endpoint(
    summary="Movies like this one (with your token: never one you said you are not interested in)",
    tags=("movies", "recommendations"),
    query=SimilarQuery,
    response=SimilarResponse,
    errors=(404,),
    path_params={"movie_id": "the movie's id"},
    auth_optional=True,
)
def similar(caller: Caller | None, movie_id: int, query: SimilarQuery) -> SimilarResponse:
    user_id = caller.user_id if caller is not None else None
    movie, items = container().recommendations.similar(movie_id, query.limit, user_id)
    numbers = numbers_of([movie.id, *(i.movie.id for i in items)])
    return SimilarResponse(
        movie=MovieOut.of(movie, numbers.get(movie.id)),
        items=[RecommendedMovie.of_recommendation(i, numbers.get(i.movie.id)) for i in items],
    )


@bp.get("/genres")
@endpoint(summary="Genres with their number of movies", tags=("movies",), response=GenresResponse)
def genres() -> GenresResponse:
    return GenresResponse(items=[GenreOut(name=n, count=c) for n, c in container().catalogue.genres()])


def _search_ready(services: Container, query: SearchQueryIn) -> bytes | None:
    """The page's answer when this process holds it for the index's generation, and its movies' numbers."""
    page = services.search.held(query.q, query.genre, query.limit, query.offset)
    if page is None:
        return None
    numbers = services.catalogue.held_numbers([movie.id for movie in page.movies])
    if numbers is None:
        return None
    return search_page(page.total, query.limit, query.offset, movie_json.page_with(page.movies, numbers))


@bp.get("/search")
@endpoint(
    summary="Search movies by title and genre",
    description="Typo tolerant (`matirx` finds The Matrix) and prefix friendly (`termin` finds The Terminator). "
    "Give `q`, `genre`, or both; with neither, every movie, most popular first.",
    tags=("movies",),
    query=SearchQueryIn,
    response=SearchResponse,
    ready=_search_ready,
)
def search(query: SearchQueryIn) -> Response:
    page = container().search.search(query.q, query.genre, query.limit, query.offset)
    return json_response(search_page(page.total, query.limit, query.offset, movie_json.page(page.movies)))


def search_page(total: int, limit: int, offset: int, items: bytes) -> bytes:
    """A SearchResponse's bytes around its items (a JSON array), its fields in the model's order."""
    return b'{"total":%d,"limit":%d,"offset":%d,"items":%s}' % (total, limit, offset, items)
