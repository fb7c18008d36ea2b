"""Access to the composition root from request handlers (``app.extensions["movierec"]``)."""

from __future__ import annotations

from flask import current_app

from movierec.wiring import Container

EXTENSION = "movierec"


def container() -> Container:
    return current_app.extensions[EXTENSION]  # type: ignore[no-any-return]
