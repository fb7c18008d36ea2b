"""What the API's request metrics cost per request, measured side by side in one run.

``python -m bench.metrics_overhead [--requests N] [--rounds R]``

Two one-route Flask apps (bench/hello.py's route) answer the same WSGI requests in-process, alternating in rounds:
one bare, one with ``movierec.api.metrics.register_metrics`` (the counter and histogram hooks of every API request).
It prints the time per request of each, their difference (the metrics' cost per request) and their ratio, and the
cost of the after_request hook alone (``timeit`` inside one request context). No server, no network, no database.
"""

from __future__ import annotations

import argparse
import statistics
import time
import timeit
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask

from movierec.api.extension import EXTENSION
from movierec.api.metrics import RequestMetrics, register_metrics, stamped


@dataclass
class _Settings:
    prometheus_multiproc_dir: Path | None = None


class _NoModels:
    def loaded(self) -> None:
        return None  # no generation loaded: the scrape shows no model metrics


@dataclass
class _Container:
    """What ``register_metrics`` reads of the composition root: the settings and the model registry."""

    settings: _Settings
    models: Any


def hello_app(with_metrics: bool) -> Flask:
    app = Flask("movierec-bench-metrics")

    @app.get("/hello/<int:n>")
    def hello(n: int) -> dict[str, int]:
        return {"n": n}

    if with_metrics:
        app.extensions[EXTENSION] = _Container(_Settings(), _NoModels())
        register_metrics(app, RequestMetrics())
        app.wsgi_app = stamped(app.wsgi_app)  # type: ignore[method-assign]
    return app


def per_request_us(app: Flask, requests: int) -> float:
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/hello/7",
        "SERVER_NAME": "bench",
        "SERVER_PORT": "80",
        "wsgi.url_scheme": "http",
        "wsgi.input": None,
        "wsgi.errors": None,
    }

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        return None

    wsgi = app.wsgi_app
    started = time.perf_counter()
    for _ in range(requests):
        body = wsgi(dict(environ), start_response)
        for _chunk in body:
            pass
    return (time.perf_counter() - started) / requests * 1e6


def hook_us(app: Flask, number: int) -> float:
    after = app.after_request_funcs[None][0]
    response = app.response_class("{}", mimetype="application/json")
    with app.test_request_context("/hello/7", environ_base={"movierec.metrics_started": time.perf_counter()}):
        app.preprocess_request()  # routes the request: url_rule is set as in a real request
        return timeit.timeit(lambda: after(response), number=number) / number * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=5_000)
    parser.add_argument("--rounds", type=int, default=21)
    args = parser.parse_args()
    bare, metered = hello_app(False), hello_app(True)
    per_request_us(bare, 1000), per_request_us(metered, 1000)  # warm up both
    bare_us, metered_us = [], []
    for _ in range(args.rounds):
        bare_us.append(per_request_us(bare, args.requests))
        metered_us.append(per_request_us(metered, args.requests))
    b, m = statistics.median(bare_us), statistics.median(metered_us)
    print(f"{args.rounds} alternating rounds of {args.requests:,} in-process requests, median per request:")
    print(f"  bare Flask route        {b:7.1f} us")
    print(f"  with request metrics    {m:7.1f} us")
    print(f"  metrics cost            {m - b:7.1f} us per request ({m / b:.3f}x the bare route)")
    print(f"  the after_request hook  {hook_us(metered, 200_000):7.2f} us (timeit, 200,000 calls)")


if __name__ == "__main__":
    main()
