"""gunicorn hooks for the API's Prometheus metrics: ``gunicorn --config python:movierec.gunicorn_conf ...``.

With ``PROMETHEUS_MULTIPROC_DIR`` in the environment every worker writes its metrics to files there and a scrape of
any worker sums them (``movierec.metrics``). The master empties that directory before the first fork, so a restart
does not add the previous run's counts; when a worker exits, its live gauges are dropped. Without the variable these
hooks do nothing (each worker then reports only its own requests). Every other setting stays on the command line.
Each worker also loads the recommendation models as it starts (``post_worker_init``), not on its first request.

gunicorn reads this module's public names as settings: only hook names are public here.
"""

from __future__ import annotations

from typing import Any


def _metrics_dir() -> Any:
    from movierec.settings import load_settings

    return load_settings().prometheus_multiproc_dir


def on_starting(server: Any) -> None:
    path = _metrics_dir()
    if path is None:
        return
    path.mkdir(parents=True, exist_ok=True)
    for stale in path.glob("*.db"):  # only the client library's files: never anything else in the directory
        stale.unlink(missing_ok=True)
    server.log.info("Prometheus multiprocess metrics in %s", path)


def child_exit(server: Any, worker: Any) -> None:
    path = _metrics_dir()
    if path is None:
        return
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid, str(path))


def post_worker_init(worker: Any) -> None:
    """Load the models of the worker's app in the background (``ModelRegistry.warm``)."""
    from movierec.api.extension import EXTENSION

    extensions = getattr(worker.wsgi, "extensions", None)
    container = extensions.get(EXTENSION) if isinstance(extensions, dict) else None
    if container is not None:
        container.models.warm()
