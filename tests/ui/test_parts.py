"""The UI's parts that need no page: the login cookie's route, plain API messages, quick-start picks, posters."""

from __future__ import annotations

import asyncio
import base64
import io
import json
from http.cookies import SimpleCookie
from pathlib import Path

import pytest
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from streamlit.testing.v1 import AppTest

from movierec.ui import charts, cookie_session, onboarding, prefetch
from movierec.ui import server as ui_server
from movierec.ui.client import ApiClient, ApiError, Movie, Session, plain_sentences
from movierec.ui.components import card_html, placeholder_poster, poster_colours
from movierec.ui.views.login import too_long

SESSION = Session(7, "ada", "header.payload.signature", 3600)


def _call(method: str, body: str = "", with_header: bool = True) -> Response:
    """One request to the cookie route, through Starlette's own Request (an ASGI scope), without a server."""
    route = cookie_session.routes()[0]
    assert isinstance(route, Route)
    headers = [(cookie_session.HEADER.lower().encode(), b"1")] if with_header else []
    scope = {"type": "http", "method": method, "path": cookie_session.PATH, "headers": headers, "query_string": b""}
    scope |= {"scheme": "http", "server": ("127.0.0.1", 8501)}

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": body.encode(), "more_body": False}

    answer = asyncio.run(route.endpoint(Request(scope, receive)))
    assert isinstance(answer, Response)
    return answer


def _cookie(answer: Response) -> tuple[str, str]:
    header = answer.headers["set-cookie"]
    parsed = SimpleCookie()
    parsed.load(header)
    return parsed[cookie_session.COOKIE].value, header


def test_a_one_time_code_becomes_an_httponly_cookie_holding_the_session() -> None:
    code = cookie_session.issue(SESSION)
    assert cookie_session.pending(code)
    answer = _call("POST", code)
    assert answer.status_code == 204
    value, header = _cookie(answer)
    assert "HttpOnly" in header and "SameSite=strict" in header and "Max-Age=3600" in header
    restored = cookie_session.decode(value)
    assert restored is not None
    assert (restored.user_id, restored.username, restored.access_token) == (7, "ada", SESSION.access_token)
    assert 3590 <= restored.expires_in <= 3600
    assert not cookie_session.pending(code)
    again = _call("POST", code)
    assert again.status_code == 404 and "set-cookie" not in again.headers  # a code works once


@pytest.mark.parametrize("method", ["POST", "DELETE"])
def test_the_cookie_route_refuses_requests_without_its_header(method: str) -> None:
    code = cookie_session.issue(SESSION)
    answer = _call(method, code, with_header=False)
    assert answer.status_code == 403 and "set-cookie" not in answer.headers
    assert cookie_session.pending(code)  # a cross-site attempt does not use the code up


def test_deleting_clears_the_cookie() -> None:
    answer = _call("DELETE")
    value, header = _cookie(answer)
    assert answer.status_code == 204 and value == "" and "Max-Age=0" in header


@pytest.mark.parametrize("value", [None, "", "not base64!", base64.urlsafe_b64encode(b'{"u": 1}').decode()])
def test_a_malformed_cookie_is_no_session(value: str | None) -> None:
    assert cookie_session.decode(value) is None


def test_an_expired_cookie_is_no_session() -> None:
    assert cookie_session.decode(cookie_session.encode(Session(1, "a", "t", -5))) is None


@pytest.mark.parametrize(
    ("message", "plain"),
    [
        ("password: password must be at least 8 characters", "Password must be at least 8 characters."),
        (
            "username: username must be 3-32 characters; password: password must be at least 8 characters",
            "Username must be 3-32 characters. Password must be at least 8 characters.",
        ),
        ("rating: Input should be less than or equal to 10", "Rating: Input should be less than or equal to 10."),
        ("invalid username or password", "Invalid username or password."),
        ("That name is taken.", "That name is taken."),
    ],
)
def test_api_messages_become_plain_sentences(message: str, plain: str) -> None:
    assert plain_sentences(message) == plain


def test_a_short_password_is_refused_in_a_plain_sentence(api: ApiClient) -> None:
    with pytest.raises(ApiError) as refused:
        api.register("shorty", "short")
    assert refused.value.message == "Password must be at least 8 characters."


