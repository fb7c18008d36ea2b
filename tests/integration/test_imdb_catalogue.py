"""The whole IMDB catalogue (58,788 movies) through the catalogue, the event log and the indexer, embedded."""

from __future__ import annotations

import time

import pytest

from movierec.services.seeding import load_catalogue
from movierec.wiring import Container
from tests.conftest import index_everything

IMDB_MOVIES = 58_788


@pytest.mark.slow
def test_the_imdb_catalogue_is_stored_and_searchable(container: Container) -> None:
    started = time.perf_counter()
    summary = load_catalogue(container.catalogue, "imdb")
    loaded = time.perf_counter()
    index_everything(container)
    indexed = time.perf_counter()
    print(f"imdb: load {loaded - started:.1f} s, index {indexed - loaded:.1f} s")  # shown with -s

    assert (summary.new, summary.updated, summary.unchanged) == (IMDB_MOVIES, 0, 0)
    assert container.catalogue.count() == IMDB_MOVIES
    assert container.index.count() == IMDB_MOVIES
    with container.store.uow() as uow:
        assert container.index.ids() == set(uow.movies.all_ids())

    known = (("The Matrix", 1999), ("Pulp Fiction", 1994), ("The Godfather", 1972), ("Titanic", 1997), ("Heat", 1995))
    for title, year in known:
        found = container.search.search(title, None, limit=10, offset=0).movies
        assert any(m.title == title and m.year == year for m in found), (title, [(m.title, m.year) for m in found])
    matrix = next(m for m in container.search.search("matrix", None, 10, 0).movies if m.year == 1999)
    assert matrix.title == "The Matrix" and matrix.vote_average == 8.5 and "Action" in matrix.genres
    assert container.search.search("Pulp Fictoin", None, 5, 0).movies[0].title == "Pulp Fiction"  # a typo

    again = load_catalogue(container.catalogue, "imdb")
    assert (again.new, again.updated, again.unchanged) == (0, 0, IMDB_MOVIES)
    assert container.relay.pending() == 0
