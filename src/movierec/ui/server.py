"""The one command line that starts the UI's Streamlit server: ``movierec up``, ``movierec ui`` (the compose service)
and ``movierec stack`` all use it, so the UI runs with the same settings everywhere."""

from __future__ import annotations

import sys
from pathlib import Path

APP = Path(__file__).with_name("app.py")
OPTIONS: tuple[tuple[str, str], ...] = (
    ("server.headless", "true"),
    ("browser.gatherUsageStats", "false"),  # nothing is sent anywhere
    ("global.developmentMode", "false"),
    ("client.toolbarMode", "viewer"),  # no developer menu for people using the app
    # Streamlit otherwise runs a full gc.collect(2) after every script and fragment run. It holds the interpreter
    # while the last messages of the run wait to be sent, which added 50-200 ms to a click; Python's own collector
    # still runs as usual.
    ("runner.postScriptGC", "false"),
)


def command(port: int, address: str = "127.0.0.1") -> list[str]:
    """``python -m streamlit run …/app.py`` on ``address:port`` with the UI's settings."""
    flags = [part for name, value in OPTIONS for part in (f"--{name}", value)]
    return [
        sys.executable, "-m", "streamlit", "run", str(APP),
        "--server.port", str(port), "--server.address", address, *flags,
    ]  # fmt: skip