def test_log_out_revokes_the_token_or_says_there_is_nothing_to_revoke(api: ApiClient) -> None:
    api.register("leaving", "ui-test-pw-5821")
    session = api.login("leaving", "ui-test-pw-5821")
    revoked = api.logout(session.access_token)
    if revoked:  # an API with POST /logout: the token is refused from now on
        with pytest.raises(ApiError) as refused:
            api.my_ratings(session.access_token, session.user_id)
        assert refused.value.status == 401
    else:  # an older API (404/405): the token still works until it expires
        assert api.my_ratings(session.access_token, session.user_id)[0] == 0


def test_too_long_says_so_in_words() -> None:
    assert too_long("A username", "x" * 32, 32) is None
    assert too_long("A username", "x" * 40, 32) == "A username can be at most 32 characters; this one has 40."


def _movie(movie_id: int, *genres: str) -> Movie:
    return Movie(id=movie_id, title=f"Movie {movie_id}", genres=genres)


def test_quick_start_picks_are_popular_and_varied() -> None:
    popular = [_movie(i, "Drama") for i in range(10)] + [_movie(10 + i, g) for i, g in enumerate("ABCDEFGH")]
    picks = onboarding.picks(popular, want=6, per_genre=2)
    assert [m.id for m in picks] == [0, 1, 10, 11, 12, 13]  # two dramas, then the most popular of other genres


def test_quick_start_fills_up_when_there_are_too_few_genres() -> None:
    popular = [_movie(i, "Drama") for i in range(10)]
    assert [m.id for m in onboarding.picks(popular, want=5, per_genre=2)] == [0, 1, 2, 3, 4]


def test_poster_stand_ins_are_deterministic_and_differ_by_genre_and_title() -> None:
    one = placeholder_poster("Heat", 1995, ("Crime", "Drama"))
    assert one == placeholder_poster("Heat", 1995, ("Crime", "Drama"))
    assert ">Heat<" in one and ">1995<" in one and ">CRIME<" in one
    top, bottom, accent = poster_colours("Heat", ("Crime", "Drama"))
    assert f"--mr-top:{top};--mr-bottom:{bottom};--mr-accent:{accent};" in one  # the page's CSS draws with these
    assert "role='img' aria-label='Poster of Heat'" in one
    assert poster_colours("Heat", ("Crime",)) != poster_colours("Heat", ("Comedy",))
    assert poster_colours("Heat", ("Crime",)) != poster_colours("Fargo", ("Crime",))


def test_poster_stand_ins_escape_and_set_long_titles_smaller() -> None:
    long = placeholder_poster("Dr. Strangelove or: How I Learned to Stop Worrying & Love the <Bomb>", 1964)
    assert "&amp;" in long and "&lt;Bomb&gt;" in long and "<Bomb>" not in long
    assert "--mr-size:8cqw" in long  # the smallest size; past five lines the page's CSS ends it in an ellipsis
    assert "--mr-size:11cqw" in placeholder_poster("Heat", 1995)
    assert "--mr-size:9.5cqw" in placeholder_poster("Independence Day", 1996)  # its longest word needs the room
    assert "mr-sgenre" not in long and "mr-syear" not in placeholder_poster("Heat")  # no genre, no year: not drawn


def _growing_list() -> None:
    """A page with one growing list of 30 movies, 12 at a time up to 36 (run by AppTest: imports inside)."""
    import streamlit as st

    from movierec.ui import components
    from movierec.ui.client import Movie

    def first(count: int) -> list[Movie]:
        st.session_state.setdefault("asked", []).append(count)
        return [Movie(i, f"Movie {i}", 2000 + i) for i in range(1, min(count, 30) + 1)]

    movies = first(components.shown_count("grow", 12))
    components.growing_grid("grow", movies, first, step=12, most=36, context="grow")


def _card_ids(at: AppTest) -> list[int]:
    return [int(b.key.rsplit("-", 1)[1]) for b in at.container if b.key and b.key.startswith("card-grow-")]


