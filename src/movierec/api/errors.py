"""JSON errors: one ``error_response`` and the handlers that route every failure through it."""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, jsonify, request
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException

from movierec.log import get_logger
from movierec.services.errors import ServiceError

log = get_logger(__name__)

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "too_many_requests",
    500: "internal_error",
    503: "unavailable",
}


class ApiError(ServiceError):
    """An error raised by the HTTP layer itself (bad JSON, bad path parameter, missing token...)."""

    def __init__(self, status: int, code: str, message: str, details: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message, details=details)
        self.status = status
        self.code = code


def error_response(status: int, code: str, message: str, details: list[dict[str, Any]] | None = None) -> Response:
    body: dict[str, Any] = {"code": code, "message": message}
    if details:
        body["details"] = details
    response = jsonify({"error": body})
    response.status_code = status
    return response


def register_errorhandlers(app: Flask) -> None:
    @app.errorhandler(ServiceError)
    def _service_error(error: ServiceError) -> Response:
        response = error_response(error.status, error.code, error.message, error.details)
        if error.status == 401:
            response.headers["WWW-Authenticate"] = 'Bearer realm="movierec"'
        retry_after = getattr(error, "retry_after", None)
        if retry_after is not None:
            response.headers["Retry-After"] = str(retry_after)
        return response

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException) -> Response:
        status = error.code or 500
        message = error.description or error.name
        if status == 404 and request.url_rule is None:
            message = f"no such endpoint: {request.method} {request.path} (see /openapi.json)"
        elif status == 405:
            message = f"{request.method} is not allowed on {request.path}"
        elif status == 413:
            message = "the request body is too large"
        response = error_response(status, _HTTP_CODES.get(status, "http_error"), message)
        for name in ("Allow", "Retry-After"):
            if error.get_response().headers.get(name):
                response.headers[name] = error.get_response().headers[name]
        return response

    @app.errorhandler(OperationalError)
    @app.errorhandler(PoolTimeout)
    @app.errorhandler(InterfaceError)
    def _database_down(error: Exception) -> Response:
        log.warning("database.unavailable", error=type(error).__name__)
        response = error_response(503, "unavailable", "the database is temporarily unavailable; try again shortly")
        response.headers["Retry-After"] = "5"
        return response

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> Response:
        log.exception("request.failed")
        return error_response(500, "internal_error", "something went wrong on our side")
