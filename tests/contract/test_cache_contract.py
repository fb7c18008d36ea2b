"""The Cache port contract: every adapter behaves the same."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest

from movierec.cache.memory import InProcessCache
from movierec.cache.port import Cache


def _memory() -> Cache:
    return InProcessCache()


ADAPTERS = {"memory": _memory}


@pytest.fixture(params=sorted(ADAPTERS))
def cache(request: pytest.FixtureRequest) -> Iterator[Cache]:
    adapter = ADAPTERS[request.param]()
    yield adapter
    adapter.close()


@pytest.fixture
def key() -> str:
    return f"recommendations:test-{uuid.uuid4().hex}"


def test_missing_key_and_field(cache: Cache, key: str) -> None:
    assert cache.get(key, "a") is None
    assert cache.ttl(key) is None
    cache.set(key, "a", "1", 60)
    assert cache.get(key, "b") is None


def test_set_get_fields_and_unicode(cache: Cache, key: str) -> None:
    cache.set(key, "ease|Drama|10", '[{"title": "Amélie"}]', 60)
    cache.set(key, "seed||20", "[]", 60)
    assert cache.get(key, "ease|Drama|10") == '[{"title": "Amélie"}]'
    assert cache.get(key, "seed||20") == "[]"


def test_delete_drops_every_field(cache: Cache, key: str) -> None:
    cache.set(key, "a", "1", 60)
    cache.set(key, "b", "2", 60)
    cache.delete(key)
    assert cache.get(key, "a") is None and cache.get(key, "b") is None
    cache.delete(key)  # deleting a missing key is fine


def test_ttl_is_set_once_and_not_extended(cache: Cache, key: str) -> None:
    cache.set(key, "a", "1", 300)
    first = cache.ttl(key)
    assert first is not None and 0 < first <= 300
    time.sleep(1.1)
    cache.set(key, "b", "2", 300)
    second = cache.ttl(key)
    assert second is not None and second < first


def test_entries_expire(cache: Cache, key: str) -> None:
    cache.set(key, "a", "1", 1)
    assert cache.get(key, "a") == "1"
    time.sleep(1.3)
    assert cache.get(key, "a") is None
    assert cache.ttl(key) is None


def test_ping(cache: Cache) -> None:
    cache.ping()
