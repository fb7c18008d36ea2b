"""Building blocks shared by the pages: movie cards with posters, the 1-10 rating control, similar movies."""

from __future__ import annotations

import re
import textwrap
import zlib
from collections.abc import Sequence

import streamlit as st

from movierec.ui import session
from movierec.ui.client import ApiError, ApiUnavailable, Movie

LOGIN_PAGE = session.LOGIN_PAGE
SEARCH_PAGE = "views/search.py"
RATING_SCALE = tuple(range(1, 11))
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:])")


def escape_markdown(text: str) -> str:
    """Text shown as-is inside Streamlit markdown (titles may hold ``*``, ``$``, ``[``...)."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def placeholder_poster(title: str) -> str:
    """A neutral 2:3 SVG stand-in (film-strip mark, "no poster") for movies without a poster."""
    shade = 226 - zlib.crc32(title.encode()) % 14  # a barely different grey per title, so a grid is not a wall
    holes = "".join(
        f'<rect x="{x}" y="{y}" width="9" height="9" rx="2" fill="rgb({shade},{shade + 2},{shade + 6})"/>'
        for x in (63, 128)
        for y in range(112, 176, 17)
    )
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 200 300" width="200" height="300">'
        f'<rect width="200" height="300" rx="10" fill="rgb({shade},{shade + 2},{shade + 6})"/>'
        '<rect x="58" y="106" width="84" height="74" rx="8" fill="#a3a9b3"/>'
        f"{holes}"
        '<text x="100" y="214" text-anchor="middle" font-family="Source Sans Pro, Helvetica, Arial, sans-serif" '
        'font-size="16" fill="#7a808a">no poster</text>'
        "</svg>"
    )


def poster(movie: Movie) -> None:
    """The movie's poster (the browser loads it from its URL) or the neutral stand-in, as wide as its column."""
    if movie.poster_url:
        st.image(movie.poster_url, width="stretch", alt=f"Poster of {movie.title}")
    else:
        st.image(placeholder_poster(movie.title), width="stretch", alt=f"No poster for {movie.title}")


def genre_badges(genres: Sequence[str]) -> str:
    shown = [g for g in genres if g and not g.startswith("(")]
    return " ".join(f":gray-badge[{escape_markdown(g)}]" for g in shown)


def votes_line(movie: Movie) -> str:
    if movie.vote_count <= 0:
        return "No votes yet"
    noun = "vote" if movie.vote_count == 1 else "votes"
    return f":orange[:material/star:] **{movie.vote_average:.1f}**/10 · {movie.vote_count:,} {noun}"


def login_prompt(purpose: str) -> None:
    st.info(f"Log in {purpose}.", icon=":material/lock:")
    st.page_link(LOGIN_PAGE, label="Log in or create an account", icon=":material/login:")


# -- rating ----------------------------------------------------------------------------------------------------
def _save_rating(movie_id: int, title: str, key: str) -> None:
    """on_change of a rating control: save through the API, or put the control back and say why not."""
    value = st.session_state.get(key)
    current = session.user()
    if current is None or value is None:
        st.session_state.pop(key, None)
        return
    try:
        saved = session.api().rate(current.access_token, movie_id, int(value))
    except ApiUnavailable as exc:
        st.session_state.pop(key, None)  # redrawn from the last saved rating
        session.flash("error", f"Could not save your rating of {title}: {exc.message}.", unavailable=True)
        return
    except ApiError as exc:
        st.session_state.pop(key, None)
        if exc.status == 401:
            session.expire()
        else:
            session.flash("error", f"Could not save your rating of {title}: {exc.message}")
        return
    session.remember_rating(movie_id, saved)
    session.flash("success", f"Saved: {title} — {saved}/10")


def rating_control(movie: Movie, context: str) -> None:
    """The user's 1-10 rating of the movie as a row of pills; picking one saves it at once."""
    if session.user() is None:
        st.caption(":material/lock: Log in to rate")
        return
    current = session.ratings().get(movie.id)
    key = f"rate-{context}-{movie.id}"
    st.pills(
        "Your rating" if current else "Rate it",
        RATING_SCALE,
        default=current,
        required=True,  # a rating can be changed, not taken back (the API has no "unrate")
        key=key,
        on_change=_save_rating,
        args=(movie.id, movie.title, key),
        width="stretch",
    )


# -- cards -----------------------------------------------------------------------------------------------------
def movie_card(movie: Movie, context: str, *, show_reason: bool = False, show_similar: bool = False) -> None:
    with st.container(key=f"card-{context}-{movie.id}"):
        _card_body(movie, context, show_reason, show_similar)


def _card_body(movie: Movie, context: str, show_reason: bool, show_similar: bool) -> None:
    left, right = st.columns([1, 2.3], gap="small")
    with left:
        poster(movie)
    with right:
        year = f" ({movie.year})" if movie.year else ""
        st.markdown(f"**{escape_markdown(movie.title)}**{year}")
        badges = genre_badges(movie.genres)
        if badges:
            st.markdown(badges)
        st.caption(votes_line(movie))
        if show_reason and movie.reason:
            st.container(key=f"reason-{context}-{movie.id}").caption(
                f":violet[:material/lightbulb: {escape_markdown(movie.reason)}]"
            )
        if movie.overview:
            st.caption(escape_markdown(textwrap.shorten(movie.overview, 180, placeholder="…")))
        if show_similar and st.button(
            "More like this", key=f"similar-{context}-{movie.id}", icon=":material/movie_filter:", type="tertiary"
        ):
            similar_dialog(movie)
    rating_control(movie, context)


def movie_grid(movies: Sequence[Movie], context: str, *, show_reason: bool = False, show_similar: bool = False) -> None:
    grid = st.grid(2, min_column_width=360, gap="small", border=True)
    for movie in movies:
        with grid.cell():
            movie_card(movie, context, show_reason=show_reason, show_similar=show_similar)


@st.dialog("More like this", width="large")
def similar_dialog(movie: Movie) -> None:
    st.markdown(f"People who liked **{escape_markdown(movie.label)}** also liked:")
    with session.guarded():
        with st.spinner("Finding similar movies…"):
            _, items = session.api().similar(movie.id, limit=6)
        if not items:
            st.info("Not enough ratings of this movie yet to say what it is like.")
            return
        movie_grid(items, context=f"similar{movie.id}")
