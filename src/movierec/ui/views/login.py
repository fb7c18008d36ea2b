"""Log in, or create an account (and be logged in straight away, on the quick start)."""

from __future__ import annotations

import streamlit as st

from movierec.ui import components, session
from movierec.ui.client import ApiError

USERNAME_HELP = "3-32 letters, digits, _ . or -"
USERNAME_MAX = 32
PASSWORD_MIN, PASSWORD_MAX = 8, 256


def too_long(label: str, value: str, most: int) -> str | None:
    """Fields take any paste (no silent cut in the browser); one longer than the limit is refused in words."""
    if len(value) > most:
        return f"{label} can be at most {most} characters; this one has {len(value)}."
    return None


def _log_in(username: str, password: str, *, read_ahead: bool = False) -> None:
    """Log in; with ``read_ahead``, also read what the recommendations page needs, side by side (one wait instead
    of four one after another while that page draws)."""
    with st.spinner("Logging in…"):
        current = session.api().login(username, password)
        session.start(current)
        if read_ahead:
            session.read_ahead()


@st.fragment
def login_form() -> None:
    """A fragment: logging in runs this form alone (one redraw of the page less), then opens the next page."""
    with st.form("login_form"):
        username = st.text_input("Username", key="login_username", autocomplete="username")
        password = st.text_input("Password", key="login_password", type="password", autocomplete="current-password")
        submitted = st.form_submit_button("Log in", key="login_submit", type="primary", icon=":material/login:")
    if not submitted:
        return
    username = username.strip()
    if not username or not password:
        st.error("Enter your username and password.")
        return
    problem = too_long("A username", username, USERNAME_MAX) or too_long("A password", password, PASSWORD_MAX)
    if problem:
        st.error(problem, icon=":material/error:")
        return
    try:
        _log_in(username, password, read_ahead=True)
    except ApiError as exc:
        st.error(exc.message, icon=":material/error:")
        return
    session.flash("success", f"Welcome back, {username}!")
    if not session.ratings():
        st.switch_page(components.ONBOARDING_PAGE)
    st.switch_page(components.RECOMMENDATIONS_PAGE)


def register_form() -> None:
    with st.form("register_form"):
        username = st.text_input("Username", key="register_username", help=USERNAME_HELP, autocomplete="username")
        password = st.text_input(
            "Password",
            key="register_password",
            type="password",
            help=f"at least {PASSWORD_MIN} characters; not your username, not a common password",
            autocomplete="new-password",
        )
        repeat = st.text_input(
            "Repeat the password", key="register_repeat", type="password", autocomplete="new-password"
        )
        submitted = st.form_submit_button(
            "Create account", key="register_submit", type="primary", icon=":material/person_add:"
        )
    if not submitted:
        return
    username = username.strip()
    problem = too_long("A username", username, USERNAME_MAX) or too_long("A password", password, PASSWORD_MAX)
    if problem:
        st.error(problem, icon=":material/error:")
        return
    if password != repeat:
        st.error("The two passwords differ.")
        return
    try:
        with st.spinner("Creating your account…"):
            session.api().register(username, password)
        _log_in(username, password)
    except ApiError as exc:
        st.error(exc.message, icon=":material/error:")
        return
    session.flash("success", f"Welcome, {username}! Rate a few movies you know to get recommendations.")
    st.switch_page(components.ONBOARDING_PAGE)


def render() -> None:
    st.title("Welcome to movierec")
    current = session.user()
    if current is not None:
        st.success(f"You are logged in as **{current.username}**.", icon=":material/check_circle:")
        st.page_link(components.RECOMMENDATIONS_PAGE, label="See your recommendations", icon=":material/recommend:")
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
