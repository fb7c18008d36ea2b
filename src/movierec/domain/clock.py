"""The one clock: timezone-aware UTC now (every stored time is UTC)."""

from __future__ import annotations

import datetime as dt


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