def test_show_more_adds_the_next_cards_under_the_first_ones_until_the_list_ends() -> None:
    at = AppTest.from_function(_growing_list).run()
    assert not at.exception
    assert _card_ids(at) == list(range(1, 13)) and at.session_state["asked"] == [12, 12]  # the same list twice
    at.button(key="grow_more").click().run()
    assert _card_ids(at) == list(range(1, 25))  # in order, none twice: the first 12, then the next 12 under them
    at.button(key="grow_more").click().run()
    assert _card_ids(at) == list(range(1, 31))  # all there is
    assert "grow_more" not in [b.key for b in at.button]  # fewer than asked for: the list has ended


def test_a_card_is_one_escaped_html_block_with_what_the_movie_has() -> None:
    movie = Movie(
        5,
        "Les <script>alert('x')</script> & Co",
        1999,
        genres=("Drama", "(no genres listed)"),
        overview="A <b>bold</b> story. " * 20,
        vote_average=7.25,
        vote_count=1234,
        vote_source="IMDb",
        reason="Because you rated <Heat>",
        predicted_rating=8.2,
        poster_url="https://image.tmdb.org/t/p/w342/x'y.jpg",
    )
    body = card_html(movie, "recs", show_reason=True)
    assert "<script>" not in body and "<b>bold</b>" not in body and "<Heat>" not in body
    assert "Les &lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; Co" in body
    assert "(1999)" in body and ">Drama<" in body and "no genres listed" not in body
    assert "7.2/10 · 1,234 votes on IMDb" in body
    assert "reason-recs-5'>✦ Because you rated &lt;Heat&gt;<" in body
    assert "about 8/10" in body
    assert "src='https://image.tmdb.org/t/p/w342/x&#x27;y.jpg'" in body  # a quote cannot end the attribute
    assert "…" in body  # the overview is shortened

    plain = card_html(Movie(6, "Heat"), "search")
    assert "reason-" not in plain and "predicted-" not in plain and "mr-badges" not in plain
    assert "No votes in the catalogue&#x27;s source yet" in plain and "★" not in plain
    assert "<div class='mr-poster mr-standin' role='img' aria-label='Poster of Heat'" in plain  # drawn by the page
    assert "<img" not in plain
    assert "reason-" not in card_html(movie, "search")  # reasons only where the page asks for them

    rated_here = card_html(Movie(6, "Heat"), "search", community="7.5/10 from 2 ratings <here>")
    assert "<div class='mr-line mr-here community-search-6'>7.5/10 from 2 ratings &lt;here&gt;</div>" in rated_here
    assert "community-" not in plain


def test_the_ui_server_runs_without_streamlits_forced_collection_after_each_run() -> None:
    command = ui_server.command(8765, "0.0.0.0")
    options = dict(zip(command[5::2], command[6::2], strict=True))
    assert command[1:4] == ["-m", "streamlit", "run"] and command[4].endswith("app.py")
    assert options["--server.port"] == "8765" and options["--server.address"] == "0.0.0.0"
    assert options["--runner.postScriptGC"] == "false"
    assert options["--browser.gatherUsageStats"] == "false"


@pytest.mark.parametrize("modules", [prefetch.CARD_MODULES, prefetch.MY_RATINGS_MODULES])
def test_the_prefetched_modules_are_found_in_the_installed_streamlit(modules: tuple[str, ...]) -> None:
    # A Streamlit upgrade renames these modules (content hashes) or may drop one: then this fails, and the lists in
    # prefetch.py need a look, instead of the prefetch silently fetching nothing.
    paths = prefetch.module_paths(modules)
    assert [p.split("/")[-1].split(".")[0] for p in paths] == list(modules)
    assert all(p.startswith("static/js/") and p.endswith(".js") for p in paths)


def test_the_prefetch_script_imports_each_module_under_the_base_path_later(tmp_path: Path) -> None:
    js = tmp_path / "static" / "js"
    js.mkdir(parents=True)
    for name in ("DataFrame.ab12.js", "DataFrameCell.cd34.js", "Metric.ef56.js", "Metric.ef56.js.map"):
        (js / name).write_text("")
    paths = prefetch.module_paths(("DataFrame", "Metric", "Missing"), str(tmp_path))
    assert paths == ("static/js/DataFrame.ab12.js", "static/js/Metric.ef56.js")  # not DataFrameCell, not a map
    script = prefetch.script("/movies/", paths, 2000)
    assert '["/movies/static/js/DataFrame.ab12.js", "/movies/static/js/Metric.ef56.js"]' in script
    assert '["/static/js/Metric.ef56.js"]' in prefetch.script("", paths[1:], 2000)
    assert script.startswith("<script>") and "import(" in script and ".catch(" in script
    assert "setTimeout(quiet, 2000)" in script  # 2 s after the last click or key press
    assert '["pointerdown", "keydown"]' in script and "clearTimeout(timer)" in script


