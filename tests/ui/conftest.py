"""Fixtures for the UI tests: a real API over HTTP (the app built in-process, served by waitress) and AppTest."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from movierec.ui.client import ApiClient, Session
from movierec.ui.components import rating_open_key
from movierec.wiring import Container
from tests.conftest import create_app_for
from tests.live_api import serve_app

APP = Path(__file__).resolve().parents[2] / "src" / "movierec" / "ui" / "main.py"
PASSWORD = "ui-test-pw-5821"


def _clear_streamlit_caches() -> None:
    st.cache_data.clear()
    st.cache_resource.clear()  # closes the cached API clients


class CallLog:
    """Every request the API server received, as ``"GET /search"``, in order (a WSGI middleware records them)."""

    def __init__(self) -> None:
        self._calls: list[str] = []
        self._lock = threading.Lock()

    def wrap(self, wsgi_app: Callable[..., Iterable[bytes]]) -> Callable[..., Iterable[bytes]]:
        def recorded(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            with self._lock:
                self._calls.append(f"{environ['REQUEST_METHOD']} {environ['PATH_INFO']}")
            return wsgi_app(environ, start_response)

        return recorded

    def take(self) -> list[str]:
        """The calls since the last take (and forget them)."""
        with self._lock:
            taken, self._calls = self._calls, []
        return taken


@pytest.fixture
def api_calls() -> CallLog:
    return CallLog()


@pytest.fixture
def live_api(
    container: Container, sample_catalogue: dict[str, int], monkeypatch: pytest.MonkeyPatch, api_calls: CallLog
) -> Iterator[str]:
    """The API with the 12-movie sample catalogue on a free loopback port; the UI is pointed at it."""
    app = create_app_for(container)
    app.wsgi_app = api_calls.wrap(app.wsgi_app)  # type: ignore[method-assign]
    with serve_app(app) as url:
        monkeypatch.setenv("MOVIEREC_API_URL", url)
        try:
            yield url
        finally:
            _clear_streamlit_caches()


@pytest.fixture
def api(live_api: str) -> Iterator[ApiClient]:
    """A client of the same API for the test's own set-up and checks."""
    client = ApiClient(live_api)
    yield client
    client.close()


@pytest.fixture
def make_user(api: ApiClient) -> Callable[[str], Session]:
    def make(username: str = "alice") -> Session:
        api.register(username, PASSWORD)
        return api.login(username, PASSWORD)

    return make


@pytest.fixture
def ui() -> Callable[..., AppTest]:
    """A fresh UI session on the given page, optionally logged in as ``session``."""

    def open_page(page: str = "views/search.py", session: Session | None = None) -> AppTest:
        at = AppTest.from_file(str(APP), default_timeout=30)
        if session is not None:
            at.session_state["auth"] = session
        at.run()
        if page != "views/search.py":
            at.switch_page(page).run()
        return at

    return open_page


def open_card(at: AppTest, context: str, movie_id: int) -> None:
    """Open a card's actions (its "Rate it · more" button), unless they are open already."""
    shown = rating_open_key(context, movie_id)
    if not (shown in at.session_state and at.session_state[shown]):
        at.button(key=f"ratebox-{context}-{movie_id}").click().run()


def rating_pills(at: AppTest, context: str, movie_id: int) -> Any:
    """A card's 1-10 rating pills: drawn once its "Rate it · more" button is clicked, so this clicks it first (unless
    they are shown already)."""
    open_card(at, context, movie_id)
    return at.pills(key=f"rate-{context}-{movie_id}")


def card_button(at: AppTest, name: str, context: str, movie_id: int) -> Any:
    """One of a card's action buttons (``similar``, ``watch``, ``hide``), opening the card's actions first."""
    open_card(at, context, movie_id)
    return at.button(key=f"{name}-{context}-{movie_id}")
