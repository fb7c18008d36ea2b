"""End to end in a real browser: the API (MovieLens catalogue) and the Streamlit UI as real servers, Chromium driving.

Needs Debian's Chromium at /usr/bin/chromium (``scripts/services install chromium``); skipped with the reason when it
is missing, except with CI=true, where that fails the run. Playwright drives it; no browser is ever downloaded.
Screenshots of every page land in ``artifacts/screenshots/``.

Chromium fails every request still waiting for a connection when the host's network interfaces change (a container
starting or stopping adds or drops a veth link and its addresses): ``net::ERR_NETWORK_CHANGED``, never retried.
Streamlit's front end loads well over a hundred JavaScript modules, queued behind six connections, some only when a
widget first shows; one failed module leaves the page blank for good, or a widget missing. So the browser contexts
here fetch those hashed, immutable bundles (``/static/``) through Playwright, outside Chromium's connection pool (see
:func:`_context`); the page, the WebSocket, the login cookie route and everything else still go through Chromium.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Locator, Page, Route, expect, sync_playwright
from playwright.sync_api import Error as PlaywrightError
from tenacity import Retrying, retry_if_exception_type, stop_after_delay, wait_fixed

from movierec.probes import free_ports
from movierec.services.models import train
from movierec.services.seeding import import_movielens_ratings, load_catalogue
from movierec.settings import load_settings
from movierec.ui import server as ui_server
from movierec.ui.client import ApiClient
from movierec.wiring import Container, build_container
from tests.conftest import FAST_HASHING, IN_CI, create_app_for, index_everything
from tests.live_api import serve_app

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WAIT_MS = 120_000  # generous: the first recommendations fit the models, and CI machines are busy
expect.set_options(timeout=WAIT_MS)
USERNAME, PASSWORD = "e2e_viewer", "ui-test-pw-5821"
BUNDLES = re.compile(r"^http://127\.0\.0\.1:\d+/static/")


@pytest.fixture(scope="module")
def chromium() -> Path:
    if not CHROMIUM.exists():
        message = f"Chromium is not installed at {CHROMIUM} (run `scripts/services install chromium`)"
        if IN_CI:
            pytest.fail(f"CI=true requires the browser: {message}")
        pytest.skip(message)
    return CHROMIUM


@pytest.fixture(scope="module")
def movielens(chromium: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Container]:
    """The MovieLens catalogue loaded and indexed, MovieLens' ratings and trained models, shared by this module's tests.

    Trained first, as ``movierec up`` does on its first start: otherwise the first recommendations fit the models
    inside a request, which on a busy machine outlasts the UI's timeout. Each test uses its own usernames.
    """
    settings = load_settings(data_dir=tmp_path_factory.mktemp("browser") / "data", **FAST_HASHING)
    container = build_container(settings, run_migrations=True)
    try:
        load_catalogue(container.catalogue, "movielens")
        index_everything(container)
        import_movielens_ratings(container.store)
        train(container.store, container.settings.models_dir)
        yield container
    finally:
        container.close()


@pytest.fixture
def movielens_api(movielens: Container) -> Iterator[str]:
    """The API over HTTP on that data, a fresh server for each test."""
    with serve_app(create_app_for(movielens), threads=8) as url:
        yield url


@pytest.fixture
def ui_url(movielens_api: str, tmp_path: Path) -> Iterator[str]:
    """The UI's Streamlit server (the command ``movierec up`` runs) pointed at the API; stopped after the test."""
    port = free_ports(1)[0]
    log_path = tmp_path / "streamlit.log"
    command = ui_server.command(port)
    env = {**os.environ, "MOVIEREC_API_URL": movielens_api, "MOVIEREC_LOG_LEVEL": "WARNING"}
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        for attempt in Retrying(
            stop=stop_after_delay(60),
            wait=wait_fixed(0.25),
            retry=retry_if_exception_type(httpx.HTTPError),
            reraise=True,
        ):
            with attempt:
                if process.poll() is not None:
                    pytest.fail(f"streamlit exited with {process.returncode}:\n{log_path.read_text()}")
                httpx.get(f"{url}/_stcore/health", timeout=2).raise_for_status()
        yield url
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def _fetch_outside_chromium(route: Route) -> None:
    """Answer a bundle request with Playwright's own HTTP client: the same bytes and headers from the same server."""
    try:
        response = route.fetch(timeout=WAIT_MS)
    except PlaywrightError:  # the browser is closing, or the server is gone: let Chromium meet the same fate
        with suppress(PlaywrightError):
            route.continue_()
        return
    with suppress(PlaywrightError):  # the page went away meanwhile
        route.fulfill(response=response)


