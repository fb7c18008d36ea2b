"""Building blocks shared by the pages: movie cards with posters, the 1-10 rating control, "+ Watchlist" and "Not
interested", similar movies.

A card is one fragment (``st.fragment``): what no click changes (poster, title, genres, numbers, reason, this app's
ratings of the movie, whether it is on the user's lists) as one HTML block, then one button ("Rate it · more") that
opens what can be clicked (the rating, "More like this", "+ Watchlist", "Not interested"). A click reruns that fragment
only, so rating a movie costs one ``POST /rate`` and redraws one card, not the page around it. The browser's time goes
mostly to drawing widgets (about 2 ms each, a row of buttons more), so a closed card has one: twelve cards with the four
buttons showing cost the browser about 95 ms more CPU to draw than with the one (p50, a test page).
"""

from __future__ import annotations

import base64
import colorsys
import functools
import html
import io
import re
import textwrap
import zlib
from collections.abc import Callable, Sequence
from typing import Any

import streamlit as st
from PIL import Image, ImageDraw

from movierec.ui import session
from movierec.ui.client import ApiError, ApiUnavailable, Movie, shown_genres

LOGIN_PAGE = session.LOGIN_PAGE
SEARCH_PAGE = "views/search.py"
RECOMMENDATIONS_PAGE = "views/recommendations.py"
WATCHLIST_PAGE = "views/watchlist.py"
ONBOARDING_PAGE = "views/onboarding.py"
RATING_SCALE = tuple(range(1, 11))
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:])")

# A card's fixed part is one HTML block (``card_html``), styled here; colours inherit the theme's text colour so that
# light and dark themes both work. Phones: the poster stays beside the text, small, and the overview is dropped, so
# two or three cards fit a screen; nothing may be wider than the screen.
PAGE_CSS = """
<style>
.mr-card { display: flex; gap: 0.9rem; align-items: flex-start; }
.mr-poster { flex: 0 0 32%; width: 32%; max-width: 200px; aspect-ratio: 2 / 3; object-fit: cover;
  border-radius: 0.5rem; }
.mr-body { flex: 1 1 0; min-width: 0; line-height: 1.45; }
.mr-title { margin-bottom: 0.4rem; overflow-wrap: anywhere; }
.mr-year { opacity: 0.75; }
.mr-badges { display: flex; flex-wrap: wrap; gap: 0.25rem; margin-bottom: 0.4rem; }
.mr-badge { font-size: 0.75rem; padding: 0.05rem 0.5rem; border-radius: 0.5rem; background: rgba(128, 132, 149, 0.18); }
.mr-line { font-size: 0.875rem; opacity: 0.72; margin-bottom: 0.3rem; overflow-wrap: anywhere; }
.mr-star { color: #ff8c00; }
.mr-reason { color: #7c3aed; opacity: 1; }
.mr-here { color: #1c83e1; opacity: 1; }
.mr-mark { font-weight: 600; }
.mr-standin { position: relative; overflow: hidden; container-type: inline-size; color: #fff; text-align: center;
  font-family: DejaVu Sans, Helvetica, Arial, sans-serif; line-height: 1.2; /* local fonts: nothing fetched */
  background: radial-gradient(circle at 80% 20%, color-mix(in srgb, var(--mr-accent) 10%, transparent) 45%,
    transparent 45.5%), linear-gradient(165deg, var(--mr-top), var(--mr-bottom));
}
.mr-standin::after { content: ""; position: absolute; inset: 4.7% 7%; border-radius: 0.3rem;
  border: 1px solid color-mix(in srgb, var(--mr-accent) 35%, transparent); }
.mr-standin > span { position: absolute; left: 10%; right: 10%; }
.mr-standin .mr-sgenre { top: 10%; font-size: 5.5cqw; letter-spacing: 0.27em; opacity: 0.7; }
.mr-standin .mr-stitle { top: 50%; transform: translateY(-50%); font-weight: bold; font-size: var(--mr-size);
  overflow-wrap: anywhere; display: -webkit-box; -webkit-box-orient: vertical; -webkit-line-clamp: 5;
  overflow: hidden; }
.mr-standin .mr-syear { bottom: 9%; font-size: 9cqw; color: var(--mr-accent); }
.mr-standin .mr-syear::before { content: ""; display: block; width: 38%; margin: 0 auto 0.45em;
  border-top: 2px solid var(--mr-accent); }
@media (max-width: 640px) {
  .mr-poster { flex-basis: 30%; width: 30%; }
  .mr-overview { display: none; }
  [data-testid="stMainBlockContainer"] { padding-left: 0.75rem; padding-right: 0.75rem; }
  [data-testid="stMain"] { overflow-x: hidden; }
}
</style>
"""


