"""Per-browser-session state (who is logged in, their ratings, messages for the next run) and the shared API client.

Everything the pages know comes from the API through :class:`~movierec.ui.client.ApiClient`, one pooled client per
API URL (``st.cache_resource``). Reads that are the same for everyone (genres, search pages, latest, a movie, similar
movies, the onboarding picks) are cached for a short while (``st.cache_data``), so a rerun asks the API nothing it
asked a moment ago. The token lives in ``st.session_state`` and in the HttpOnly login cookie
(:mod:`movierec.ui.cookie_session`), which brings it back after a reload or in a second tab until it expires.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal, TypeVar

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from movierec.log import get_logger
from movierec.settings import ConfigurationError, load_settings
from movierec.ui import cookie_session, prefetch
from movierec.ui.client import (
    MAX_PAGE,
    ApiClient,
    ApiError,
    ApiUnavailable,
    Genre,
    Movie,
    Recommendations,
    SearchPage,
    Session,
    Strategies,
)

log = get_logger(__name__)
T = TypeVar("T")

SESSION = "auth"
RATINGS = "my_ratings"
COMMUNITY = "community_numbers"  # movie id -> (mean, count) of this app's ratings, as the last rating here saw
LISTED = {"watchlist": "my_watchlist", "not-interested": "my_not_interested"}  # list name -> session key
FLASH = "flash"
RATINGS_VERSION = "ratings_version"
RECS_MEMO = "recs_memo"
COOKIE_ACTION = "cookie_action"
COOKIE_CHECKED = "cookie_checked"
PREFETCHED = "prefetched"
RECS_STEP = 12  # the recommendations page shows this many picks at first, and this many more per "Show more"
RECS_SHOWN = "recs_shown"  # how many it shows now (``components.shown_count("recs", RECS_STEP)``)
SHORT_TTL = 60  # seconds: a search page or the latest movies
LONG_TTL = 300  # genres, strategies, one movie, similar movies, the onboarding picks
LOGIN_PAGE = "views/login.py"
FlashKind = Literal["success", "info", "warning", "error"]
ICONS: dict[str, str] = {
    "success": ":material/check_circle:",
    "info": ":material/info:",
    "warning": ":material/warning:",
    "error": ":material/error:",
}


def api_url() -> str:
    """The API base URL (``MOVIEREC_API_URL``), read through the project's settings: again whenever the ``MOVIEREC_*``
    environment differs from the last time (building the settings costs ~5 ms, and every run asks several times)."""
    return _api_url_from(tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("MOVIEREC_"))))


@functools.lru_cache(maxsize=8)
def _api_url_from(environment: tuple[tuple[str, str], ...]) -> str:
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


@st.cache_data(ttl=SHORT_TTL, show_spinner=False, max_entries=256)
def _search(base_url: str, q: str | None, genre: str | None, limit: int, offset: int) -> SearchPage:
    return _client_for(base_url).search(q, genre, limit, offset)


@st.cache_data(ttl=SHORT_TTL, show_spinner=False, max_entries=32)
def _latest(base_url: str, limit: int) -> list[Movie]:
    return _client_for(base_url).latest(limit, 0)


@st.cache_data(ttl=LONG_TTL, show_spinner=False, max_entries=1024)
def _movie(base_url: str, movie_id: int) -> Movie:
    return _client_for(base_url).movie(movie_id)


@st.cache_data(ttl=LONG_TTL, show_spinner=False, max_entries=256)
def _similar(base_url: str, movie_id: int, limit: int) -> list[Movie]:
    return _client_for(base_url).similar(movie_id, limit)[1]


@st.cache_data(ttl=LONG_TTL, show_spinner=False, max_entries=8)
def _popular(base_url: str) -> list[Movie]:
    return _client_for(base_url).search(limit=MAX_PAGE).items


def search(q: str | None, genre: str | None, limit: int, offset: int) -> SearchPage:
    """One page of ``GET /search`` (cached for a minute: paging back and reruns ask nothing)."""
    return _search(api_url(), q, genre, limit, offset)


def latest(limit: int) -> list[Movie]:
    return _latest(api_url(), limit)


def movie(movie_id: int) -> Movie:
    return _movie(api_url(), movie_id)


def similar(movie_id: int, limit: int) -> list[Movie]:
    """Movies like this one (the same cached answer for everyone), without any the user said no to."""
    hidden = listed("not-interested") if user() is not None else set()
    items = _similar(api_url(), movie_id, 2 * limit)
    return [m for m in items if m.id not in hidden][:limit]


def popular() -> list[Movie]:
    """The catalogue's most popular movies (one page of ``GET /search`` without a query), cached."""
    return _popular(api_url())


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
    """Who is logged in: this browser session's login, else the login cookie's (read once per session)."""
    value = st.session_state.get(SESSION)
    if isinstance(value, Session):
        return value
    if not st.session_state.get(COOKIE_CHECKED):
        st.session_state[COOKIE_CHECKED] = True
        restored = cookie_session.decode(_cookies().get(cookie_session.COOKIE))
        if restored is not None:
            st.session_state[SESSION] = restored
            log.info("ui.session_restored", user_id=restored.user_id)
            return restored
    return None


