"""Prometheus metrics: every metric of movierec, defined once here, and how they are served.

One process (``movierec up``, ``serve``, ``indexer``, ``train --every``) keeps its metrics in prometheus-client's
default registry. Under gunicorn every worker is a process of its own: with ``PROMETHEUS_MULTIPROC_DIR`` set *in
the environment* before the workers start (the client library reads it when it is imported), each process writes
its values to files in that directory and a scrape sums them (``MultiProcessCollector``); the gunicorn hooks of
``movierec.gunicorn_conf`` empty the directory at start and drop a dead worker's live gauges. Gauges therefore say
how processes combine (``multiprocess_mode``): the ones here are written by one process at a time (the indexer,
the trainer), so the most recent value wins.

Metrics that are a snapshot of state (the model generation a process serves) are not stored: a collector reads
them at scrape time (``movierec.api.metrics``).

Names follow Prometheus' conventions: ``_total`` for counters (added by the client), base units (seconds),
``_timestamp_seconds`` for Unix times. Labels are bounded: a route is its URL rule, never the raw path.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from functools import wraps
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram, multiprocess
from prometheus_client.exposition import start_http_server
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

P = ParamSpec("P")
R = TypeVar("R")

# Request latencies of a fast API: 0.5 ms to 10 s.
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# A recommendation computed from the model: 1 ms to 10 s.
COMPUTE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# An indexer batch (one bulk write to search): 5 ms to 2 min.
BATCH_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)

# -- API -------------------------------------------------------------------------------------------------------------
HTTP_REQUESTS = Counter(
    "movierec_http_requests",
    "HTTP requests answered, by method, route (the URL rule; 'unmatched' when no route matched) and status.",
    ["method", "route", "status"],
)
HTTP_REQUEST_DURATION = Histogram(
    "movierec_http_request_duration_seconds",
    "Time from the request reaching Flask to its response, by route.",
    ["route"],
    buckets=LATENCY_BUCKETS,
)
RECOMMENDATIONS_SERVED = Counter(
    "movierec_recommendations_served",
    "Recommendation lists served, by whether they came from the cache (hit) or were computed (miss).",
    ["cache"],
)
RECOMMENDATION_COMPUTE = Histogram(
    "movierec_recommendation_compute_seconds",
    "Time to compute one recommendation list (a cache miss): history, model, explanations, movies.",
    buckets=COMPUTE_BUCKETS,
)
_SERVED_HIT = RECOMMENDATIONS_SERVED.labels(cache="hit")
_SERVED_MISS = RECOMMENDATIONS_SERVED.labels(cache="miss")

COMPUTE_GATE_WAIT = Histogram(
    "movierec_compute_gate_wait_seconds",
    "Time a CPU-bound section (a recommendation list's model part) waited for its process' compute gate, when it "
    "had to wait (movierec.compute); its count is the number of waits.",
    buckets=LATENCY_BUCKETS,
)

# -- indexer ---------------------------------------------------------------------------------------------------------
INDEXER_BATCH = Histogram(
    "movierec_indexer_batch_seconds",
    "Time to index one batch of movie events and commit it (its count is the number of batches).",
    buckets=BATCH_BUCKETS,
)
INDEXER_MOVIES = Counter("movierec_indexer_movies_indexed", "Movies written to search by the indexer.")
INDEXER_DEAD_LETTERS = Counter(
    "movierec_indexer_dead_letters", "Messages the indexer sent to the dead-letter topic (not valid movie events)."
)
INDEXER_RETRIES = Counter(
    "movierec_indexer_retries", "Retries of a failed search write or dead-letter publish (a dependency was down)."
)
INDEXER_CONSUMER_LAG = Gauge(
    "movierec_indexer_consumer_lag",
    "Movie events not yet received by the indexer, per partition (high watermark minus the consumer's position).",
    ["partition"],
    multiprocess_mode="mostrecent",
)
OUTBOX_DEPTH = Gauge(
    "movierec_outbox_depth",
    "Movies written to the database and not yet published to the event bus (the outbox).",
    multiprocess_mode="mostrecent",
)

# -- trainer ---------------------------------------------------------------------------------------------------------
TRAINER_FITS = Counter("movierec_trainer_fits", "Model generations trained and published.")
TRAINER_FAILURES = Counter("movierec_trainer_failures", "Training rounds that failed (the next round tries again).")
TRAINER_LAST_FIT = Gauge(
    "movierec_trainer_last_fit_timestamp_seconds",
    "When the last generation was published (Unix time).",
    multiprocess_mode="mostrecent",
)
TRAINER_LAST_FIT_DURATION = Gauge(
    "movierec_trainer_last_fit_duration_seconds",
    "How long the last training took (read the ratings, fit every strategy, write the files).",
    multiprocess_mode="mostrecent",
)
TRAINER_LAST_FIT_RATINGS = Gauge(
    "movierec_trainer_last_fit_ratings", "Ratings the last generation was trained on.", multiprocess_mode="mostrecent"
)
TRAINER_RATINGS_SEEN = Gauge(
    "movierec_trainer_ratings_seen",
    "Ratings in the database at the trainer's last check (it retrains when enough new ones arrived).",
    multiprocess_mode="mostrecent",
)


# -- recording ---------------------------------------------------------------------------------------------------------
def recommendation_served(cached: bool) -> None:
    (_SERVED_HIT if cached else _SERVED_MISS).inc()


def recommendation_computed(seconds: float) -> None:
    RECOMMENDATION_COMPUTE.observe(seconds)


def compute_gate_waited(seconds: float) -> None:
    COMPUTE_GATE_WAIT.observe(seconds)


def timed(record: Callable[[float], None]) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorator: ``record(seconds)`` after each call that returns (a failed call records nothing)."""

    def decorate(function: Callable[P, R]) -> Callable[P, R]:
        @wraps(function)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            started = time.perf_counter()
            result = function(*args, **kwargs)
            record(time.perf_counter() - started)
            return result

        return wrapper

    return decorate