# On a phone the sidebar is a drawer over the page: close it once a page is chosen from it (installed once).
DRAWER_SCRIPT = """
<script>
if (!window.movierecDrawer) {
  window.movierecDrawer = true;
  document.addEventListener("click", (event) => {
    if (window.innerWidth > 640 || !event.target.closest('[data-testid="stSidebarNav"] a')) return;
    setTimeout(() => {
      const sidebar = document.querySelector('[data-testid="stSidebar"]');
      if (sidebar && sidebar.getAttribute("data-collapsed") === "false") {
        sidebar.querySelector('[data-testid="stSidebarCollapseButton"] button')?.click();
      }
    }, 0);
  }, true);
}
</script>
"""


def page_style() -> None:
    """The phone layout and the drawer's behaviour, for every page (the script installs itself once)."""
    st.html(PAGE_CSS)
    with st.sidebar:
        st.html(DRAWER_SCRIPT, unsafe_allow_javascript=True, width="content")


@functools.cache
def page_icon() -> str:
    """The tab's icon, drawn here (a film frame with a play mark) so that it needs no font or image from the web, as a
    PNG data URL: Streamlit passes a URL through as it is, where an image would be encoded again on every run."""
    icon = Image.new("RGBA", (64, 64), (0, 0, 0, 0))
    draw = ImageDraw.Draw(icon)
    draw.rounded_rectangle((2, 6, 62, 58), radius=12, fill=(229, 57, 53, 255))
    for x in range(8, 60, 12):
        draw.rectangle((x, 10, x + 5, 14), fill=(255, 255, 255, 200))
        draw.rectangle((x, 50, x + 5, 54), fill=(255, 255, 255, 200))
    draw.polygon([(25, 21), (25, 43), (44, 32)], fill=(255, 255, 255, 255))
    png = io.BytesIO()
    icon.save(png, format="PNG")
    return "data:image/png;base64," + base64.b64encode(png.getvalue()).decode("ascii")


