from __future__ import annotations

from flask import Blueprint

from movierec.api.auth import require_self
from movierec.api.extension import container
from movierec.api.openapi import endpoint
from movierec.api.schemas import RecommendationsQuery, RecommendationsResponse, RecommendedMovie
from movierec.services.accounts import Caller

bp = Blueprint("recommendations", __name__)


@bp.get("/recommendations/<user_id>")
@endpoint(
    summary="Personal recommendations (cached for 5 minutes; your next rating refreshes them)",
    tags=("recommendations",),
    query=RecommendationsQuery,
    response=RecommendationsResponse,
    auth=True,
    errors=(403,),
    path_params={"user_id": "your user id (the token's)"},
)
def recommendations(caller: Caller, user_id: int, query: RecommendationsQuery) -> RecommendationsResponse:
    require_self(user_id, caller)
    result = container().recommendations.recommend(user_id, query.strategy, query.genre, query.limit)
    return RecommendationsResponse(
        user_id=result.user_id,
        strategy=result.strategy,
        cached=result.cached,
        items=[RecommendedMovie.of_recommendation(i) for i in result.items],
    )
