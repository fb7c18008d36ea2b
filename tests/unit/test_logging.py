from __future__ import annotations

import io
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
