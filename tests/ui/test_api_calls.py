"""How many API calls each page makes: each read once per visit, nothing again on a rerun, one POST per rating.

A logged-in user's ratings, watchlist and not-interested list are each read once per login (the cards show them).

The API is the real one over HTTP; a WSGI middleware in front of it records every request it receives.
"""

from __future__ import annotations

from collections.abc import Callable

from streamlit.testing.v1 import AppTest

from movierec.ui.client import ApiClient, Session
from tests.ui.conftest import PASSWORD, CallLog, card_button, rating_pills

OpenPage = Callable[..., AppTest]
MakeUser = Callable[[str], Session]


def test_search_asks_once_per_query_and_nothing_on_a_rerun(
    ui: OpenPage, api_calls: CallLog, make_user: MakeUser, sample_catalogue: dict[str, int]
) -> None:
    session = make_user("counted_search")
    api_calls.take()
    at = ui(session=session)
    assert api_calls.take() == ["GET /genres"]
    at.text_input(key="search_q").input("matrix").run()
    assert sorted(api_calls.take()) == sorted(
        [
            f"GET /my-ratings/{session.user_id}",  # the user's ratings and lists: once per login
            f"GET /watchlist/{session.user_id}",
            f"GET /not-interested/{session.user_id}",
            "GET /search",
        ]
    )
    at.run()
    assert api_calls.take() == []
    rating_pills(at, "search", sample_catalogue["The Matrix"]).set_value(8).run()
    assert not at.exception
    assert api_calls.take() == ["POST /rate"]


def test_logging_in_reads_what_the_recommendations_page_needs_once_and_it_asks_nothing_more(
    ui: OpenPage, api_calls: CallLog, make_user: MakeUser, api: ApiClient, sample_catalogue: dict[str, int]
) -> None:
    session = make_user("counted_login")
    api.rate(session.access_token, sample_catalogue["Heat"], 9)
    at = ui("views/login.py")
    api_calls.take()
    at.text_input(key="login_username").input("counted_login")
    at.text_input(key="login_password").input(PASSWORD)
    at.button(key="login_submit").click().run()
    assert not at.exception
    assert at.title[0].value == "Recommended for you"
    assert any(b.key and b.key.startswith("card-recs-") for b in at.container)  # the picks read ahead
    assert sorted(api_calls.take()) == sorted(
        [
            "POST /login",
            "GET /openapi.json",  # which strategy the page opens with
            f"GET /my-ratings/{session.user_id}",  # these four side by side, before the page draws
            f"GET /watchlist/{session.user_id}",
            f"GET /not-interested/{session.user_id}",
            f"GET /recommendations/{session.user_id}",
        ]
    )
    at.run()
    assert api_calls.take() == []


def test_recommendations_ask_again_only_when_the_choice_or_the_ratings_change(
    ui: OpenPage, api_calls: CallLog, make_user: MakeUser, api: ApiClient, sample_catalogue: dict[str, int]
) -> None:
    session = make_user("counted_recs")
    api.rate(session.access_token, sample_catalogue["Heat"], 9)
    api_calls.take()
    at = ui("views/recommendations.py", session)
    assert not at.exception
    first = api_calls.take()
    assert sorted(first) == sorted(
        [
            "GET /genres",  # the search page, opened first
            "GET /openapi.json",
            f"GET /my-ratings/{session.user_id}",
            f"GET /recommendations/{session.user_id}",
            f"GET /watchlist/{session.user_id}",
            f"GET /not-interested/{session.user_id}",
        ]
    )
    at.run()
    assert api_calls.take() == []
    at.selectbox(key="recs_genre").select("Crime").run()
    assert api_calls.take() == [f"GET /recommendations/{session.user_id}"]
    card = next(b for b in at.container if b.key and b.key.startswith("card-recs-"))
    movie_id = int(card.key.rsplit("-", 1)[1])
    rating_pills(at, "recs", movie_id).set_value(7).run()
    assert api_calls.take() == ["POST /rate", f"GET /recommendations/{session.user_id}"]  # a rating changes them


def test_latest_my_ratings_and_quick_start_ask_each_read_once(
    ui: OpenPage, api_calls: CallLog, make_user: MakeUser
) -> None:
    session = make_user("counted_pages")
    api_calls.take()
    at = ui("views/latest.py", session)
    assert sorted(api_calls.take()) == sorted(
        [
            "GET /genres",
            "GET /movies/latest",
            f"GET /my-ratings/{session.user_id}",
            f"GET /watchlist/{session.user_id}",
            f"GET /not-interested/{session.user_id}",
        ]
    )
    at.run()
    assert api_calls.take() == []
    at.switch_page("views/my_ratings.py").run()
    assert api_calls.take() == [f"GET /my-ratings/{session.user_id}"]  # the history is read fresh on each visit
    at.switch_page("views/onboarding.py").run()
    assert api_calls.take() == ["GET /search"]  # the most popular movies, once
    at.run()
    assert api_calls.take() == []


def test_show_more_asks_once_for_the_longer_list(ui: OpenPage, api_calls: CallLog, live_api: str) -> None:
    at = ui("views/latest.py")
    api_calls.take()
    at.button(key="latest_more").click().run()
    assert not at.exception
    assert api_calls.take() == ["GET /movies/latest"]  # limit 24 now; the sample catalogue has 12
    assert at.session_state["latest_shown"] == 24


def test_list_buttons_cost_one_call_each_and_not_interested_asks_for_recommendations_again(
    ui: OpenPage, api_calls: CallLog, make_user: MakeUser, api: ApiClient, sample_catalogue: dict[str, int]
) -> None:
    session = make_user("counted_lists")
    api.rate(session.access_token, sample_catalogue["Heat"], 9)
    at = ui("views/recommendations.py", session)
    api_calls.take()
    card = next(b for b in at.container if b.key and b.key.startswith("card-recs-"))
    movie_id = int(card.key.rsplit("-", 1)[1])
    card_button(at, "watch", "recs", movie_id).click().run()
    assert not at.exception
    assert api_calls.take() == [f"POST /watchlist/{movie_id}"]  # the watchlist does not change recommendations
    card_button(at, "hide", "recs", movie_id).click().run()
    assert not at.exception
    assert api_calls.take() == [f"POST /not-interested/{movie_id}", f"GET /recommendations/{session.user_id}"]
    at.switch_page("views/watchlist.py").run()
    assert api_calls.take() == [f"GET /watchlist/{session.user_id}"]  # the page reads the list fresh on each visit
