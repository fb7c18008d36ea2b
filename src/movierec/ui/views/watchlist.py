"""The movies you keep for later, most recently added first; each card takes its movie off the list."""

from __future__ import annotations

import streamlit as st

from movierec.ui import components, session
from movierec.ui.client import Movie


def _remove(movie: Movie) -> None:
    """on_click of "Remove from watchlist": the page reruns without the movie, and says how it went."""
    key = f"lists-watchlist-{movie.id}"
    components.toggle_listed("watchlist", movie.id, movie.title, key, False)
    kind, text, _ = st.session_state.pop(f"{key}-outcome", (None, "", ""))
    if kind == "success":
        session.flash("success", text)
    elif kind == "error":
        session.flash("error", text)


def render() -> None:
    st.title("Watchlist")
    current = session.user()
    if current is None:
        components.login_prompt("to keep a watchlist")
        return
    with st.spinner("Loading your watchlist…"):
        entries = session.api().whole_list(current.access_token, "watchlist", current.user_id)
    session.remember_list("watchlist", {e.movie.id for e in entries})
    if not entries:
        st.info(
            'Nothing on your watchlist yet. "+ Watchlist" on any movie keeps it here for later.',
            icon=":material/bookmark_border:",
        )
        st.page_link(components.SEARCH_PAGE, label="Find movies", icon=":material/search:")
        return
    noun = "movie" if len(entries) == 1 else "movies"
    st.caption(f"{len(entries)} {noun} to watch, most recently added first.")
    grid = st.grid(2, min_column_width=360, gap="small", border=True)
    for entry in entries:
        with grid.cell():
            components.movie_card(entry.movie, context="watchlist", show_similar=True, rerun_lists=("watchlist",))
            st.button(
                "Remove from watchlist",
                key=f"unwatch-{entry.movie.id}",
                icon=":material/bookmark_remove:",
                on_click=_remove,
                args=(entry.movie,),
            )


render()
