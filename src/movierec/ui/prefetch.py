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


@functools.cache
def sample_charts() -> str:
    """My ratings' two charts (:mod:`movierec.ui.charts`) for one made-up rating, as JSON Vega-Lite specs with their
    data inline: what :func:`script` draws out of sight once, so that the browser has compiled Vega's code before the
    first real chart (the first chart of a tab cost the browser ~150 ms more CPU than the next)."""
    import pandas as pd

    from movierec.ui import charts

    frame = pd.DataFrame({"Title": ["-"], "Your rating": [8], "Rated": [pd.Timestamp("2024-01-01T12:00:00Z")]})
    table = pd.DataFrame({"Genre": ["Drama"], "Average": [8.0], "Ratings": [1]})
    specs = []
    for spec in (charts.over_time_chart(frame), charts.genre_chart(table)):
        data = next(iter(spec["datasets"].values()))
        values = json.loads(data.to_json(orient="records", date_format="iso"))
        specs.append({**{k: v for k, v in spec.items() if k != "datasets"}, "data": {"values": values}})
    return json.dumps(specs)


# Draws the sample charts off-screen with Vega's embed (loaded through Streamlit's own loader module, whose one export
# is the function that returns it) the way Streamlit's chart element calls it: SVG, Vega's expression interpreter.
_WARM_CHARTS = """
const load = mods.map((m) => m && Object.values(m).find((f) => typeof f === "function" && f.length === 0))
  [urls.findIndex((u) => u.includes("/loadVegaEmbed."))];
if (!load) return;
const { embed, expressionInterpreter } = await load();
for (const spec of SPECS) {
  const box = document.createElement("div");
  box.setAttribute("aria-hidden", "true");
  box.style.cssText = "position:fixed;left:-10000px;top:0;width:480px;visibility:hidden;pointer-events:none";
  document.body.appendChild(box);
  try {
    const options = { actions: false, tooltip: false, renderer: "svg", ast: true, expr: expressionInterpreter };
    (await embed(box, spec, options)).finalize();
  } finally {
    box.remove();
  }
}
"""


def script(base_path: str, paths: tuple[str, ...], after_ms: int, warm_charts: str | None = None) -> str:
    """The ``<script>`` that imports ``paths`` (relative to the app's root under ``base_path``) once the person has
    clicked or typed nothing for ``after_ms`` (each click or key press starts the wait again) and the browser is
    idle: it must not slow the page it arrives with, nor a click (drawing the sample charts holds the browser
    ~150 ms, and a "Show more" clicked meanwhile waited for it). A failed import changes nothing (the page loads the
    module itself when it needs it). With ``warm_charts`` (:func:`sample_charts`) and Vega's loader among ``paths``,
    it then draws those charts once out of sight (any failure changes nothing)."""
    root = "/" + base_path.strip("/") + "/" if base_path.strip("/") else "/"
    urls = json.dumps([root + p for p in paths])
    warm = f"const SPECS = {warm_charts};{_WARM_CHARTS}" if warm_charts else ""
    return (
        "<script>(() => {"
        f"const urls = {urls};"
        "const go = async () => {"
        "const mods = await Promise.all(urls.map((u) => import(new URL(u, window.location.origin).href)"
        ".catch(() => null)));"
        f"{warm}"
        "};"
        "const run = () => go().catch(() => {});"
        "const idle = () => ('requestIdleCallback' in window) ? requestIdleCallback(run, { timeout: 5000 }) : run();"
        'const inputs = ["pointerdown", "keydown"];'
        "let timer = 0;"
        "const quiet = () => { inputs.forEach((e) => window.removeEventListener(e, wait, true)); idle(); };"
        f"const wait = () => {{ clearTimeout(timer); timer = setTimeout(quiet, {int(after_ms)}); }};"
        "inputs.forEach((e) => window.addEventListener(e, wait, true));"
        "wait();"
        "})();</script>"
    )
