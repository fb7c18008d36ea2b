"""The embedded search index shared by processes: readers see other processes' commits, writers take turns."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from movierec.domain.movies import Movie
from movierec.search.embedded import EmbeddedMovieIndex
from movierec.search.port import SearchQuery, SearchUnavailable
from movierec.services.reconcile import rebuild_if_empty
from movierec.settings import Settings
from movierec.wiring import build_container
from tests.conftest import SAMPLE_MOVIES

Run = Callable[..., subprocess.Popen[str]]

WRITER = textwrap.dedent(
    """
    import sys
    from movierec.domain.movies import Movie
    from movierec.search.embedded import EmbeddedMovieIndex

    path, first, batches, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    index = EmbeddedMovieIndex(path, timeout=60.0)
    for batch in range(batches):
        start = first + batch * size
        batch_movies = [Movie(id=n, title=f"Shared film {n}", genres=("Drama",)) for n in range(start, start + size)]
        index.index_movies(batch_movies)
        print(f"wrote {start + size - 1}", flush=True)
    """
)

LOCK_HOLDER = textwrap.dedent(
    """
    import sys, time
    from movierec.search.embedded import EmbeddedMovieIndex

    index = EmbeddedMovieIndex(sys.argv[1])  # creates the index, then holds Tantivy's writer lock
    writer = index._index.writer(heap_size=15_000_000, num_threads=1)
    print("locked", flush=True)
    time.sleep(120)
    """
)


@pytest.fixture
def run_python() -> Iterator[Run]:
    """Start ``python -c code args...``; every process started is killed (if still running) and reaped at the end."""
    started: list[subprocess.Popen[str]] = []

    def run(code: str, *args: object) -> subprocess.Popen[str]:
        process = subprocess.Popen(
            [sys.executable, "-c", code, *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        started.append(process)
        return process

    yield run
    for process in started:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=30)


def movies(first: int, count: int) -> list[Movie]:
    return [Movie(id=n, title=f"Local film {n}", genres=("Comedy",)) for n in range(first, first + count)]


def test_a_reader_sees_what_another_process_committed_at_its_next_search(tmp_path: Path, run_python: Run) -> None:
    reader = EmbeddedMovieIndex(tmp_path / "search")
    assert reader.search(SearchQuery(text="shared")).total == 0
    writer = run_python(WRITER, tmp_path / "search", 1, 3, 10)
    assert writer.stdout is not None
    for expected in (10, 20, 30):
        line = writer.stdout.readline()  # the other process returned from index_movies: its batch is committed
        assert line.strip() == f"wrote {expected}", writer.stderr.read() if writer.stderr else line
        assert reader.search(SearchQuery(text="shared film", limit=1)).total >= expected
        assert reader.get(expected) is not None
    _out, err = writer.communicate(timeout=60)
    assert writer.returncode == 0, err
    assert reader.count() == 30 and reader.ids() == set(range(1, 31))


def test_writers_in_several_processes_take_turns_and_lose_nothing(tmp_path: Path, run_python: Run) -> None:
    path = tmp_path / "search"
    local = EmbeddedMovieIndex(path, timeout=60.0)
    others = [run_python(WRITER, path, 1_000 * (n + 1), 20, 25) for n in range(2)]
    for batch in range(20):
        local.index_movies(movies(1 + batch * 25, 25))  # while the two other processes write too
    for process in others:
        _out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
    expected = set(range(1, 501)) | set(range(1_000, 1_500)) | set(range(2_000, 2_500))
    assert local.count() == len(expected) and local.ids() == expected
    assert local.search(SearchQuery(text="shared", limit=1)).total == 1_000
    assert local.search(SearchQuery(genre="Comedy", limit=1)).total == 500


def test_a_writer_lock_held_too_long_fails_the_write_clearly_and_a_dead_holder_frees_it(
    tmp_path: Path, run_python: Run
) -> None:
    path = tmp_path / "search"
    holder = run_python(LOCK_HOLDER, path)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        index = EmbeddedMovieIndex(path, timeout=0.5)
        with pytest.raises(SearchUnavailable, match="another process"):
            index.index_movies(movies(1, 3))
        assert index.count() == 0
        assert index.search(SearchQuery(text="local")).total == 0  # reads never wait for the writer
    finally:
        holder.kill()  # dies holding the lock: the operating system releases it
        holder.communicate(timeout=30)
    index = EmbeddedMovieIndex(path, timeout=10.0)
    index.index_movies(movies(1, 3))
    assert index.count() == 3


def test_an_earlier_engines_data_dir_is_rebuilt_from_the_database(settings: Settings) -> None:
    first = build_container(settings, run_migrations=True)
    first.catalogue.upsert(SAMPLE_MOVIES)  # in the database; this index never received them
    assert first.index.count() == 0
    first.close()
    legacy = settings.data_dir / "search.sqlite3"
    legacy.write_bytes(b"SQLite format 3\x00")  # the hand-written engine's file

    second = build_container(settings, run_migrations=True)
    try:
        assert not legacy.exists()
        report = rebuild_if_empty(second.store, second.index)
        assert report is not None and report.repaired and len(report.missing) == len(SAMPLE_MOVIES)
        assert second.index.count() == len(SAMPLE_MOVIES)
        assert second.search.search("matirx", None, 5, 0).movies[0].title == "The Matrix"
        assert rebuild_if_empty(second.store, second.index) is None  # only once: the index is no longer empty
    finally:
        second.close()


def test_compact_rewrites_the_index_into_one_segment_with_the_same_answers(tmp_path: Path) -> None:
    index = EmbeddedMovieIndex(tmp_path / "search")
    catalogue = [
        Movie(id=n, title=title, genres=genres, vote_count=votes + n, popularity=float(votes + n))  # no exact ties
        for n, (title, genres, votes) in enumerate(
            [
                ("The Matrix", ("Action", "Science Fiction"), 900),
                ("The Matrix Reloaded", ("Action",), 500),
                ("Matilda", ("Comedy", "Family"), 300),
                ("Toy Story", ("Animation", "Comedy"), 800),
                ("Story of a Marriage", ("Drama",), 40),
                ("Casablanca", ("Drama", "Romance"), 700),
            ]
            * 5,
            start=1,
        )
    ]
    for start in range(0, len(catalogue), 5):  # one commit, one segment, per batch
        index.index_movies(catalogue[start : start + 5])
    index.delete_movies([30])
    queries = [
        SearchQuery(text="matrix"),
        SearchQuery(text="matirx reloded"),
        SearchQuery(text="sto"),
        SearchQuery(text="the", limit=3, offset=2),
        SearchQuery(genre="Drama"),
        SearchQuery(text="story", genre="Comedy"),
    ]
    before = [index.search(q) for q in queries]
    assert index._searcher().num_segments > 1

    assert index.compact() == 1
    other = EmbeddedMovieIndex(tmp_path / "search")  # what another process opening the index sees
    for reader in (index, other):
        assert reader.count() == len(catalogue) - 1 and reader.ids() == set(range(1, len(catalogue)))
        for query, page in zip(queries, before, strict=True):
            found = reader.search(query)
            assert found.total == page.total
            assert [m.id for m in found.movies] == [m.id for m in page.movies]
            assert found.movies == page.movies  # every stored field comes back
    index.index_movies([Movie(id=99, title="Matrix Resurrections")])  # writing goes on as before
    assert other.search(SearchQuery(text="resurrections")).movies[0].id == 99
