"""Quick start: rate a few well-known movies (or skip those you have not seen) until the recommendations are yours."""

from __future__ import annotations

import streamlit as st

from movierec.ui import components, onboarding, session

SHOWN = 8
SKIPPED = "onboarding_skipped"
STARTED_WITH = "onboarding_started_with"


def _skip(movie_id: int) -> None:
    st.session_state.setdefault(SKIPPED, set()).add(movie_id)


def render() -> None:
    st.title("Rate a few movies you know")
    current = session.user()
    if current is None:
        components.login_prompt("to rate movies and get recommendations")
        return
    rated = session.ratings()
    count = len(rated)
    started_with = int(st.session_state.setdefault(STARTED_WITH, count))
    if count >= onboarding.ENOUGH and started_with < onboarding.ENOUGH:
        st.session_state.pop(STARTED_WITH, None)
        session.flash("success", f"{count} ratings: your recommendations are ready.")
        st.switch_page(components.RECOMMENDATIONS_PAGE)
    st.caption(
        f"Rate {onboarding.ENOUGH} and your recommendations become yours. "
        "Skip the ones you have not seen — nothing is saved for them."
    )
    st.progress(min(count, onboarding.ENOUGH) / onboarding.ENOUGH, text=f"{count} of {onboarding.ENOUGH} rated")
    if count >= onboarding.ENOUGH:
        st.page_link(components.RECOMMENDATIONS_PAGE, label="See your recommendations", icon=":material/recommend:")
    with st.spinner("Picking well-known movies…"):
        picks = onboarding.picks(session.popular())
    skipped: set[int] = st.session_state.get(SKIPPED, set())
    waiting = [m for m in picks if m.id not in rated and m.id not in skipped]
    if not waiting:
        st.info("That was every movie of the quick start.", icon=":material/done_all:")
        st.page_link(components.SEARCH_PAGE, label="Search for more movies to rate", icon=":material/search:")
        return
    grid = st.grid(2, min_column_width=360, gap="small", border=True)
    for movie in waiting[:SHOWN]:
        with grid.cell():
            components.movie_card(movie, context="onboard", inline_rating=True, rerun_page=True)
            st.button(
                "Haven't seen it",
                key=f"skip-{movie.id}",
                icon=":material/visibility_off:",
                type="tertiary",
                on_click=_skip,
                args=(movie.id,),
            )
    st.caption(f"{len(waiting)} more to go through · {len(skipped)} skipped")


render()