def indexer_batch(seconds: float, indexed: int) -> None:
    INDEXER_BATCH.observe(seconds)
    INDEXER_MOVIES.inc(indexed)


def indexer_dead_lettered() -> None:
    INDEXER_DEAD_LETTERS.inc()


def indexer_retried() -> None:
    INDEXER_RETRIES.inc()


_lag_partitions: set[str] = set()


def consumer_lag(lag: Mapping[int, int]) -> None:
    """Set the lag of each partition the indexer holds now; one it no longer holds drops to 0 (another indexer of
    the group reports it). Set to 0 rather than removed: multiprocess mode cannot remove a labelled value."""
    current = {str(partition): value for partition, value in lag.items()}
    for partition in _lag_partitions - current.keys():
        INDEXER_CONSUMER_LAG.labels(partition=partition).set(0)
    for partition, value in current.items():
        INDEXER_CONSUMER_LAG.labels(partition=partition).set(value)
    _lag_partitions.update(current)


def outbox_depth(pending: int) -> None:
    OUTBOX_DEPTH.set(pending)


def model_trained(seconds: float, ratings: int, trained_at: float) -> None:
    TRAINER_FITS.inc()
    TRAINER_LAST_FIT.set(trained_at)
    TRAINER_LAST_FIT_DURATION.set(seconds)
    TRAINER_LAST_FIT_RATINGS.set(ratings)


def trainer_checked(ratings: int) -> None:
    TRAINER_RATINGS_SEEN.set(ratings)


def trainer_failed() -> None:
    TRAINER_FAILURES.inc()


# -- serving ---------------------------------------------------------------------------------------------------------
class _DefaultRegistry:
    """prometheus-client's default registry seen as one collector of another registry (no name checks twice)."""

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterable[Metric]:
        return REGISTRY.collect()


def scrape_registry(multiprocess_dir: Path | None, extra: Iterable[Collector] = ()) -> CollectorRegistry:
    """What a scrape of this process shows: every process' files in ``multiprocess_dir`` when given (gunicorn),
    else this process' default registry; plus ``extra`` collectors read at scrape time."""
    registry = CollectorRegistry()
    if multiprocess_dir is not None:
        multiprocess.MultiProcessCollector(registry, path=str(multiprocess_dir))
    else:
        registry.register(_DefaultRegistry())
    for collector in extra:
        registry.register(collector)
    return registry


def serve(host: str, port: int, multiprocess_dir: Path | None = None) -> Any:
    """An HTTP ``/metrics`` endpoint on its own port, in a daemon thread (the indexer, the trainer). Returns the
    server: ``shutdown()`` then ``server_close()`` stops it."""
    server, _thread = start_http_server(port, addr=host, registry=scrape_registry(multiprocess_dir))
    return server
