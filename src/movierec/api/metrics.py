"""``GET /metrics`` (Prometheus text format) and the per-request counters and latency histogram of the API.

Unauthenticated like ``/healthz``. Behind Nginx it is not served publicly (``deploy/nginx.conf`` answers 404):
Prometheus scrapes each backend on its own port, where one scrape covers every gunicorn worker of that backend.

Per request the cost is two ``perf_counter`` calls (the first in a WSGI wrapper, ``stamped``, kept in the
environ), one lookup of the request context, one dict lookup of the (method, route, status) pair's bound children
and their updates: the bound children are made once per pair, so prometheus-client's label lookup (and its lock) is
skipped after the first request of a pair. The time covers the whole Flask request, the access log line included.
Answers sent before Flask runs (``api/answers.py``) are recorded by the same ``RequestMetrics``, under the same
labels.

Labels are bounded: the route is the URL rule (``/recommendations/<user_id>``), ``unmatched`` when no rule matched
(404, 405); the method is one of the standard ones, else ``other``.

The model generation a process serves is read at scrape time (``ModelGenerationCollector``), not per request.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

from flask import Flask, Response, request
from prometheus_client.core import GaugeMetricFamily, InfoMetricFamily
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import Metric

from movierec.api.extension import EXTENSION
from movierec.metrics import HTTP_REQUEST_DURATION, HTTP_REQUESTS, scrape_registry
from movierec.services.models import Generation, ModelRegistry

UNMATCHED = "unmatched"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
STARTED = "movierec.started"  # the environ key of when the request came in (perf_counter)


class ModelGenerationCollector:
    """The model generation this process has loaded: version, when it was trained, its age, its ratings.

    Reads what is in memory only: a scrape never loads or fits a model. A process that has not served a
    recommendation yet has no generation, and these metrics are absent until it has one.
    """

    def __init__(self, loaded: Callable[[], Generation | None], clock: Callable[[], float] = time.time) -> None:
        self._loaded = loaded
        self._clock = clock

    def describe(self) -> list[Metric]:
        return []  # nothing to check at registration; ``collect`` is cheap

    def collect(self) -> Iterator[Metric]:
        generation = self._loaded()
        if generation is None:
            return
        info = InfoMetricFamily("movierec_model_generation", "The model generation this process serves.")
        info.add_metric([], {"version": generation.version, "source": generation.source})
        yield info
        yield GaugeMetricFamily(
            "movierec_model_trained_timestamp_seconds",
            "When the served generation was trained (Unix time).",
            value=generation.trained_at,
        )
        yield GaugeMetricFamily(
            "movierec_model_age_seconds",
            "Seconds since the served generation was trained.",
            value=max(self._clock() - generation.trained_at, 0.0),
        )
        yield GaugeMetricFamily(
            "movierec_model_ratings", "Ratings the served generation was trained on.", value=generation.ratings
        )


class RequestMetrics:
    """The requests counter and latency histogram of one app, recorded by Flask's after-request hook and by the
    ready-answers layer (``api/answers.py``) alike. The bound children of a (method, route, status) are made once."""

    def __init__(self, clock: Callable[[], float] = time.perf_counter) -> None:
        self._bound: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        self._clock = clock

    def record(self, method: str, route: str | None, status: int, started: float | None) -> None:
        """One request of ``route`` (the URL rule; None when no rule matched), ``started`` at perf_counter time."""
        key = (method if method in METHODS else "other", UNMATCHED if route is None else route, status)
        children = self._bound.get(key)
        if children is None:
            children = self._bound.setdefault(
                key, (HTTP_REQUESTS.labels(key[0], key[1], str(key[2])), HTTP_REQUEST_DURATION.labels(key[1]))
            )
        children[0].inc()
        if started is not None:
            children[1].observe(self._clock() - started)


def stamped(inner: Callable[[dict[str, Any], Any], Any]) -> Callable[[dict[str, Any], Any], Any]:
    """A WSGI layer that keeps when the request came in (``STARTED``, perf_counter time) in the environ: a plain
    dict write, no context-local lookup on the way in. The app's outermost layer, so the time covers all."""
    clock = time.perf_counter

    def _stamped(environ: dict[str, Any], start_response: Any) -> Any:
        environ[STARTED] = clock()
        return inner(environ, start_response)

    return _stamped


def register_metrics(app: Flask, recorder: RequestMetrics) -> None:
    """Count and time every request Flask answers (with ``recorder``, which the ready-answers layer shares), and
    serve ``GET /metrics``. The time starts at ``STARTED``, which the app's outermost WSGI layer stamps."""
    container = app.extensions[EXTENSION]
    models: ModelRegistry = container.models
    registry = scrape_registry(
        container.settings.prometheus_multiproc_dir, extra=[ModelGenerationCollector(models.loaded)]
    )

    @app.after_request
    def _metrics_record(response: Response) -> Response:
        current = request._get_current_object()  # type: ignore[attr-defined]  # one context lookup, not three
        rule = current.url_rule
        recorder.record(
            current.method, None if rule is None else rule.rule, response.status_code, current.environ.get(STARTED)
        )
        return response

    def metrics() -> Response:
        # the text format, or OpenMetrics when the scraper asks for it (as prometheus-client's own server does)
        encode, content_type = choose_encoder(request.headers.get("Accept", ""))
        return Response(encode(registry), status=200, content_type=content_type)

    app.add_url_rule("/metrics", "metrics", metrics, methods=["GET"])
