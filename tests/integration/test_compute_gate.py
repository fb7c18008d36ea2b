"""The compute gate (movierec/compute.py): CPU-bound sections run one at a time per process, and a recommendation
list's model part is one of them."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from movierec.api.routes.recommendations import render_items
from movierec.compute import cpu_bound
from movierec.metrics import COMPUTE_GATE_WAIT
from movierec.wiring import Container
from tests.conftest import SAMPLE_MOVIES

DEADLINE = 30.0  # generous: a busy machine only makes the other side slower
HELD = 0.3  # how long a blocked section is given to get through a gate that should hold it


def wait_count() -> float:
    (metric,) = COMPUTE_GATE_WAIT.collect()
    return next(sample.value for sample in metric.samples if sample.name.endswith("_count"))


def in_thread(action: Callable[[], object]) -> tuple[threading.Thread, threading.Event]:
    done = threading.Event()

    def run() -> None:
        action()
        done.set()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, done


def blocked_until_released(action: Callable[[], object]) -> None:
    """``action`` in another thread does not finish while this thread holds the gate, and does once it is let go;
    the wait is counted."""
    before = wait_count()
    with cpu_bound():
        thread, done = in_thread(action)
        assert not done.wait(HELD), "the action finished while another thread held the compute gate"
    assert done.wait(DEADLINE)
    thread.join(DEADLINE)
    assert wait_count() == before + 1


def test_sections_run_one_at_a_time() -> None:
    entered = threading.Event()

    def section() -> None:
        with cpu_bound():
            entered.set()

    blocked_until_released(section)
    assert entered.is_set()


def test_a_free_gate_is_entered_without_a_counted_wait() -> None:
    before = wait_count()
    with cpu_bound():
        pass
    with cpu_bound():
        pass
    assert wait_count() == before


def test_the_gate_is_let_go_when_a_section_fails() -> None:
    with pytest.raises(ValueError):
        with cpu_bound():
            raise ValueError("a failing computation")
    entered = threading.Event()

    def section() -> None:
        with cpu_bound():
            entered.set()

    in_thread(section)
    assert entered.wait(DEADLINE)


def test_a_recommendation_list_is_computed_inside_the_gate(container: Container) -> None:
    ids = container.catalogue.upsert(SAMPLE_MOVIES).movie_ids
    user = container.accounts.register("alice", "correct horse battery")
    for movie_id in ids[:3]:
        container.ratings.rate(user.id, movie_id, 9)
    container.recommendations.models.current()  # the models are fitted here, outside the gate
    lists: list[bytes] = []
    blocked_until_released(
        lambda: lists.append(container.recommendations.recommend(user.id, limit=5, render=render_items).items)
    )
    assert lists and lists[0].startswith(b"[")
