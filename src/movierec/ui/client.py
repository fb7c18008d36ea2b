"""The API client the UI uses: httpx with timeouts, typed results, and two kinds of failure.

``ApiError`` is an answer from the API (``{"error": {"code", "message"}}``): show its message. ``ApiUnavailable``
means the API could not be reached or said it is temporarily unavailable: show one notice. A request that could not
even connect is tried again a couple of times (tenacity), which is safe for every method since nothing was sent.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import httpx
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from movierec.log import get_logger

log = get_logger(__name__)

DEFAULT_TIMEOUT = httpx.Timeout(15.0, connect=3.0)
MAX_PAGE = 100  # the API caps page sizes at 100
MAX_OFFSET = 10_000


class ApiError(Exception):
    """The API answered with an error; ``message`` is the API's own words."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


class ApiUnavailable(Exception):
    """The API is down, unreachable, too slow, or said it is temporarily unavailable; ``message`` says which."""

    def __init__(self, message: str, base_url: str) -> None:
        super().__init__(message)
        self.message = message
        self.base_url = base_url


def shown_genres(genres: Iterable[str]) -> list[str]:
    """The genres people are shown: none empty, none a placeholder such as "(no genres listed)"."""
    return [g for g in genres if g and not g.startswith("(")]


@dataclass(frozen=True, slots=True)
class Movie:
    id: int
    title: str
    year: int | None = None
    genres: tuple[str, ...] = ()
    overview: str = ""
    vote_average: float = 0.0
    vote_count: int = 0
    popularity: float = 0.0
    poster_url: str | None = None
    release_date: str | None = None
    tmdb_id: int | None = None
    score: float | None = None  # set on recommendations and similar movies
    reason: str | None = None
    predicted_rating: float | None = None  # on recommendations: what the model expects this user to give it
    vote_source: str | None = None  # who gave vote_average/vote_count: TMDB, IMDb, MovieLens (None: not known)
    community_average: float | None = None  # this app's own ratings of the movie: their mean (None: nobody yet)...
    community_count: int | None = None  # ...and how many (None: the API could not read them)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Movie:
        return cls(
            id=int(data["id"]),
            title=str(data["title"]),
            year=data.get("year"),
            genres=tuple(data.get("genres") or ()),
            overview=data.get("overview") or "",
            vote_average=float(data.get("vote_average") or 0.0),
            vote_count=int(data.get("vote_count") or 0),
            popularity=float(data.get("popularity") or 0.0),
            poster_url=data.get("poster_url") or None,
            release_date=data.get("release_date"),
            tmdb_id=data.get("tmdb_id"),
            score=float(data["score"]) if data.get("score") is not None else None,
            reason=data.get("reason"),
            predicted_rating=_optional_float(data.get("predicted_rating")),
            vote_source=data.get("vote_source") or None,
            community_average=_optional_float(data.get("community_average")),
            community_count=_optional_int(data.get("community_count")),
        )

    @property
    def label(self) -> str:
        return f"{self.title} ({self.year})" if self.year else self.title