def _cookies() -> dict[str, str]:
    try:
        return dict(st.context.cookies)
    except (AttributeError, RuntimeError):  # no browser behind this run (e.g. a bare script run)
        return {}


def start(session: Session) -> None:
    """Log in: remember the session here and ask the browser to keep it in the login cookie."""
    _forget()
    st.session_state[SESSION] = session
    st.session_state[COOKIE_CHECKED] = True
    st.session_state[COOKIE_ACTION] = ("POST", cookie_session.issue(session))
    log.info("ui.login", user_id=session.user_id)


def read_ahead() -> None:
    """Right after a log in: the reads the next page needs, all at once instead of one after another while it draws.

    The user's ratings (the login decides between the quick start and the recommendations on them), their watchlist
    and not-interested list (every card shows them) and the recommendations as the page first asks for them (the
    strategy the API picks, all genres, the first :data:`RECS_STEP`) go to the API side by side on the pooled
    client, and are kept as if the page had asked. What fails is simply not kept: the page asks again itself and
    says what went wrong there, as it would have without this."""
    current = user()
    if current is None:
        return
    token, user_id = current.access_token, current.user_id
    declared, names = strategies(), list(strategies().names)  # cached for everyone
    # The strategy the page opens with: the API's default (else the first it declares), or none (the API's choice).
    strategy = (declared.default if declared.default in names else names[0]) if declared.default and names else None
    limit = min(int(st.session_state.get(RECS_SHOWN, RECS_STEP)), 100)
    client = api()
    with ThreadPoolExecutor(max_workers=4, thread_name_prefix="ui-read-ahead") as pool:
        rated = pool.submit(client.all_my_ratings, token, user_id)
        lists = {name: pool.submit(client.whole_list, token, name, user_id) for name in LISTED}
        picks = pool.submit(client.recommendations, token, user_id, strategy=strategy, genre=None, limit=limit)
        mine = _kept(rated, "ratings")
        if mine is not None:
            st.session_state[RATINGS] = {r.movie.id: r.rating for r in mine}
        for name, future in lists.items():
            found = _kept(future, name)
            if found is not None:
                st.session_state[LISTED[name]] = {entry.movie.id for entry in found}
        result = _kept(picks, "recommendations")
    if result is not None:
        wanted = (user_id, strategy, None, limit, ratings_version())
        st.session_state[RECS_MEMO] = (wanted, result)


def _kept(future: Future[T], what: str) -> T | None:
    try:
        return future.result()
    except (ApiError, ApiUnavailable) as exc:
        log.warning("ui.read_ahead_failed", what=what, error=str(exc))
        return None


def _forget() -> None:
    for key in (SESSION, RATINGS, RECS_MEMO, RATINGS_VERSION, *LISTED.values()):
        st.session_state.pop(key, None)


def end() -> None:
    """Forget the token and everything learnt with it, here and in the login cookie."""
    _forget()
    st.session_state[COOKIE_CHECKED] = True  # the handshake's cookie is gone once the browser clears it
    st.session_state[COOKIE_ACTION] = ("DELETE", "")


def log_out() -> None:
    """Revoke the token at the API (when it can), then forget it here and in the cookie (every tab)."""
    current = user()
    if current is not None:
        try:
            api().logout(current.access_token)
        except (ApiError, ApiUnavailable) as exc:  # logged out here all the same; the token ends at its expiry
            log.warning("ui.logout_not_revoked", error=str(exc))
    end()


def cookie_script() -> None:
    """Run the pending set/clear of the login cookie in the browser (called once per full run by the frame)."""
    action = st.session_state.get(COOKIE_ACTION)
    if not action:
        return
    method, code = action
    if method == "DELETE" or not cookie_session.pending(code):
        st.session_state.pop(COOKIE_ACTION, None)
        if method != "DELETE":
            return
    st.html(cookie_session.script(method, code, _base_path()), unsafe_allow_javascript=True, width="content")


