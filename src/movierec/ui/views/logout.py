"""Log out: forget the token and go back to search."""

from __future__ import annotations

import streamlit as st

from movierec.ui import components, session

session.end()
session.flash("info", "You are logged out. See you soon!")
st.switch_page(components.SEARCH_PAGE)
