"""The Search port contract: the embedded engine and Elasticsearch answer the same way."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from movierec.domain.movies import Movie
from movierec.search.embedded import EmbeddedMovieIndex
from movierec.search.port import MovieIndex, SearchQuery
from tests.conftest import SAMPLE_MOVIES, service_url


def _embedded(tmp_path: Path) -> MovieIndex:
    return EmbeddedMovieIndex(tmp_path / "search")


def _elastic(tmp_path: Path) -> MovieIndex:
    from movierec.search.elastic import ElasticMovieIndex

    return ElasticMovieIndex(service_url("elasticsearch"), alias=f"movies-contract-{uuid.uuid4().hex[:12]}")


ADAPTERS: dict[str, Callable[[Path], MovieIndex]] = {"embedded": _embedded, "elasticsearch": _elastic}

MOVIES = [
    Movie(
        id=n,
        title=d.title,
        year=d.year,
        genres=d.genres,
        vote_average=d.vote_average,
        vote_count=d.vote_count,
        popularity=float(d.vote_count),
    )
    for n, d in enumerate(SAMPLE_MOVIES, start=1)
]
BY_TITLE = {m.title: m.id for m in MOVIES}


@pytest.fixture(params=sorted(ADAPTERS))
def empty_index(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MovieIndex]:
    index = ADAPTERS[request.param](tmp_path)
    index.ensure_index()
    yield index
    # Adapters on a shared server remove what the test created; the others just empty themselves.
    getattr(index, "drop", index.reset)()
    index.close()


@pytest.fixture
def index(empty_index: MovieIndex) -> MovieIndex:
    empty_index.index_movies(MOVIES)
    return empty_index


def titles(index: MovieIndex, text: str | None = None, genre: str | None = None, limit: int = 20) -> list[str]:
    return [m.title for m in index.search(SearchQuery(text=text, genre=genre, limit=limit)).movies]


def test_exact_title_comes_first(index: MovieIndex) -> None:
    assert titles(index, "toy story")[:2] == ["Toy Story", "Toy Story 2"]
    assert titles(index, "the matrix")[0] == "The Matrix"
    assert titles(index, "Heat")[0] == "Heat"


def test_typos_are_tolerated(index: MovieIndex) -> None:
    assert titles(index, "matirx")[0] == "The Matrix"
    assert "The Terminator" in titles(index, "termnator")
    assert titles(index, "groundhgo day")[0] == "Groundhog Day"


def test_prefixes_match(index: MovieIndex) -> None:
    found = titles(index, "termin")
    assert set(found[:2]) == {"The Terminator", "Terminator 2: Judgment Day"}
    assert titles(index, "groundh")[0] == "Groundhog Day"


def test_accents_case_and_apostrophes(index: MovieIndex) -> None:
    assert titles(index, "amelie")[0] == "Amélie"
    assert titles(index, "AMÉLIE")[0] == "Amélie"
    assert titles(index, "schindlers list")[0] == "Schindler's List"
    assert titles(index, "schindler's")[0] == "Schindler's List"


def test_every_word_must_match(index: MovieIndex) -> None:
    assert titles(index, "toy matrix") == []
    page = index.search(SearchQuery(text="zzzxqj"))
    assert page.total == 0 and page.movies == []


def test_genre_words_match_too(index: MovieIndex) -> None:
    found = titles(index, "crime")
    assert set(found) == {"Heat", "Casino"}
    assert titles(index, "comedy toy")[:2] == ["Toy Story", "Toy Story 2"]


def test_genre_filter(index: MovieIndex) -> None:
    comedies = titles(index, genre="Comedy")
    assert set(comedies) == {"Toy Story", "Toy Story 2", "Amélie", "Groundhog Day", "Obscure Comedy"}
    # Without text, a genre lists its movies most popular first.
    assert comedies[0] == "Toy Story" and comedies[-1] == "Obscure Comedy"
    assert titles(index, "toy", genre="comedy")[:2] == ["Toy Story", "Toy Story 2"]
    assert titles(index, "matrix", genre="Comedy") == []
    assert titles(index, genre="No Such Genre") == []


def test_no_text_and_no_genre_lists_everything_by_popularity(index: MovieIndex) -> None:
    page = index.search(SearchQuery(limit=3))
    assert page.total == len(MOVIES)
    assert [m.title for m in page.movies] == ["The Matrix", "Schindler's List", "Terminator 2: Judgment Day"]


def test_exact_words_beat_prefixes_beat_typos(index: MovieIndex) -> None:
    # Similar vote counts, the weaker matches a little more voted: the kind of match decides, not popularity.
    index.index_movies(
        [
            Movie(id=101, title="Heat Rises", genres=("Drama",), vote_count=500_000, popularity=500_000.0),
            Movie(id=102, title="Heatwave Rises", genres=("Drama",), vote_count=510_000, popularity=510_000.0),
            Movie(id=103, title="Meat Rises", genres=("Drama",), vote_count=520_000, popularity=520_000.0),
        ]
    )
    assert titles(index, "heat")[:4] == ["Heat", "Heat Rises", "Heatwave Rises", "Meat Rises"]


def test_typos_within_a_genre(index: MovieIndex) -> None:
    assert titles(index, "matirx", genre="action")[:2] == ["The Matrix", "The Matrix Reloaded"]
    assert titles(index, "matirx", genre="Comedy") == []


def test_text_pages_add_up_to_the_whole_list(index: MovieIndex) -> None:
    everything = index.search(SearchQuery(text="the", limit=100))
    assert everything.total == 3  # The Matrix, The Matrix Reloaded, The Terminator
    pages = [index.search(SearchQuery(text="the", limit=2, offset=o)) for o in range(0, everything.total, 2)]
    assert {p.total for p in pages} == {everything.total}
    assert [m.id for p in pages for m in p.movies] == [m.id for m in everything.movies]


def test_popularity_breaks_equal_text_matches(index: MovieIndex) -> None:
    assert titles(index, "matrix")[:2] == ["The Matrix", "The Matrix Reloaded"]


def test_pagination_is_stable_and_complete(index: MovieIndex) -> None:
    everything = index.search(SearchQuery(genre="Action", limit=100))
    assert everything.total == 4
    pages = [index.search(SearchQuery(genre="Action", limit=3, offset=o)) for o in (0, 3)]
    assert [p.total for p in pages] == [4, 4]
    assert [m.id for p in pages for m in p.movies] == [m.id for m in everything.movies]
    assert index.search(SearchQuery(genre="Action", limit=3, offset=10)).movies == []


def test_query_syntax_is_data(index: MovieIndex) -> None:
    for text in ('title:(matrix OR "toy")', "*", "matrix~2", "AND OR NOT", "/.*/", "\\", "{!}", "toy\u0000story"):
        index.search(SearchQuery(text=text))  # answers, never raises
    assert titles(index, 'title:"matrix"')[:0] == []


def test_upsert_is_idempotent_and_replaces(empty_index: MovieIndex) -> None:
    empty_index.index_movies(MOVIES)
    empty_index.index_movies(MOVIES)
    assert empty_index.count() == len(MOVIES)
    assert empty_index.ids() == set(BY_TITLE.values())
    renamed = dataclasses.replace(MOVIES[6], title="Heat (Director's Cut)")
    empty_index.index_movies([renamed])
    assert empty_index.count() == len(MOVIES)
    assert titles(empty_index, "directors cut") == ["Heat (Director's Cut)"]
    stored = empty_index.get(renamed.id)
    assert stored is not None and stored.title == "Heat (Director's Cut)"
    assert empty_index.get(999_999) is None


def test_results_carry_the_whole_movie(index: MovieIndex) -> None:
    movie = index.search(SearchQuery(text="heat")).movies[0]
    original = MOVIES[BY_TITLE["Heat"] - 1]
    assert (movie.id, movie.title, movie.year, movie.genres, movie.vote_count) == (
        original.id,
        original.title,
        original.year,
        original.genres,
        original.vote_count,
    )


def test_delete(index: MovieIndex) -> None:
    index.delete_movies([BY_TITLE["Heat"], 999_999])
    assert index.count() == len(MOVIES) - 1
    assert titles(index, "heat") == []


def test_ping(index: MovieIndex) -> None:
    index.ping()


def test_empty_index_answers_empty(empty_index: MovieIndex) -> None:
    assert empty_index.search(SearchQuery(text="matrix")).total == 0
    assert empty_index.search(SearchQuery(genre="Action")).movies == []
    assert (empty_index.count(), empty_index.ids(), empty_index.get(1)) == (0, set(), None)


def test_reset_removes_everything(index: MovieIndex) -> None:
    index.reset()
    assert index.count() == 0
    assert titles(index, "matrix") == [] and titles(index, genre="Action") == []
    index.index_movies(MOVIES[:1])
    assert titles(index, "matrix") == ["The Matrix"]


def test_long_queries_answer(index: MovieIndex) -> None:
    many_words = " ".join(f"w{n}rd" for n in range(40))[:200]
    assert index.search(SearchQuery(text=many_words)).total == 0
    repeated = ("the matrix " * 30)[:200]
    assert titles(index, repeated)[0] == "The Matrix"
