"""The API's short-lived search pages: repeated queries skip the engine; an index write of this process, or a
couple of seconds, and the engine is asked again."""

from __future__ import annotations

from movierec.domain.movies import Movie, MovieDraft
from movierec.search.port import SearchQuery
from movierec.services.search import SearchService
from movierec.wiring import Container
from tests.conftest import index_everything


def _titles(service: SearchService, text: str) -> list[str]:
    return [movie.title for movie in service.search(text, None, 20, 0).movies]


def test_a_page_is_served_again_until_this_process_indexes(
    container: Container, sample_catalogue: dict[str, int]
) -> None:
    service = container.search
    assert _titles(service, "heat") == ["Heat"]
    # Through this process's indexer: the pages are forgotten as the batch is written.
    container.catalogue.upsert([MovieDraft("test:heat-2", "Heat of the Night", 1967)])
    index_everything(container)
    after = _titles(service, "heat")
    assert "Heat of the Night" in after
    # Written to the engine behind the service's back (as another process's indexer would): the page stays.
    container.index.index_movies([Movie(id=777_001, title="Heat Wave")])
    assert _titles(service, "heat") == after
    assert "Heat Wave" in [m.title for m in container.index.search(SearchQuery(text="heat")).movies]
    service.forget()
    assert "Heat Wave" in _titles(service, "heat")


def test_pages_expire(container: Container, sample_catalogue: dict[str, int]) -> None:
    now = [1000.0]
    service = SearchService(container.index, cache_seconds=2.0, clock=lambda: now[0])
    assert _titles(service, "casino") == ["Casino"]
    container.index.index_movies([Movie(id=777_002, title="Casino Royale")])
    now[0] += 1.0
    assert _titles(service, "casino") == ["Casino"]  # within its two seconds
    now[0] += 1.5
    assert "Casino Royale" in _titles(service, "casino")


def test_no_cache_at_zero_seconds(container: Container, sample_catalogue: dict[str, int]) -> None:
    service = SearchService(container.index, cache_seconds=0)
    assert _titles(service, "toy story")[:2] == ["Toy Story", "Toy Story 2"]
    container.index.index_movies([Movie(id=777_003, title="Toy Story 3")])
    assert "Toy Story 3" in _titles(service, "toy story")
