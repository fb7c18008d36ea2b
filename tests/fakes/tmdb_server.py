"""A fake TMDB API v3 on 127.0.0.1: real HTTP, TMDB's response shapes, scripted failures.

Serves ``GET /3/genre/movie/list`` and ``GET /3/discover/movie?page=N`` for ``pages`` pages of 20 deterministic
synthetic movies ("Fake Movie 1007", ...). Authentication is checked like TMDB does it: the ``api_key`` query
parameter or an ``Authorization: Bearer`` read access token; anything else gets TMDB's 401 (status_code 7).

Scripted behaviour:

* ``fail(status, page=..., times=..., retry_after=...)``: answer matching discover requests with ``status``
  (``429`` with ``Retry-After``, ``500``...) ``times`` times (``None``: for ever); ``from_page`` matches every page
  from there on.
* ``add_malformed(page, items)``: extra invalid items in a page's ``results``.
* ``requests``: every request received (arrival time, path, page, answered status), for assertions.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

PAGE_SIZE = 20
API_PREFIX = "/3"
DEFAULT_API_KEY = "0123456789abcdef0123456789abcdef"
DEFAULT_TOKEN = (
    "eyJhbGciOiJIUzI1NiJ9.eyJhdWQiOiIwMTIzNDU2Nzg5YWJjZGVmMDEyMzQ1Njc4OWFiY2RlZiIsInNjb3BlcyI6WyJhcGlfcmVhZCJdfQ"
    ".c2lnbmF0dXJlLW9mLWEtZmFrZS1yZWFkLWFjY2Vzcy10b2tlbg"
)
GENRES = (
    (28, "Action"),
    (12, "Adventure"),
    (16, "Animation"),
    (35, "Comedy"),
    (80, "Crime"),
    (99, "Documentary"),
    (18, "Drama"),
    (10751, "Family"),
    (14, "Fantasy"),
    (36, "History"),
    (27, "Horror"),
    (10402, "Music"),
    (9648, "Mystery"),
    (10749, "Romance"),
    (878, "Science Fiction"),
    (10770, "TV Movie"),
    (53, "Thriller"),
    (10752, "War"),
    (37, "Western"),
)
INVALID_KEY = {
    "status_code": 7,
    "status_message": "Invalid API key: You must be granted a valid key.",
    "success": False,
}
NOT_FOUND = {"status_code": 34, "status_message": "The resource you requested could not be found.", "success": False}
INVALID_PAGE = {
    "status_code": 22,
    "status_message": "Invalid page: Pages start at 1 and max at 500. They are expected to be an integer.",
    "success": False,
}
RATE_LIMITED = {
    "status_code": 25,
    "status_message": "Your request count (41) is over the allowed limit of 40.",
    "success": False,
}
INTERNAL_ERROR = {
    "status_code": 11,
    "status_message": "Internal error: Something went wrong, contact TMDb.",
    "success": False,
}


def movie_id(rank: int) -> int:
    """The TMDB id of the movie at popularity ``rank`` (1-based)."""
    return 1000 + 7 * rank


def fake_movie(rank: int) -> dict[str, Any]:
    """The ``rank``-th most popular fake movie, as TMDB's discover results describe a movie."""
    tmdb_id = movie_id(rank)
    released = dt.date(1950 + tmdb_id % 75, 1 + tmdb_id % 12, 1 + tmdb_id % 28)
    genre_ids = [GENRES[tmdb_id % len(GENRES)][0], GENRES[(tmdb_id // 3) % len(GENRES)][0]]
    title = f"Fake Movie {tmdb_id}"
    return {
        "adult": False,
        "backdrop_path": f"/backdrop{tmdb_id}.jpg",
        "genre_ids": list(dict.fromkeys(genre_ids)),
        "id": tmdb_id,
        "original_language": ("en", "fr", "ja", "es")[tmdb_id % 4],
        "original_title": title,
        "overview": f"The story of fake movie number {tmdb_id}, told in {released.year}.",
        "popularity": round(5000.0 / rank, 3),
        "poster_path": f"/poster{tmdb_id}.jpg",
        "release_date": released.isoformat(),
        "title": title,
        "video": False,
        "vote_average": round((tmdb_id * 37 % 91) / 10 + 1.0, 1),
        "vote_count": (tmdb_id * 131) % 25000,
    }


@dataclass
class Fault:
    status: int
    pages: range
    remaining: int | None  # None: for ever
    retry_after: str | None = None
    path: str = "/discover/movie"


@dataclass(frozen=True)
class Received:
    at: float  # time.monotonic() on arrival
    path: str
    page: int | None
    status: int
    auth: str  # "api_key", "bearer" or "none"


@dataclass
class FakeTmdb:
    pages: int = 25
    api_key: str = DEFAULT_API_KEY
    token: str = DEFAULT_TOKEN
    reported_total_pages: int | None = None
    requests: list[Received] = field(default_factory=list)
    _faults: list[Fault] = field(default_factory=list)
    _malformed: dict[int, list[object]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    # -- control -------------------------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        assert self._server is not None, "start() the fake first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}{API_PREFIX}"

    def fail(
        self,
        status: int,
        *,
        page: int | None = None,
        from_page: int | None = None,
        times: int | None = 1,
        retry_after: float | str | None = None,
        path: str = "/discover/movie",
    ) -> None:
        if page is not None:
            pages = range(page, page + 1)
        elif from_page is not None:
            pages = range(from_page, 10**6)
        else:
            pages = range(0, 10**6)
        header = None if retry_after is None else str(retry_after)
        with self._lock:
            self._faults.append(Fault(status, pages, times, header, path))

    def heal(self) -> None:
        with self._lock:
            self._faults.clear()

    def add_malformed(self, page: int, items: list[object]) -> None:
        with self._lock:
            self._malformed.setdefault(page, []).extend(items)

    def ranks(self, pages: int | None = None) -> range:
        return range(1, (self.pages if pages is None else pages) * PAGE_SIZE + 1)

    def expected_ids(self, pages: int | None = None) -> set[int]:
        return {movie_id(rank) for rank in self.ranks(pages)}

    def received(self, path: str = "/discover/movie", page: int | None = None) -> list[Received]:
        with self._lock:
            return [r for r in self.requests if r.path == path and (page is None or r.page == page)]

    # -- serving -------------------------------------------------------------------------------------------------
    def start(self) -> FakeTmdb:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # http.server's naming
                status, body, headers = fake._answer(self)
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json;charset=utf-8")
                self.send_header("Content-Length", str(len(payload)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-tmdb", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(5)

    def __enter__(self) -> FakeTmdb:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _answer(self, request: BaseHTTPRequestHandler) -> tuple[int, Any, dict[str, str]]:
        arrived = time.monotonic()
        parts = urlsplit(request.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        path = parts.path.removeprefix(API_PREFIX)
        page_text = query.get("page")
        page = int(page_text) if page_text is not None and page_text.isdigit() else None
        bearer = request.headers.get("Authorization", "")
        auth = "bearer" if bearer.startswith("Bearer ") else "api_key" if "api_key" in query else "none"
        status, body, headers = self._respond(path, query, page, bearer)
        with self._lock:
            self.requests.append(Received(arrived, path, page, status, auth))
        return status, body, headers

    def _respond(
        self, path: str, query: dict[str, str], page: int | None, bearer: str
    ) -> tuple[int, Any, dict[str, str]]:
        authorised = query.get("api_key") == self.api_key or bearer == f"Bearer {self.token}"
        if not authorised:
            return 401, INVALID_KEY, {}
        with self._lock:
            for fault in self._faults:
                if fault.path == path and (page in fault.pages or path != "/discover/movie"):
                    if fault.remaining is not None:
                        if fault.remaining <= 0:
                            continue
                        fault.remaining -= 1
                    headers = {} if fault.retry_after is None else {"Retry-After": fault.retry_after}
                    body = RATE_LIMITED if fault.status == 429 else INTERNAL_ERROR
                    return fault.status, body, headers
            malformed = list(self._malformed.get(page or 0, ()))
        if path == "/genre/movie/list":
            return 200, {"genres": [{"id": gid, "name": name} for gid, name in GENRES]}, {}
        if path != "/discover/movie":
            return 404, NOT_FOUND, {}
        if page is None:
            page = 1 if "page" not in query else 0
        if not 1 <= page <= 500:
            return 400, INVALID_PAGE, {}
        total_pages = self.reported_total_pages if self.reported_total_pages is not None else self.pages
        results: list[object] = []
        if page <= self.pages:
            first = (page - 1) * PAGE_SIZE + 1
            results = [fake_movie(rank) for rank in range(first, first + PAGE_SIZE)]
        results.extend(malformed)
        body = {
            "page": page,
            "results": results,
            "total_pages": total_pages,
            "total_results": total_pages * PAGE_SIZE,
        }
        return 200, body, {}


# Items TMDB-shaped enough to reach the mapper, each invalid for one reason.
MALFORMED_ITEMS: list[object] = [
    {**fake_movie(900_001), "id": None},
    {**fake_movie(900_002), "title": ""},
    {key: value for key, value in fake_movie(900_003).items() if key != "title"},
    {**fake_movie(900_004), "release_date": "2019-13-45"},
    {**fake_movie(900_005), "vote_average": 11.5},
    {**fake_movie(900_006), "vote_count": -3},
    {**fake_movie(900_007), "popularity": "very"},
    {**fake_movie(900_008), "genre_ids": "28,12"},
    "not a movie",
]
