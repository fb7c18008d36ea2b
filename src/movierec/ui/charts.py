"""My ratings' numbers and charts: the history as a table, the running average over time, the genres rated highest.

Building the first chart in a process loads Altair and the Vega-Lite schema (0.5-1 s); :func:`warm_up` does that
once when the UI server starts, in the background, so the first visit of My ratings does not wait for it.
"""

from __future__ import annotations

import threading

import altair as alt
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


def _time_axis(times: pd.Series) -> tuple[alt.Scale, str]:
    """A readable time axis whatever the span: seconds for a burst, hours for a sitting, days, then years."""
    first, last = times.min(), times.max()
    span = last - first
    pad = max(span * 0.05, pd.Timedelta(seconds=5))
    scale = alt.Scale(domain=[(first - pad).isoformat(), (last + pad).isoformat()])
    if span < pd.Timedelta(minutes=10):
        return scale, "%H:%M:%S"
    if span < pd.Timedelta(days=1):
        return scale, "%H:%M"
    if span < pd.Timedelta(days=3):
        return scale, "%a %H:%M"
    if span < pd.Timedelta(days=400):
        return scale, "%b %d"
    return scale, "%Y"


def over_time_chart(frame: pd.DataFrame) -> alt.LayerChart:
    data = frame[["Title", "Your rating", "Rated"]].sort_values("Rated")
    data = data.assign(**{"Running average": data["Your rating"].expanding().mean().round(2)})
    scale, time_format = _time_axis(data["Rated"])
    x = alt.X("Rated:T", title=None, scale=scale, axis=alt.Axis(format=time_format, labelOverlap=True))
    base = alt.Chart(data).encode(x=x)
    points = base.mark_circle(size=80, opacity=0.85).encode(
        y=alt.Y("Your rating:Q", scale=alt.Scale(domain=[0, 10]), title="Rating"),
        tooltip=["Title", "Your rating", alt.Tooltip("Rated:T", format="%Y-%m-%d %H:%M")],
    )
    line = base.mark_line(strokeWidth=2, color="#ff4b4b", opacity=0.7).encode(
        y="Running average:Q", tooltip=["Running average"]
    )
    chart: alt.LayerChart = (points + line).properties(height=300)
    return chart


def genre_chart(table: pd.DataFrame) -> alt.LayerChart:
    data = table.assign(Label=[f"{a:.1f} · {n} rated" for a, n in zip(table["Average"], table["Ratings"], strict=True)])
    base = alt.Chart(data).encode(
        y=alt.Y("Genre:N", sort=list(data["Genre"]), title=None),
        x=alt.X("Average:Q", scale=alt.Scale(domain=[0, 10]), title="Your average rating"),
        tooltip=["Genre", alt.Tooltip("Average:Q", format=".1f"), "Ratings"],
    )
    bars = base.mark_bar(cornerRadiusEnd=3)
    labels = base.mark_text(align="right", dx=-6, color="white", fontWeight="bold").encode(text="Label:N")
    chart: alt.LayerChart = (bars + labels).properties(height=alt.Step(26))
    return chart


def favourite_genre(table: pd.DataFrame) -> str:
    """The genre rated highest on average, among genres rated at least twice when there are any."""
    if not len(table):
        return "—"
    settled = table[table["Ratings"] >= 2]
    return str((settled if len(settled) else table)["Genre"].iloc[0])


def warm_up() -> None:
    """Build both charts for one made-up rating: what the first real visit would otherwise pay for."""
    try:
        frame = pd.DataFrame({"Title": ["-"], "Your rating": [8], "Rated": [pd.Timestamp.now("UTC")]})
        over_time_chart(frame).to_dict()  # (the columns it reads)
        genre_chart(pd.DataFrame({"Genre": ["Drama"], "Average": [8.0], "Ratings": [1]})).to_dict()
        import pyarrow  # noqa: F401  (the table's data travels as Arrow)
    except Exception as exc:  # a warm-up must never stop the UI; the page builds its charts itself
        log.warning("ui.warm_up_failed", error=repr(exc))


def warm_up_in_background() -> threading.Thread:
    thread = threading.Thread(target=warm_up, name="ui-warm-up", daemon=True)
    thread.start()
    return thread
