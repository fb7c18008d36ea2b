from __future__ import annotations

import io
import json
import logging
import sys

import pytest

from movierec.log import configure_logging, get_logger


def test_logs_follow_the_current_stderr(monkeypatch: pytest.MonkeyPatch) -> None:
    first, second = io.StringIO(), io.StringIO()
    monkeypatch.setattr(sys, "stderr", first)
    configure_logging("INFO")
    get_logger("test").info("one", n=1)
    first.close()  # the stream that was current when logging was configured goes away
    monkeypatch.setattr(sys, "stderr", second)
    get_logger("test").info("two", n=2)
    logging.getLogger("test.stdlib").warning("three")
    assert "two" in second.getvalue() and "n=2" in second.getvalue() and "three" in second.getvalue()


def test_the_access_log_is_one_line_per_request_whatever_the_path(monkeypatch: pytest.MonkeyPatch) -> None:
    from movierec.log import access_log

    out = io.StringIO()
    monkeypatch.setattr(sys, "stderr", out)
    configure_logging("INFO")
    access_log.request(method="GET", path="/search\nforged line", status=404, ms=1.5, user_id=None)
    access_log.request(method="GET", path="/healthz", status=200, ms=0.4, user_id=7)
    lines = out.getvalue().splitlines()
    assert len(lines) == 2
    assert "path='/search\\nforged line'" in lines[0] and "status=404" in lines[0]
    assert "[info     ] request" in lines[1] and "path=/healthz" in lines[1] and "user_id=7" in lines[1]

    configure_logging("INFO", json=True)
    access_log.request(method="POST", path="/rate", status=200, ms=2.0, user_id=3)
    record = json.loads(out.getvalue().splitlines()[-1])
    assert record["event"] == "request" and record["path"] == "/rate" and record["user_id"] == 3

    configure_logging("WARNING")  # the access log is at INFO: off
    access_log.request(method="GET", path="/quiet", status=200, ms=0.1, user_id=None)
    assert "/quiet" not in out.getvalue()
    configure_logging("INFO")


def test_waitress_busy_threads_are_not_logged_per_request(monkeypatch: pytest.MonkeyPatch) -> None:
    out = io.StringIO()
    monkeypatch.setattr(sys, "stderr", out)
    configure_logging("INFO")
    logging.getLogger("waitress.queue").warning("Task queue depth is %d", 9)  # what waitress logs under load
    logging.getLogger("waitress").warning("Canceling 2 pending task(s)")  # waitress' other warnings still show
    assert "queue depth" not in out.getvalue() and "Canceling 2 pending" in out.getvalue()
