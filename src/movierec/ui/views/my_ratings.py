"""Your ratings, newest first, with how they moved over time and the genres you rate highest."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from movierec.ui import components, session
from movierec.ui.client import ApiError, ApiUnavailable, RatedMovie, shown_genres

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


def unrate(titles: dict[int, str]) -> None:
    """on_click of "Remove rating": take the chosen rating back through the API; the page reruns without it."""
    current = session.user()
    movie_id = st.session_state.get("unrate_pick")
    if current is None or movie_id is None:
        return
    title = titles.get(int(movie_id), "the movie")
    try:
        session.api().unrate(current.access_token, int(movie_id))
    except ApiUnavailable as exc:
        session.flash("error", f"Not removed: your rating of {title} is kept ({exc.message}). Try again.")
        return
    except ApiError as exc:
        if exc.status == 401:
            session.expire()
        else:
            session.flash("error", f"Not removed: {exc.message}")
        return
    session.forget_rating(int(movie_id))
    st.session_state.pop("unrate_pick", None)
    session.flash("success", f"Your rating of {title} is removed")


def remove_rating_control(rated: list[RatedMovie]) -> None:
    titles = {r.movie.id: f"{r.movie.label} — {r.rating}/10" for r in rated}
    with st.expander("Take a rating back", icon=":material/delete:"):
        st.caption("The movie counts as not rated again: it can be recommended, and no longer shapes your picks.")
        st.selectbox(
            "Your rating of",
            list(titles),
            format_func=titles.__getitem__,
            index=None,
            placeholder="Choose a movie you rated",
            key="unrate_pick",
        )
        st.button(
            "Remove rating",
            key="unrate_button",
            icon=":material/delete:",
            on_click=unrate,
            args=({r.movie.id: r.movie.title for r in rated},),
            disabled=st.session_state.get("unrate_pick") is None,
        )


def render() -> None:
    st.title("My ratings")
    current = session.user()
    if current is None:
        components.login_prompt("to see and chart your ratings")
        return
    with st.spinner("Loading your ratings…"):
        rated = session.api().all_my_ratings(current.access_token, current.user_id)
    session.remember_ratings({r.movie.id: r.rating for r in rated})
    if not rated:
        st.info("You have not rated any movie yet.", icon=":material/star_border:")
        st.page_link(components.SEARCH_PAGE, label="Find movies to rate", icon=":material/search:")
        return

    frame = ratings_frame(rated)
    genres = genre_frame(rated)
    count, average, favourite = st.columns(3)
    count.metric("Movies rated", f"{len(rated):,}", border=True)
    average.metric("Your average", f"{frame['Your rating'].mean():.1f} / 10", border=True)
    favourite.metric("Genre you rate highest", favourite_genre(genres), border=True)

    st.subheader("History", anchor=False)
    columns = ["Title", "Year", "Genres", "Your rating", "Rated"]
    if frame["Poster"].notna().any():
        columns.insert(0, "Poster")
    st.dataframe(
        frame,
        hide_index=True,
        column_order=columns,
        column_config={
            "Poster": st.column_config.ImageColumn("Poster", width="small"),
            "Year": st.column_config.NumberColumn("Year", format="%d"),
            "Genres": st.column_config.ListColumn("Genres"),
            "Your rating": st.column_config.ProgressColumn("Your rating", min_value=0, max_value=10, format="%d / 10"),
            "Rated": st.column_config.DatetimeColumn("Rated", format="distance"),
        },
        width="stretch",
        key="ratings_table",
    )
    remove_rating_control(rated)

    over_time, by_genre = st.columns(2)
    with over_time:
        st.subheader("Ratings over time", anchor=False)
        st.altair_chart(over_time_chart(frame), width="stretch")
        st.caption("Each dot is a rating; the line is your running average.")
    with by_genre:
        st.subheader("Genres you rate highest", anchor=False)
        if len(genres):
            st.altair_chart(genre_chart(genres), width="stretch")
            st.caption("Average of your ratings per genre (a movie counts for each of its genres).")
        else:
            st.caption("Your rated movies have no genres.")


render()