def escape_markdown(text: str) -> str:
    """Text shown as-is inside Streamlit markdown (titles may hold ``*``, ``$``, ``[``...)."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def _hsl(hue: float, saturation: float, lightness: float) -> str:
    r, g, b = colorsys.hls_to_rgb(hue % 1.0, lightness, saturation)
    return f"#{round(r * 255):02x}{round(g * 255):02x}{round(b * 255):02x}"


def poster_colours(title: str, genres: Sequence[str]) -> tuple[str, str, str]:
    """Two gradient colours and an accent: the hue from the first genre, a shift from the title (deterministic)."""
    genre = next(iter(shown_genres(genres)), "")
    base = (zlib.crc32(genre.encode()) % 360) / 360 if genre else 0.6
    shift = ((zlib.crc32(title.encode()) % 61) - 30) / 360
    hue = base + shift
    return _hsl(hue, 0.55, 0.34), _hsl(hue + 0.08, 0.6, 0.14), _hsl(hue + 0.5, 0.7, 0.7)


def _title_size(title: str) -> str:
    """The stand-in's title size, as a share of its width: the largest at which the title takes at most four lines
    and its longest word fits one (bold glyphs are about 0.65 em wide, and the title has 80% of the width); else the
    smallest, where a longer title ends in an ellipsis after five lines."""
    longest = max((len(word) for word in title.split()), default=0)
    for size, width in ((11, 11), (9.5, 13)):  # cqw, about 22 and 19 px of a 200 px poster
        if longest <= width and len(textwrap.wrap(title, width=width)) <= 4:
            return f"{size:g}cqw"
    return "8cqw"


def placeholder_poster(title: str, year: int | None = None, genres: Sequence[str] = (), label: str = "") -> str:
    """A designed 2:3 stand-in for a movie without a poster, drawn by the page's CSS (``.mr-standin``): colours from
    its genre and title, the genre, the title and the year set on it. Plain HTML, not an image: the browser lays it
    out with the card, where an SVG image is a document of its own to parse, lay out and paint for every card."""
    top, bottom, accent = poster_colours(title, genres)
    genre = next(iter(shown_genres(genres)), "")
    parts = [f"<span class='mr-sgenre'>{html.escape(genre.upper())}</span>"] if genre else []
    parts.append(f"<span class='mr-stitle'>{html.escape(title)}</span>")
    if year:
        parts.append(f"<span class='mr-syear'>{year}</span>")
    colours = f"--mr-top:{top};--mr-bottom:{bottom};--mr-accent:{accent};--mr-size:{_title_size(title)}"
    name = html.escape(label or f"Poster of {title}", quote=True)
    return f"<div class='mr-poster mr-standin' role='img' aria-label='{name}' style='{colours}'>{''.join(parts)}</div>"


def poster_html(movie: Movie) -> str:
    """The card's poster: the movie's own (the browser loads it from its URL), else the designed stand-in (nothing
    fetched)."""
    label = f"Poster of {movie.label}"
    if movie.poster_url:
        src, alt = html.escape(movie.poster_url, quote=True), html.escape(label, quote=True)
        return f"<img class='mr-poster' src='{src}' alt='{alt}'>"
    return placeholder_poster(movie.title, movie.year, movie.genres, label)


def votes_text(movie: Movie) -> str:
    """The catalogue's numbers, saying whose they are: "8.7/10 · 1,234 votes on IMDb"."""
    where = f"on {movie.vote_source}" if movie.vote_source else "in the catalogue's source"
    if movie.vote_count <= 0:
        return f"No votes {where} yet"
    noun = "vote" if movie.vote_count == 1 else "votes"
    return f"{movie.vote_average:.1f}/10 · {movie.vote_count:,} {noun} {where}"


def predicted_text(rating: float) -> str:
    """What the model expects the user to give a recommended movie (it beats the user's and the movie's own mean
    ratings in ``movierec eval``), rounded to a half star: a guess, said as one."""
    return f"You would likely rate it about {round(rating * 2) / 2:g}/10"


def community_line(average: float | None, count: int | None) -> str:
    """This app's own ratings of the movie: "8.0/10 from 3 ratings here"; empty when they are not known."""
    if count is None:
        return ""
    if count <= 0 or average is None:
        return "No ratings here yet"
    noun = "rating" if count == 1 else "ratings"
    return f"{average:.1f}/10 from {count:,} {noun} here"


def login_prompt(purpose: str) -> None:
    st.info(f"Log in {purpose}.", icon=":material/lock:")
    st.page_link(LOGIN_PAGE, label="Log in or create an account", icon=":material/login:")


# -- rating ----------------------------------------------------------------------------------------------------
def _outcome_key(key: str) -> str:
    return f"{key}-outcome"


def rating_open_key(context: str, movie_id: int) -> str:
    """Session key: whether the card's ten rating pills are shown (its "Rate it" button toggles them)."""
    return f"rating-open-{context}-{movie_id}"


def _toggle(key: str) -> None:
    st.session_state[key] = not st.session_state.get(key, False)


def save_rating(movie_id: int, title: str, key: str, shown: str | None = None) -> None:
    """on_change of a rating control: save through the API; the control's fragment then says how it went. A saved
    rating hides the pills again (``shown``: their session key), as a menu closes on a choice; a failed one keeps
    them for the retry."""
    value = st.session_state.get(key)
    current = session.user()
    if current is None or value is None:
        st.session_state.pop(key, None)
        return
    try:
        saved = session.api().rate_saved(current.access_token, movie_id, int(value))
    except ApiUnavailable as exc:
        st.session_state.pop(key, None)  # redrawn from the last saved rating
        st.session_state[_outcome_key(key)] = (
            "error",
            f"Not saved: your {value}/10 for {title} did not reach the movie service ({exc.message}). "
            "Pick it again to retry.",
        )
        return
    except ApiError as exc:
        st.session_state.pop(key, None)
        if exc.status == 401:
            session.expire()
            st.session_state[_outcome_key(key)] = ("expired", "")
        else:
            st.session_state[_outcome_key(key)] = ("error", f"Not saved: {exc.message}")
        return
    session.remember_rating(movie_id, saved.rating)
    session.remember_community(movie_id, saved.community_average, saved.community_count)
    st.session_state[_outcome_key(key)] = ("success", f"Saved: {title} — {saved.rating}/10")
    if shown is not None:
        st.session_state[shown] = False


