from __future__ import annotations

import json
from collections.abc import Sequence

from flask import Blueprint, Response
from pydantic import TypeAdapter

from movierec.api.auth import require_self
from movierec.api.binding import endpoint, json_response
from movierec.api.extension import container
from movierec.api.schemas import RecommendationsQuery, RecommendationsResponse, RecommendedMovie
from movierec.cache.port import Entry, Slot
from movierec.services.accounts import Caller
from movierec.services.recommendations import Recommendation

bp = Blueprint("recommendations", __name__)

_ITEMS = TypeAdapter(list[RecommendedMovie])


def render_items(items: Sequence[Recommendation]) -> bytes:
    """The ``items`` of a RecommendationsResponse as JSON: what the cache holds and a cached answer sends.

    Each movie says where its votes come from and what this app's users rated it, as of when the list was computed
    (read with it, in its one store session): up to 5 minutes old while the list is cached.
    """
    return _ITEMS.dump_json([RecommendedMovie.of_recommendation(item) for item in items])


def _answer_slot(user_id: int, query: RecommendationsQuery) -> Slot:
    return container().recommendations.slot(user_id, query.strategy, query.genre, query.limit)


@bp.get("/recommendations/<user_id>")
@endpoint(
    summary="Personal recommendations (cached for 5 minutes; your next rating refreshes them)",
    tags=("recommendations",),
    query=RecommendationsQuery,
    response=RecommendationsResponse,
    auth=True,
    errors=(403,),
    path_params={"user_id": "your user id (the token's)"},
    answer_slot=_answer_slot,
)
def recommendations(caller: Caller, user_id: int, query: RecommendationsQuery, looked_up: Entry | None) -> Response:
    require_self(user_id, caller)
    result = container().recommendations.recommend(
        user_id, query.strategy, query.genre, query.limit, render=render_items, looked_up=looked_up
    )
    cached = "true" if result.cached else "false"
    head = f'{{"user_id":{result.user_id},"strategy":{json.dumps(result.strategy)},"cached":{cached},"items":'
    return json_response(b"".join((head.encode(), result.items, b"}")))
