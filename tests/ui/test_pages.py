"""Every page of the Streamlit UI, run with Streamlit's AppTest against a real API served over HTTP."""

from __future__ import annotations

import html
import re
from collections.abc import Callable

import pytest
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.element_tree import Block

from movierec.domain.movies import MovieDraft
from movierec.probes import free_ports
from movierec.ui.client import ApiClient, ApiError, Session
from movierec.wiring import Container
from tests.conftest import index_everything
from tests.ui.conftest import PASSWORD, CallLog, card_button, rating_pills

OpenPage = Callable[..., AppTest]
MakeUser = Callable[[str], Session]


def html_text(body: str) -> str:
    """What an HTML block says, as a reader sees it: tags dropped, entities decoded, spaces collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", body)).split())


def texts(at: AppTest) -> str:
    """Everything the page says in markdown, captions, titles, alerts and HTML blocks (cards), as one string."""
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption] + [t.value for t in at.title]
    parts += [a.value for kind in (at.info, at.success, at.warning, at.error) for a in kind]
    parts += [html_text(h.value) for h in at.html]
    return "\n".join(str(p) for p in parts)


def unescape(markdown: str) -> str:
    return re.sub(r"\\(.)", r"\1", markdown)


def cards(at: AppTest, context: str) -> dict[int, Block]:
    """The movie cards of one grid (``card-<context>-<movie id>`` containers), in order."""
    prefix = f"card-{context}-"
    return {int(b.key[len(prefix) :]): b for b in at.container if b.key and b.key.startswith(prefix)}


def card_html(card: Block) -> str:
    """The card's fixed part: the one HTML block with its poster, title, genres, numbers and reason."""
    blocks = list(card.html)
    assert len(blocks) == 1, f"a card has one HTML block, not {len(blocks)}"
    return str(blocks[0].value)


def card_text(card: Block) -> str:
    return html_text(card_html(card))


def card_titles(at: AppTest, context: str) -> list[str]:
    """The bold title of each card, in order."""
    titles = [re.search(r"<b>(.*?)</b>", card_html(card)) for card in cards(at, context).values()]
    return [html.unescape(t.group(1)) if t else "" for t in titles]


def test_logged_out_search_shows_results_without_rating(ui: OpenPage, live_api: str, api: ApiClient) -> None:
    at = ui()
    assert not at.exception
    assert "Type a title or pick a genre" in texts(at)
    at.text_input(key="search_q").input("matrix").run()
    expected = api.search("matrix", limit=12).items
    assert expected
    assert card_titles(at, "search") == [m.title for m in expected]
    assert not at.pills  # no rating control for guests...
    assert "Log in to rate" in texts(at)  # ...but an invitation


def test_register_then_login_flow(ui: OpenPage, live_api: str, api: ApiClient) -> None:
    at = ui("views/login.py")
    at.text_input(key="register_username").input("carol")
    at.text_input(key="register_password").input(PASSWORD)
    at.text_input(key="register_repeat").input(PASSWORD)
    at.button(key="register_submit").click().run()
    assert not at.exception
    session = at.session_state["auth"]
    assert isinstance(session, Session) and session.username == "carol"
    assert any("Signed in as **carol**" in c.value for c in at.sidebar.caption)
    assert any("Welcome, carol" in t.value for t in at.toast)
    assert at.title[0].value == "Rate a few movies you know"  # new users land on the quick start
    assert api.login("carol", PASSWORD).user_id == session.user_id  # the account exists in the API

    at.switch_page("views/logout.py").run()
    assert "auth" not in at.session_state
    at.switch_page("views/login.py").run()
    at.text_input(key="login_username").input("carol")
    at.text_input(key="login_password").input(PASSWORD)
    at.button(key="login_submit").click().run()
    assert not at.exception
    assert at.session_state["auth"].user_id == session.user_id
    assert at.title[0].value == "Rate a few movies you know"  # no ratings yet: the quick start again


def test_wrong_password_shows_the_api_message(ui: OpenPage, make_user: MakeUser, api: ApiClient) -> None:
    make_user("dave")
    with pytest.raises(ApiError) as refused:
        api.login("dave", "not the password")
    at = ui("views/login.py")
    at.text_input(key="login_username").input("dave")
    at.text_input(key="login_password").input("not the password")
    at.button(key="login_submit").click().run()
    assert [e.value for e in at.error] == [refused.value.message]
    assert "auth" not in at.session_state


