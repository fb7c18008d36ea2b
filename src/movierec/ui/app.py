"""Entry point of the Streamlit UI: ``streamlit run src/movierec/ui/app.py`` (``movierec up`` starts it).

The API's base URL comes from ``MOVIEREC_API_URL`` (default http://127.0.0.1:8000). This script is the frame around
every page: navigation, who is signed in, and one notice when the API cannot be reached.
"""

from __future__ import annotations

import streamlit as st

from movierec.ui import session


def main() -> None:
    st.set_page_config(page_title="movierec", page_icon=":material/movie:", layout="wide")
    st.set_option("client.toolbarMode", "viewer")  # no developer menu for people using the app
    st.set_option("client.showErrorDetails", "none")  # a bug shows a short notice; the details go to the log
    user = session.user()
    account = (
        st.Page("views/logout.py", title="Log out", icon=":material/logout:")
        if user
        else st.Page("views/login.py", title="Log in / Register", icon=":material/login:")
    )
    page = st.navigation(
        {
            "Discover": [
                st.Page("views/search.py", title="Search", icon=":material/search:", default=True),
                st.Page("views/recommendations.py", title="Recommendations", icon=":material/recommend:"),
                st.Page("views/latest.py", title="Recently added", icon=":material/new_releases:"),
            ],
            "You": [
                st.Page("views/my_ratings.py", title="My ratings", icon=":material/star:"),
                account,
            ],
        }
    )
    with st.sidebar:
        if user:
            st.caption(f":material/account_circle: Signed in as **{user.username}**")
        else:
            st.caption(":material/person_off: Browsing as a guest — log in to rate and get recommendations")
    session.show_notices()
    notice = st.empty()
    with session.guarded(notice) as outcome:
        page.run()
    session.show_flashes(api_down_shown=outcome.api_down)


main()
