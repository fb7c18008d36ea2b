"""Elasticsearch-specific behaviour of ``ElasticMovieIndex`` (the shared behaviour is in the search contract)."""

from __future__ import annotations

import dataclasses
import socket
import threading
import time
import uuid
from collections.abc import Iterator

import pytest
from elasticsearch import BadRequestError, Elasticsearch

from movierec.domain.movies import Movie
from movierec.search import elastic
from movierec.search.elastic import MAPPING_VERSION, BulkWriteFailed, ElasticMovieIndex
from movierec.search.port import SearchQuery, SearchUnavailable
from tests.conftest import NOT_A_HANG_SECONDS, service_url
from tests.contract.test_search_contract import MOVIES

pytestmark = pytest.mark.services


@pytest.fixture
def url() -> str:
    return service_url("elasticsearch")


@pytest.fixture
def alias() -> str:
    return f"movies-test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def raw(url: str) -> Iterator[Elasticsearch]:
    client = Elasticsearch(url, request_timeout=10)
    yield client
    client.close()


@pytest.fixture
def index(url: str, alias: str) -> Iterator[ElasticMovieIndex]:
    created = ElasticMovieIndex(url, alias=alias, timeout=10)
    created.ensure_index()
    yield created
    created.drop()
    created.close()


def generated(n: int) -> list[Movie]:
    return [
        Movie(id=i, title=f"Generated Movie {i}", year=2000, genres=("Drama",), vote_count=i, popularity=float(i))
        for i in range(1, n + 1)
    ]


def test_alias_points_at_a_versioned_index(index: ElasticMovieIndex, raw: Elasticsearch, alias: str) -> None:
    assert index.index_name == f"{alias}-v{MAPPING_VERSION}"
    assert set(raw.indices.get_alias(name=alias)) == {index.index_name}
    assert not raw.indices.exists(index=alias) or raw.indices.exists_alias(name=alias)
    # A second process starting against the same alias changes nothing.
    again = ElasticMovieIndex(service_url("elasticsearch"), alias=alias)
    again.ensure_index()
    again.close()
    assert set(raw.indices.get_alias(name=alias)) == {index.index_name}


def test_concurrent_ensure_index_is_safe(url: str, alias: str, raw: Elasticsearch) -> None:
    racers = [ElasticMovieIndex(url, alias=alias, timeout=10) for _ in range(4)]
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(racers))

    def start(racer: ElasticMovieIndex) -> None:
        barrier.wait()
        try:
            racer.ensure_index()
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=start, args=(racer,)) for racer in racers]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert errors == []
        assert set(raw.indices.get_alias(name=alias)) == {f"{alias}-v{MAPPING_VERSION}"}
    finally:
        racers[0].drop()
        for racer in racers:
            racer.close()


def test_readers_never_meet_a_half_created_index(url: str, alias: str) -> None:
    """Another process reading while the index is created sees no index (empty), then an index that answers."""
    reader = ElasticMovieIndex(url, alias=alias, timeout=10)
    writer = ElasticMovieIndex(url, alias=alias, timeout=10)
    errors: list[BaseException] = []
    done = threading.Event()

    def read() -> None:
        while not done.is_set():
            try:
                reader.count()
                reader.search(SearchQuery(text="matrix"))
            except BaseException as exc:  # collected and asserted below
                errors.append(exc)

    thread = threading.Thread(target=read)
    thread.start()
    try:
        time.sleep(0.1)
        writer.ensure_index()
        time.sleep(0.3)
    finally:
        done.set()
        thread.join(timeout=30)
        writer.drop()
        reader.close()
        writer.close()
    assert errors == []


def test_mapping_is_strict(index: ElasticMovieIndex, raw: Elasticsearch) -> None:
    mapping = raw.indices.get_mapping(index=index.alias)[index.index_name]["mappings"]
    assert mapping["dynamic"] == "strict"
    assert "index_prefixes" in mapping["properties"]["title_words"]
    with pytest.raises(BadRequestError, match="strict_dynamic_mapping_exception"):
        raw.index(index=index.alias, id="1", document={"id": 1, "unexpected": "field"})


