"""The Kafka consumer's stall watchdog on a hand-driven clock: when it asks the broker, and what it concludes."""

from __future__ import annotations

from confluent_kafka import KafkaError, KafkaException

from movierec.events.kafka import StallWatchdog


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_it_asks_only_after_stall_seconds_without_progress_and_then_at_most_every_half() -> None:
    clock = Clock()
    watchdog = StallWatchdog(10.0, clock=clock)
    asked: list[float] = []

    def lagging() -> list[tuple[int, int, int]]:
        asked.append(clock.now)
        return [(0, 5, 9)]

    clock.now += 9.9
    assert watchdog.lagging_if_stalled(lagging) == [] and asked == []  # not idle long enough
    clock.now += 0.2
    assert watchdog.lagging_if_stalled(lagging) == [(0, 5, 9)] and len(asked) == 1
    clock.now += 4.0
    assert watchdog.lagging_if_stalled(lagging) == [] and len(asked) == 1  # checked 4 s ago: < 10 / 2
    clock.now += 1.1
    assert watchdog.lagging_if_stalled(lagging) == [(0, 5, 9)] and len(asked) == 2
    assert watchdog.idle_seconds == clock.now - 1000.0


def test_progress_and_a_new_consumer_restart_the_wait() -> None:
    clock = Clock()
    watchdog = StallWatchdog(10.0, clock=clock)
    clock.now += 8
    watchdog.progressed()
    clock.now += 8
    assert watchdog.lagging_if_stalled(lambda: [(0, 0, 1)]) == []
    clock.now += 3
    watchdog.reset()
    clock.now += 9
    assert watchdog.lagging_if_stalled(lambda: [(0, 0, 1)]) == []
    assert watchdog.idle_seconds == 9


def test_a_broker_that_cannot_answer_is_no_stall() -> None:
    clock = Clock()
    watchdog = StallWatchdog(1.0, clock=clock)
    clock.now += 2

    def unreachable() -> list[tuple[int, int, int]]:
        raise KafkaException(KafkaError(KafkaError._TRANSPORT))

    assert watchdog.lagging_if_stalled(unreachable) == []
