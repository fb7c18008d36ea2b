from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify

from movierec import __version__
from movierec.api.binding import endpoint
from movierec.api.extension import container
from movierec.api.openapi import build_openapi
from movierec.api.schemas import CheckOut, ErrorResponse, HealthResponse
from movierec.domain.errors import Unavailable

bp = Blueprint("system", __name__)


@bp.get("/healthz")
@endpoint(summary="Health of the API and its dependencies", tags=("system",), response=HealthResponse)
def healthz() -> HealthResponse:
    status, checks = container().health()
    response = HealthResponse(status=status, checks={k: CheckOut(**v) for k, v in checks.items()})
    if status == "down":
        raise Unavailable("the database is unavailable")
    return response


@bp.get("/openapi.json")
def openapi() -> Response:
    document = current_app.config.get("OPENAPI_DOCUMENT")
    if document is None:
        document = build_openapi(current_app, "movierec API", __version__, ErrorResponse)
        current_app.config["OPENAPI_DOCUMENT"] = document
    return jsonify(document)
