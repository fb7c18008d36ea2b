"""Fetch the browser code of elements before a page first shows them.

Streamlit's frontend loads the code of an element the first time a page shows one: a table, a chart or a metric
is about fifty modules, each found only once the one before it has loaded (this made the first visit of My ratings
take 1.5-2.5 s against 0.3 s for the next), and a card's buttons need a module the search and login pages do not
load. The frame imports those entry modules a moment after a page has loaded, while the browser is idle: the card
controls' for every visitor, My ratings' once someone is logged in (it needs a login). The module names carry a
content hash that changes with each Streamlit release: they are read from the installed Streamlit's static files,
and a name that is not found is simply not fetched.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

from streamlit import file_util

# The buttons of a card and the toast; then My ratings' history table, metrics and two Altair charts (the chart's
# module loads Vega's embed code on its own, so that is fetched too).
CARD_MODULES = ("Button", "Toast")
MY_RATINGS_MODULES = ("DataFrame", "Metric", "ArrowVegaLiteChart", "loadVegaEmbed", "embed")


@functools.cache
def module_paths(names: tuple[str, ...], static_dir: str | None = None) -> tuple[str, ...]:
    """``static/js/<name>.<hash>.js`` for each of ``names`` found in Streamlit's static files, in order."""
    js = Path(static_dir or file_util.get_static_dir()) / "static" / "js"
    found = []
    for name in names:
        matches = sorted(p.name for p in js.glob(f"{name}.*.js") if len(p.name.split(".")) == 3)
        if matches:
            found.append(f"static/js/{matches[0]}")
    return tuple(found)


def script(base_path: str, paths: tuple[str, ...], after_ms: int) -> str:
    """The ``<script>`` that imports ``paths`` (relative to the app's root under ``base_path``) ``after_ms`` after
    the page drew it, once the browser is idle (so it does not slow the page it arrives with); a failed import changes
    nothing (the page loads the module itself when it needs it)."""
    root = "/" + base_path.strip("/") + "/" if base_path.strip("/") else "/"
    urls = json.dumps([root + p for p in paths])
    return (
        "<script>(() => {"
        f"const urls = {urls};"
        "const go = () => urls.forEach((u) => import(new URL(u, window.location.origin).href).catch(() => {}));"
        "const idle = () => ('requestIdleCallback' in window) ? requestIdleCallback(go, { timeout: 5000 }) : go();"
        f"setTimeout(idle, {int(after_ms)});"
        "})();</script>"
    )
