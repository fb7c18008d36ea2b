"""The movies added to the catalogue most recently."""

from __future__ import annotations

import streamlit as st

from movierec.ui import components, session
from movierec.ui.client import MAX_PAGE, Movie

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
    """The list and its "Show more", as one fragment; a "Show more" draws only the cards it adds
    (:func:`components.growing_grid`)."""

    def newest_of(count: int) -> list[Movie]:
        return session.latest(min(count, MAX_PAGE))

    with st.spinner("Loading the newest movies…"):
        movies = newest_of(components.shown_count("latest", STEP))
    if not movies:
        st.info("The catalogue is empty for now.", icon=":material/inventory_2:")
        return
    components.growing_grid("latest", movies, newest_of, step=STEP, most=MOST, context="latest", show_similar=True)


render()
