"""Structured logging: one ``get_logger`` and one ``configure_logging`` for the whole package."""

from __future__ import annotations

import datetime as dt
import json as jsonlib
import logging
import sys
import time
from typing import Any

import structlog
from structlog.typing import Processor


class _CurrentStderr:
    """Writes to whatever ``sys.stderr`` is now (test runners and daemons swap it), never a stale stream."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


class AccessLog:
    """One line per HTTP request, formatted in one step instead of through the processor chain.

    The access log runs on every request (thousands a second), so it skips structlog's per-key processing but
    writes the same line shape as the rest (``ts [info] request key=value ...``, or a JSON object per line).
    Values that are not plain printable text (a path with a newline in it) are quoted, so a line stays one line.
    """

    def __init__(self) -> None:
        self.json = False
        self.enabled = True
        self._second: tuple[int, str] = (-1, "")  # the last second formatted, as one tuple (threads swap it whole)

    def request(self, **fields: Any) -> None:
        if not self.enabled:
            return
        now = self._timestamp()
        if self.json:
            line = jsonlib.dumps({"event": "request", **fields, "level": "info", "timestamp": now}, default=str)
        else:
            pairs = " ".join([f"{key}={_plain(fields[key])}" for key in sorted(fields)])
            line = f"{now} [info     ] request                        {pairs}"
        sys.stderr.write(line + "\n")

    def http(
        self, method: str, path: str, status: int, started: float | None, user_id: int | None, address: str | None
    ) -> None:
        """The line of one HTTP request, ``started`` at perf_counter time (its ms are counted to now)."""
        if self.enabled:
            ms = round((time.perf_counter() - started) * 1000, 1) if started else None
            self.request(method=method, path=path, status=status, ms=ms, user_id=user_id, address=address)

    def _timestamp(self) -> str:
        """UTC now as ISO 8601 with microseconds (``2026-12-01T10:00:00.123456Z``); the date and time of day are
        formatted once a second."""
        now = time.time()
        second = int(now)
        last, text = self._second
        if second != last:
            text = dt.datetime.fromtimestamp(second, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")
            self._second = (second, text)
        return f"{text}.{int((now - second) * 1_000_000):06d}Z"


def _plain(value: Any) -> str:
    if value is None or type(value) in (int, float):  # nothing to quote
        return str(value)
    text = str(value)
    return text if text and text.isprintable() and " " not in text else repr(text)


access_log = AccessLog()


def configure_logging(level: str = "INFO", json: bool = False) -> None:
    """Route structlog and the standard library through one renderer (key=value, or JSON lines)."""
    access_log.json = json
    access_log.enabled = logging.getLevelName(level.upper()) <= logging.INFO
    renderer: Any = structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=_CurrentStderr()),  # type: ignore[arg-type]
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(_CurrentStderr())
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
            foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("alembic", "elastic_transport", "urllib3", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # "Task queue depth is N" at WARNING on every request that finds all of waitress' threads busy: under load,
    # thousands of lines a second that cost the server CPU it is short of. The request metrics show the load.
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)


def get_logger(name: str | None = None, **fields: Any) -> structlog.stdlib.BoundLogger:
    return structlog.stdlib.get_logger(name, **fields)