def test_registering_a_taken_name_shows_the_api_message(ui: OpenPage, make_user: MakeUser, api: ApiClient) -> None:
    make_user("erin")
    with pytest.raises(ApiError) as refused:
        api.register("erin", PASSWORD)
    at = ui("views/login.py")
    at.text_input(key="register_username").input("erin")
    at.text_input(key="register_password").input(PASSWORD)
    at.text_input(key="register_repeat").input(PASSWORD)
    at.button(key="register_submit").click().run()
    assert [e.value for e in at.error] == [refused.value.message]
    assert "auth" not in at.session_state


def test_search_rate_then_my_ratings(
    ui: OpenPage, make_user: MakeUser, api: ApiClient, sample_catalogue: dict[str, int]
) -> None:
    session = make_user("alice")
    toy_story = sample_catalogue["Toy Story"]
    at = ui(session=session)
    at.text_input(key="search_q").input("toy story").run()
    control = rating_pills(at, "search", toy_story)
    assert control.value is None  # not rated yet
    control.set_value(9).run()
    assert not at.exception
    assert any("Saved: Toy Story — 9/10" in unescape(c.value) for c in at.caption)
    total, history = api.my_ratings(session.access_token, session.user_id)
    assert (total, history[0].movie.id, history[0].rating) == (1, toy_story, 9)

    fresh = ui(session=session)  # a new browser session reads the rating back from /my-ratings
    fresh.text_input(key="search_q").input("toy story").run()
    assert rating_pills(fresh, "search", toy_story).value == 9

    fresh.switch_page("views/my_ratings.py").run()
    assert not fresh.exception
    table = fresh.dataframe[0].value
    assert list(table["Title"]) == ["Toy Story"]
    assert list(table["Your rating"]) == [9]
    assert [m.value for m in fresh.metric][:2] == ["1", "9.0 / 10"]


def test_my_ratings_newest_first_with_charts(
    ui: OpenPage, make_user: MakeUser, api: ApiClient, sample_catalogue: dict[str, int]
) -> None:
    session = make_user("frank")
    for title, rating in [("Heat", 6), ("Casino", 8), ("Amélie", 10)]:
        api.rate(session.access_token, sample_catalogue[title], rating)
    _, history = api.my_ratings(session.access_token, session.user_id)
    at = ui("views/my_ratings.py", session)
    assert not at.exception
    table = at.dataframe[0].value
    assert list(table["Title"]) == [r.movie.title for r in history]  # the API's order: newest first
    assert list(table["Your rating"]) == [r.rating for r in history]
    assert len(at.get("vega_lite_chart")) == 2  # ratings over time, genres rated highest
    # Comedy and Romance (Amélie, 10) were rated once; of the genres rated twice, Crime and Drama tie at 7.
    assert at.metric[2].value == "Crime"


def test_recommendations_show_reasons(
    ui: OpenPage, make_user: MakeUser, api: ApiClient, sample_catalogue: dict[str, int]
) -> None:
    session = make_user("grace")
    api.rate(session.access_token, sample_catalogue["The Matrix"], 10)
    api.rate(session.access_token, sample_catalogue["The Terminator"], 9)
    expected = api.recommendations(session.access_token, session.user_id, limit=12).items
    assert expected and all(m.reason for m in expected)
    at = ui("views/recommendations.py", session)
    assert not at.exception
    shown = cards(at, "recs")
    assert list(shown) == [m.id for m in expected]
    for movie in expected:
        body = card_html(shown[movie.id])
        reason = re.search(rf"class='[^']*reason-recs-{movie.id}'>(.*?)</div>", body)
        assert reason and str(movie.reason) in html.unescape(reason.group(1))
        assert movie.predicted_rating is not None and 1 <= movie.predicted_rating <= 10  # the default predicts
        predicted = re.search(rf"class='[^']*predicted-recs-{movie.id}'>(.*?)</div>", body)
        assert predicted and f"about {round(movie.predicted_rating * 2) / 2:g}/10" in predicted.group(1)
    assert {sample_catalogue["The Matrix"], sample_catalogue["The Terminator"]}.isdisjoint(shown)


