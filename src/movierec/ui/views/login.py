"""Log in, or create an account (and be logged in straight away)."""

from __future__ import annotations

import streamlit as st

from movierec.ui import components, session
from movierec.ui.client import ApiError

USERNAME_HELP = "3-32 letters, digits, _ . or -"


def _log_in(username: str, password: str) -> None:
    with st.spinner("Logging in…"):
        current = session.api().login(username, password)
    session.start(current)


def login_form() -> None:
    with st.form("login_form"):
        username = st.text_input("Username", key="login_username", max_chars=64, autocomplete="username")
        password = st.text_input(
            "Password", key="login_password", type="password", max_chars=256, autocomplete="current-password"
        )
        submitted = st.form_submit_button("Log in", key="login_submit", type="primary", icon=":material/login:")
    if not submitted:
        return
    if not username.strip() or not password:
        st.error("Enter your username and password.")
        return
    try:
        _log_in(username.strip(), password)
    except ApiError as exc:
        st.error(exc.message, icon=":material/error:")
        return
    session.flash("success", f"Welcome back, {username.strip()}!")
    st.switch_page("views/recommendations.py")


def register_form() -> None:
    with st.form("register_form"):
        username = st.text_input(
            "Username", key="register_username", max_chars=32, help=USERNAME_HELP, autocomplete="username"
        )
        password = st.text_input(
            "Password",
            key="register_password",
            type="password",
            max_chars=256,
            help="at least 8 characters",
            autocomplete="new-password",
        )
        repeat = st.text_input(
            "Repeat the password", key="register_repeat", type="password", max_chars=256, autocomplete="new-password"
        )
        submitted = st.form_submit_button(
            "Create account", key="register_submit", type="primary", icon=":material/person_add:"
        )
    if not submitted:
        return
    if password != repeat:
        st.error("The two passwords differ.")
        return
    try:
        with st.spinner("Creating your account…"):
            session.api().register(username.strip(), password)
        _log_in(username.strip(), password)
    except ApiError as exc:
        st.error(exc.message, icon=":material/error:")
        return
    session.flash("success", f"Welcome, {username.strip()}! Rate a few movies you know to get recommendations.")
    st.switch_page(components.SEARCH_PAGE)


def render() -> None:
    st.title("Welcome to movierec")
    current = session.user()
    if current is not None:
        st.success(f"You are logged in as **{current.username}**.", icon=":material/check_circle:")
        st.page_link("views/recommendations.py", label="See your recommendations", icon=":material/recommend:")
        return
    st.caption("Find movies, rate what you have seen, and get recommendations that learn from your ratings.")
    column, _ = st.columns([1, 1])
    with column:
        log_in, create = st.tabs(["Log in", "Create an account"])
        with log_in:
            login_form()
        with create:
            register_form()


render()