def _context(browser: Browser, **options: Any) -> BrowserContext:
    """A browser context whose Streamlit bundles cannot be lost to a network change; failed requests are printed."""
    context = browser.new_context(**options)
    context.route(BUNDLES, _fetch_outside_chromium)
    context.on("requestfailed", lambda request: print(f"request failed: {request.url} {request.failure}"))
    return context


def _shot(page: Page, name: str) -> None:
    page.wait_for_timeout(600)  # let images and charts finish drawing
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def _go(page: Page, link: str, heading: str) -> None:
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=link).click()
    expect(page.get_by_role("heading", name=heading)).to_be_visible(timeout=WAIT_MS)


def test_register_login_search_rate_recommend_history(chromium: Path, movielens_api: str, ui_url: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with ApiClient(movielens_api) as api:
        toy_story = next(m for m in api.search("toy story", limit=5).items if m.title == "Toy Story")

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        page: Page | None = None
        try:
            page = _context(browser, viewport={"width": 1400, "height": 1500}).new_page()
            page.set_default_timeout(WAIT_MS)
            page.goto(ui_url)
            expect(page.get_by_role("heading", name="Search movies")).to_be_visible(timeout=WAIT_MS)

            # Register (which logs in), log out, and log in again.
            _go(page, "Log in / Register", "Welcome to movierec")
            page.get_by_role("tab", name="Create an account").click()
            page.locator(".st-key-register_username input").fill(USERNAME)
            page.locator(".st-key-register_password input").fill(PASSWORD)
            page.locator(".st-key-register_repeat input").fill(PASSWORD)
            _shot(page, "01-register")
            page.locator(".st-key-register_submit button").click()
            expect(page.get_by_text(f"Signed in as {USERNAME}")).to_be_visible(timeout=WAIT_MS)
            _go(page, "Log out", "Search movies")
            expect(page.get_by_text("Browsing as a guest")).to_be_visible()
            _go(page, "Log in / Register", "Welcome to movierec")
            page.locator(".st-key-login_username input").fill(USERNAME)
            page.locator(".st-key-login_password input").fill(PASSWORD)
            _shot(page, "02-login")
            page.locator(".st-key-login_submit button").click()
            expect(page.get_by_role("heading", name="Rate a few movies you know")).to_be_visible(timeout=WAIT_MS)
            expect(page.get_by_text(f"Signed in as {USERNAME}")).to_be_visible()
            # The first recommendations fit the models (seconds): let them arrive, as a person would.
            _go(page, "Recommendations", "Recommended for you")
            expect(page.locator("[class*='st-key-card-recs-']").first).to_be_visible(timeout=WAIT_MS)

            # Search "toy story" and rate it 9.
            _go(page, "Search", "Search movies")
            search = page.locator(".st-key-search_q input")
            search.fill("toy story")
            search.press("Enter")
            card = page.locator(f".st-key-card-search-{toy_story.id}")
            expect(card).to_contain_text("Toy Story", timeout=WAIT_MS)
            # The card says whose numbers it shows: IMDb's votes (matched on title and year), and the MovieLens
            # community's ratings loaded into this app, which the rating below joins.
            assert toy_story.vote_source == "IMDb" and toy_story.community_count
            expect(card).to_contain_text(f"{toy_story.vote_count:,} votes on IMDb")
            community = card.locator(f".community-search-{toy_story.id}")
            expect(community).to_contain_text(f"from {toy_story.community_count:,} ratings here")
            nine = _open_rating(page, card, "search", toy_story.id).get_by_role("radio", name="9", exact=True)
            nine.click()
            expect(page.get_by_text("Saved: Toy Story — 9/10")).to_be_visible(timeout=WAIT_MS)
            # The saved pick hides the pills; the button says the rating, and the pills show it when shown again.
            expect(card.locator(f".st-key-ratebox-search-{toy_story.id}")).to_contain_text("Your rating: 9/10")
            expect(community).to_contain_text(f"from {toy_story.community_count + 1:,} ratings here")
            expect(page.locator(f".st-key-rate-search-{toy_story.id}")).to_be_hidden(timeout=WAIT_MS)
            nine = _open_rating(page, card, "search", toy_story.id).get_by_role("radio", name="9", exact=True)
            expect(nine).to_be_checked()
            _shot(page, "03-search-rated")

            # "More like this" opens a dialog of similar movies.
            card.get_by_role("button", name="More like this").click()
            dialog = page.get_by_role("dialog")
            expect(dialog).to_contain_text("People who liked Toy Story (1995) also liked", timeout=WAIT_MS)
            expect(dialog.locator("[class*='st-key-card-similar']").first).to_be_visible(timeout=WAIT_MS)
            _shot(page, "04-similar")
            page.keyboard.press("Escape")
            expect(dialog).to_be_hidden()

            # Recommendations, each with its reason.
            _go(page, "Recommendations", "Recommended for you")
            with ApiClient(movielens_api) as api:
                session = api.login(USERNAME, PASSWORD)
                expected = api.recommendations(session.access_token, session.user_id, limit=12).items
            assert expected, "the API recommends nothing"
            for movie in expected[:4]:
                card = page.locator(f".st-key-card-recs-{movie.id}")
                expect(card).to_contain_text(movie.title, timeout=WAIT_MS)
                expect(card.locator(f".reason-recs-{movie.id}")).to_contain_text(str(movie.reason))
            assert toy_story.id not in {m.id for m in expected}  # never recommends what the user rated
            expect(page.get_by_text("because you rated Toy Story 9/10").first).to_be_visible()
            _shot(page, "05-recommendations")

            # My ratings shows the rating.
            _go(page, "My ratings", "My ratings")
            expect(page.get_by_test_id("stMetric").filter(has_text="Movies rated")).to_contain_text("1")
            expect(page.get_by_test_id("stDataFrame")).to_be_visible()
            _shot(page, "06-my-ratings")

            _go(page, "Recently added", "Recently added")
            expect(page.locator("[class*='st-key-card-latest-']").first).to_be_visible()
            _shot(page, "07-recently-added")
        except BaseException:
            if page is not None:
                page.screenshot(path=str(SCREENSHOTS / "failure.png"), full_page=True)
            raise
        finally:
            browser.close()

    with ApiClient(movielens_api) as api:
        session = api.login(USERNAME, PASSWORD)
        total, history = api.my_ratings(session.access_token, session.user_id)
    assert total == 1
    assert (history[0].movie.id, history[0].rating) == (toy_story.id, 9)


def _register(page: Page, username: str) -> None:
    _go(page, "Log in / Register", "Welcome to movierec")
    page.get_by_role("tab", name="Create an account").click()
    page.locator(".st-key-register_username input").fill(username)
    page.locator(".st-key-register_password input").fill(PASSWORD)
    page.locator(".st-key-register_repeat input").fill(PASSWORD)
    page.locator(".st-key-register_submit button").click()
    expect(page.get_by_text(f"Signed in as {username}")).to_be_visible(timeout=WAIT_MS)


def _card_ids(page: Page, context: str) -> list[int]:
    prefix = f"st-key-card-{context}-"
    classes = page.locator(f"[class*='{prefix}']").evaluate_all("(cards) => cards.map((c) => c.className)")
    return [int(name.split(prefix, 1)[1].split()[0]) for name in classes]


def test_quick_start_to_recommendations_a_session_that_lasts_and_log_out(
    chromium: Path, movielens_api: str, ui_url: str
) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    username = "e2e_newcomer"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        context = _context(browser, viewport={"width": 1280, "height": 1200})
        page = context.new_page()
        page.set_default_timeout(WAIT_MS)
        try:
            page.goto(ui_url)
            expect(page.get_by_role("heading", name="Search movies")).to_be_visible(timeout=WAIT_MS)
            _register(page, username)

            # A new account lands on the quick start: popular movies to rate, or skip.
            expect(page.get_by_role("heading", name="Rate a few movies you know")).to_be_visible()
            expect(page.get_by_text("0 of 10 rated")).to_be_visible()
            # The progress shows before the cards are drawn: wait for them (a deadline, not a snapshot).
            expect(page.locator("[class*='st-key-card-onboard-']").first).to_be_visible()
            first = _card_ids(page, "onboard")[0]
            page.locator(f".st-key-skip-{first} button").click()
            expect(page.locator(f".st-key-card-onboard-{first}")).to_have_count(0)
            expect(page.get_by_text("1 skipped")).to_be_visible()
            _shot(page, "08-quick-start")
            for done in range(1, 11):
                movie_id = _card_ids(page, "onboard")[0]
                card = page.locator(f".st-key-card-onboard-{movie_id}")
                eight = card.get_by_role("radio", name="8", exact=True)
                # While the page reruns after the last rating, a card that moved up a cell can show its old and
                # new rating rows for a moment: wait until it has settled to one.
                expect(eight).to_have_count(1)
                eight.click()
                if done < 10:
                    expect(page.get_by_text(f"{done} of 10 rated")).to_be_visible()
                    expect(card).to_have_count(0)  # rated: the next movie takes its place

            # The tenth rating leads to the recommendations, which now say they come from those ratings.
            expect(page.get_by_role("heading", name="Recommended for you")).to_be_visible()
            expect(page.get_by_text("from your 10 ratings")).to_be_visible()
            expect(page.get_by_text("Rate 0 more")).to_have_count(0)
            # The heading shows before every card is drawn: wait for the twelve (a deadline, not a snapshot).
            expect(page.locator("[class*='st-key-card-recs-']")).to_have_count(12)
            before = _card_ids(page, "recs")
            assert len(before) == 12
            _shot(page, "09-first-recommendations")

            # A rating changes the recommendations: the rated movie leaves the list.
            first_card = page.locator(f".st-key-card-recs-{before[0]}")
            _open_rating(page, first_card, "recs", before[0]).get_by_role("radio", name="10", exact=True).click()
            expect(page.get_by_text("— 10/10")).to_be_visible()
            _go(page, "Search", "Search movies")
            _go(page, "Recommendations", "Recommended for you")
            expect(page.get_by_text("from your 11 ratings")).to_be_visible()
            expect(page.locator("[class*='st-key-card-recs-']")).to_have_count(12)
            after = _card_ids(page, "recs")
            assert before[0] not in after and after != before

            # Reload and a second tab keep the session (the HttpOnly cookie), never the token in the URL.
            cookie = next(c for c in context.cookies() if c["name"] == "movierec_session")
            assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
            page.reload()
            expect(page.get_by_role("heading", name="Recommended for you")).to_be_visible()
            expect(page.get_by_text(f"Signed in as {username}")).to_be_visible()
            expect(page.get_by_text("from your 11 ratings")).to_be_visible()
            assert "token" not in page.url and cookie["value"] not in page.url
            second = context.new_page()
            second.goto(ui_url)
            expect(second.get_by_text(f"Signed in as {username}")).to_be_visible(timeout=WAIT_MS)

            # Log out ends it everywhere: this tab, a reload, the other tab.
            _go(page, "Log out", "Search movies")
            expect(page.get_by_text("Browsing as a guest")).to_be_visible()
            # Wait for the cookie to go by a deadline generous for a busy machine (it was 40 tries of 250 ms);
            # wait_for_timeout keeps Playwright's event loop turning meanwhile.
            deadline = time.monotonic() + WAIT_MS / 1000
            while any(c["name"] == "movierec_session" for c in context.cookies()) and time.monotonic() < deadline:
                page.wait_for_timeout(250)
            assert not any(c["name"] == "movierec_session" for c in context.cookies())
            page.reload()
            expect(page.get_by_text("Browsing as a guest")).to_be_visible(timeout=WAIT_MS)
            second.reload()
            expect(second.get_by_text("Browsing as a guest")).to_be_visible(timeout=WAIT_MS)
        except BaseException:
            page.screenshot(path=str(SCREENSHOTS / "failure-session.png"), full_page=True)
            raise
        finally:
            browser.close()


def _open_rating(page: Page, card: Locator, context: str, movie_id: int) -> Locator:
    """Click the card's "Rate it · more"; its ten pills, drawn in the card once asked for."""
    _open_actions(card, context, movie_id)
    pills = page.locator(f".st-key-rate-{context}-{movie_id}")
    expect(pills).to_be_visible(timeout=WAIT_MS)
    return pills


def _open_actions(card: Locator, context: str, movie_id: int) -> None:
    """Click the card's "Rate it · more": its rating pills, "More like this" and list buttons, drawn once asked for."""
    card.locator(f".st-key-ratebox-{context}-{movie_id} button").first.click()
    expect(card.locator(f".st-key-listbar-{context}-{movie_id}")).to_be_visible(timeout=WAIT_MS)


PHONE = {"width": 390, "height": 844}
OVERFLOW = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"


def test_phone_compact_cards_poster_stand_ins_no_overflow_and_the_drawer_closes(
    chromium: Path, movielens_api: str, ui_url: str
) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with ApiClient(movielens_api) as api:
        toy_story = next(m for m in api.search("toy story", limit=5).items if m.title == "Toy Story")
    assert toy_story.poster_url is None  # MovieLens has no posters: every card shows a drawn stand-in
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        page = _context(browser, viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2).new_page()
        page.set_default_timeout(WAIT_MS)
        elsewhere: list[str] = []  # the page icon, fonts and stand-ins need nothing from the web
        page.on(
            "request",
            lambda request: (
                None
                if request.url.startswith(("http://127.0.0.1", "data:", "blob:"))
                else elsewhere.append(request.url)
            ),
        )
        try:
            page.goto(ui_url)
            expect(page.get_by_role("heading", name="Search movies")).to_be_visible()
            search = page.locator(".st-key-search_q input")
            search.fill("toy story")
            search.press("Enter")
            card = page.locator(f".st-key-card-search-{toy_story.id}")
            expect(card).to_contain_text("Toy Story")

            # The stand-in: drawn by the page's CSS (its colours, a 2:3 shape) with the title and year on it.
            poster = card.get_by_role("img", name="Poster of Toy Story (1995)")
            expect(poster).to_have_class(re.compile(r"\bmr-standin\b"))
            expect(poster.locator(".mr-stitle")).to_have_text("Toy Story")
            expect(poster.locator(".mr-syear")).to_have_text("1995")
            drawn = poster.evaluate("(e) => [getComputedStyle(e).backgroundImage, e.offsetWidth, e.offsetHeight]")
            assert "linear-gradient" in drawn[0] and drawn[1] > 0 and abs(drawn[2] / drawn[1] - 1.5) < 0.05, drawn
            assert card.locator("img").count() == 0

            # Compact: the poster beside the text, and at least two cards a screen.
            title = card.locator(".mr-title").get_by_text("Toy Story", exact=True)
            poster_box, title_box, card_box = poster.bounding_box(), title.bounding_box(), card.bounding_box()
            assert poster_box and title_box and card_box
            assert poster_box["x"] + poster_box["width"] <= title_box["x"]  # side by side, not stacked
            assert title_box["y"] < poster_box["y"] + poster_box["height"]
            assert card_box["height"] <= PHONE["height"] / 2, card_box
            _shot(page, "10-phone-search")
            assert page.evaluate(OVERFLOW) <= 0

            # The drawer opens, and closes once a page is chosen.
            page.get_by_test_id("stExpandSidebarButton").click()
            sidebar = page.get_by_test_id("stSidebar")
            expect(sidebar).to_have_attribute("data-collapsed", "false")
            sidebar.get_by_role("link", name="Recently added").click()
            expect(page.get_by_role("heading", name="Recently added")).to_be_visible()
            expect(sidebar).to_have_attribute("data-collapsed", "true")
            expect(page.locator("[class*='st-key-card-latest-']").first).to_be_visible()
            assert page.evaluate(OVERFLOW) <= 0
            _shot(page, "11-phone-latest")
            assert elsewhere == []
        except BaseException:
            page.screenshot(path=str(SCREENSHOTS / "failure-phone.png"), full_page=True)
            raise
        finally:
            browser.close()


def test_watchlist_and_not_interested_from_the_cards(chromium: Path, movielens_api: str, ui_url: str) -> None:
    """ "+ Watchlist" on a search card fills the Watchlist page, whose button empties it again; "Not interested"
    takes a movie out of the recommendations at once; the API holds exactly what the page showed."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    username = "e2e_steerer"
    with ApiClient(movielens_api) as api:
        heat = next(m for m in api.search("heat", limit=5).items if m.title == "Heat")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        page = _context(browser, viewport={"width": 1400, "height": 1500}).new_page()
        page.set_default_timeout(WAIT_MS)
        try:
            page.goto(ui_url)
            expect(page.get_by_role("heading", name="Search movies")).to_be_visible(timeout=WAIT_MS)
            _register(page, username)

            _go(page, "Search", "Search movies")
            search = page.locator(".st-key-search_q input")
            search.fill("heat")
            search.press("Enter")
            card = page.locator(f".st-key-card-search-{heat.id}")
            expect(card).to_contain_text("Heat", timeout=WAIT_MS)
            _open_actions(card, "search", heat.id)
            watch = card.get_by_role("button", name="+ Watchlist")
            # While the page reruns after the search, a card can show its old and new rows for a moment: wait until
            # it has settled to one button.
            expect(watch).to_have_count(1)
            watch.click()
            expect(card).to_contain_text("Heat is on your watchlist", timeout=WAIT_MS)
            expect(card.get_by_role("button", name="On your watchlist")).to_be_visible()
            _shot(page, "13-watchlist-added")

            _go(page, "Watchlist", "Watchlist")
            expect(page.locator(f".st-key-card-watchlist-{heat.id}")).to_contain_text("Heat", timeout=WAIT_MS)
            _shot(page, "14-watchlist-page")
            page.get_by_role("button", name="Remove from watchlist").click()
            expect(page.get_by_text("Nothing on your watchlist yet")).to_be_visible(timeout=WAIT_MS)
            expect(page.locator(f".st-key-card-watchlist-{heat.id}")).to_have_count(0)

            _go(page, "Recommendations", "Recommended for you")
            expect(page.locator("[class*='st-key-card-recs-']").first).to_be_visible(timeout=WAIT_MS)
            first = _card_ids(page, "recs")[0]
            _open_actions(page.locator(f".st-key-card-recs-{first}"), "recs", first)
            hide = page.locator(f".st-key-card-recs-{first}").get_by_role("button", name="Not interested")
            expect(hide).to_have_count(1)
            hide.click()
            expect(page.locator(f".st-key-card-recs-{first}")).to_have_count(0, timeout=WAIT_MS)
            expect(page.locator("[class*='st-key-card-recs-']").first).to_be_visible(timeout=WAIT_MS)
            _shot(page, "15-not-interested")
        except BaseException:
            page.screenshot(path=str(SCREENSHOTS / "failure-steering.png"), full_page=True)
            raise
        finally:
            browser.close()

    with ApiClient(movielens_api) as api:
        session = api.login(username, PASSWORD)
        assert api.whole_list(session.access_token, "watchlist", session.user_id) == []
        hidden = api.whole_list(session.access_token, "not-interested", session.user_id)
        assert [e.movie.id for e in hidden] == [first]
        recommended = api.recommendations(session.access_token, session.user_id, limit=50).items
        assert first not in {m.id for m in recommended}
