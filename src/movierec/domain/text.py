"""Rules for text from clients: what counts as blank, and what is not text at all.

Blank means only ASCII whitespace (space, tab, newline, carriage return, form feed, vertical tab): the same set the
API's JSON Schema pattern states, so a value the schema accepts is never refused later as "empty".
"""

from __future__ import annotations

# Search queries: the longest query text, and the deepest page (offset + limit) a search may ask for.
MAX_QUERY_LENGTH = 200
MAX_RESULT_WINDOW = 10_000
BLANK = " \t\n\r\f\v"
NOT_BLANK_PATTERN = r"[^ \t\n\r\f\v]"  # a JSON Schema (ECMA) and Python regex: at least one character not in BLANK


def is_blank(text: str) -> bool:
    return not text.strip(BLANK)


def text_problem(value: str) -> str | None:
    """Why ``value`` is not a sequence of Unicode scalar values (a lone UTF-16 surrogate), or None."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "must be valid Unicode text (no lone surrogates)"
    return None
