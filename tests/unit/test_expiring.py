"""CatalogueService's per-process map of movies and numbers: entries expire, the oldest written goes first."""

from __future__ import annotations

from movierec.services.catalogue import Expiring


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_entries_are_read_many_at_once_until_they_expire() -> None:
    clock = Clock()
    cache: Expiring[int, str] = Expiring(maxsize=10, ttl=5.0, clock=clock)
    cache.update({1: "a", 2: "b"})
    clock.now += 3
    cache[3] = "c"
    assert cache.get_many([3, 9, 1, 2, 1]) == {3: "c", 1: "a", 2: "b"}
    assert list(cache.get_many([3, 1, 2])) == [3, 1, 2]  # in the order asked
    clock.now += 2  # 1 and 2 were written 5 s ago: gone; 3 lives 3 s more
    assert cache.get_many([1, 2, 3]) == {3: "c"}
    cache[1] = "a again"  # written again: lives again
    clock.now += 4.9
    assert cache.get_many([1, 3]) == {1: "a again"}


def test_the_oldest_written_goes_first_when_full_and_pop_and_clear_forget() -> None:
    cache: Expiring[int, int] = Expiring(maxsize=3, ttl=60.0, clock=Clock())
    for key in (1, 2, 3):
        cache[key] = key * 10
    cache[1] = 11  # rewritten: now the newest
    cache[4] = 40
    assert len(cache) == 3 and cache.get_many([1, 2, 3, 4]) == {1: 11, 3: 30, 4: 40}
    assert cache.pop(3) == 30 and cache.pop(3) is None and cache.pop(3, -1) == -1
    cache.clear()
    assert len(cache) == 0 and cache.get_many([1, 4]) == {}