def test_recommendation_strategies_come_from_the_api(
    ui: OpenPage, make_user: MakeUser, api: ApiClient, sample_catalogue: dict[str, int]
) -> None:
    declared = api.strategies()
    assert declared.names and declared.default in declared.names  # read from /openapi.json
    session = make_user("heidi")
    api.rate(session.access_token, sample_catalogue["Heat"], 9)
    at = ui("views/recommendations.py", session)
    box = at.selectbox(key="recs_strategy")
    assert len(box.options) == len(declared.names)
    assert box.value == declared.default
    for name in declared.names:
        at.selectbox(key="recs_strategy").set_value(name).run()
        assert not at.exception
        expected = api.recommendations(session.access_token, session.user_id, strategy=name, limit=12).items
        assert card_titles(at, "recs") == [m.title for m in expected], name


def test_recommendations_genre_filter(ui: OpenPage, make_user: MakeUser, api: ApiClient) -> None:
    session = make_user("ivan")
    at = ui("views/recommendations.py", session)
    at.selectbox(key="recs_genre").select("Comedy").run()
    assert not at.exception
    expected = api.recommendations(session.access_token, session.user_id, genre="Comedy", limit=12).items
    assert expected and all("Comedy" in m.genres for m in expected)
    assert card_titles(at, "recs") == [m.title for m in expected]


def test_similar_movies_dialog(ui: OpenPage, make_user: MakeUser, sample_catalogue: dict[str, int]) -> None:
    at = ui(session=make_user("judy"))
    at.text_input(key="search_q").input("matrix").run()
    card_button(at, "similar", "search", sample_catalogue["The Matrix"]).click().run()
    assert not at.exception
    assert "People who liked **The Matrix \\(1999\\)** also liked:" in texts(at)


def test_logged_out_pages_ask_to_log_in(ui: OpenPage, live_api: str) -> None:
    for page, words in [("views/recommendations.py", "to get recommendations"), ("views/my_ratings.py", "to see")]:
        at = ui(page)
        assert not at.exception
        assert words in at.info[0].value
        assert at.page_link[0].proto.page.endswith("login")  # a link to the login page


def test_recently_added_lists_movies(ui: OpenPage, api: ApiClient) -> None:
    at = ui("views/latest.py")
    assert not at.exception
    expected = api.latest(12)
    assert expected
    assert card_titles(at, "latest") == [m.title for m in expected]


def test_expired_token_logs_out_with_a_notice(ui: OpenPage, make_user: MakeUser) -> None:
    session = make_user("kim")
    forged = Session(session.user_id, session.username, session.access_token[:-4] + "AAAA", session.expires_in)
    at = ui("views/recommendations.py", forged)
    assert not at.exception
    assert "Your session has expired" in at.warning[0].value
    assert "auth" not in at.session_state


@pytest.mark.parametrize("page", ["views/search.py", "views/latest.py", "views/recommendations.py"])
def test_api_down_shows_one_notice(ui: OpenPage, monkeypatch: pytest.MonkeyPatch, page: str) -> None:
    url = f"http://127.0.0.1:{free_ports(1)[0]}"
    monkeypatch.setenv("MOVIEREC_API_URL", url)
    session = Session(1, "someone", "token", 3600) if page == "views/recommendations.py" else None
    at = ui(page, session)
    assert not at.exception
    assert len(at.error) == 1
    assert "not available right now" in at.error[0].value and url in at.error[0].value
    assert at.button(key="retry_api")


def test_search_pages_through_many_results(ui: OpenPage, live_api: str, container: Container) -> None:
    drafts = [MovieDraft(f"test:voyage{n}", f"Star Voyage {n}", 1980 + n, genres=("Sci-Fi",)) for n in range(30)]
    container.catalogue.upsert(drafts)
    index_everything(container)
    at = ui()
    at.text_input(key="search_q").input("star voyage").run()
    assert "30 movies match · showing 1–12" in texts(at)
    assert len(cards(at, "search")) == 12
    at.pagination[0].set_value(3).run()
    assert not at.exception
    assert "showing 25–30" in texts(at)
    assert len(cards(at, "search")) == 6
    at.text_input(key="search_q").input("star voyage 1").run()  # a new search starts on its first page
    assert "showing 1–" in texts(at)


