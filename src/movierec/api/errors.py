"""JSON errors: one ``error_response``, the one table of HTTP statuses, and the handlers that route every failure
through them.

The domain's errors (``movierec.domain.errors``) know nothing of HTTP: ``ERROR_STATUSES`` says which status and
code each family is answered with (the request errors below, the HTTP layer's own, included), and ``STATUSES``
what each status means (the OpenAPI document's texts too).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException

from movierec.domain.errors import (
    Conflict,
    DatabaseUnavailable,
    Forbidden,
    InvalidInput,
    MovieRecError,
    NotFound,
    TooManyRequests,
    Unauthorized,
    Unavailable,
)
from movierec.log import get_logger
from movierec.services.passwords import Busy

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Status:
    code: str  # the error body's ``code`` for this status
    text: str  # what the status means, as the OpenAPI document says


STATUSES: dict[int, Status] = {
    200: Status("ok", "OK"),
    201: Status("created", "Created"),
    204: Status("no_content", "Done; no content"),
    400: Status("bad_request", "Bad input: malformed JSON, missing or wrong fields, bad parameters"),
    401: Status("unauthorized", "Missing, expired or invalid bearer token, or wrong credentials"),
    403: Status("forbidden", "The token belongs to another user"),
    404: Status("not_found", "Not found"),
    405: Status("method_not_allowed", "Method not allowed"),
    409: Status("conflict", "Conflict"),
    413: Status("payload_too_large", "Request body too large"),
    415: Status("unsupported_media_type", "The body is not sent as application/json"),
    429: Status("too_many_requests", "Too many attempts; see Retry-After"),
    500: Status("internal_error", "Something went wrong on our side"),
    503: Status("unavailable", "A dependency is temporarily unavailable"),
}


class RequestError(InvalidInput):
    """The HTTP request itself is wrong, before any use case runs (its body, query string or path)."""


class InvalidJson(RequestError):
    """The body is not a JSON object."""


class ValidationFailed(RequestError):
    """A field of the body or the query string breaks its schema; ``details`` names each one."""


class InvalidId(RequestError):
    """A path id is not a positive integer that fits a database integer."""


class UnsupportedMediaType(RequestError):
    """The body is not sent as ``application/json``."""


# The status and code of each family of the domain's errors. The most specific class of an error's MRO decides.
ERROR_STATUSES: dict[type[MovieRecError], tuple[int, str]] = {
    MovieRecError: (400, "bad_request"),
    InvalidInput: (400, "invalid_input"),
    Unauthorized: (401, "unauthorized"),
    Forbidden: (403, "forbidden"),
    NotFound: (404, "not_found"),
    Conflict: (409, "conflict"),
    TooManyRequests: (429, "too_many_requests"),
    Unavailable: (503, "unavailable"),
    Busy: (503, "busy"),
    InvalidJson: (400, "invalid_json"),
    ValidationFailed: (400, "validation_error"),
    InvalidId: (400, "invalid_id"),
    UnsupportedMediaType: (415, "unsupported_media_type"),
}


def status_of(error: MovieRecError) -> tuple[int, str]:
    """The HTTP status and error code ``error`` is answered with."""
    for klass in type(error).__mro__:
        found = ERROR_STATUSES.get(klass)
        if found is not None:
            return found
    raise AssertionError("unreachable: MovieRecError is in the table")


def status_text(status: int, default: str) -> str:
    found = STATUSES.get(status)
    return default if found is None else found.text


def error_response(status: int, code: str, message: str, details: list[dict[str, Any]] | None = None) -> Response:
    body: dict[str, Any] = {"code": code, "message": message}
    if details:
        body["details"] = details
    response = jsonify({"error": body})
    response.status_code = status
    return response


def register_errorhandlers(app: Flask) -> None:
    @app.errorhandler(MovieRecError)
    def _domain_error(error: MovieRecError) -> Response:
        if isinstance(error, DatabaseUnavailable):
            cause = error.__cause__
            log.warning("database.unavailable", error=type(cause if cause is not None else error).__name__)
        status, code = status_of(error)
        response = error_response(status, code, error.message, error.details)
        if status == 401:
            response.headers["WWW-Authenticate"] = 'Bearer realm="movierec"'
        if error.retry_after is not None:
            response.headers["Retry-After"] = str(error.retry_after)
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
        known = STATUSES.get(status)
        response = error_response(status, known.code if known else "http_error", message)
        for name in ("Allow", "Retry-After"):
            if error.get_response().headers.get(name):
                response.headers[name] = error.get_response().headers[name]
        return response

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> Response:
        # The last-resort boundary of a request: a programming error is logged with its traceback and answered
        # as a 500 without details, never as a stack trace or a dropped connection.
        log.exception("request.failed")
        return error_response(500, "internal_error", "something went wrong on our side")
