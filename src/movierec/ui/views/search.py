"""Search the catalogue by title and genre; rate what you find."""

from __future__ import annotations

import math
import zlib

import streamlit as st

from movierec.ui import components, session
from movierec.ui.client import MAX_OFFSET, ApiError, shown_genres

PAGE_SIZE = 12
ALL_GENRES = "All genres"
BROWSE_GENRES = 14
MAX_QUERY = 200  # the API's limit for q


def _pick_genre() -> None:
    chosen = st.session_state.get("browse_genre")
    if chosen:
        st.session_state["search_genre"] = chosen
    st.session_state.pop("browse_genre", None)


def browse_genres() -> None:
    """Quick genre filters, biggest genres first."""
    top = shown_genres(g.name for g in session.genres())[:BROWSE_GENRES]
    if top:
        st.pills("Or browse a genre", top, key="browse_genre", on_change=_pick_genre)


def render() -> None:
    st.title("Search movies")
    results()


@session.guarded_fragment
def results() -> None:
    """The search box, the genre filter and what they find, as one fragment: a new search or filter redraws this,
    not the page around it."""
    names = session.genre_names()
    query_column, genre_column = st.columns([3, 1], vertical_alignment="bottom")
    with query_column:
        query = st.text_input(
            "Title",
            key="search_q",
            placeholder="Try “toy story”, “matrix” or “amelie” — typos are fine",
            icon=":material/search:",
        )
    with genre_column:
        genre = st.selectbox("Genre", [ALL_GENRES, *names], key="search_genre")
    q = (query or "").strip() or None
    if q is not None and len(q) > MAX_QUERY:
        st.warning(f"Searches are at most {MAX_QUERY} characters: searching the first {MAX_QUERY}.")
        q = q[:MAX_QUERY].strip()
    genre_filter = None if genre == ALL_GENRES else genre
    if q is None and genre_filter is None:
        st.info("Type a title or pick a genre to start.", icon=":material/movie:")
        browse_genres()
        return

    # One pager per search, so a new search starts on its first page.
    pager = f"search_page-{zlib.crc32(repr((q, genre_filter)).encode())}"
    page_number = int(st.session_state.get(pager) or 1)
    try:
        with st.spinner("Searching…"):
            page = session.search(q, genre_filter, PAGE_SIZE, (page_number - 1) * PAGE_SIZE)
    except ApiError as exc:
        st.error(exc.message, icon=":material/error:")
        return
    if page.total == 0:
        st.info("No movie matches. Check the spelling, or try fewer words.", icon=":material/search_off:")
        return
    first = page.offset + 1
    last = page.offset + len(page.items)
    noun = "movie matches" if page.total == 1 else "movies match"
    st.caption(f"{page.total:,} {noun} · showing {first}–{last}")
    if session.user() is None:
        st.page_link(
            components.LOGIN_PAGE, label="Log in to rate these and get recommendations", icon=":material/lock:"
        )
    components.movie_grid(page.items, context="search", show_similar=True)
    pages = min(math.ceil(page.total / PAGE_SIZE), MAX_OFFSET // PAGE_SIZE + 1)
    if pages > 1:
        st.pagination(pages, key=pager, max_visible_pages=7)


render()