def _rating_pills(movie: Movie, key: str, current: int | None, shown: str | None = None) -> None:
    """The user's 1-10 rating of the movie (``current``) as a row of pills; picking one saves it at once (and hides
    them, with ``shown``)."""
    st.pills(
        "Your rating" if current else "Rate it",
        RATING_SCALE,
        default=current,
        required=True,  # a rating can be changed here; My ratings takes one back
        key=key,
        on_change=save_rating,
        args=(movie.id, movie.title, key, shown),
        width="stretch",
    )


# -- the watchlist and "not interested" ------------------------------------------------------------------------
def toggle_listed(name: str, movie_id: int, title: str, key: str, on: bool) -> None:
    """on_click of a list button: put the movie on (or take it off) the list through the API."""
    current = session.user()
    if current is None:
        return
    try:
        if on:
            session.api().add_to_list(current.access_token, name, movie_id)
        else:
            session.api().remove_from_list(current.access_token, name, movie_id)
    except ApiUnavailable as exc:
        st.session_state[_outcome_key(key)] = (
            "error",
            f"Not saved: {title} did not reach the movie service ({exc.message}). Click again to retry.",
            name,
        )
        return
    except ApiError as exc:
        if exc.status == 401:
            session.expire()
            st.session_state[_outcome_key(key)] = ("expired", "", name)
        else:
            st.session_state[_outcome_key(key)] = ("error", f"Not saved: {exc.message}", name)
        return
    session.remember_listed(name, movie_id, on)
    if name == "watchlist":
        text = f"{title} is on your watchlist" if on else f"{title} is off your watchlist"
    else:
        text = f"{title} will not be recommended again" if on else f"{title} can be recommended again"
    st.session_state[_outcome_key(key)] = ("success", text, name)


@st.fragment
def movie_card(
    movie: Movie,
    context: str,
    *,
    show_reason: bool = False,
    show_similar: bool = False,
    inline_rating: bool = False,
    rerun_page: bool = False,
    rerun_lists: tuple[str, ...] = (),
) -> None:
    """A card (the container ``card-<context>-<movie id>``), as one fragment: its fixed part (one HTML block, this
    app's own ratings of the movie and whether it is on the user's lists included), then one button that opens the
    card's actions in it: the user's rating (ten pills), "More like this", "+ Watchlist" and "Not interested". With
    ``inline_rating`` the pills are always there; a visitor's card has "More like this" alone.

    A click reruns this fragment only, unless the page changes with it: ``rerun_page`` (every rating, like the quick
    start) or a list in ``rerun_lists`` (a page that shows that list, or that leaves out what it holds: the watchlist
    page, the recommendations). Every element costs the browser time to draw (a button about 2 ms, a row of them
    more), so a closed card has one button, and the actions are drawn only once asked for.
    """
    user = session.user()
    rate_key, lists_key = f"rate-{context}-{movie.id}", f"lists-{context}-{movie.id}"
    shown = rating_open_key(context, movie.id)
    rated, rated_text = st.session_state.pop(_outcome_key(rate_key), (None, ""))
    listed, listed_text, name = st.session_state.pop(_outcome_key(lists_key), (None, "", ""))
    if "expired" in (rated, listed):
        st.rerun(scope="app")  # logged out: the whole page changes
    if (rated == "success" and rerun_page) or (listed == "success" and name in rerun_lists):
        st.rerun(scope="app")  # the page shows the change (the quick start moves on; the list page drops it)
    with st.container(key=f"card-{context}-{movie.id}"):
        marks = _list_marks(movie) if user is not None else ("Log in to rate",)
        community = community_line(*session.community(movie))
        st.html(card_html(movie, context, show_reason=show_reason, community=community, marks=marks))
        if user is None:
            if show_similar:
                _similar_button(movie, context)
        else:
            current = session.ratings().get(movie.id)
            opened = bool(st.session_state.get(shown))
            if inline_rating:
                _rating_pills(movie, rate_key, current)
            st.button(
                _opener_label(current, inline_rating),
                key=f"ratebox-{context}-{movie.id}",
                icon=":material/expand_less:" if opened else ":material/star:",
                type="tertiary",
                on_click=_toggle,
                args=(shown,),
            )
            if opened:
                if not inline_rating:
                    _rating_pills(movie, rate_key, current, shown)
                with st.container(horizontal=True, gap="small", key=f"listbar-{context}-{movie.id}"):
                    if show_similar:
                        _similar_button(movie, context)
                    _list_buttons(movie, context, lists_key)
        for kind, text in ((rated, rated_text), (listed, listed_text)):
            if kind == "success":  # said in the card, not in a toast that would outlive the page
                st.caption(f":green[:material/check_circle: {escape_markdown(text)}]")
            elif kind == "error":
                st.error(text, icon=":material/cloud_off:")


