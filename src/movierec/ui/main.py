"""The frame around every page: navigation, who is signed in, the login cookie, one notice when the API is down.

``app.py`` serves this script (``streamlit run src/movierec/ui/app.py``); tests run it directly with AppTest.
"""

from __future__ import annotations

import streamlit as st

from movierec.ui import components, session


def main() -> None:
    st.set_page_config(page_title="movierec", page_icon=components.page_icon(), layout="wide")
    st.set_option("client.toolbarMode", "viewer")  # no developer menu for people using the app
    st.set_option("client.showErrorDetails", "none")  # a bug shows a short notice; the details go to the log
    components.page_style()
    user = session.user()
    account = (
        st.Page("views/logout.py", title="Log out", icon=":material/logout:")
        if user
        else st.Page("views/login.py", title="Log in / Register", icon=":material/login:")
    )
    you = [
        st.Page(components.ONBOARDING_PAGE, title="Quick start", icon=":material/bolt:"),
        st.Page("views/my_ratings.py", title="My ratings", icon=":material/star:"),
        st.Page(components.WATCHLIST_PAGE, title="Watchlist", icon=":material/bookmarks:"),
        account,
    ]
    page = st.navigation(
        {
            "Discover": [
                st.Page(components.SEARCH_PAGE, title="Search", icon=":material/search:", default=True),
                st.Page(components.RECOMMENDATIONS_PAGE, title="Recommendations", icon=":material/recommend:"),
                st.Page("views/latest.py", title="Recently added", icon=":material/new_releases:"),
            ],
            "You": you,
        }
    )
    with st.sidebar:
        if user:
            st.caption(f":material/account_circle: Signed in as **{components.escape_markdown(user.username)}**")
        else:
            st.caption(":material/person_off: Browsing as a guest — log in to rate and get recommendations")
        session.cookie_script()
        session.prefetch_script()
    session.show_notices()
    notice = st.empty()
    with session.guarded(notice) as outcome:
        page.run()
    session.show_flashes(api_down_shown=outcome.api_down)


main()
