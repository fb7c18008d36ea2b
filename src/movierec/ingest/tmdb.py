"""A client for TMDB's API v3: the movie genre list and pages of ``/discover/movie``, mapped to ``MovieDraft``.

* Auth: a v3 API key goes in the ``api_key`` query parameter; a v4 read access token (a JWT, three dot-separated
  base64 parts) goes in ``Authorization: Bearer``. A missing or rejected key raises ``TmdbAuthError`` at once.
* Politeness: a ``429`` is retried after exactly its ``Retry-After`` (up to ``max_retry_after`` seconds); ``5xx``,
  connection errors and timeouts are retried with exponential backoff (tenacity), a bounded number of times. Every
  request has a timeout and the connection pool is bounded.
* Items that cannot be a movie (no id, no title, a malformed date, a vote average outside 0-10...) raise
  ``InvalidItem`` from ``draft_from_item``; ``DiscoverPage.drafts`` skips and counts them.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import math
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeGuard

import httpx
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    stop_when_event_set,
    wait_exponential,
)
from tenacity.wait import wait_base

from movierec.domain.movies import MovieDraft, parse_release_date
from movierec.log import get_logger

log = get_logger(__name__)

DEFAULT_BASE_URL = "https://api.themoviedb.org/3"
MAX_PAGE = 500  # TMDB answers pages 1-500 of any listing: at most 10,000 movies
PAGE_SIZE = 20
TMDB_KEY_PREFIX = "tmdb"
MISSING_KEY_MESSAGE = (
    "TMDB_API_KEY is not set: set it to your TMDB API key (v3) or API read access token (v4) from "
    "https://www.themoviedb.org/settings/api, or load an offline catalogue with `movierec seed movielens`"
)
_RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504, 520, 521, 522, 523, 524})


class TmdbError(RuntimeError):
    """TMDB could not be used; the message says why, in words fit for the person running the seeder."""


class TmdbAuthError(TmdbError):
    """The API key is missing or TMDB rejected it."""


class TmdbRequestFailed(TmdbError):
    """A request failed for good: retries exhausted, or an answer that retrying cannot fix."""


class InvalidItem(ValueError):
    """A ``/discover/movie`` result that cannot be a movie."""


class _Retryable(Exception):
    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


def is_bearer_token(key: str) -> bool:
    """A v4 read access token is a JWT (``header.payload.signature``); a v3 API key is 32 hex digits."""
    parts = key.split(".")
    return len(parts) == 3 and all(parts) and len(key) > 40


def parse_retry_after(value: str | None, now: dt.datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date); ``None`` if absent/garbled."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
        seconds = (when - (now or dt.datetime.now(dt.UTC))).total_seconds()
    if not math.isfinite(seconds):
        return None
    return max(seconds, 0.0)


class _RetryAfterOrBackoff(wait_base):
    """Wait what a 429's ``Retry-After`` asks for; otherwise exponential backoff."""

    def __init__(self, backoff: wait_base) -> None:
        self.backoff = backoff

    def __call__(self, retry_state: RetryCallState) -> float:
        error = retry_state.outcome.exception() if retry_state.outcome is not None else None
        if isinstance(error, _Retryable) and error.retry_after is not None:
            return error.retry_after
        return float(self.backoff(retry_state))


def _status_message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    if isinstance(body, dict) and isinstance(body.get("status_message"), str):
        code = body.get("status_code")
        return f"{body['status_message']}" + (f" (status_code {code})" if isinstance(code, int) else "")
    return ""


@dataclass
class ClientStats:
    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def bump(self, name: str) -> None:
        with self._lock:
            setattr(self, name, getattr(self, name) + 1)


@dataclass(frozen=True, slots=True)
class SkippedItem:
    tmdb_id: object
    reason: str


@dataclass(frozen=True, slots=True)
class DiscoverPage:
    """One page of ``/discover/movie``: its valid movies as drafts and the items that were skipped."""

    page: int
    total_pages: int
    total_results: int
    drafts: tuple[MovieDraft, ...]
    skipped: tuple[SkippedItem, ...]


