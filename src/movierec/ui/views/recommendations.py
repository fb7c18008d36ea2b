"""Personal recommendations, each with the reason it was picked; a strategy choice and a genre filter."""

from __future__ import annotations

import streamlit as st

from movierec.ui import components, onboarding, session
from movierec.ui.client import Movie

STEP = session.RECS_STEP
MOST = 96
ALL_GENRES = "All genres"
DEFAULT = "(default)"
# Friendly names for the strategies the API declares; a strategy not named here is shown by its own name.
STRATEGY_LABELS = {
    "ease_seq": "Tailored to you, recent taste first",
    "ease": "Tailored to you",
    "seed": "Best of your favourite genre",
    "popular": "Popular with everyone",
}


COMMUNITY_NOTE = (
    ':material/info: Stars are the catalogue\'s votes (IMDb, TMDB or MovieLens, as each card says); "here" counts '
    "this app's own ratings as of when the list was picked, up to 5 minutes ago."
)


def strategy_label(name: str) -> str:
    if name == DEFAULT:
        return "Best for you (the service's choice)"
    return STRATEGY_LABELS.get(name, name.replace("_", " ").capitalize())


def pick_caption(strategy: str, rated: int) -> str:
    """What the list is, in words that agree with each other: no "tailored to you" from none of your ratings. (No
    count of the picks: "Show more" lengthens the list without redrawing what is above it.)"""
    if rated == 0:
        return "Popular picks · none of your ratings yet"
    noun = "rating" if rated == 1 else "ratings"
    return f"{strategy_label(strategy)} · from your {rated} {noun}"


def render() -> None:
    st.title("Recommended for you")
    if session.user() is None:
        components.login_prompt("to get recommendations picked for you")
        return
    picks()


@session.guarded_fragment
def picks() -> None:
    """The choice of strategy and genre, the list and its "Show more", as one fragment: a new choice redraws this, not
    the page around it, and a "Show more" only the cards it adds (:func:`components.growing_grid`)."""
    declared = session.strategies()
    options = list(declared.names) if declared.default else [DEFAULT, *declared.names]
    index = options.index(declared.default) if declared.default in options else 0
    strategy_column, genre_column = st.columns([2, 1])
    with strategy_column:
        strategy = st.selectbox(
            "How to pick",
            options,
            index=index,
            format_func=strategy_label,
            key="recs_strategy",
            help="Tailored: movies liked by people who rated like you. Favourite genre: the best-rated movies "
            "of the genre you rate most. Popular: what most people rate highly.",
        )
    with genre_column:
        genre = st.selectbox("Genre", [ALL_GENRES, *session.genre_names()], key="recs_genre")

    rated = session.ratings()
    if len(rated) < onboarding.ENOUGH:
        first = (
            "You have not rated anything yet, so these are popular picks."
            if not rated
            else (f"With {len(rated)} of your ratings these are a first guess.")
        )
        st.info(
            f"{first} Rate {onboarding.ENOUGH - len(rated)} more movies you know and they become yours.",
            icon=":material/tips_and_updates:",
        )
        st.page_link(components.ONBOARDING_PAGE, label="Rate a few well-known movies", icon=":material/bolt:")

    chosen_strategy = None if strategy == DEFAULT else strategy
    chosen_genre = None if genre == ALL_GENRES else genre

    def picked(count: int) -> list[Movie]:
        return session.recommendations(chosen_strategy, chosen_genre, min(count, 100)).items

    with st.spinner("Picking movies for you…"):
        result = session.recommendations(chosen_strategy, chosen_genre, min(components.shown_count("recs", STEP), 100))
    if not result.items:
        st.info("Nothing to recommend here yet. Try another genre or strategy.", icon=":material/search_off:")
        return
    st.caption(pick_caption(result.strategy, len(rated)))
    st.caption(COMMUNITY_NOTE)
    # "Not interested" reruns the page: the movie leaves the list at once and the list is asked for again.
    components.growing_grid(
        "recs",
        result.items,
        picked,
        step=STEP,
        most=MOST,
        context="recs",
        show_reason=True,
        show_similar=True,
        rerun_lists=("not-interested",),
    )


render()
