"""Your ratings, newest first, with how they moved over time and the genres you rate highest."""

from __future__ import annotations

import streamlit as st

from movierec.ui import components, session
from movierec.ui.charts import favourite_genre, genre_chart, genre_frame, over_time_chart, ratings_frame
from movierec.ui.client import ApiError, ApiUnavailable, RatedMovie


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
        st.vega_lite_chart(spec=over_time_chart(frame), width="stretch")
        st.caption("Each dot is a rating; the line is your running average.")
    with by_genre:
        st.subheader("Genres you rate highest", anchor=False)
        if len(genres):
            st.vega_lite_chart(spec=genre_chart(genres), width="stretch")
            st.caption("Average of your ratings per genre (a movie counts for each of its genres).")
        else:
            st.caption("Your rated movies have no genres.")


render()