def _opener_label(current: int | None, inline_rating: bool) -> str:
    """The card's one button: what the user gave the movie (or "Rate it"), and that more is behind it."""
    if inline_rating:
        return "Watchlist, not interested…"
    return f"Your rating: {current}/10 · more" if current else "Rate it · more"


def _list_marks(movie: Movie) -> tuple[str, ...]:
    """What the user's lists say of the movie, shown in the card's fixed part while its buttons are closed."""
    marks = []
    if movie.id in session.listed("watchlist"):
        marks.append("On your watchlist")
    if movie.id in session.listed("not-interested"):
        marks.append("Not interested: left out of your recommendations")
    return tuple(marks)


def _similar_button(movie: Movie, context: str) -> None:
    if st.button(
        "More like this",
        key=f"similar-{context}-{movie.id}",
        icon=":material/movie_filter:",
        type="tertiary",
    ):
        similar_dialog(movie)


def _list_buttons(movie: Movie, context: str, key: str) -> None:
    watching = movie.id in session.listed("watchlist")
    hidden = movie.id in session.listed("not-interested")
    st.button(
        "On your watchlist" if watching else "+ Watchlist",
        key=f"watch-{context}-{movie.id}",
        icon=":material/bookmark_added:" if watching else ":material/bookmark_add:",
        type="tertiary",
        on_click=toggle_listed,
        args=("watchlist", movie.id, movie.title, key, not watching),
    )
    st.button(
        "Undo not interested" if hidden else "Not interested",
        key=f"hide-{context}-{movie.id}",
        icon=":material/undo:" if hidden else ":material/block:",
        type="tertiary",
        on_click=toggle_listed,
        args=("not-interested", movie.id, movie.title, key, not hidden),
    )


# -- cards -----------------------------------------------------------------------------------------------------
def card_html(
    movie: Movie, context: str, *, show_reason: bool = False, community: str = "", marks: Sequence[str] = ()
) -> str:
    """What a card shows that no click changes, as one block of HTML (one element for the page to send and draw,
    instead of one per line): the poster, the title and year, the genres, the catalogue's votes, on
    recommendations the reason and the predicted rating, this app's ratings (``community``) and short notes
    (``marks``: "On your watchlist", "Log in to rate"). Every text is escaped."""
    year = f" <span class='mr-year'>({movie.year})</span>" if movie.year else ""
    genres = "".join(f"<span class='mr-badge'>{html.escape(g)}</span>" for g in shown_genres(movie.genres))
    lines = [f"<div class='mr-title'><b>{html.escape(movie.title)}</b>{year}</div>"]
    if genres:
        lines.append(f"<div class='mr-badges'>{genres}</div>")
    star = "<span class='mr-star'>★</span> " if movie.vote_count > 0 else ""
    lines.append(f"<div class='mr-line mr-votes'>{star}{html.escape(votes_text(movie))}</div>")
    if show_reason and movie.reason:
        lines.append(f"<div class='mr-line mr-reason reason-{context}-{movie.id}'>✦ {html.escape(movie.reason)}</div>")
    if show_reason and movie.predicted_rating is not None:
        lines.append(
            f"<div class='mr-line mr-predicted predicted-{context}-{movie.id}'>"
            f"≈ {html.escape(predicted_text(movie.predicted_rating))}</div>"
        )
    if community:
        lines.append(f"<div class='mr-line mr-here community-{context}-{movie.id}'>{html.escape(community)}</div>")
    for mark in marks:
        lines.append(f"<div class='mr-line mr-mark'>{html.escape(mark)}</div>")
    if movie.overview:
        overview = textwrap.shorten(movie.overview, 180, placeholder="…")
        lines.append(f"<div class='mr-line mr-overview'>{html.escape(overview)}</div>")
    return (
        f"<div class='mr-card' data-movie='{movie.id}'>{poster_html(movie)}"
        f"<div class='mr-body'>{''.join(lines)}</div></div>"
    )


