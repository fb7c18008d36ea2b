"""Login throttling: after too many failed attempts for one username or one address, logins wait.

Counts live in Redis on the full stack (so every backend shares them) and in memory when embedded. Only failed
attempts count. If the counter store is unreachable, logins are not blocked (a warning is logged): availability
wins over throttling for a moment, and argon2id keeps each guess expensive.
"""

from __future__ import annotations

import math
import time

from limits import RateLimitItemPerMinute
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from movierec.log import get_logger
from movierec.services.errors import ServiceError

log = get_logger(__name__)


class TooManyAttempts(ServiceError):
    status = 429
    code = "too_many_requests"

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many failed logins; try again in {retry_after} s")
        self.retry_after = retry_after


class LoginThrottle:
    def __init__(self, redis_url: str | None, attempts_per_minute: int = 10, timeout: float = 0.25) -> None:
        if redis_url:
            storage = storage_from_string(
                redis_url, socket_timeout=timeout, socket_connect_timeout=timeout, key_prefix="login-throttle"
            )
        else:
            storage = storage_from_string("memory://")
        self._limiter = MovingWindowRateLimiter(storage)
        self._limit = RateLimitItemPerMinute(attempts_per_minute)

    @staticmethod
    def _keys(username: str, address: str | None) -> list[tuple[str, str]]:
        keys = [("user", username.casefold())]
        if address:
            keys.append(("address", address))
        return keys

    def check(self, username: str, address: str | None) -> None:
        """Raise ``TooManyAttempts`` when the username or the address used up its failed attempts."""
        try:
            for kind, value in self._keys(username, address):
                if not self._limiter.test(self._limit, kind, value):
                    reset_at = self._limiter.get_window_stats(self._limit, kind, value).reset_time
                    raise TooManyAttempts(max(1, math.ceil(reset_at - time.time())))
        except TooManyAttempts:
            raise
        except Exception as exc:
            log.warning("throttle.unavailable", error=repr(exc))

    def failed(self, username: str, address: str | None) -> None:
        try:
            for kind, value in self._keys(username, address):
                self._limiter.hit(self._limit, kind, value)
        except Exception as exc:
            log.warning("throttle.unavailable", error=repr(exc))
