"""Identifiers: positive integers that fit a 32-bit database integer, written in ASCII digits."""

from __future__ import annotations

MAX_ID = 2_147_483_647
_MAX_DIGITS = len(str(MAX_ID))


def parse_id(text: str) -> int | None:
    """The id ``text`` spells, or None: only ASCII digits (``"١٢"`` is not 12), at most 10 of them, 1..MAX_ID."""
    if not text or len(text) > _MAX_DIGITS or not text.isascii() or not text.isdigit():
        return None
    value = int(text)
    return value if 1 <= value <= MAX_ID else None
