"""``api.Api``: Flask with ``ensure_sync`` answered once per function (Flask asks it for every view and hook of
every request)."""

from __future__ import annotations

import pytest
from flask import Flask

from movierec.api import Api


def test_ensure_sync_gives_what_flask_gives_and_asks_once_per_function(monkeypatch: pytest.MonkeyPatch) -> None:
    import flask.app

    asked: list[object] = []
    real = flask.app.iscoroutinefunction

    def counting(func: object) -> bool:
        asked.append(func)
        return real(func)

    monkeypatch.setattr(flask.app, "iscoroutinefunction", counting)
    app = Api("test")

    def view() -> str:
        return "ok"

    assert [app.ensure_sync(view) for _ in range(3)] == [view] * 3
    assert asked == [view]


def test_an_async_view_is_refused_or_wrapped_as_flask_does() -> None:
    async def view() -> str:
        return "ok"

    outcomes = []
    for app in (Flask("plain"), Api("ours")):
        try:
            wrapped = app.ensure_sync(view)
            outcomes.append(("wrapped", wrapped is not view))
        except RuntimeError as error:  # Flask without its async extra
            outcomes.append(("refused", str(error)))
    assert outcomes[0] == outcomes[1]


def test_the_app_serves_a_request_with_hooks_as_before() -> None:
    app = Api("hooks")
    calls: list[str] = []

    @app.before_request
    def before() -> None:
        calls.append("before")

    @app.get("/x")
    def x() -> str:
        calls.append("view")
        return "ok"

    client = app.test_client()
    for _ in range(2):
        assert client.get("/x").get_data() == b"ok"
    assert calls == ["before", "view"] * 2