def test_the_sample_charts_are_my_ratings_charts_with_their_data_inline() -> None:
    specs = json.loads(prefetch.sample_charts())
    assert len(specs) == 2 and all("datasets" not in spec for spec in specs)
    assert all(len(spec["data"]["values"]) == 1 for spec in specs)  # one made-up rating each
    marks = [[layer["mark"]["type"] for layer in spec["layer"]] for spec in specs]
    assert marks == [["circle", "line"], ["bar", "text"]]  # the same layers as the page's two charts
    assert specs[0]["data"]["values"][0]["Rated"].startswith("2024-01-01T12:00:00")  # a time Vega can read
    paths = ("static/js/loadVegaEmbed.ab12.js", "static/js/embed.cd34.js")
    warm = prefetch.script("", paths, 2000, prefetch.sample_charts())
    assert f"const SPECS = {prefetch.sample_charts()};" in warm and '"/loadVegaEmbed."' in warm
    assert "finalize()" in warm and "box.remove()" in warm  # drawn out of sight once, then gone
    assert "SPECS" not in prefetch.script("", paths, 2000)


def test_the_charts_warm_up_builds_both_charts_without_a_warning(capsys: pytest.CaptureFixture[str]) -> None:
    thread = charts.warm_up_in_background()
    thread.join(timeout=120)
    assert not thread.is_alive()
    assert "ui.warm_up_failed" not in capsys.readouterr().out


def test_the_tab_icon_is_a_png_data_url_drawn_once() -> None:
    from PIL import Image

    from movierec.ui.components import page_icon

    url = page_icon()
    assert url is page_icon()  # drawn once per process; Streamlit sends a URL as it is
    assert url.startswith("data:image/png;base64,")
    with Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))) as icon:
        assert icon.size == (64, 64)


def test_the_api_url_follows_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from movierec.ui.session import api_url

    monkeypatch.setenv("MOVIEREC_API_URL", "http://127.0.0.1:1111")
    assert api_url() == "http://127.0.0.1:1111"
    monkeypatch.setenv("MOVIEREC_API_URL", "http://127.0.0.1:2222")
    assert api_url() == "http://127.0.0.1:2222"
    monkeypatch.delenv("MOVIEREC_API_URL")
    assert api_url() == "http://127.0.0.1:8000"


def test_the_charts_are_vega_lite_specs_holding_their_data() -> None:
    import pandas as pd

    rated = pd.DataFrame(
        {
            "Title": ["Heat", "Casino", "Amélie"],
            "Your rating": [6, 10, 8],
            "Rated": pd.to_datetime(["2026-01-03", "2026-01-01", "2026-01-02"], utc=True),
        }
    )
    spec = charts.over_time_chart(rated)
    ((name, data),) = spec["datasets"].items()
    assert spec["data"] == {"name": name}
    assert list(data["Title"]) == ["Casino", "Amélie", "Heat"]  # oldest first
    assert list(data["Running average"]) == [10.0, 9.0, 8.0]
    assert [layer["mark"]["type"] for layer in spec["layer"]] == ["circle", "line"]
    assert spec["layer"][0]["encoding"]["x"]["axis"]["format"] == "%a %H:%M"  # two days: weekday and time
    assert charts.over_time_chart(rated)["data"] == spec["data"]  # the same data, the same name
    assert charts.over_time_chart(rated.assign(**{"Your rating": [6, 10, 9]}))["data"] != spec["data"]

    genres = pd.DataFrame({"Genre": ["Drama", "Crime"], "Average": [8.0, 6.5], "Ratings": [2, 1]})
    genre_spec = charts.genre_chart(genres)
    (data,) = genre_spec["datasets"].values()
    assert list(data["Label"]) == ["8.0 · 2 rated", "6.5 · 1 rated"]
    assert genre_spec["encoding"]["y"]["sort"] == ["Drama", "Crime"]
