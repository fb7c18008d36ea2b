"""The movies added to the catalogue most recently."""

from __future__ import annotations

import streamlit as st

from movierec.ui import components, session
from movierec.ui.client import MAX_PAGE

STEP = 12
MOST = 96


def render() -> None:
    st.title("Recently added")
    st.caption(
        "The catalogue's newest movies: the latest release year first, then the most recently added "
        "(a catalogue loaded in one go still starts with its newest films)."
    )
    newest()


@session.guarded_fragment
def newest() -> None:
    """The list and its "Show more", as one fragment: a longer list redraws the cards, not the page around them."""
    shown = components.shown_count("latest", STEP)
    with st.spinner("Loading the newest movies…"):
        movies = session.latest(min(shown, MAX_PAGE))
    if not movies:
        st.info("The catalogue is empty for now.", icon=":material/inventory_2:")
        return
    components.movie_grid(movies, context="latest", show_similar=True)
    if len(movies) >= shown and shown < MOST:
        components.show_more_button("latest", shown, STEP)


render()