class TmdbClient:
    """A thread-safe TMDB v3 client (one ``httpx.Client`` with a bounded pool)."""

    def __init__(
        self,
        api_key: str | None,
        *,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float = 10.0,
        max_attempts: int = 5,
        backoff_seconds: float = 1.0,
        max_backoff_seconds: float = 30.0,
        max_retry_after_seconds: float = 60.0,
        max_connections: int = 4,
        language: str = "en-US",
    ) -> None:
        key = (api_key or "").strip()
        if not key:
            raise TmdbAuthError(MISSING_KEY_MESSAGE)
        if not key.isascii() or not key.isprintable() or any(ch.isspace() for ch in key):
            raise TmdbAuthError("TMDB_API_KEY contains spaces or characters no TMDB key has; check its value")
        url = httpx.URL(base_url.strip())
        if url.scheme not in ("http", "https") or not url.host:
            raise TmdbError(f"the TMDB base URL must be an http(s) URL such as {DEFAULT_BASE_URL}")
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.base_url = str(url).rstrip("/")
        self.bearer = is_bearer_token(key)
        self.max_attempts = max_attempts
        self.max_retry_after = max_retry_after_seconds
        self.language = language
        self.stats = ClientStats()
        self._backoff = wait_exponential(multiplier=backoff_seconds, min=backoff_seconds, max=max_backoff_seconds)
        headers = {"Accept": "application/json", "User-Agent": "movierec-tmdb-seeder"}
        params: dict[str, str] = {}
        if self.bearer:
            headers["Authorization"] = f"Bearer {key}"
        else:
            params["api_key"] = key
        self._http = httpx.Client(
            base_url=self.base_url + "/",
            headers=headers,
            params=params,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
            follow_redirects=False,
        )

    # -- lifecycle -----------------------------------------------------------------------------------------------
    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> TmdbClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- endpoints -----------------------------------------------------------------------------------------------
    def genres(self) -> dict[int, str]:
        """TMDB's movie genres, id to name (``GET /genre/movie/list``)."""
        body = self._get("genre/movie/list", {"language": self.language}, what="the genre list")
        items = body.get("genres")
        if not isinstance(items, list):
            raise TmdbRequestFailed("TMDB's genre list has no 'genres' array; is the base URL a TMDB API v3?")
        names: dict[int, str] = {}
        for item in items:
            if isinstance(item, dict) and _is_int(item.get("id")) and isinstance(item.get("name"), str):
                name = item["name"].strip()
                if name:
                    names[item["id"]] = name[:64]
        return names

    def discover(self, page: int, genres: Mapping[int, str], *, stop: threading.Event | None = None) -> DiscoverPage:
        """One page of the most popular movies (``GET /discover/movie``), valid items mapped to drafts.

        Setting ``stop`` (another thread) ends a wait for a retry at once and gives up.
        """
        if not 1 <= page <= MAX_PAGE:
            raise ValueError(f"TMDB pages run from 1 to {MAX_PAGE}, not {page}")
        params = {
            "sort_by": "popularity.desc",
            "include_adult": "false",
            "include_video": "false",
            "language": self.language,
            "page": str(page),
        }
        body = self._get("discover/movie", params, what=f"page {page} of /discover/movie", stop=stop)
        results = body.get("results")
        if not isinstance(results, list):
            raise TmdbRequestFailed(f"page {page} of /discover/movie has no 'results' array")
        total_pages = body.get("total_pages")
        total_results = body.get("total_results")
        drafts: list[MovieDraft] = []
        skipped: list[SkippedItem] = []
        for item in results:
            try:
                drafts.append(draft_from_item(item, genres))
            except InvalidItem as exc:
                skipped.append(SkippedItem(item.get("id") if isinstance(item, dict) else None, str(exc)))
        if skipped:
            log.info("tmdb.items_skipped", page=page, skipped=len(skipped), first_reason=skipped[0].reason)
        return DiscoverPage(
            page=page,
            total_pages=total_pages if _is_int(total_pages) and total_pages >= 0 else page,
            total_results=total_results if _is_int(total_results) and total_results >= 0 else 0,
            drafts=tuple(drafts),
            skipped=tuple(skipped),
        )

    # -- transport -----------------------------------------------------------------------------------------------
    def _get(
        self, path: str, params: dict[str, str], *, what: str, stop: threading.Event | None = None
    ) -> dict[str, Any]:
        stop = stop if stop is not None else threading.Event()

        def wait(seconds: float) -> None:
            stop.wait(seconds)  # not time.sleep: setting ``stop`` cuts the wait short

        def before_sleep(state: RetryCallState) -> None:
            self.stats.bump("retries")
            error = state.outcome.exception() if state.outcome is not None else None
            wait = state.next_action.sleep if state.next_action is not None else 0.0
            log.warning("tmdb.retry", request=what, attempt=state.attempt_number, wait_seconds=wait, error=str(error))

        retrying = Retrying(
            stop=stop_after_attempt(self.max_attempts) | stop_when_event_set(stop),
            wait=_RetryAfterOrBackoff(self._backoff),
            retry=retry_if_exception_type((_Retryable, httpx.TimeoutException, httpx.NetworkError)),
            sleep=wait,
            before_sleep=before_sleep,
            reraise=True,
        )
        try:
            return retrying(self._get_once, path, params, what, stop)
        except _Retryable as exc:
            raise TmdbRequestFailed(f"{what} failed after {self.max_attempts} attempts: {exc}") from None
        except (httpx.TimeoutException, httpx.NetworkError) as exc:
            reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            raise TmdbRequestFailed(
                f"{what} failed after {self.max_attempts} attempts: cannot reach {self.base_url} ({reason})"
            ) from None

    def _get_once(self, path: str, params: dict[str, str], what: str, stop: threading.Event) -> dict[str, Any]:
        if stop.is_set():
            raise TmdbRequestFailed(f"{what}: the run was stopped")
        self.stats.bump("requests")
        response = self._http.get(path, params=params)
        status = response.status_code
        if status == 401:
            detail = _status_message(response) or "HTTP 401"
            raise TmdbAuthError(f"TMDB rejected the API key: {detail}. Check TMDB_API_KEY")
        if status == 429:
            self.stats.bump("rate_limited")
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            if retry_after is not None and retry_after > self.max_retry_after:
                raise TmdbRequestFailed(
                    f"{what}: TMDB asks to wait {retry_after:.0f} s (rate limit), longer than the "
                    f"{self.max_retry_after:.0f} s this seeder waits; run it again later to resume"
                )
            raise _Retryable("HTTP 429 Too Many Requests", retry_after=retry_after)
        if status in _RETRY_STATUSES:
            raise _Retryable(f"HTTP {status}")
        if status != 200:
            detail = _status_message(response)
            raise TmdbRequestFailed(f"{what}: TMDB answered HTTP {status}" + (f": {detail}" if detail else ""))
        try:
            body = response.json()
        except ValueError:
            raise TmdbRequestFailed(f"{what}: the answer is not JSON; is the base URL a TMDB API v3?") from None
        if not isinstance(body, dict):
            raise TmdbRequestFailed(f"{what}: the answer is not a JSON object")
        return body


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _number(item: Mapping[str, Any], name: str, *, integer: bool = False) -> float:
    value = item.get(name)
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidItem(f"{name} is not a number: {value!r}")
    if not math.isfinite(value):
        raise InvalidItem(f"{name} is not finite")
    if integer and value != int(value):
        raise InvalidItem(f"{name} is not a whole number: {value!r}")
    if value < 0:
        raise InvalidItem(f"{name} is negative: {value!r}")
    return value


