"""The one exception tree of movierec. Every error a caller is meant to handle is a ``MovieRecError``.

Families, each caught as a whole by whoever can act on it (the API maps each to one HTTP status in
``api/errors.py``; nothing below knows about HTTP):

- ``InvalidInput``: the request itself is wrong; asking again the same way fails again.
- ``Unauthorized``: no valid credentials; ``Forbidden``: valid credentials, not for this.
- ``NotFound``: the thing named does not exist (``UnknownMovie``).
- ``Conflict``: the request contradicts what is stored (``UsernameTaken``).
- ``TooManyRequests``: a throttle's budget is spent for now (``retry_after`` says for how long).
- ``Unavailable``: a dependency is away for a moment (``DatabaseUnavailable``, ``CacheUnavailable``,
  ``SearchUnavailable``, ``BusUnavailable``); asking again later may succeed (``retry_after`` when known).

Anything else reaching the edge is a programming error, answered as an internal error and logged.
"""

from __future__ import annotations

from typing import Any


class MovieRecError(Exception):
    """The root. ``message`` is safe to show to a client; ``details`` optionally points at the fields at fault."""

    retry_after: int | None = None

    def __init__(self, message: str, *, details: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class InvalidInput(MovieRecError):
    """The input breaks a rule (a rating outside 1-10, an empty query, a weak password...)."""


class Unauthorized(MovieRecError):
    """No credentials, or credentials that are wrong, expired or revoked."""


class Forbidden(MovieRecError):
    """Valid credentials that do not allow this (someone else's ratings)."""


class NotFound(MovieRecError):
    """The thing named does not exist."""


class Conflict(MovieRecError):
    """The request contradicts what is stored (a username someone already has)."""


class TooManyRequests(MovieRecError):
    """A throttle's budget is spent; ``retry_after`` seconds until one attempt frees up."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Unavailable(MovieRecError):
    """A dependency is away or overloaded for a moment; the same request may succeed later."""


class DatabaseUnavailable(Unavailable):
    """The database does not answer (down, restarting, its pool exhausted, or locked for too long)."""

    retry_after = 5

    def __init__(self, message: str = "the database is temporarily unavailable; try again shortly") -> None:
        super().__init__(message)


class CacheUnavailable(Unavailable):
    """The cache does not answer."""


class SearchUnavailable(Unavailable):
    """The search engine does not answer, or answered with an error of its own."""

    def __init__(self, message: str = "search is temporarily unavailable") -> None:
        super().__init__(message)


class BusUnavailable(Unavailable):
    """The movie event bus does not answer."""