def movie_grid(
    movies: Sequence[Movie],
    context: str,
    *,
    show_reason: bool = False,
    show_similar: bool = False,
    rerun_lists: tuple[str, ...] = (),
) -> None:
    # Each card's container is a cell of the grid itself (no cell around it: one element less a card to draw).
    with st.grid(2, min_column_width=360, gap="small", border=True):
        for movie in movies:
            movie_card(movie, context, show_reason=show_reason, show_similar=show_similar, rerun_lists=rerun_lists)


def growing_grid(
    name: str,
    movies: Sequence[Movie],
    fetch: Callable[[int], Sequence[Movie]],
    *,
    step: int,
    most: int,
    context: str,
    **options: Any,
) -> None:
    """A list of cards that "Show more" makes ``step`` longer, up to ``most``: ``movies`` is what ``fetch(n)`` gave
    for the ``n`` cards shown now (:func:`shown_count`). The first ``step`` are drawn here, the rest and the button
    under them in a fragment of their own (:func:`_more_cards`), so a "Show more" draws the new cards and leaves the
    first ones as they are (the browser's time goes to drawing cards). ``options`` go to :func:`movie_grid`."""
    first = list(movies[:step])
    movie_grid(first, context, **options)
    _more_cards(name, fetch, step, most, context, tuple(m.id for m in first), options)


@st.fragment
def _more_cards(
    name: str,
    fetch: Callable[[int], Sequence[Movie]],
    step: int,
    most: int,
    context: str,
    first: tuple[int, ...],
    options: dict[str, Any],
) -> None:
    """The cards after the first ``step`` and the "Show more" under them. Its own run (a "Show more") asks ``fetch``
    for the longer list and draws what is not among the ``first`` cards drawn above."""
    with session.guarded():
        shown = shown_count(name, step)
        movies = list(fetch(shown))
        rest = [m for m in movies if m.id not in first][: max(0, shown - len(first))]
        if rest:
            movie_grid(rest, context, **options)
        if len(movies) >= shown and shown < most:
            show_more_button(name, shown, step)


def shown_count(name: str, step: int) -> int:
    """How many cards the ``name`` list shows: ``step`` at first, ``step`` more after each "Show more"."""
    return int(st.session_state.get(f"{name}_shown", step))


def _show_more(name: str, shown: int, step: int) -> None:
    st.session_state[f"{name}_shown"] = shown + step


def show_more_button(name: str, shown: int, step: int) -> None:
    """The "Show more" under the ``name`` list (key ``<name>_more``). Its callback sets the longer length, so the
    click's one run (of the list's fragment) already draws the longer list."""
    st.button(
        "Show more", key=f"{name}_more", icon=":material/expand_more:", on_click=_show_more, args=(name, shown, step)
    )


@st.dialog("More like this", width="large")
def similar_dialog(movie: Movie) -> None:
    st.markdown(f"People who liked **{escape_markdown(movie.label)}** also liked:")
    with session.guarded():
        with st.spinner("Finding similar movies…"):
            items = session.similar(movie.id, 6)
        if not items:
            st.info("Not enough ratings of this movie yet to say what it is like.")
            return
        movie_grid(items, context=f"similar{movie.id}")
