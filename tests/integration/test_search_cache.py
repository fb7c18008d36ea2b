"""The API's short-lived search pages: repeated queries skip the engine; an index write of this process, or a
couple of seconds, and the engine is asked again."""

from __future__ import annotations

import uuid

import pytest

from movierec.cache.guarded import GuardedCache
from movierec.cache.memory import InProcessCache
from movierec.cache.port import Cache
from movierec.cache.redis import RedisCache
from movierec.domain.movies import Movie, MovieDraft
from movierec.search.port import SearchQuery
from movierec.services.search import SearchService
from movierec.wiring import Container
from tests.conftest import index_everything, service_url


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


def _two_processes(cache: Cache, container: Container) -> tuple[SearchService, SearchService]:
    """Two search services over one index and one cache: an API process, and the process that indexes."""
    return SearchService(container.index, GuardedCache(cache)), SearchService(container.index, GuardedCache(cache))


def _another_process_indexes(container: Container, indexer: SearchService, movie: Movie) -> None:
    container.index.index_movies([movie])
    indexer.forget()  # what the indexer's on_indexed does after each batch (Container.indexer)


@pytest.mark.parametrize("adapter", ["memory", "redis-near"])
def test_a_write_by_another_processes_indexer_renews_the_pages_here(
    container: Container, sample_catalogue: dict[str, int], adapter: str
) -> None:
    cache: Cache = (
        InProcessCache()
        if adapter == "memory"
        else RedisCache(service_url("redis"), timeout=1.0, key_prefix=f"test-{uuid.uuid4().hex}:", near_seconds=10)
    )
    try:
        api, indexer = _two_processes(cache, container)
        assert _titles(api, "casino") == ["Casino"]
        container.index.index_movies([Movie(id=777_004, title="Casino Jack")])  # no indexer: the page stays
        assert _titles(api, "casino") == ["Casino"]
        _another_process_indexes(container, indexer, Movie(id=777_005, title="Casino Night"))
        renewed = _titles(api, "casino")  # at once: no waiting for a page to expire
        assert "Casino Night" in renewed and "Casino Jack" in renewed
    finally:
        cache.close()


def test_pages_are_kept_while_the_index_does_not_change(container: Container, sample_catalogue: dict[str, int]) -> None:
    now = [1000.0]
    cache = InProcessCache()
    service = SearchService(container.index, GuardedCache(cache), clock=lambda: now[0])
    assert _titles(service, "casino") == ["Casino"]
    container.index.index_movies([Movie(id=777_006, title="Casino Blues")])  # behind the service's back
    now[0] += 30.0  # long past the two seconds of pages without a generation
    assert _titles(service, "casino") == ["Casino"]
    now[0] += 31.0  # past the generation's 60 s
    assert "Casino Blues" in _titles(service, "casino")
