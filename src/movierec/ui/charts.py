"""My ratings' numbers and charts: the history as a table, the running average over time, the genres rated highest.

The charts are Vega-Lite specifications written here (Altair's objects and their validation cost 100-170 ms of the
server's time a visit). The first chart's data in a process still loads pandas' and pyarrow's code; :func:`warm_up`
does that once when the UI server starts, in the background, so the first visit of My ratings does not wait for it.
"""

from __future__ import annotations

import hashlib
import threading
from typing import Any

import pandas as pd

from movierec.log import get_logger
from movierec.ui.client import RatedMovie, shown_genres

log = get_logger(__name__)

TOP_GENRES = 12


def ratings_frame(rated: list[RatedMovie]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "Poster": [r.movie.poster_url for r in rated],
            "Title": [r.movie.title for r in rated],
            "Year": [r.movie.year for r in rated],
            "Genres": [list(r.movie.genres) for r in rated],
            "Your rating": [r.rating for r in rated],
            "Rated": [pd.Timestamp(r.rated_at) for r in rated],
        }
    )


def genre_frame(rated: list[RatedMovie]) -> pd.DataFrame:
    rows = [(g, r.rating) for r in rated for g in shown_genres(r.movie.genres)]
    if not rows:
        return pd.DataFrame(columns=["Genre", "Average", "Ratings"])
    frame = pd.DataFrame(rows, columns=["Genre", "Rating"])
    table = frame.groupby("Genre", as_index=False).agg(Average=("Rating", "mean"), Ratings=("Rating", "size"))
    return table.sort_values(["Average", "Ratings", "Genre"], ascending=[False, False, True]).head(TOP_GENRES)


Spec = dict[str, Any]  # a Vega-Lite specification, as st.vega_lite_chart takes it


def _time_axis(times: pd.Series) -> tuple[list[str], str]:
    """A readable time axis whatever the span (its domain and format): seconds for a burst, hours for a sitting,
    days, then years."""
    first, last = times.min(), times.max()
    span = last - first
    pad = max(span * 0.05, pd.Timedelta(seconds=5))
    domain = [(first - pad).isoformat(), (last + pad).isoformat()]
    if span < pd.Timedelta(minutes=10):
        return domain, "%H:%M:%S"
    if span < pd.Timedelta(days=1):
        return domain, "%H:%M"
    if span < pd.Timedelta(days=3):
        return domain, "%a %H:%M"
    if span < pd.Timedelta(days=400):
        return domain, "%b %d"
    return domain, "%Y"


def over_time_chart(frame: pd.DataFrame) -> Spec:
    """The ratings over time (one dot each) and their running average, as a Vega-Lite spec holding its data.

    Written as a spec rather than built with Altair: Altair's objects and their validation took 100-170 ms of the
    server's time on every visit of My ratings; this takes well under a millisecond and draws the same chart."""
    data = frame[["Title", "Your rating", "Rated"]].sort_values("Rated")
    data = data.assign(**{"Running average": data["Your rating"].expanding().mean().round(2)})
    domain, time_format = _time_axis(data["Rated"])
    x = {
        "field": "Rated",
        "type": "temporal",
        "title": None,
        "scale": {"domain": domain},
        "axis": {"format": time_format, "labelOverlap": True},
    }
    points = {
        "mark": {"type": "circle", "size": 80, "opacity": 0.85},
        "encoding": {
            "x": x,
            "y": {"field": "Your rating", "type": "quantitative", "scale": {"domain": [0, 10]}, "title": "Rating"},
            "tooltip": [
                {"field": "Title", "type": "nominal"},
                {"field": "Your rating", "type": "quantitative"},
                {"field": "Rated", "type": "temporal", "format": "%Y-%m-%d %H:%M"},
            ],
        },
    }
    line = {
        "mark": {"type": "line", "strokeWidth": 2, "color": "#ff4b4b", "opacity": 0.7},
        "encoding": {
            "x": x,
            "y": {"field": "Running average", "type": "quantitative"},
            "tooltip": [{"field": "Running average", "type": "quantitative"}],
        },
    }
    return _with_data(data, {"height": 300, "layer": [points, line]})


def genre_chart(table: pd.DataFrame) -> Spec:
    """The user's average rating per genre, as bars with their figures on them (a Vega-Lite spec holding its data)."""
    data = table.assign(Label=[f"{a:.1f} · {n} rated" for a, n in zip(table["Average"], table["Ratings"], strict=True)])
    encoding = {
        "y": {"field": "Genre", "type": "nominal", "sort": list(data["Genre"]), "title": None},
        "x": {"field": "Average", "type": "quantitative", "scale": {"domain": [0, 10]}, "title": "Your average rating"},
        "tooltip": [
            {"field": "Genre", "type": "nominal"},
            {"field": "Average", "type": "quantitative", "format": ".1f"},
            {"field": "Ratings", "type": "quantitative"},
        ],
    }
    bars = {"mark": {"type": "bar", "cornerRadiusEnd": 3}}
    labels = {
        "mark": {"type": "text", "align": "right", "dx": -6, "color": "white", "fontWeight": "bold"},
        "encoding": {"text": {"field": "Label", "type": "nominal"}},
    }
    return _with_data(data, {"height": {"step": 26}, "encoding": encoding, "layer": [bars, labels]})


def _with_data(data: pd.DataFrame, spec: Spec) -> Spec:
    """The spec with its data as one named dataset, named by its content (as Streamlit's Altair charts send it: the
    browser drew that form about 25 ms faster than the same data given beside the spec)."""
    name = hashlib.md5(pd.util.hash_pandas_object(data).values.tobytes(), usedforsecurity=False).hexdigest()
    return {**spec, "data": {"name": name}, "datasets": {name: data}}


def favourite_genre(table: pd.DataFrame) -> str:
    """The genre rated highest on average, among genres rated at least twice when there are any."""
    if not len(table):
        return "—"
    settled = table[table["Ratings"] >= 2]
    return str((settled if len(settled) else table)["Genre"].iloc[0])


def warm_up() -> None:
    """Build both charts for one made-up rating and turn their data into Arrow as Streamlit sends it (pandas' and
    pyarrow's first use in a process): what the first real visit would otherwise pay for."""
    try:
        from streamlit import dataframe_util

        frame = pd.DataFrame({"Title": ["-"], "Your rating": [8], "Rated": [pd.Timestamp.now("UTC")]})
        ratings = pd.DataFrame({"Title": ["-"], "Rating": [8], "Genre": ["Drama"]})
        table = ratings.groupby("Genre", as_index=False).agg(Average=("Rating", "mean"), Ratings=("Rating", "size"))
        for spec in (over_time_chart(frame), genre_chart(table.sort_values(["Average"]))):
            for data in spec["datasets"].values():
                dataframe_util.convert_anything_to_arrow_bytes(data)
    except Exception as exc:  # a warm-up must never stop the UI; the page builds its charts itself
        log.warning("ui.warm_up_failed", error=repr(exc))


def warm_up_in_background() -> threading.Thread:
    thread = threading.Thread(target=warm_up, name="ui-warm-up", daemon=True)
    thread.start()
    return thread
