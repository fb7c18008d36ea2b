"""The TMDB seeder against a fake TMDB served over real HTTP, into the catalogue on the embedded adapters."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from movierec.ingest.seeder import STATE_FILE_NAME, SeedState, TmdbSeeder
from movierec.ingest.tmdb import TmdbClient
from movierec.search.port import SearchQuery
from movierec.settings import load_settings
from movierec.wiring import Container, build_container
from tests.conftest import index_everything
from tests.fakes.tmdb_server import DEFAULT_API_KEY, DEFAULT_TOKEN, MALFORMED_ITEMS, PAGE_SIZE, FakeTmdb, fake_movie

REPO_ROOT = Path(__file__).resolve().parents[2]
SERVICE_VARIABLES = ("DATABASE_URL", "REDIS_URL", "ELASTICSEARCH_URL", "KAFKA_BOOTSTRAP_SERVERS", "SECRET_KEY")


@pytest.fixture
def fake_tmdb() -> Iterator[FakeTmdb]:
    with FakeTmdb(pages=25) as fake:
        yield fake


def client_for(fake: FakeTmdb, key: str = DEFAULT_API_KEY, **options: object) -> TmdbClient:
    """A client with quick backoff, so retries and permanent failures do not slow the tests down."""
    settings: dict[str, object] = {
        "base_url": fake.url,
        "timeout": 5.0,
        "max_attempts": 4,
        "backoff_seconds": 0.01,
        "max_backoff_seconds": 0.05,
    }
    settings.update(options)
    return TmdbClient(key, **settings)  # type: ignore[arg-type]


def seeder_for(container: Container, client: TmdbClient, **options: int) -> TmdbSeeder:
    return TmdbSeeder(client, container.catalogue, container.settings.data_dir / STATE_FILE_NAME, **options)


def stored_tmdb_ids(container: Container) -> set[int]:
    with container.store.uow() as uow:
        movies = uow.movies.get_many(uow.movies.all_ids())
    return {movie.tmdb_id for movie in movies.values() if movie.tmdb_id is not None}


def test_a_full_run_stores_every_movie_and_search_finds_each(container: Container, fake_tmdb: FakeTmdb) -> None:
    with client_for(fake_tmdb) as client:
        report = seeder_for(container, client).run(pages=25)

    assert report.error is None
    assert (report.start_page, report.last_page, report.pages_done) == (1, 25, 25)
    assert (report.new, report.updated, report.unchanged, report.skipped) == (25 * PAGE_SIZE, 0, 0, 0)
    assert stored_tmdb_ids(container) == fake_tmdb.expected_ids()
    assert {r.page for r in fake_tmdb.received()} == set(range(1, 26))
    assert {r.auth for r in fake_tmdb.requests} == {"api_key"}

    # One movie, field by field, as TMDB described it.
    item = fake_movie(1)
    with container.store.uow() as uow:
        [movie_id] = uow.movies.ids_by_external_key([f"tmdb:{item['id']}"]).values()
        movie = uow.movies.get(movie_id)
    assert movie is not None
    assert (movie.title, movie.tmdb_id, movie.overview) == (item["title"], item["id"], item["overview"])
    assert movie.release_date is not None and movie.release_date.isoformat() == item["release_date"]
    assert movie.year == int(item["release_date"][:4])
    assert (movie.vote_average, movie.vote_count, movie.popularity) == (
        item["vote_average"],
        item["vote_count"],
        item["popularity"],
    )
    assert movie.poster_path == item["poster_path"]
    assert movie.poster_url() == f"https://image.tmdb.org/t/p/w342{item['poster_path']}"
    genre_names = {28: "Action", 12: "Adventure", 16: "Animation", 35: "Comedy", 80: "Crime", 99: "Documentary"}
    genre_names |= {18: "Drama", 10751: "Family", 14: "Fantasy", 36: "History", 27: "Horror", 10402: "Music"}
    genre_names |= {9648: "Mystery", 10749: "Romance", 878: "Science Fiction", 10770: "TV Movie", 53: "Thriller"}
    genre_names |= {10752: "War", 37: "Western"}
    assert set(movie.genres) == {genre_names[g] for g in item["genre_ids"]}

    index_everything(container)
    with container.store.uow() as uow:
        assert container.index.ids() == set(uow.movies.all_ids())
    titles = {f"Fake Movie {tmdb_id}": tmdb_id for tmdb_id in fake_tmdb.expected_ids()}
    for title, tmdb_id in titles.items():
        page = container.search.search(title, None, limit=3, offset=0)
        assert page.movies and page.movies[0].tmdb_id == tmdb_id, title
    dramas = container.index.search(SearchQuery(genre="Drama", limit=1))
    expected_dramas = sum(1 for rank in fake_tmdb.ranks() if 18 in fake_movie(rank)["genre_ids"])
    assert dramas.total == expected_dramas > 0


def test_a_second_run_changes_nothing(container: Container, fake_tmdb: FakeTmdb) -> None:
    with client_for(fake_tmdb) as client:
        first = seeder_for(container, client).run(pages=25)
        assert first.new == 25 * PAGE_SIZE and first.error is None
        state = SeedState.load(container.settings.data_dir / STATE_FILE_NAME)
        assert state is not None and state.complete and state.last_page == 25
        requests_before = len(fake_tmdb.received())

        second = seeder_for(container, client).run(pages=25)

    assert second.error is None and not second.resumed
    assert (second.start_page, second.last_page) == (1, 25)  # a finished run starts again from the top
    assert len(fake_tmdb.received()) - requests_before == 25
    assert (second.new, second.updated, second.unchanged) == (0, 0, 25 * PAGE_SIZE)
    assert container.catalogue.count() == 25 * PAGE_SIZE
    assert container.relay.pending() == 0


def test_a_changed_movie_is_updated_not_duplicated(container: Container, fake_tmdb: FakeTmdb) -> None:
    with client_for(fake_tmdb) as client:
        seeder_for(container, client).run(pages=2)
        changed = {**fake_movie(3), "vote_average": 1.5, "title": "Fake Movie Renamed"}
        fake_tmdb.add_malformed(2, [changed])  # a result appended to page 2: the same id, new values
        report = seeder_for(container, client).run(pages=2)
    assert (report.new, report.updated) == (0, 1)
    assert report.duplicates == 1  # movie 3 came on page 1 and again on page 2; the later copy wins
    assert container.catalogue.count() == 2 * PAGE_SIZE
    hits = container.catalogue.latest(100)
    renamed = [m for m in hits if m.tmdb_id == changed["id"]]
    assert [(m.title, m.vote_average) for m in renamed] == [("Fake Movie Renamed", 1.5)]


def test_a_read_access_token_is_sent_as_bearer(container: Container, fake_tmdb: FakeTmdb) -> None:
    with client_for(fake_tmdb, key=DEFAULT_TOKEN) as client:
        assert client.bearer
        report = seeder_for(container, client).run(pages=2)
    assert report.error is None and report.new == 2 * PAGE_SIZE
    assert {r.auth for r in fake_tmdb.requests} == {"bearer"}


def test_429_waits_exactly_retry_after(container: Container, fake_tmdb: FakeTmdb) -> None:
    fake_tmdb.fail(429, page=3, times=1, retry_after=1)
    with client_for(fake_tmdb) as client:
        report = seeder_for(container, client).run(pages=5)
    assert report.error is None and report.new == 5 * PAGE_SIZE
    assert (report.rate_limited, report.retries) == (1, 1)
    limited, retried = fake_tmdb.received(page=3)
    assert (limited.status, retried.status) == (429, 200)
    waited = retried.at - limited.at
    assert 0.95 <= waited <= 1.5, f"waited {waited:.3f} s for Retry-After: 1"


def test_a_retry_after_longer_than_the_bound_stops_the_run(container: Container, fake_tmdb: FakeTmdb) -> None:
    fake_tmdb.fail(429, page=2, times=1, retry_after=3600)
    with client_for(fake_tmdb) as client:
        report = seeder_for(container, client, pages_per_batch=1).run(pages=5)
    assert report.error is not None and "3600 s" in report.error
    assert report.last_page == 1 and container.catalogue.count() == PAGE_SIZE
    assert len(fake_tmdb.received(page=2)) == 1  # no hammering


def test_500_is_retried_and_succeeds(container: Container, fake_tmdb: FakeTmdb) -> None:
    fake_tmdb.fail(500, page=4, times=2)
    fake_tmdb.fail(503, path="/genre/movie/list", times=1)
    with client_for(fake_tmdb) as client:
        report = seeder_for(container, client).run(pages=5)
    assert report.error is None and report.new == 5 * PAGE_SIZE
    assert [r.status for r in fake_tmdb.received(page=4)] == [500, 500, 200]
    assert [r.status for r in fake_tmdb.received("/genre/movie/list")] == [503, 200]
    assert report.retries == 3
    assert stored_tmdb_ids(container) == fake_tmdb.expected_ids(5)


def test_malformed_items_are_skipped_and_counted(container: Container, fake_tmdb: FakeTmdb) -> None:
    fake_tmdb.add_malformed(2, MALFORMED_ITEMS)
    fake_tmdb.add_malformed(4, MALFORMED_ITEMS[:3])
    with client_for(fake_tmdb) as client:
        report = seeder_for(container, client).run(pages=5)
    assert report.error is None
    assert report.skipped == len(MALFORMED_ITEMS) + 3
    assert report.new == 5 * PAGE_SIZE
    assert stored_tmdb_ids(container) == fake_tmdb.expected_ids(5)


def test_an_interrupted_run_resumes_from_the_remembered_page(container: Container) -> None:
    state_path = container.settings.data_dir / STATE_FILE_NAME
    with FakeTmdb(pages=10) as fake, client_for(fake) as client:
        fake.fail(500, from_page=6, times=None)  # TMDB breaks for good from page 6
        stopped = seeder_for(container, client, pages_per_batch=2).run(pages=10)

        assert stopped.error is not None and "page 6" in stopped.error and "HTTP 500" in stopped.error
        assert (stopped.last_page, stopped.pages_done, stopped.next_page) == (5, 5, 6)
        assert stored_tmdb_ids(container) == fake.expected_ids(5)
        assert len(fake.received(page=6)) == 4  # max_attempts
        state = SeedState.load(state_path)
        assert state is not None and (state.last_page, state.complete) == (5, False)

        fake.heal()
        resumed = seeder_for(container, client, pages_per_batch=2).run(pages=10)
        assert resumed.error is None and resumed.resumed
        assert (resumed.start_page, resumed.last_page, resumed.new) == (6, 10, 5 * PAGE_SIZE)
        assert {r.page for r in fake.received() if r.status == 200} == set(range(1, 11))
        assert [r.page for r in fake.received() if r.status == 200].count(3) == 1  # pages 1-5 not fetched again
        assert stored_tmdb_ids(container) == fake.expected_ids(10)
        state = SeedState.load(state_path)
        assert state is not None and (state.last_page, state.complete) == (10, True)


def test_start_page_overrides_the_state_and_a_short_listing_ends_early(container: Container) -> None:
    with FakeTmdb(pages=4) as fake, client_for(fake) as client:
        fake.fail(500, from_page=3, times=None)
        seeder_for(container, client, pages_per_batch=1).run(pages=4)  # stops after page 2
        fake.heal()
        report = seeder_for(container, client).run(pages=500, start_page=2)
        assert (report.start_page, report.end_page, report.last_page) == (2, 4, 4)  # TMDB reports 4 pages
        assert (report.new, report.unchanged) == (2 * PAGE_SIZE, PAGE_SIZE)
        assert max(r.page or 0 for r in fake.received()) == 4


def test_a_rejected_key_stops_before_storing_anything(container: Container, fake_tmdb: FakeTmdb) -> None:
    with client_for(fake_tmdb, key="ffffffffffffffffffffffffffffffff") as client:
        report = seeder_for(container, client).run(pages=5)
    assert report.error is not None and "rejected the API key" in report.error and "status_code 7" in report.error
    assert report.last_page is None and container.catalogue.count() == 0
    assert len(fake_tmdb.requests) == 1  # a 401 is not retried


# -- the command line ---------------------------------------------------------------------------------------------
def run_cli(args: list[str], data_dir: Path, key: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in (*SERVICE_VARIABLES, "TMDB_API_KEY")}
    env["MOVIEREC_DATA_DIR"] = str(data_dir)
    if key is not None:
        env["TMDB_API_KEY"] = key
    return subprocess.run(
        [sys.executable, *args], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("ffffffffffffffffffffffffffffffff", "TMDB rejected the API key: Invalid API key"),
        ("eyJhbGciOiJIUzI1NiJ9.eyJhdWQiOiJ3cm9uZyJ9.d3Jvbmctc2lnbmF0dXJlLW9mLWEtdG9rZW4", "TMDB rejected the API key"),
        (None, "TMDB_API_KEY is not set"),
        ("", "TMDB_API_KEY is not set"),
    ],
)
def test_cli_with_a_missing_or_rejected_key_says_so_once(
    tmp_path: Path, fake_tmdb: FakeTmdb, key: str | None, message: str
) -> None:
    data_dir = tmp_path / "data"
    result = run_cli(["-m", "movierec", "seed", "tmdb", "--pages", "3", "--base-url", fake_tmdb.url], data_dir, key)
    assert result.returncode != 0
    assert message in result.stderr
    assert result.stderr.count("Error:") == 1 and "Traceback" not in result.stderr
    assert not (data_dir / "movierec.sqlite3").exists()  # nothing was touched
    assert all(r.status == 401 for r in fake_tmdb.requests) and len(fake_tmdb.requests) <= 1


def test_python_seed_tmdb_py_loads_the_pages(tmp_path: Path, fake_tmdb: FakeTmdb) -> None:
    result = run_cli(["seed_tmdb.py", "--pages", "2", "--base-url", fake_tmdb.url], tmp_path / "data", DEFAULT_API_KEY)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "TMDB: pages 1-2 of 1-2 stored; 2 pages done" in result.stdout
    assert f"movies: {2 * PAGE_SIZE} new, 0 updated, 0 unchanged, 0 skipped" in result.stdout
    assert {r.page for r in fake_tmdb.received()} == {1, 2}


@pytest.mark.slow
def test_seed_tmdb_script_stops_and_resumes(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with FakeTmdb(pages=6) as fake:
        # From page 5 TMDB asks to come back in an hour: the run stops at once (the default backoff is seconds).
        fake.fail(429, from_page=5, times=None, retry_after=3600)
        stopped = run_cli(["seed_tmdb.py", "--pages", "6", "--base-url", fake.url], data_dir, DEFAULT_API_KEY)
        assert stopped.returncode != 0, stopped.stdout + stopped.stderr
        assert "Traceback" not in stopped.stderr
        assert "page 5 of /discover/movie: TMDB asks to wait 3600 s" in stopped.stderr
        assert "run it again to resume from page 5" in stopped.stderr
        assert "4 pages done" in stopped.stdout
        state = json.loads((data_dir / STATE_FILE_NAME).read_text())
        assert (state["last_page"], state["complete"]) == (4, False)

        fake.heal()
        resumed = run_cli(["seed_tmdb.py", "--base-url", fake.url, "--pages", "6"], data_dir, DEFAULT_API_KEY)
        assert resumed.returncode == 0, resumed.stdout + resumed.stderr
        assert "pages 5-6 of 5-6 stored (resumed at page 5)" in resumed.stdout
        assert f"{2 * PAGE_SIZE} new, 0 updated" in resumed.stdout

    container = build_container(load_settings(data_dir=data_dir))
    try:
        assert container.catalogue.count() == 6 * PAGE_SIZE
    finally:
        container.close()


@pytest.mark.parametrize(
    "args",
    [["--pages", "0"], ["--pages", "501"], ["--start-page", "7", "--pages", "5"], ["--base-url", "ftp://x/3"]],
)
def test_cli_rejects_bad_options_without_a_traceback(tmp_path: Path, args: list[str]) -> None:
    result = run_cli(["-m", "movierec", "seed", "tmdb", *args], tmp_path / "data", DEFAULT_API_KEY)
    assert result.returncode != 0
    assert "Error" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "data" / "movierec.sqlite3").exists()
