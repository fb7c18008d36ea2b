"""Fault tests stop and restart the real services (scripts/services); each puts back what it broke."""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator

from movierec_tools.stack import SERVICES_SCRIPT


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
