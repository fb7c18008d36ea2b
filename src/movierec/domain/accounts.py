"""Account rules: what a username and a password must look like, and the user value object."""

from __future__ import annotations

import re
from dataclasses import dataclass

USERNAME_PATTERN = r"^[A-Za-z0-9_.-]{3,32}$"
USERNAME_RE = re.compile(USERNAME_PATTERN)
PASSWORD_MIN_LENGTH = 8
PASSWORD_MAX_LENGTH = 256


@dataclass(frozen=True, slots=True)
class User:
    id: int
    username: str
    can_log_in: bool = True


def username_problem(username: str) -> str | None:
    """Why ``username`` is not acceptable, or None when it is."""
    if not USERNAME_RE.fullmatch(username):
        return "username must be 3-32 characters of letters, digits, '_', '.' or '-'"
    return None


def password_problem(password: str) -> str | None:
    if len(password) < PASSWORD_MIN_LENGTH:
        return f"password must be at least {PASSWORD_MIN_LENGTH} characters"
    if len(password) > PASSWORD_MAX_LENGTH:
        return f"password must be at most {PASSWORD_MAX_LENGTH} characters"
    return None
