"""Steering: the watchlist and "not interested", each a list of movies per user that only its owner sees or changes.

Adding is idempotent (a movie already on the list stays as it was: ``added`` is false); removing something not on
the list is 204 all the same. A movie id no movie has is 404 either way.
"""

from __future__ import annotations

from flask import Blueprint

from movierec.api.auth import require_self
from movierec.api.binding import endpoint
from movierec.api.extension import container
from movierec.api.schemas import ListChange, ListedMovieOut, MovieListPage, MovieOut, PageQuery
from movierec.services.accounts import Caller
from movierec.services.steering import ListedMovie

bp = Blueprint("steering", __name__)

_MOVIE = {"movie_id": "the movie's id"}
_USER = {"user_id": "your user id (the token's)"}


def _page(user_id: int, total: int, items: list[ListedMovie]) -> MovieListPage:
    return MovieListPage(
        user_id=user_id,
        total=total,
        items=[ListedMovieOut(movie=MovieOut.of(i.movie), added_at=i.added_at) for i in items],
    )


@bp.post("/watchlist/<movie_id>")
@endpoint(
    summary="Add a movie to your watchlist (again: nothing changes; 404 when no movie has this id)",
    tags=("steering",),
    response=ListChange,
    auth=True,
    errors=(404,),
    path_params=_MOVIE,
)
def add_to_watchlist(caller: Caller, movie_id: int) -> ListChange:
    added = container().steering.add_to_watchlist(caller.user_id, movie_id)
    return ListChange(user_id=caller.user_id, movie_id=movie_id, added=added)


@bp.delete("/watchlist/<movie_id>")
@endpoint(
    summary="Take a movie off your watchlist (204 also when it was not on it; 404 when no movie has this id)",
    tags=("steering",),
    response=None,
    status=204,
    auth=True,
    errors=(404,),
    path_params=_MOVIE,
)
def remove_from_watchlist(caller: Caller, movie_id: int) -> None:
    container().steering.remove_from_watchlist(caller.user_id, movie_id)


@bp.get("/watchlist/<user_id>")
@endpoint(
    summary="Your watchlist, most recently added first",
    tags=("steering",),
    query=PageQuery,
    response=MovieListPage,
    auth=True,
    errors=(403,),
    path_params=_USER,
)
def watchlist(caller: Caller, user_id: int, query: PageQuery) -> MovieListPage:
    require_self(user_id, caller)
    total, items = container().steering.watchlist(user_id, query.limit, query.offset)
    return _page(user_id, total, items)


@bp.post("/not-interested/<movie_id>")
@endpoint(
    summary="Never recommend this movie again, and fewer like it (again: nothing changes; 404 when no movie has "
    "this id)",
    tags=("steering",),
    response=ListChange,
    auth=True,
    errors=(404,),
    path_params=_MOVIE,
)
def mark_not_interested(caller: Caller, movie_id: int) -> ListChange:
    added = container().steering.mark_not_interested(caller.user_id, movie_id)
    return ListChange(user_id=caller.user_id, movie_id=movie_id, added=added)


@bp.delete("/not-interested/<movie_id>")
@endpoint(
    summary='Undo "not interested" for a movie (204 also when it was not marked; 404 when no movie has this id)',
    tags=("steering",),
    response=None,
    status=204,
    auth=True,
    errors=(404,),
    path_params=_MOVIE,
)
def unmark_not_interested(caller: Caller, movie_id: int) -> None:
    container().steering.unmark_not_interested(caller.user_id, movie_id)


@bp.get("/not-interested/<user_id>")
@endpoint(
    summary="The movies you said you are not interested in, most recent first",
    tags=("steering",),
    query=PageQuery,
    response=MovieListPage,
    auth=True,
    errors=(403,),
    path_params=_USER,
)
def not_interested(caller: Caller, user_id: int, query: PageQuery) -> MovieListPage:
    require_self(user_id, caller)
    total, items = container().steering.not_interested(user_id, query.limit, query.offset)
    return _page(user_id, total, items)