def _optional_text(item: Mapping[str, Any], name: str, limit: int) -> str | None:
    value = item.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidItem(f"{name} is not text: {value!r}")
    value = value.strip()
    return value[:limit] or None


def draft_from_item(item: object, genres: Mapping[int, str]) -> MovieDraft:
    """Map one ``/discover/movie`` result to a ``MovieDraft``; raises ``InvalidItem`` when it cannot be a movie."""
    if not isinstance(item, dict):
        raise InvalidItem(f"result is not an object: {type(item).__name__}")
    tmdb_id = item.get("id")
    if not _is_int(tmdb_id) or not 0 < tmdb_id < 2**31:
        raise InvalidItem(f"id is missing or not a positive 32-bit integer: {tmdb_id!r}")
    title = item.get("title")
    if not isinstance(title, str) or not title.strip():
        raise InvalidItem("title is missing or empty")
    if item.get("adult") is True:
        raise InvalidItem("adult title")
    overview = item.get("overview")
    if overview is not None and not isinstance(overview, str):
        raise InvalidItem("overview is not text")
    try:
        release_date = parse_release_date(item.get("release_date"))
    except ValueError as exc:
        raise InvalidItem(f"release_date is malformed: {item.get('release_date')!r}") from exc
    genre_ids = item.get("genre_ids")
    if genre_ids is None:
        genre_ids = []
    if not isinstance(genre_ids, list) or not all(_is_int(g) for g in genre_ids):
        raise InvalidItem(f"genre_ids is not a list of integers: {genre_ids!r}")
    vote_average = float(_number(item, "vote_average"))
    if vote_average > 10:
        raise InvalidItem(f"vote_average is outside 0-10: {vote_average!r}")
    language = _optional_text(item, "original_language", 16)
    try:
        return MovieDraft(
            external_key=f"{TMDB_KEY_PREFIX}:{tmdb_id}",
            title=title,
            release_date=release_date,
            overview=(overview or "").strip(),
            genres=tuple(genres[g] for g in genre_ids if g in genres),
            vote_average=vote_average,
            vote_count=int(_number(item, "vote_count", integer=True)),
            popularity=float(_number(item, "popularity")),
            poster_path=_optional_text(item, "poster_path", 300),
            tmdb_id=tmdb_id,
            original_language=language.lower() if language else None,
        )
    except ValueError as exc:  # the draft's own rules, e.g. an implausible year
        raise InvalidItem(str(exc)) from exc
