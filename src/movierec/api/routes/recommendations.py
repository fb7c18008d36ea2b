from __future__ import annotations

import json
from collections.abc import Sequence

from flask import Blueprint, Response
from pydantic_core import to_json

from movierec.api.auth import require_self
from movierec.api.binding import endpoint, json_response
from movierec.api.extension import container
from movierec.api.schemas import MovieOut, RecommendationsQuery, RecommendationsResponse
from movierec.cache.port import Entry, Slot
from movierec.services.accounts import Caller
from movierec.services.recommendations import Recommendation, RecommendationList
from movierec.wiring import Container

bp = Blueprint("recommendations", __name__)


def render_items(items: Sequence[Recommendation]) -> bytes:
    """The ``items`` of a RecommendationsResponse as JSON: what the cache holds and a cached answer sends.

    Each movie says where its votes come from and what this app's users rated it, as of when the list was computed
    (read with it, in its one store session): up to 5 minutes old while the list is cached. The service made the
    items from typed values, so they are serialised as plain dicts with RecommendedMovie's fields in its order, not
    validated again: the bytes the model gives (tests/unit/test_render_items.py holds them to it).
    """
    return to_json([_recommended(item) for item in items])


def _recommended(item: Recommendation) -> dict[str, object]:
    fields = MovieOut.fields_of(item.movie, item.numbers)
    fields.update(score=float(item.score), reason=item.reason, predicted_rating=item.predicted_rating)
    return fields


def _answer_slot(services: Container, user_id: int, query: RecommendationsQuery) -> Slot:
    return services.recommendations.slot(user_id, query.strategy, query.genre, query.limit)


def _ready(
    services: Container, caller: Caller, user_id: int, query: RecommendationsQuery, looked_up: Entry | None
) -> bytes | None:
    """The cached list's answer (api/answers.py): the view's own, when the caller asks for their own list."""
    if user_id != caller.user_id:
        return None  # the view answers the 403
    found = services.recommendations.cached(user_id, query.strategy, looked_up)
    return None if found is None else _answer(found)


def _answer(result: RecommendationList) -> bytes:
    cached = "true" if result.cached else "false"
    head = f'{{"user_id":{result.user_id},"strategy":{json.dumps(result.strategy)},"cached":{cached},"items":'
    return b"".join((head.encode(), result.items, b"}"))


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
    ready=_ready,
)
def recommendations(caller: Caller, user_id: int, query: RecommendationsQuery, looked_up: Entry | None) -> Response:
    require_self(user_id, caller)
    result = container().recommendations.recommend(
        user_id, query.strategy, query.genre, query.limit, render=render_items, looked_up=looked_up
    )
    return json_response(_answer(result))
