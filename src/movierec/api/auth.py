"""Bearer-token authentication for protected endpoints."""

from __future__ import annotations

from flask import request

from movierec.api.errors import ApiError
from movierec.api.extension import container


def authenticate() -> int:
    """The user id of the request's bearer token; 401 when missing, malformed, expired or forged."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if not header:
        raise ApiError(401, "unauthorized", "missing bearer token: send 'Authorization: Bearer <access_token>'")
    if scheme.lower() != "bearer" or not token.strip() or len(token) > 4096:
        raise ApiError(401, "unauthorized", "malformed Authorization header: expected 'Bearer <access_token>'")
    return container().accounts.verify(token.strip())


def require_self(user_id: int, token_user_id: int) -> None:
    if user_id != token_user_id:
        raise ApiError(403, "forbidden", "you can only see your own recommendations and ratings")