def test_cards_show_the_poster_or_a_designed_stand_in(ui: OpenPage, api: ApiClient, container: Container) -> None:
    container.catalogue.upsert([MovieDraft("test:poster", "Posterful Picture", 2020, poster_path="/posterful.jpg")])
    index_everything(container)
    at = ui()
    at.text_input(key="search_q").input("posterful").run()
    with_poster = next(iter(cards(at, "search").values()))
    poster_url = api.search("posterful").items[0].poster_url
    assert poster_url and f"src='{poster_url}'" in card_html(with_poster)
    at.text_input(key="search_q").input("groundhog day").run()
    without = next(iter(cards(at, "search").values()))
    assert "class='mr-poster mr-standin'" in card_html(without) and "<img" not in card_html(without)  # nothing fetched


def test_a_rating_while_the_api_is_down_says_not_saved(
    ui: OpenPage, container: Container, sample_catalogue: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.conftest import create_app_for
    from tests.live_api import serve_app

    toy_story = sample_catalogue["Toy Story"]
    with serve_app(create_app_for(container)) as url:
        monkeypatch.setenv("MOVIEREC_API_URL", url)
        with ApiClient(url) as client:
            client.register("offline", PASSWORD)
            session = client.login("offline", PASSWORD)
        at = ui(session=session)
        at.text_input(key="search_q").input("toy story").run()
        assert rating_pills(at, "search", toy_story).value is None
    # The API has stopped; the search page is still on screen (cached), and a rating is clicked.
    at.pills(key=f"rate-search-{toy_story}").set_value(7).run()
    assert not at.exception
    said = " ".join(e.value for e in at.error)
    assert "Not saved: your 7/10 for Toy Story did not reach the movie service" in said
    assert at.pills(key=f"rate-search-{toy_story}").value is None  # the control shows what is really saved


def test_a_paste_longer_than_the_limit_is_refused_in_words(ui: OpenPage, live_api: str, api_calls: CallLog) -> None:
    at = ui("views/login.py")
    at.text_input(key="register_username").input("u" * 40)
    at.text_input(key="register_password").input(PASSWORD)
    at.text_input(key="register_repeat").input(PASSWORD)
    api_calls.take()
    at.button(key="register_submit").click().run()
    assert [e.value for e in at.error] == ["A username can be at most 32 characters; this one has 40."]
    assert api_calls.take() == []  # refused before asking the API


def test_the_empty_state_caption_does_not_contradict_itself(ui: OpenPage, make_user: MakeUser) -> None:
    at = ui("views/recommendations.py", make_user("newbie"))
    assert not at.exception
    said = texts(at)
    assert "Popular picks · none of your ratings yet" in said
    assert "Tailored" not in " ".join(c.value for c in at.caption) and "0 of your ratings" not in said


def test_the_quick_start_offers_popular_movies_and_skips(ui: OpenPage, make_user: MakeUser, api: ApiClient) -> None:
    at = ui("views/onboarding.py", make_user("starter"))
    assert not at.exception
    shown = list(cards(at, "onboard"))
    popular = [m.id for m in api.search(limit=100).items]
    assert shown and set(shown) <= set(popular)
    at.button(key=f"skip-{shown[0]}").click().run()
    assert shown[0] not in cards(at, "onboard")
    assert "1 skipped" in texts(at)


def _prefetched(at: AppTest) -> list[str]:
    """The module names each prefetch script of this run imports."""
    scripts = [str(h.value) for h in at.html if "import(" in str(h.value)]
    return [",".join(re.findall(r"static/js/([A-Za-z]+)\.", s)) for s in scripts]


def test_the_code_pages_need_is_fetched_once_per_session(ui: OpenPage, make_user: MakeUser, live_api: str) -> None:
    guest = ui()
    assert _prefetched(guest) == ["Button,Toast"]  # a card's controls, for everyone
    guest.run()
    assert _prefetched(guest) == []
    at = ui(session=make_user("alice"))
    assert not at.exception
    assert _prefetched(at) == ["Button,Toast", "DataFrame,Metric,ArrowVegaLiteChart,loadVegaEmbed,embed"]
    at.run()
    assert _prefetched(at) == []