def prefetch_script() -> None:
    """Fetch the browser code pages will need while the browser is idle (:mod:`movierec.ui.prefetch`): a card's, once
    per browser session, after a second without a click; My ratings' (and its sample charts), once per session with
    someone logged in, after three seconds without one."""
    done: set[str] = st.session_state.setdefault(PREFETCHED, set())
    wanted: list[tuple[str, tuple[str, ...], int, str | None]] = [("cards", prefetch.CARD_MODULES, 1000, None)]
    if user() is not None:
        wanted.append(("my ratings", prefetch.MY_RATINGS_MODULES, 3000, prefetch.sample_charts()))
    for name, modules, after_ms, charts in wanted:
        if name in done:
            continue
        done.add(name)
        paths = prefetch.module_paths(modules)
        if paths:
            html = prefetch.script(_base_path(), paths, after_ms, charts)
            st.html(html, unsafe_allow_javascript=True, width="content")


def _base_path() -> str:
    """The path the UI is served under (Streamlit's ``server.baseUrlPath``), for the URLs a page script fetches."""
    return str(st.get_option("server.baseUrlPath") or "")


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
    if st.session_state.get(RATINGS) != values:
        st.session_state[RATINGS_VERSION] = ratings_version() + 1
    st.session_state[RATINGS] = dict(values)


def remember_rating(movie_id: int, rating: int) -> None:
    known = st.session_state.get(RATINGS)
    if isinstance(known, dict):
        known[movie_id] = rating
    st.session_state[RATINGS_VERSION] = ratings_version() + 1


def forget_rating(movie_id: int) -> None:
    """The user's rating of the movie was taken back."""
    known = st.session_state.get(RATINGS)
    if isinstance(known, dict):
        known.pop(movie_id, None)
    seen = st.session_state.get(COMMUNITY)
    if isinstance(seen, dict):
        seen.pop(movie_id, None)  # counted the rating just taken back
    taste_changed()


def remember_community(movie_id: int, average: float | None, count: int | None) -> None:
    """The movie's community numbers as ``POST /rate`` answered them: every card of the movie shows these now."""
    if count is None:
        return
    seen = st.session_state.setdefault(COMMUNITY, {})
    seen[movie_id] = (average, count)


def community(movie: Movie) -> tuple[float | None, int | None]:
    """The movie's community numbers: as the user's last rating of it here saw them, else as the API sent them."""
    seen = st.session_state.get(COMMUNITY)
    if isinstance(seen, dict) and movie.id in seen:
        average, count = seen[movie.id]
        return average, count
    return movie.community_average, movie.community_count


def taste_changed() -> None:
    """Something the recommendations depend on changed (a rating taken back, "not interested"): ask again."""
    st.session_state[RATINGS_VERSION] = ratings_version() + 1


def listed(name: str) -> set[int]:
    """The ids on the user's ``watchlist`` or ``not-interested`` list, loaded once per login and kept in step."""
    current = user()
    if current is None:
        return set()
    key = LISTED[name]
    known = st.session_state.get(key)
    if not isinstance(known, set):
        known = {entry.movie.id for entry in api().whole_list(current.access_token, name, current.user_id)}
        st.session_state[key] = known
    return known


def remember_list(name: str, movie_ids: set[int]) -> None:
    """The whole list as a page just read it from the API."""
    st.session_state[LISTED[name]] = set(movie_ids)


def remember_listed(name: str, movie_id: int, on: bool) -> None:
    known = st.session_state.get(LISTED[name])
    if isinstance(known, set):
        if on:
            known.add(movie_id)
        else:
            known.discard(movie_id)
    if name == "not-interested":
        taste_changed()


def ratings_version() -> int:
    """Goes up with every rating saved in this session: what depends on the ratings is asked for again."""
    return int(st.session_state.get(RATINGS_VERSION, 0))


def recommendations(strategy: str | None, genre: str | None, limit: int) -> Recommendations:
    """The user's recommendations, asked once per choice of strategy, genre and size until they rate again."""
    current = user()
    if current is None:
        raise RuntimeError("recommendations need a logged-in user")
    wanted = (current.user_id, strategy, genre, limit, ratings_version())
    memo = st.session_state.get(RECS_MEMO)
    if isinstance(memo, tuple) and memo[0] == wanted:
        return memo[1]  # type: ignore[no-any-return]
    result = api().recommendations(current.access_token, current.user_id, strategy=strategy, genre=genre, limit=limit)
    st.session_state[RECS_MEMO] = (wanted, result)
    return result


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
    """Toast the messages left by page switches, once and briefly; the API-down notice already says it for those."""
    for item in _take(sticky=False):
        if api_down_shown and item.unavailable:
            continue
        st.toast(item.text, icon=ICONS[item.kind], duration="short")


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


def guarded_fragment(func: Callable[[], None]) -> Callable[[], None]:
    """``st.fragment`` of ``func``, its every run inside :func:`guarded`: a fragment's own run (a click inside it)
    happens outside the frame's guard, so API failures would otherwise end it in a traceback."""

    @functools.wraps(func)  # the fragment's identity is the function's module and name
    def run() -> None:
        with guarded():
            func()

    fragment: Callable[[], None] = st.fragment(run)
    return fragment
