"""Cards say whose numbers they show: the catalogue source's votes, and this app's own ratings (updated by a rating)."""

from __future__ import annotations

import html
import re
from collections.abc import Callable

from streamlit.testing.v1 import AppTest

from movierec.domain.movies import MovieDraft
from movierec.ui.client import ApiClient, Session
from movierec.wiring import Container
from tests.conftest import index_everything
from tests.ui.conftest import rating_pills
from tests.ui.test_pages import card_html, card_text, cards, texts, unescape

OpenPage = Callable[..., AppTest]
MakeUser = Callable[[str], Session]


def _community(at: AppTest, context: str, movie_id: int) -> str:
    """The card's line about this app's own ratings of the movie."""
    found = re.search(
        rf"<div class='[^']*community-{context}-{movie_id}'>(.*?)</div>", card_html(cards(at, context)[movie_id])
    )
    assert found is not None, f"no community line on the {context} card of {movie_id}"
    return html.unescape(found.group(1))


def test_a_card_names_the_source_of_its_votes(ui: OpenPage, api: ApiClient, container: Container) -> None:
    container.catalogue.upsert(
        [
            MovieDraft("tmdb:77", "Zebra Crossing", 2020, vote_average=7.1, vote_count=1_234, popularity=3.5),
            MovieDraft("movielens:77", "Zebra Dawn", 1995, vote_average=6.0, vote_count=12, popularity=12.0),
            MovieDraft("imdb:77", "Zebra Dusk", 1990, vote_average=5.5, vote_count=88, popularity=88.0),
        ]
    )
    index_everything(container)
    at = ui()
    at.text_input(key="search_q").input("zebra").run()
    assert not at.exception
    found = {m.title: m.id for m in api.search("zebra").items}
    shown = {movie_id: card_text(card) for movie_id, card in cards(at, "search").items()}
    assert "★ 7.1/10 · 1,234 votes on TMDB" in shown[found["Zebra Crossing"]]
    assert "★ 6.0/10 · 12 votes on MovieLens" in shown[found["Zebra Dawn"]]
    assert "★ 5.5/10 · 88 votes on IMDb" in shown[found["Zebra Dusk"]]
    # This app's own ratings are a separate line: nobody has rated them here.
    assert _community(at, "search", found["Zebra Crossing"]) == "No ratings here yet"


def test_community_numbers_appear_after_a_rating(
    ui: OpenPage, make_user: MakeUser, api: ApiClient, sample_catalogue: dict[str, int]
) -> None:
    heat = sample_catalogue["Heat"]
    bob = make_user("bob")
    api.rate(bob.access_token, heat, 6)
    alice = make_user("alice")
    at = ui(session=alice)
    at.text_input(key="search_q").input("heat").run()
    assert _community(at, "search", heat) == "6.0/10 from 1 rating here"
    assert any("votes in the catalogue's source" in unescape(line) for line in texts(at).splitlines())
    rating_pills(at, "search", heat).set_value(9).run()
    assert not at.exception
    assert _community(at, "search", heat) == "7.5/10 from 2 ratings here"
    # Another page's card of the same movie knows the new numbers too, before any cache has expired.
    at.switch_page("views/latest.py").run()
    assert _community(at, "latest", heat) == "7.5/10 from 2 ratings here"


def test_recommendations_say_how_old_the_community_numbers_may_be(ui: OpenPage, make_user: MakeUser) -> None:
    at = ui("views/recommendations.py", make_user("alice"))
    assert not at.exception
    assert "up to 5 minutes ago" in texts(at)


def test_recently_added_says_what_comes_first(ui: OpenPage, live_api: str) -> None:
    at = ui("views/latest.py")
    assert "latest release year first, then the most recently added" in texts(at)
