"""Steering: the watchlist and "not interested", each a list of movies per user that only its owner sees or changes.

Adding is idempotent (a movie already on the list stays as it was: ``added`` is false); removing something not on
the list is 204 all the same. A movie id no movie has is 404 either way.
"""

from __future__ import annotations

from flask import Blueprint

from movierec.api.auth import require_self
from movierec.api.binding import endpoint
from movierec.api.extension import container
from movierec.api.numbers import movies_out
from movierec.api.schemas import ListChange, ListedMovieOut, MovieListPage, PageQuery
from movierec.services.accounts import Caller
from movierec.services.steering import ListedMovie

bp = Blueprint("steering", __name__)

_MOVIE = {"movie_id": "the movie's id"}
_USER = {"user_id": "your user id (the token's)"}


def _page(user_id: int, total: int, items: list[ListedMovie]) -> MovieListPage:
    movies = movies_out([i.movie for i in items])
    return MovieListPage(
        user_id=user_id,
        total=total,
        items=[ListedMovieOut(movie=m, added_at=i.added_at) for m, i in zip(movies, items, strict=True)],
    )


def register_list(path: str, name: str, *, add: str, remove: str, read: str) -> None:
    """The three routes of one list: ``POST`` and ``DELETE <path>/<movie_id>``, ``GET <path>/<user_id>``."""

    @endpoint(summary=add, tags=("steering",), response=ListChange, auth=True, errors=(404,), path_params=_MOVIE)
    def add_view(caller: Caller, movie_id: int) -> ListChange:
        added = container().steering.add(name, caller.user_id, movie_id)
        return ListChange(user_id=caller.user_id, movie_id=movie_id, added=added)

    @endpoint(
        summary=remove, tags=("steering",), response=None, status=204, auth=True, errors=(404,), path_params=_MOVIE
    )
    def remove_view(caller: Caller, movie_id: int) -> None:
        container().steering.remove(name, caller.user_id, movie_id)

    @endpoint(
        summary=read,
        tags=("steering",),
        query=PageQuery,
        response=MovieListPage,
        auth=True,
        errors=(403,),
        path_params=_USER,
    )
    def read_view(caller: Caller, user_id: int, query: PageQuery) -> MovieListPage:
        require_self(user_id, caller)
        total, items = container().steering.page(name, user_id, query.limit, query.offset)
        return _page(user_id, total, items)

    bp.add_url_rule(f"{path}/<movie_id>", f"add_{name}", add_view, methods=["POST"])
    bp.add_url_rule(f"{path}/<movie_id>", f"remove_{name}", remove_view, methods=["DELETE"])
    bp.add_url_rule(f"{path}/<user_id>", name, read_view, methods=["GET"])


register_list(
    "/watchlist",
    "watchlist",
    add="Add a movie to your watchlist (again: nothing changes; 404 when no movie has this id)",
    remove="Take a movie off your watchlist (204 also when it was not on it; 404 when no movie has this id)",
    read="Your watchlist, most recently added first",
)
register_list(
    "/not-interested",
    "not_interested",
    add="Never recommend this movie again, and fewer like it (again: nothing changes; 404 when no movie has this id)",
    remove='Undo "not interested" for a movie (204 also when it was not marked; 404 when no movie has this id)',
    read="The movies you said you are not interested in, most recent first",
)
