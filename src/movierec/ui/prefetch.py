"""Fetch the browser code of the heavy pages before they are opened.

Streamlit's frontend loads the code of a table, a chart or a metric the first time a page shows one: about fifty
modules, each found only once the one before it has loaded, which made the first visit of My ratings take 1.5-2.5 s
against 0.3 s for the next. Once someone is logged in (My ratings needs a login), the frame imports those entry
modules while the browser is idle, so the visit finds them loaded. The module names carry a content hash that changes
with each Streamlit release: they are read from the installed Streamlit's static files, and a name that is not found
is simply not fetched.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

from streamlit import file_util

# The entry modules of the elements My ratings draws: the history table, the metrics and the two Altair charts
# (the chart's module loads Vega's embed code on its own, so that is fetched too).
ENTRY_MODULES = ("DataFrame", "Metric", "ArrowVegaLiteChart", "loadVegaEmbed", "embed")


@functools.cache
def module_paths(static_dir: str | None = None) -> tuple[str, ...]:
    """``static/js/<name>.<hash>.js`` for each entry module found in Streamlit's static files, in order."""
    js = Path(static_dir or file_util.get_static_dir()) / "static" / "js"
    found = []
    for name in ENTRY_MODULES:
        matches = sorted(p.name for p in js.glob(f"{name}.*.js") if len(p.name.split(".")) == 3)
        if matches:
            found.append(f"static/js/{matches[0]}")
    return tuple(found)


def script(base_path: str, paths: tuple[str, ...]) -> str:
    """The ``<script>`` that imports ``paths`` (relative to the app's root under ``base_path``) once the browser is
    idle; a failed import changes nothing (the page loads the module itself when it needs it)."""
    root = "/" + base_path.strip("/") + "/" if base_path.strip("/") else "/"
    urls = json.dumps([root + p for p in paths])
    return (
        "<script>(() => {"
        f"const urls = {urls};"
        "const go = () => urls.forEach((u) => import(new URL(u, window.location.origin).href).catch(() => {}));"
        "if ('requestIdleCallback' in window) { requestIdleCallback(go, { timeout: 3000 }); }"
        " else { setTimeout(go, 500); }"
        "})();</script>"
    )
