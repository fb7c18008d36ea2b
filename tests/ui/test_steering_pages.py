"""The watchlist, "Not interested" and taking a rating back, in the UI (AppTest) against a real API over HTTP."""

from __future__ import annotations

from collections.abc import Callable

from streamlit.testing.v1 import AppTest

from movierec.ui.client import ApiClient, Session
from tests.ui.conftest import card_button
from tests.ui.test_pages import card_text, card_titles, cards, texts

OpenPage = Callable[..., AppTest]
MakeUser = Callable[[str], Session]


def on_list(api: ApiClient, session: Session, name: str) -> list[int]:
    return [e.movie.id for e in api.whole_list(session.access_token, name, session.user_id)]


def test_a_card_puts_a_movie_on_the_watchlist_page_and_the_page_takes_it_off(
    ui: OpenPage, make_user: MakeUser, api: ApiClient, sample_catalogue: dict[str, int]
) -> None:
    session = make_user("watcher")
    heat = sample_catalogue["Heat"]
    at = ui(session=session)
    at.text_input(key="search_q").input("heat").run()
    card_button(at, "watch", "search", heat).click().run()
    assert not at.exception
    assert on_list(api, session, "watchlist") == [heat]
    assert "Heat is on your watchlist" in texts(at)
    assert card_button(at, "watch", "search", heat).label == "On your watchlist"
    at.switch_page("views/watchlist.py").run()
    assert not at.exception
    assert card_titles(at, "watchlist") == ["Heat"]
    at.button(key=f"unwatch-{heat}").click().run()
    assert not at.exception
    assert on_list(api, session, "watchlist") == []
    assert cards(at, "watchlist") == {}
    assert "Nothing on your watchlist yet" in texts(at)


def test_the_card_button_on_the_watchlist_page_takes_the_movie_off_too(
    ui: OpenPage, make_user: MakeUser, api: ApiClient, sample_catalogue: dict[str, int]
) -> None:
    session = make_user("watcher2")
    casino, heat = sample_catalogue["Casino"], sample_catalogue["Heat"]
    for movie in (heat, casino):
        api.add_to_list(session.access_token, "watchlist", movie)
    at = ui("views/watchlist.py", session)
    assert card_titles(at, "watchlist") == ["Casino", "Heat"]  # most recently added first
    card_button(at, "watch", "watchlist", casino).click().run()
    assert not at.exception
    assert card_titles(at, "watchlist") == ["Heat"]
    assert on_list(api, session, "watchlist") == [heat]


def test_not_interested_takes_a_movie_out_of_the_recommendations_and_undo_brings_it_back(
    ui: OpenPage, make_user: MakeUser, api: ApiClient, sample_catalogue: dict[str, int]
) -> None:
    session = make_user("picky")
    api.rate(session.access_token, sample_catalogue["Heat"], 9)
    at = ui("views/recommendations.py", session)
    first = next(iter(cards(at, "recs")))
    card_button(at, "hide", "recs", first).click().run()
    assert not at.exception
    assert first not in cards(at, "recs")
    assert on_list(api, session, "not-interested") == [first]
    at.switch_page("views/latest.py").run()
    assert card_button(at, "hide", "latest", first).label == "Undo not interested"
    card_button(at, "hide", "latest", first).click().run()
    assert on_list(api, session, "not-interested") == []
    at.switch_page("views/recommendations.py").run()
    assert first in cards(at, "recs")


def test_my_ratings_takes_a_rating_back(
    ui: OpenPage, make_user: MakeUser, api: ApiClient, sample_catalogue: dict[str, int]
) -> None:
    session = make_user("regretful")
    heat, casino = sample_catalogue["Heat"], sample_catalogue["Casino"]
    api.rate(session.access_token, heat, 9)
    api.rate(session.access_token, casino, 4)
    at = ui("views/my_ratings.py", session)
    assert at.button(key="unrate_button").disabled
    at.selectbox(key="unrate_pick").select(casino).run()
    at.button(key="unrate_button").click().run()
    assert not at.exception
    assert [r.movie.id for r in api.all_my_ratings(session.access_token, session.user_id)] == [heat]
    assert at.metric[0].value == "1"
    assert at.session_state["my_ratings"] == {heat: 9}  # the cards' rating controls forget it too


def test_the_watchlist_page_asks_a_visitor_to_log_in(ui: OpenPage, live_api: str) -> None:
    at = ui("views/watchlist.py")
    assert not at.exception
    assert "to keep a watchlist" in at.info[0].value
    assert not [b for b in at.button if b.key and b.key.startswith("watch-")]


def test_a_closed_card_has_one_button_and_says_what_the_lists_hold(
    ui: OpenPage, make_user: MakeUser, api: ApiClient, sample_catalogue: dict[str, int]
) -> None:
    session = make_user("closed_cards")
    heat = sample_catalogue["Heat"]
    api.add_to_list(session.access_token, "watchlist", heat)
    at = ui(session=session)
    at.text_input(key="search_q").input("heat").run()
    card = cards(at, "search")[heat]
    assert [b.key for b in card.button] == [f"ratebox-search-{heat}"]  # the actions are drawn once asked for
    assert "On your watchlist" in card_text(card)
    assert card_button(at, "watch", "search", heat).label == "On your watchlist"
    assert {b.key for b in cards(at, "search")[heat].button} == {
        f"{name}-search-{heat}" for name in ("ratebox", "similar", "watch", "hide")
    }
