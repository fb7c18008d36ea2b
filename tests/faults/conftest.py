"""Fault tests stop and restart the real services (scripts/services); each puts back what it broke."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from movierec.settings import Settings
from movierec.stack import SERVICES_SCRIPT, child_environment
from movierec.wiring import Container, build_container


def services(action: str, name: str) -> None:
    subprocess.run([str(SERVICES_SCRIPT), action, name], check=True, timeout=240, capture_output=True)


@contextlib.contextmanager
def outage(name: str) -> Iterator[None]:
    """``name`` is down inside the block and healthy again after it, whatever happens inside."""
    services("stop", name)
    try:
        yield
    finally:
        services("start", name)


def wait_until(condition: Callable[[], object], timeout: float, what: str, every: float = 0.25) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(every)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")


class Indexer:
    """`movierec indexer` as its own process, as in production."""

    def __init__(self, settings: Settings, log_path: Path) -> None:
        self.settings, self.log_path = settings, log_path
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "movierec", "indexer"],
                env=child_environment(self.settings, os.environ),
                stdout=log,
                stderr=log,
            )

    def kill(self, signal_number: int) -> int:
        assert self.process is not None
        self.process.send_signal(signal_number)
        return self.process.wait(30)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@pytest.fixture
def stack(full_stack_settings: Settings) -> Iterator[Container]:
    container = build_container(full_stack_settings, run_migrations=True)
    yield container
    container.close()


@pytest.fixture
def indexer(full_stack_settings: Settings, tmp_path: Path) -> Iterator[Indexer]:
    running = Indexer(full_stack_settings, tmp_path / "indexer.log")
    running.start()
    yield running
    if running.alive():
        running.kill(9)
