"""Throttles for logins and registrations, counted in moving windows by the ``limits`` library.

Counts live in Redis on the full stack (every backend shares them) and in memory when embedded; each reservation is
atomic (a Lua script on Redis, a lock in memory), so N parallel attempts never get more than the budget. If the
counter store is unreachable, nothing is blocked (a warning is logged): availability wins over throttling for a
moment, and argon2id keeps each guess expensive.

Logins, so that an attacker cannot lock the owner out:
- per (username, address): ``attempts_per_minute`` attempts, reserved *before* the password is checked; a
  successful login clears the count. Past it: 429.
- per address (any usernames): ``address_attempts_per_minute`` attempts. Past it: 429.
- per username (any address): failures past ``attempts_per_minute`` in 15 minutes slow every further attempt
  for that username down (0.1 s for each failure over, at most 2 s): a delay, never a wall, so the right password
  from a fresh address still logs in while someone else guesses.
Registrations: ``per_hour`` per address. Past it: 429.
"""

from __future__ import annotations

import math
import time

from limits import RateLimitItem, RateLimitItemPerHour, RateLimitItemPerMinute
from limits.errors import StorageError
from limits.storage import Storage
from limits.strategies import MovingWindowRateLimiter

from movierec.domain.errors import TooManyRequests
from movierec.log import get_logger

log = get_logger(__name__)

# The per-username failure window and the delay it adds, once past the soft limit.
USERNAME_WINDOW_MINUTES = 15
DELAY_PER_EXCESS_FAILURE = 0.1
MAX_DELAY_SECONDS = 2.0
_COUNT_ONLY = 1_000_000  # a limit no count reaches: the window only counts


class TooManyAttempts(TooManyRequests):
    def __init__(self, what: str, retry_after: int) -> None:
        super().__init__(f"too many {what}; try again in {retry_after} s", retry_after)


class Throttle:
    """Moving-window counters over a ``limits`` storage (Redis or memory), failing open when it is down."""

    def __init__(self, storage: Storage) -> None:
        self._limiter = MovingWindowRateLimiter(storage)

    def reserve(self, item: RateLimitItem, *key: str) -> int | None:
        """Take one attempt from ``item``'s budget for ``key``: None when taken, else seconds until one frees up."""
        try:
            if self._limiter.hit(item, *key):
                return None
            reset_at = self._limiter.get_window_stats(item, *key).reset_time
        except (StorageError, OSError) as exc:
            log.warning("throttle.unavailable", error=repr(exc))
            return None
        return max(1, math.ceil(reset_at - time.time()))

    def count(self, item: RateLimitItem, *key: str) -> int:
        try:
            return item.amount - self._limiter.get_window_stats(item, *key).remaining
        except (StorageError, OSError) as exc:
            log.warning("throttle.unavailable", error=repr(exc))
            return 0

    def clear(self, item: RateLimitItem, *key: str) -> None:
        try:
            self._limiter.clear(item, *key)
        except (StorageError, OSError) as exc:
            log.warning("throttle.unavailable", error=repr(exc))


class LoginThrottle:
    """Keys are username *keys* (case-folded) and client addresses as seen after the trusted-proxy rule."""

    def __init__(self, throttle: Throttle, attempts_per_minute: int = 10, address_attempts_per_minute: int = 30):
        self._throttle = throttle
        self._pair = RateLimitItemPerMinute(attempts_per_minute, namespace="login-pair")
        self._address = RateLimitItemPerMinute(address_attempts_per_minute, namespace="login-address")
        self._soft = attempts_per_minute
        self._failures = RateLimitItemPerMinute(_COUNT_ONLY, USERNAME_WINDOW_MINUTES, namespace="login-user")

    def reserve(self, key: str, address: str | None) -> float:
        """Take one attempt for (``key``, ``address``) and ``address``, or raise ``TooManyAttempts``. The delay
        (seconds) to wait before checking the password, from the username's recent failures."""
        retry_after = self._throttle.reserve(self._pair, key, address or "-")
        what = "failed logins"  # the pair's count starts again at each success
        if retry_after is None and address:
            retry_after = self._throttle.reserve(self._address, address)
            what = "logins from this address"  # every attempt counts, failed or not
        if retry_after is not None:
            log.info("login.throttled", username=key, address=address, retry_after=retry_after)
            raise TooManyAttempts(what, retry_after)
        excess = self._throttle.count(self._failures, key) - self._soft
        return 0.0 if excess <= 0 else min(MAX_DELAY_SECONDS, DELAY_PER_EXCESS_FAILURE * excess)

    def failed(self, key: str, address: str | None) -> None:
        self._throttle.reserve(self._failures, key)

    def succeeded(self, key: str, address: str | None) -> None:
        self._throttle.clear(self._pair, key, address or "-")


class RegistrationThrottle:
    def __init__(self, throttle: Throttle, per_hour: int = 20) -> None:
        self._throttle = throttle
        self._limit = RateLimitItemPerHour(per_hour, namespace="register-address")

    def reserve(self, address: str | None) -> None:
        retry_after = self._throttle.reserve(self._limit, address or "-")
        if retry_after is not None:
            log.info("register.throttled", address=address, retry_after=retry_after)
            raise TooManyAttempts("registrations from this address", retry_after)