def test_bulk_with_a_failing_item_raises_and_a_retry_repairs(index: ElasticMovieIndex) -> None:
    broken = dataclasses.replace(MOVIES[0], year=2**40)  # does not fit the integer ``year`` field
    with pytest.raises(BulkWriteFailed) as raised:
        index.index_movies([broken, *MOVIES[1:]])
    assert isinstance(raised.value, SearchUnavailable)
    assert len(raised.value.errors) == 1
    assert index.get(MOVIES[0].id) is None
    # The indexer retries the whole (fixed) batch: writes are upserts, so nothing is duplicated.
    index.index_movies(MOVIES)
    assert index.count() == len(MOVIES)


@pytest.mark.parametrize("page", [10_000, 500, 400])
def test_ids_returns_every_document(index: ElasticMovieIndex, monkeypatch: pytest.MonkeyPatch, page: int) -> None:
    movies = generated(1_200)
    index.index_movies(movies)
    monkeypatch.setattr(elastic, "IDS_PAGE", page)  # 400 makes the last page exactly full
    assert index.ids() == {m.id for m in movies}
    assert index.count() == 1_200


def test_reset_empties_and_keeps_the_alias(index: ElasticMovieIndex, raw: Elasticsearch) -> None:
    index.index_movies(MOVIES)
    index.reset()
    assert index.count() == 0
    assert index.search(SearchQuery(text="matrix")).total == 0
    assert set(raw.indices.get_alias(name=index.alias)) == {index.index_name}
    index.index_movies(MOVIES[:1])
    assert index.ids() == {MOVIES[0].id}


def test_reindex_into_new_version_swaps_the_alias(index: ElasticMovieIndex, raw: Elasticsearch) -> None:
    index.index_movies(MOVIES)
    before = [m.id for m in index.search(SearchQuery(text="matrix")).movies]
    new_name = index.reindex_into_new_version()
    assert new_name != index.index_name
    assert set(raw.indices.get_alias(name=index.alias)) == {new_name}
    assert not raw.indices.exists(index=index.index_name)
    assert index.count() == len(MOVIES)
    assert [m.id for m in index.search(SearchQuery(text="matrix")).movies] == before
    index.index_movies([dataclasses.replace(MOVIES[0], title="The Matrix (Remastered)")])
    assert index.count() == len(MOVIES)


def test_reads_before_the_index_exists_are_empty_and_writes_create_it(url: str, alias: str) -> None:
    fresh = ElasticMovieIndex(url, alias=alias, timeout=10)
    try:
        assert fresh.search(SearchQuery(text="matrix")).total == 0
        assert fresh.search(SearchQuery(genre="Action")).movies == []
        assert (fresh.count(), fresh.ids(), fresh.get(1)) == (0, set(), None)
        fresh.index_movies(MOVIES)
        assert fresh.count() == len(MOVIES)
    finally:
        fresh.drop()
        fresh.close()


def test_an_index_deleted_behind_its_back_is_recreated_on_retry(index: ElasticMovieIndex, raw: Elasticsearch) -> None:
    index.index_movies(MOVIES)
    raw.indices.delete(index=index.index_name)
    with pytest.raises(SearchUnavailable):
        index.index_movies(MOVIES)  # no concrete index is auto-created under the alias name
    assert not raw.indices.exists(index=index.alias)
    index.index_movies(MOVIES)  # the retry recreates the versioned index and alias
    assert index.count() == len(MOVIES)
    assert set(raw.indices.get_alias(name=index.alias)) == {index.index_name}


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_unreachable_elasticsearch_raises_quickly() -> None:
    down = ElasticMovieIndex(f"http://127.0.0.1:{_closed_port()}", alias="movies-unreachable", timeout=2.0)
    calls = {
        "ping": down.ping,
        "search": lambda: down.search(SearchQuery(text="matrix")),
        "index_movies": lambda: down.index_movies(MOVIES),
        "count": down.count,
        "get": lambda: down.get(1),
    }
    try:
        for name, call in calls.items():
            started = time.monotonic()
            with pytest.raises(SearchUnavailable):
                call()
            # A refused connection fails at once; the bound is generous (a loaded CI machine), far below a hang.
            assert time.monotonic() - started < NOT_A_HANG_SECONDS, name
    finally:
        down.close()


def test_invalid_alias_is_rejected() -> None:
    with pytest.raises(ValueError, match="alias"):
        ElasticMovieIndex("http://127.0.0.1:1", alias="Movies*")
