"""Password hashing that can never starve the other endpoints.

A default argon2id hash costs ~25 ms of CPU, 19 MiB. Each process hashes at most ``slots`` passwords at once, and at
most ``queue`` more requests wait for a slot (or sit out a login delay); any request past that, or one that waits
longer than ``wait_seconds``, is refused with ``Busy`` (503 with ``Retry-After``) instead of taking a server
thread. So however many registrations or logins arrive together, the rest of the API keeps its threads and cores.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from movierec.domain.errors import Unavailable

BUSY_RETRY_AFTER = 2


class Busy(Unavailable):
    """Every password-hashing slot is taken and the queue is full: ``retry_after`` seconds."""

    def __init__(self) -> None:
        super().__init__(f"too many password checks at once; try again in {BUSY_RETRY_AFTER} s")
        self.retry_after = BUSY_RETRY_AFTER


class PasswordHashing:
    def __init__(self, hasher: PasswordHasher, *, slots: int = 1, queue: int = 4, wait_seconds: float = 5.0):
        if slots < 1 or queue < 0 or wait_seconds <= 0:
            raise ValueError("slots >= 1, queue >= 0 and wait_seconds > 0")
        self._hasher = hasher
        self._slots = threading.BoundedSemaphore(slots)
        self._admitted = threading.BoundedSemaphore(slots + queue)
        self._wait_seconds = wait_seconds
        # Verified against when the username is unknown, so both failures take the same time.
        self._decoy_hash = hasher.hash("decoy password that never matches")

    @contextmanager
    def slot(self, delay: float = 0.0) -> Iterator[None]:
        """Hold one hashing slot; wait ``delay`` seconds first (a login slowed down by its username's failures)."""
        if not self._admitted.acquire(blocking=False):
            raise Busy()
        try:
            if delay > 0:
                time.sleep(delay)
            if not self._slots.acquire(timeout=self._wait_seconds):
                raise Busy()
            try:
                yield
            finally:
                self._slots.release()
        finally:
            self._admitted.release()

    def hash(self, password: str) -> str:
        with self.slot():
            return self._hasher.hash(password)

    def verify(self, stored_hash: str | None, password: str, *, delay: float = 0.0) -> bool:
        """Whether ``password`` matches ``stored_hash``; with no hash, the same work against a decoy (and False)."""
        with self.slot(delay):
            try:
                matched = bool(self._hasher.verify(stored_hash or self._decoy_hash, password))
            except (VerifyMismatchError, VerificationError, InvalidHashError):
                matched = False
        return matched and stored_hash is not None

    def needs_rehash(self, stored_hash: str) -> bool:
        return bool(self._hasher.check_needs_rehash(stored_hash))
