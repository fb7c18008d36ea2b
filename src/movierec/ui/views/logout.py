"""Log out: revoke the token at the API, clear the login cookie (every tab) and go back to search."""

from __future__ import annotations

import streamlit as st

from movierec.ui import components, session

with st.spinner("Logging out…"):
    session.log_out()
session.flash("info", "You are logged out. See you soon!")
st.switch_page(components.SEARCH_PAGE)
