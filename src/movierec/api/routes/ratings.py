from __future__ import annotations

from collections.abc import Mapping, Sequence

from flask import Blueprint, Response
from pydantic_core import to_json

from movierec.api.auth import require_self
from movierec.api.binding import endpoint, json_response
from movierec.api.extension import container
from movierec.api.numbers import numbers_of
from movierec.api.schemas import (
    MovieOut,
    MyRatingsResponse,
    PageQuery,
    RateRequest,
    RateResponse,
)
from movierec.domain.movies import MovieNumbers
from movierec.domain.ratings import RatedMovie
from movierec.services.accounts import Caller

bp = Blueprint("ratings", __name__)


@bp.post("/rate")
@endpoint(
    summary="Rate a movie from 1 to 10 (rating again replaces your rating)",
    tags=("ratings",),
    body=RateRequest,
    response=RateResponse,
    auth=True,
    errors=(404,),
)
def rate(caller: Caller, body: RateRequest) -> RateResponse:
    saved = container().ratings.rate(caller.user_id, body.movie_id, body.rating)
    numbers = numbers_of([saved.movie_id], fresh=True).get(saved.movie_id)  # as they stand after this rating
    return RateResponse(
        user_id=saved.user_id,
        movie_id=saved.movie_id,
        rating=saved.rating,
        rated_at=saved.rated_at,
        community_average=numbers.community_average if numbers else None,
        community_count=numbers.community_count if numbers else None,
    )


@bp.delete("/rate/<movie_id>")
@endpoint(
    summary="Take your rating of a movie back (204 also when you had not rated it; 404 when no movie has this id)",
    tags=("ratings",),
    response=None,
    status=204,
    auth=True,
    errors=(404,),
    path_params={"movie_id": "the movie's id"},
)
def unrate(caller: Caller, movie_id: int) -> None:
    container().ratings.remove(caller.user_id, movie_id)


@bp.get("/my-ratings/<user_id>")
@endpoint(
    summary="Your ratings, newest first",
    tags=("ratings",),
    query=PageQuery,
    response=MyRatingsResponse,
    auth=True,
    errors=(403,),
    path_params={"user_id": "your user id (the token's)"},
)
def my_ratings(caller: Caller, user_id: int, query: PageQuery) -> Response:
    require_self(user_id, caller)
    total, rated = container().ratings.history(user_id, query.limit, query.offset)
    return json_response(render_my_ratings(user_id, total, rated, numbers_of(r.movie.id for r in rated)))


def render_my_ratings(
    user_id: int, total: int, rated: Sequence[RatedMovie], numbers: Mapping[int, MovieNumbers]
) -> bytes:
    """A MyRatingsResponse as JSON, from plain dicts in the model's field order: the store typed every value, so
    nothing is validated again (the model's bytes; tests/unit/test_render_items.py holds it to them)."""
    items = [
        {"movie": MovieOut.fields_of(r.movie, numbers.get(r.movie.id)), "rating": r.rating, "rated_at": r.rated_at}
        for r in rated
    ]
    return to_json({"user_id": user_id, "total": total, "items": items})
