"""Bearer-token authentication for protected endpoints."""

from __future__ import annotations

from flask import request

from movierec.api.extension import container
from movierec.cache.port import Entry, Slot
from movierec.domain.errors import Forbidden, Unauthorized
from movierec.services.accounts import Caller

MAX_TOKEN_LENGTH = 4096


def bearer_token(header: str) -> str:
    """The token of an ``Authorization`` header's value; 401 when it is missing or not ``Bearer <token>``."""
    scheme, _, token = header.partition(" ")
    if not header:
        raise Unauthorized("missing bearer token: send 'Authorization: Bearer <access_token>'")
    if scheme.lower() != "bearer" or not token.strip() or len(token) > MAX_TOKEN_LENGTH:
        raise Unauthorized("malformed Authorization header: expected 'Bearer <access_token>'")
    return token.strip()


def authenticate(also: Slot | None = None) -> tuple[Caller, Entry | None]:
    """Who the request's bearer token speaks for; 401 when missing, malformed, expired, revoked or forged. With
    ``also``, that cache slot is read in the same round trip as the token's check (see ``verify_along``)."""
    token = bearer_token(request.headers.get("Authorization", ""))
    return container().accounts.verify_along(token, also)


def require_self(user_id: int, caller: Caller) -> None:
    if user_id != caller.user_id:
        raise Forbidden("you can only see your own recommendations, ratings and lists")
