"""The movies added to the catalogue most recently."""

from __future__ import annotations

import streamlit as st

from movierec.ui import components, session
from movierec.ui.client import MAX_PAGE

STEP = 12
MOST = 96


def _show_more(shown: int) -> None:
    st.session_state["latest_shown"] = shown + STEP


def render() -> None:
    st.title("Recently added")
    st.caption(
        "The catalogue's newest movies: the latest release year first, then the most recently added "
        "(a catalogue loaded in one go still starts with its newest films)."
    )
    shown = int(st.session_state.get("latest_shown", STEP))
    with st.spinner("Loading the newest movies…"):
        movies = session.latest(min(shown, MAX_PAGE))
    if not movies:
        st.info("The catalogue is empty for now.", icon=":material/inventory_2:")
        return
    components.movie_grid(movies, context="latest", show_similar=True)
    if len(movies) >= shown and shown < MOST:
        # A callback, so the click's one run already draws the longer list (not a run, then st.rerun, then another).
        st.button("Show more", key="latest_more", icon=":material/expand_more:", on_click=_show_more, args=(shown,))


render()
