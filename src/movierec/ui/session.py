"""Per-browser-session state (who is logged in, their ratings, messages for the next run) and the shared API client.

Everything the pages know comes from the API through :class:`~movierec.ui.client.ApiClient`; the token lives in
``st.session_state`` only.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from movierec.log import get_logger
from movierec.settings import ConfigurationError, load_settings
from movierec.ui.client import ApiClient, ApiError, ApiUnavailable, Genre, Session, Strategies

log = get_logger(__name__)

SESSION = "auth"
RATINGS = "my_ratings"
FLASH = "flash"
LOGIN_PAGE = "views/login.py"
FlashKind = Literal["success", "info", "warning", "error"]
ICONS: dict[str, str] = {
    "success": ":material/check_circle:",
    "info": ":material/info:",
    "warning": ":material/warning:",
    "error": ":material/error:",
}


def api_url() -> str:
    """The API base URL (``MOVIEREC_API_URL``), read through the project's settings on every run."""
    try:
        return load_settings().api_url
    except ConfigurationError as exc:  # the UI needs no secret, but the settings check the whole environment
        log.warning("ui.settings_invalid", error=str(exc))
        return "http://127.0.0.1:8000"


@st.cache_resource(show_spinner=False, max_entries=8, on_release=ApiClient.close)
def _client_for(base_url: str) -> ApiClient:
    return ApiClient(base_url)


def api() -> ApiClient:
    return _client_for(api_url())


@st.cache_data(ttl=300, show_spinner=False, max_entries=8)
def _genres(base_url: str) -> list[Genre]:
    return _client_for(base_url).genres()


@st.cache_data(ttl=300, show_spinner=False, max_entries=8)
def _strategies(base_url: str) -> Strategies:
    return _client_for(base_url).strategies()


def genres() -> list[Genre]:
    """The catalogue's genres, biggest first (cached for five minutes)."""
    return sorted(_genres(api_url()), key=lambda g: (-g.count, g.name))


def genre_names() -> list[str]:
    return sorted(g.name for g in genres())


def strategies() -> Strategies:
    """The recommendation strategies the API declares in its OpenAPI document (cached for five minutes)."""
    return _strategies(api_url())


# -- who is logged in ------------------------------------------------------------------------------------------
def user() -> Session | None:
    value = st.session_state.get(SESSION)
    return value if isinstance(value, Session) else None


def start(session: Session) -> None:
    st.session_state[SESSION] = session
    st.session_state.pop(RATINGS, None)
    log.info("ui.login", user_id=session.user_id)


def end() -> None:
    """Forget the token and everything learnt with it."""
    st.session_state.pop(SESSION, None)
    st.session_state.pop(RATINGS, None)


def ratings() -> dict[int, int]:
    """movie id -> the logged-in user's rating, loaded from /my-ratings once per login and kept in step."""
    current = user()
    if current is None:
        return {}
    known = st.session_state.get(RATINGS)
    if not isinstance(known, dict):
        with st.spinner("Loading your ratings…"):
            rated = api().all_my_ratings(current.access_token, current.user_id)
        known = {r.movie.id: r.rating for r in rated}
        st.session_state[RATINGS] = known
    return known


def remember_ratings(values: dict[int, int]) -> None:
    st.session_state[RATINGS] = dict(values)


def remember_rating(movie_id: int, rating: int) -> None:
    known = st.session_state.get(RATINGS)
    if isinstance(known, dict):
        known[movie_id] = rating


# -- messages that outlive a rerun -----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Flash:
    kind: FlashKind
    text: str
    unavailable: bool = False  # said already by the API-down notice when that shows
    sticky: bool = False  # an alert at the top of the next page instead of a toast
    login_link: bool = False


def flash(
    kind: FlashKind, text: str, *, unavailable: bool = False, sticky: bool = False, login_link: bool = False
) -> None:
    st.session_state.setdefault(FLASH, []).append(Flash(kind, text, unavailable, sticky, login_link))


def _take(sticky: bool) -> list[Flash]:
    pending: list[Flash] = st.session_state.get(FLASH, [])
    taken = [f for f in pending if f.sticky == sticky]
    st.session_state[FLASH] = [f for f in pending if f.sticky != sticky]
    return taken


def show_notices() -> None:
    """Sticky messages (e.g. "your session has expired") as alerts where this is called, once."""
    for item in _take(sticky=True):
        alert = {"success": st.success, "info": st.info, "warning": st.warning, "error": st.error}[item.kind]
        alert(item.text, icon=ICONS[item.kind])
        if item.login_link:
            st.page_link(LOGIN_PAGE, label="Log in", icon=":material/login:")


def show_flashes(*, api_down_shown: bool) -> None:
    """Toast the messages left by callbacks and page switches; the API-down notice already says it for those."""
    for item in _take(sticky=False):
        if api_down_shown and item.unavailable:
            continue
        st.toast(item.text, icon=ICONS[item.kind])


def expire() -> None:
    """The API refused the token (expired or invalid): log out and say so on the next page."""
    end()
    flash("warning", "Your session has expired. Please log in again.", sticky=True, login_link=True)


# -- failures --------------------------------------------------------------------------------------------------
def unavailable_notice(target: DeltaGenerator, error: ApiUnavailable) -> None:
    """The one notice shown when the API cannot be reached."""
    with target.container():
        st.error(
            f"**The movie service is not available right now** — {error.message} ({error.base_url}). "
            "Search, ratings and recommendations will be back as soon as it is.",
            icon=":material/cloud_off:",
        )
        st.button("Try again", icon=":material/refresh:", key="retry_api")


@dataclass(slots=True)
class Outcome:
    api_down: bool = False


@contextmanager
def guarded(target: DeltaGenerator | None = None) -> Iterator[Outcome]:
    """Turn API failures inside the block into one message (in ``target``) instead of a traceback."""
    slot = target if target is not None else st.empty()
    outcome = Outcome()
    try:
        yield outcome
    except ApiUnavailable as exc:
        log.warning("ui.api_unavailable", url=exc.base_url, error=exc.message)
        outcome.api_down = True
        unavailable_notice(slot, exc)
    except ApiError as exc:
        if exc.status == 401 and user() is not None:
            expire()
            st.rerun()  # rebuild the navigation for a logged-out visitor; the notice shows at the top
        else:
            slot.error(exc.message, icon=":material/error:")
