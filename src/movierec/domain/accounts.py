"""Account rules: what a username and a password must look like, and the user value object.

Usernames are compared as their *key*: NFKC-normalised and case-folded, so ``Ada``, ``ada`` and ``ＡＤＡ`` are one
account. Passwords are 8-256 characters, not equal to the username, and not among the most common passwords
(zxcvbn's estimate of how many guesses they take).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from zxcvbn import zxcvbn

from movierec.domain.errors import Conflict

USERNAME_PATTERN = r"^[A-Za-z0-9_.-]{3,32}$"
USERNAME_RE = re.compile(USERNAME_PATTERN)
USERNAME_MIN_LENGTH = 3
USERNAME_MAX_LENGTH = 32
PASSWORD_MIN_LENGTH = 8
PASSWORD_MAX_LENGTH = 256
# zxcvbn scores 0-4; below 2 a password falls to fewer than 10^6 guesses ("too guessable").
PASSWORD_MIN_SCORE = 2
_SCORED_PREFIX = 72  # zxcvbn's own input limit; the first 72 characters decide how guessable a password is


@dataclass(frozen=True, slots=True)
class User:
    id: int
    username: str
    can_log_in: bool = True
    token_version: int = 0  # tokens issued under an older version no longer work


class UsernameTaken(Conflict):
    """Another account already has this username (in any case)."""

    def __init__(self, username: str) -> None:
        super().__init__(f"username {username!r} is taken")
        self.username = username


def normalise_username(username: str) -> str:
    """The form a username is stored and shown in: NFKC (full-width letters become ASCII, ligatures split)."""
    return unicodedata.normalize("NFKC", username)


def username_key(username: str) -> str:
    """What makes two usernames the same account: NFKC, case-folded (``Ada`` and ``ada`` share one key)."""
    return unicodedata.normalize("NFKC", normalise_username(username).casefold())


def username_problem(username: str) -> str | None:
    """Why ``username`` (already normalised) is not acceptable, or None when it is."""
    if not USERNAME_RE.fullmatch(username):
        return "username must be 3-32 characters of letters, digits, '_', '.' or '-'"
    return None


def password_length_problem(password: str) -> str | None:
    if len(password) < PASSWORD_MIN_LENGTH:
        return f"password must be at least {PASSWORD_MIN_LENGTH} characters"
    if len(password) > PASSWORD_MAX_LENGTH:
        return f"password must be at most {PASSWORD_MAX_LENGTH} characters"
    return None


def password_problem(password: str, username: str | None = None) -> str | None:
    """Why ``password`` is not acceptable for ``username``, or None when it is."""
    length = password_length_problem(password)
    if length:
        return length
    if username is not None and username_key(password) == username_key(username):
        return "password must not be the username"
    estimate = zxcvbn(password[:_SCORED_PREFIX], user_inputs=[username] if username else [])
    if estimate["score"] < PASSWORD_MIN_SCORE:
        warning = str(estimate["feedback"].get("warning") or "").rstrip(".")
        reason = f" ({warning[:1].lower() + warning[1:]})" if warning else ""
        return f"password is too easy to guess{reason}: use a longer phrase or add uncommon words"
    return None