def _optional_float(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _optional_int(value: object) -> int | None:
    return int(value) if isinstance(value, int) and not isinstance(value, bool) else None


@dataclass(frozen=True, slots=True)
class SavedRating:
    """What ``POST /rate`` stored, and the movie's community numbers just after (None: the API did not say)."""

    rating: int
    community_average: float | None = None
    community_count: int | None = None


@dataclass(frozen=True, slots=True)
class Session:
    user_id: int
    username: str
    access_token: str
    expires_in: int


@dataclass(frozen=True, slots=True)
class RatedMovie:
    movie: Movie
    rating: int
    rated_at: dt.datetime


@dataclass(frozen=True, slots=True)
class ListedMovie:
    """A movie on the user's watchlist or not-interested list."""

    movie: Movie
    added_at: dt.datetime


@dataclass(frozen=True, slots=True)
class SearchPage:
    total: int
    limit: int
    offset: int
    items: list[Movie]


@dataclass(frozen=True, slots=True)
class Recommendations:
    strategy: str
    cached: bool
    items: list[Movie]


@dataclass(frozen=True, slots=True)
class Genre:
    name: str
    count: int


@dataclass(frozen=True, slots=True)
class Strategies:
    """The strategies the API accepts, read from its OpenAPI document, and the one it uses when given none."""

    names: tuple[str, ...] = ()
    default: str | None = None


def strategies_from_openapi(document: dict[str, Any]) -> Strategies:
    """The ``strategy`` query parameter of ``GET /recommendations/{user_id}``: its enum and default, if declared."""
    operation = document.get("paths", {}).get("/recommendations/{user_id}", {}).get("get", {})
    for parameter in operation.get("parameters", []):
        if parameter.get("name") != "strategy" or parameter.get("in") != "query":
            continue
        schema = parameter.get("schema") or {}
        branches = [schema, *schema.get("anyOf", []), *schema.get("oneOf", [])]
        names: list[str] = []
        for branch in branches:
            for value in branch.get("enum") or ():
                if isinstance(value, str) and value not in names:
                    names.append(value)
        default = schema.get("default")
        return Strategies(tuple(names), default if isinstance(default, str) and default in names else None)
    return Strategies()


class ApiClient:
    """One instance per API base URL; thread safe (httpx pools connections). Tokens are passed per call."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        connect_attempts: int = 3,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.connect_attempts = connect_attempts
        self._http = httpx.Client(
            base_url=self.base_url,
            timeout=timeout,
            transport=transport,
            headers={"Accept": "application/json", "User-Agent": "movierec-ui"},
            follow_redirects=False,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- accounts ------------------------------------------------------------------------------------------------
    def register(self, username: str, password: str) -> int:
        body = self._request("POST", "/register", json={"username": username, "password": password})
        return int(body["user_id"])

    def login(self, username: str, password: str) -> Session:
        body = self._request("POST", "/login", json={"username": username, "password": password})
        return Session(int(body["user_id"]), username, str(body["access_token"]), int(body["expires_in"]))

    def logout(self, token: str) -> bool:
        """Revoke the token (``POST /logout``); False when this API has no logout (404/405: nothing to revoke).

        A token the API already refuses (401) is as good as revoked, so that is True too.
        """
        try:
            self._request("POST", "/logout", token=token, expect_body=False)
        except ApiError as exc:
            if exc.status in (404, 405):
                return False
            if exc.status != 401:
                raise
        return True

    # -- ratings -------------------------------------------------------------------------------------------------
    def rate(self, token: str, movie_id: int, rating: int) -> int:
        """Save (or replace) the user's rating; returns the rating the API stored."""
        return self.rate_saved(token, movie_id, rating).rating

    def rate_saved(self, token: str, movie_id: int, rating: int) -> SavedRating:
        """Save (or replace) the user's rating; returns it with the movie's community numbers after saving."""
        body = self._request("POST", "/rate", json={"movie_id": movie_id, "rating": rating}, token=token)
        return SavedRating(
            int(body["rating"]),
            _optional_float(body.get("community_average")),
            _optional_int(body.get("community_count")),
        )

    def my_ratings(self, token: str, user_id: int, limit: int = 50, offset: int = 0) -> tuple[int, list[RatedMovie]]:
        body = self._request("GET", f"/my-ratings/{user_id}", params={"limit": limit, "offset": offset}, token=token)
        items = [
            RatedMovie(Movie.from_json(i["movie"]), int(i["rating"]), dt.datetime.fromisoformat(i["rated_at"]))
            for i in body["items"]
        ]
        return int(body["total"]), items

    def all_my_ratings(self, token: str, user_id: int) -> list[RatedMovie]:
        """Every rating of the user, newest first (page by page, as far as the API lets one page)."""
        total, items = self.my_ratings(token, user_id, MAX_PAGE, 0)
        while len(items) < total and len(items) <= MAX_OFFSET:
            _, more = self.my_ratings(token, user_id, MAX_PAGE, len(items))
            if not more:
                break
            items.extend(more)
        return items

    def unrate(self, token: str, movie_id: int) -> None:
        """Take the user's rating of the movie back (nothing to take back is fine too)."""
        self._request("DELETE", f"/rate/{movie_id}", token=token, expect_body=False)

    # -- the watchlist and "not interested" ----------------------------------------------------------------------
    def add_to_list(self, token: str, name: str, movie_id: int) -> bool:
        """Put the movie on the user's ``watchlist`` or ``not-interested`` list; False when it was there already."""
        body = self._request("POST", f"/{_list_path(name)}/{movie_id}", token=token)
        return bool(body["added"])

    def remove_from_list(self, token: str, name: str, movie_id: int) -> None:
        self._request("DELETE", f"/{_list_path(name)}/{movie_id}", token=token, expect_body=False)

    def list_page(
        self, token: str, name: str, user_id: int, limit: int = 50, offset: int = 0
    ) -> tuple[int, list[ListedMovie]]:
        params = {"limit": limit, "offset": offset}
        body = self._request("GET", f"/{_list_path(name)}/{user_id}", params=params, token=token)
        items = [
            ListedMovie(Movie.from_json(i["movie"]), dt.datetime.fromisoformat(i["added_at"])) for i in body["items"]
        ]
        return int(body["total"]), items

    def whole_list(self, token: str, name: str, user_id: int) -> list[ListedMovie]:
        """Every movie on the list, most recently added first (page by page, as far as the API lets one page)."""
        total, items = self.list_page(token, name, user_id, MAX_PAGE, 0)
        while len(items) < total and len(items) <= MAX_OFFSET:
            _, more = self.list_page(token, name, user_id, MAX_PAGE, len(items))
            if not more:
                break
            items.extend(more)
        return items

    # -- recommendations -----------------------------------------------------------------------------------------
    def recommendations(
        self, token: str, user_id: int, strategy: str | None = None, genre: str | None = None, limit: int = 20
    ) -> Recommendations:
        params: dict[str, Any] = {"limit": limit}
        if strategy:
            params["strategy"] = strategy
        if genre:
            params["genre"] = genre
        body = self._request("GET", f"/recommendations/{user_id}", params=params, token=token)
        return Recommendations(
            str(body["strategy"]), bool(body.get("cached")), [Movie.from_json(i) for i in body["items"]]
        )

    def similar(self, movie_id: int, limit: int = 10, token: str | None = None) -> tuple[Movie, list[Movie]]:
        """Movies like this one; with the user's token, none they said they are not interested in."""
        body = self._request("GET", f"/movies/{movie_id}/similar", params={"limit": limit}, token=token)
        return Movie.from_json(body["movie"]), [Movie.from_json(i) for i in body["items"]]

    def strategies(self) -> Strategies:
        return strategies_from_openapi(self._request("GET", "/openapi.json"))

    # -- catalogue -----------------------------------------------------------------------------------------------
    def search(self, q: str | None = None, genre: str | None = None, limit: int = 20, offset: int = 0) -> SearchPage:
        params: dict[str, Any] = {"limit": limit, "offset": offset}
        if q:
            params["q"] = q
        if genre:
            params["genre"] = genre
        body = self._request("GET", "/search", params=params)
        return SearchPage(
            int(body["total"]), int(body["limit"]), int(body["offset"]), [Movie.from_json(i) for i in body["items"]]
        )

    def latest(self, limit: int = 20, offset: int = 0) -> list[Movie]:
        body = self._request("GET", "/movies/latest", params={"limit": limit, "offset": offset})
        return [Movie.from_json(i) for i in body["items"]]

    def movie(self, movie_id: int) -> Movie:
        return Movie.from_json(self._request("GET", f"/movies/{movie_id}"))

    def genres(self) -> list[Genre]:
        body = self._request("GET", "/genres")
        return [Genre(str(i["name"]), int(i["count"])) for i in body["items"]]

    def health(self) -> dict[str, Any]:
        body: dict[str, Any] = self._request("GET", "/healthz")
        return body

    # -- transport -----------------------------------------------------------------------------------------------
    def _request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: dict[str, Any] | None = None,
        token: str | None = None,
        expect_body: bool = True,
    ) -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token else None
        try:
            for attempt in Retrying(
                retry=retry_if_exception_type(httpx.ConnectError),
                stop=stop_after_attempt(self.connect_attempts),
                wait=wait_exponential(multiplier=0.1, max=1.0),
                reraise=True,
            ):
                with attempt:
                    response = self._http.request(method, path, params=params, json=json, headers=headers)
        except httpx.TimeoutException:
            log.warning("api.timeout", method=method, path=path)
            raise ApiUnavailable("it did not answer in time", self.base_url) from None
        except httpx.TransportError as exc:
            log.warning("api.unreachable", method=method, path=path, error=type(exc).__name__)
            raise ApiUnavailable("no connection could be made", self.base_url) from None
        return self._decode(response, expect_body)

    def _decode(self, response: httpx.Response, expect_body: bool = True) -> Any:
        try:
            body = response.json() if response.content else None
        except ValueError:
            body = None
        if response.is_success:
            if body is None and expect_body:
                raise ApiUnavailable("it sent an answer that cannot be read", self.base_url)
            return body
        error = body.get("error") if isinstance(body, dict) else None
        code = str(error.get("code", "error")) if isinstance(error, dict) else "error"
        message = str(error.get("message", "")) if isinstance(error, dict) else ""
        if response.status_code in (502, 503, 504) or error is None and response.status_code >= 500:
            raise ApiUnavailable(message or "it is temporarily unavailable", self.base_url)
        if not message:
            message = f"The movie service answered {response.status_code}."
        raise ApiError(response.status_code, code, plain_sentences(message))


LISTS = ("watchlist", "not-interested")


def _list_path(name: str) -> str:
    if name not in LISTS:
        raise ValueError(f"unknown list {name!r}: one of {', '.join(LISTS)}")
    return name


_FIELD_PREFIX = re.compile(r"^(?P<field>[A-Za-z_][\w.]*): (?P<text>.+)$", re.DOTALL)


def plain_sentences(message: str) -> str:
    """The API's ``field: field must ...; other: ...`` as sentences: "Password must be at least 8 characters."."""
    sentences = []
    for part in (p.strip() for p in message.split("; ")):
        if not part:
            continue
        found = _FIELD_PREFIX.match(part)
        if found:
            field = found["field"].rsplit(".", 1)[-1]
            text = found["text"].strip()
            if not text.lower().startswith(field.lower().replace("_", " ")) and not text.lower().startswith(field):
                text = f"{field.replace('_', ' ')}: {text}"
            part = text
        part = part[0].upper() + part[1:]
        sentences.append(part if part[-1] in ".!?" else part + ".")
    return " ".join(sentences) or message
