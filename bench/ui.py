"""The UI benchmark: a real browser (Playwright + Debian's Chromium) against ``movierec up``, beside the API.

    movierec bench --ui [--quick]        # or: python -m bench.ui [--tries N]

Starts ``movierec up`` on free ports with a fresh data dir (the first start: catalogue, ratings, training; then a
second, later start on the same data), then times each interaction from the action until the page settles (the
expected element is on screen and Streamlit has finished running the script), ``tries`` times, and the same API calls
made directly with httpx. Prints p50/p95 per interaction, the ratio UI/API and the CPU the page's main thread used
(drawing, mostly; p50); writes ``ui.json`` to the output dir.
Only figures: nothing here passes or fails on a time.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import CDPSession, Page, expect, sync_playwright

from bench.common import load_average, machine
from movierec.log import configure_logging
from movierec.probes import free_ports
from movierec.ui.client import ApiClient

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
WAIT_MS = 120_000
# Tries per interaction. The p95 of 10 is the slowest one (nearest rank); of 20 it is the second slowest, so one
# try that met a burst of other work on the machine no longer decides it alone.
TRIES = 20
PASSWORD = "ui-bench-pw-5821"
QUERIES = [
    "matrix", "toy story", "heat", "alien", "fargo", "casino", "jaws", "amelie", "titanic", "vertigo", "rocky",
    "batman", "psycho", "gladiator", "memento", "seven", "brazil", "big", "speed", "up",
]  # fmt: skip
GENRES = ["Drama", "Comedy", "Thriller", "Action", "Romance", "Adventure", "Crime", "Sci-Fi", "Horror", "Fantasy"]
SETTLED = """() => {
  const running = document.querySelector('[data-testid="stStatusWidget"]');
  return !running || running.offsetParent === null;
}"""


class BenchUiError(Exception):
    pass


@dataclass
class Timings:
    ui: list[float] = field(default_factory=list)
    api: list[float] = field(default_factory=list)
    browser_cpu: list[float] = field(default_factory=list)  # the page's main thread, during ``ui``


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


@contextmanager
def movierec_up(data_dir: Path, api_port: int, ui_port: int, log_path: Path) -> Iterator[float]:
    """``movierec up`` as a child; yields the seconds until both the API and the UI answered."""
    env = {**os.environ, "MOVIEREC_DATA_DIR": str(data_dir), "MOVIEREC_LOG_LEVEL": "WARNING"}
    # Every try logs in twice from 127.0.0.1 (the UI, then the API alone): more than the default 30 logins a minute
    # per address once the machine is quick, and the throttle is not what this measures.
    env["MOVIEREC_LOGIN_ADDRESS_ATTEMPTS_PER_MINUTE"] = "10000"
    env.pop("DATABASE_URL", None)
    command = [sys.executable, "-m", "movierec", "up", "--port", str(api_port), "--ui-port", str(ui_port)]
    started = time.monotonic()
    with log_path.open("ab") as log:
        child = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        urls = (f"http://127.0.0.1:{api_port}/healthz", f"http://127.0.0.1:{ui_port}/_stcore/health")
        deadline = started + 900
        while not all(_answers(url) for url in urls):
            if child.poll() is not None:
                raise BenchUiError(f"movierec up exited with {child.returncode}; see {log_path}")
            if time.monotonic() > deadline:
                raise BenchUiError(f"movierec up did not answer within 900 s; see {log_path}")
            time.sleep(0.2)
        yield time.monotonic() - started
    finally:
        os.killpg(child.pid, signal.SIGINT)
        try:
            child.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait(10)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _settle(page: Page) -> None:
    page.wait_for_function(SETTLED, timeout=WAIT_MS, polling=20)


_DEVTOOLS: weakref.WeakKeyDictionary[Page, CDPSession] = weakref.WeakKeyDictionary()
_LAST_BROWSER_CPU = [0.0]  # the browser main thread's CPU ms in the last _timed call


def _thread_time(page: Page) -> float:
    """CPU seconds the page's main thread has used (Chrome's own count): what drawing cost, whatever else ran."""
    devtools = _DEVTOOLS.get(page)
    if devtools is None:
        devtools = _DEVTOOLS[page] = page.context.new_cdp_session(page)
        devtools.send("Performance.enable")
    metrics = devtools.send("Performance.getMetrics")["metrics"]
    return float(next(m["value"] for m in metrics if m["name"] == "ThreadTime"))


def _timed(page: Page, act: Callable[[], None], done: Callable[[], None]) -> float:
    cpu = _thread_time(page)
    started = time.perf_counter()
    act()
    done()
    _settle(page)
    elapsed = (time.perf_counter() - started) * 1000
    _LAST_BROWSER_CPU[0] = (_thread_time(page) - cpu) * 1000
    return elapsed


def _api_timed(call: Callable[[], Any]) -> float:
    started = time.perf_counter()
    call()
    return (time.perf_counter() - started) * 1000


SHOWN = """([selector, count, text]) => {
  const found = [...document.querySelectorAll(selector)].filter(
    (e) => e.getClientRects().length > 0 && (!text || e.innerText.includes(text)));
  return found.length >= count;
}"""


def _shown(page: Page, selector: str, count: int = 1, text: str = "") -> Callable[[], None]:
    """Done when ``count`` elements matching the CSS ``selector`` (holding ``text``) are on screen.

    Checked every 20 ms in the page: Playwright's own ``expect`` and auto-waits back off to 500 ms between checks,
    which would add up to half a second to what is measured."""

    def wait() -> None:
        page.wait_for_function(SHOWN, arg=[selector, count, text], timeout=WAIT_MS, polling=20)

    return wait


def _go(page: Page, link: str) -> None:
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=link).click()


def _card_ids(page: Page, context: str) -> list[int]:
    prefix = f"st-key-card-{context}-"
    classes = page.locator(f"[class*='{prefix}']").evaluate_all("(cards) => cards.map((c) => c.className)")
    return [int(name.split(prefix, 1)[1].split()[0]) for name in classes]


def _open_choices(page: Page, key: str) -> None:
    """Open a selectbox's list of options (not timed: the interaction is picking one)."""
    page.locator(f".st-key-{key} [role='combobox']").click()
    page.get_by_role("option").first.wait_for()


def _choose(page: Page, option: str | int) -> None:
    """Pick an option of the open selectbox: by its label, or by its position."""
    if isinstance(option, int):
        page.get_by_role("option").nth(option).click()
    else:
        page.get_by_role("option", name=option, exact=True).click()


def _open_card(page: Page, context: str, movie_id: int, wanted: str) -> float | None:
    """Open a card's actions with its "Rate it · more" button, unless ``wanted`` (a CSS selector in it) is on screen
    already (an older UI draws the actions on the card). Timed on its own (ms; None when there was nothing to
    open): the rating or "More like this" that follows is the next interaction."""
    if page.locator(wanted).count():
        return None
    opener = page.locator(f".st-key-ratebox-{context}-{movie_id} button").first
    return _timed(page, opener.click, lambda: page.locator(wanted).first.wait_for())


IDS = """([prefix, expected]) => {
  const ids = [...document.querySelectorAll(`[class*="${prefix}"]`)].map(
    (c) => Number(c.className.split(prefix)[1].split(" ")[0]));
  return ids.length >= expected.length && expected.every((id, i) => ids[i] === id);
}"""


def _shows(page: Page, context: str, expected: list[int]) -> Callable[[], None]:
    """Done when the page's cards of ``context`` start with ``expected`` (what the API answers for the same call)."""

    def wait() -> None:
        page.wait_for_function(IDS, arg=[f"st-key-card-{context}-", expected], timeout=WAIT_MS, polling=20)

    return wait


def measure(
    ui_url: str, api_url: str, tries: int, report: Callable[[str], None], warm_up: dict[str, float] | None = None
) -> dict[str, Timings]:
    """Each interaction ``tries`` times. The API's first answers after its start load what they need once per
    process (the first recommendations ~300 ms, the OpenAPI document ~50 ms): they are asked for here, timed into
    ``warm_up``, before the UI is timed, so that no interaction's figures hold a one-off cost of the API's start."""
    results: dict[str, Timings] = {}
    api = ApiClient(api_url)
    username = f"bench_ui_{int(time.time())}"
    api.register(username, PASSWORD)
    session = api.login(username, PASSWORD)
    popular = api.search(limit=30).items
    for movie in popular[:12]:
        api.rate(session.access_token, movie.id, 8)
    firsts = {
        "api_first_openapi_ms": _api_timed(api.strategies),
        "api_first_recommendations_ms": _api_timed(
            lambda: api.recommendations(session.access_token, session.user_id, limit=12)
        ),
    }
    if warm_up is not None:
        warm_up.update({name: round(ms, 1) for name, ms in firsts.items()})
    strategies = list(api.strategies().names)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 1200})
            page = context.new_page()
            page.set_default_timeout(WAIT_MS)
            expect.set_options(timeout=WAIT_MS)

            def note(name: str, ui_ms: float, api_ms: float) -> None:
                timings = results.setdefault(name, Timings())
                timings.ui.append(ui_ms)
                timings.api.append(api_ms)
                timings.browser_cpu.append(_LAST_BROWSER_CPU[0])

            # First load (a new visitor, nothing cached in the browser) and log in.
            for _ in range(tries):
                visitor = browser.new_context(viewport={"width": 1400, "height": 1200})
                fresh = visitor.new_page()
                ui_ms = _timed(
                    fresh,
                    lambda page=fresh: page.goto(ui_url),  # type: ignore[misc]
                    _shown(fresh, "h1", text="Search movies"),
                )
                note("first load", ui_ms, _api_timed(api.genres))
                _go(fresh, "Log in / Register")
                fresh.locator(".st-key-login_username input").fill(username)
                fresh.locator(".st-key-login_password input").fill(PASSWORD)
                _settle(fresh)
                ui_ms = _timed(
                    fresh,
                    lambda page=fresh: page.locator(".st-key-login_submit button").click(),  # type: ignore[misc]
                    _shown(fresh, "[class*='st-key-card-recs-']"),
                )

                def api_login() -> None:
                    fresh_session = api.login(username, PASSWORD)
                    api.all_my_ratings(fresh_session.access_token, fresh_session.user_id)
                    api.recommendations(fresh_session.access_token, fresh_session.user_id, limit=12)

                note("log in", ui_ms, _api_timed(api_login))
                visitor.close()
            report("  first load, log in: done")

            # The working session: logged in once, through the UI (the cookie keeps it).
            page.goto(ui_url)
            _go(page, "Log in / Register")
            page.locator(".st-key-login_username input").fill(username)
            page.locator(".st-key-login_password input").fill(PASSWORD)
            page.locator(".st-key-login_submit button").click()
            expect(page.locator("[class*='st-key-card-recs-']").first).to_be_visible()
            _settle(page)

            _go(page, "Search")
            expect(page.get_by_role("heading", name="Search movies")).to_be_visible()
            _settle(page)
            box = page.locator(".st-key-search_q input")
            for n in range(tries):
                query = QUERIES[n % len(QUERIES)]

                def type_query(query: str = query) -> None:
                    box.fill(query)
                    box.press("Enter")

                expected = [m.id for m in api.search(query, limit=12).items]
                ui_ms = _timed(page, type_query, _shows(page, "search", expected))
                note("title search", ui_ms, _api_timed(lambda query=query: api.search(query, limit=12)))  # type: ignore[misc]
            for n in range(tries):
                genre, query = GENRES[n % len(GENRES)], QUERIES[(n + 3) % len(QUERIES)]
                box.fill(query)
                box.press("Enter")
                _settle(page)
                expected = [m.id for m in api.search(query, genre, limit=12).items]
                _open_choices(page, "search_genre")
                ui_ms = _timed(
                    page,
                    lambda genre=genre: _choose(page, genre),  # type: ignore[misc]
                    _shows(page, "search", expected),
                )
                note(
                    "title + genre search",
                    ui_ms,
                    _api_timed(lambda q=query, g=genre: api.search(q, g, limit=12)),  # type: ignore[misc]
                )
            box.fill("")
            box.press("Enter")
            _settle(page)
            _open_choices(page, "search_genre")
            _choose(page, "All genres")
            _settle(page)
            for n in range(tries):
                genre = GENRES[(n + 1) % len(GENRES)]
                expected = [m.id for m in api.search(None, genre, limit=12).items]
                _open_choices(page, "search_genre")
                ui_ms = _timed(
                    page,
                    lambda genre=genre: _choose(page, genre),  # type: ignore[misc]
                    _shows(page, "search", expected),
                )
                note("genre filter", ui_ms, _api_timed(lambda g=genre: api.search(None, g, limit=12)))  # type: ignore[misc]
            report("  searches: done")

            ids = _card_ids(page, "search")
            for n in range(tries):
                movie_id, value = ids[n % len(ids)], 1 + n % 10
                # The card's "Rate it · more" shows its pills (timed as opening the card); then the pick, which saves.
                opened = _open_card(page, "search", movie_id, f".st-key-rate-search-{movie_id}")
                if opened is not None:
                    note("open a card's actions", opened, 0.0)  # the browser alone: no API call
                control = page.locator(f".st-key-rate-search-{movie_id}")
                ui_ms = _timed(
                    page,
                    lambda control=control, value=value: control.get_by_role(
                        "radio", name=str(value), exact=True
                    ).click(),  # type: ignore[misc]
                    _shown(page, f".st-key-card-search-{movie_id}", text=f"— {value}/10"),
                )
                note("rate", ui_ms, _api_timed(lambda m=movie_id, v=value: api.rate(session.access_token, m, v)))  # type: ignore[misc]
            report("  rate: done")

            _go(page, "Recommendations")
            expect(page.locator("[class*='st-key-card-recs-']").first).to_be_visible()
            _settle(page)
            for n in range(tries):
                index = (n + 1) % len(strategies)  # the options are the API's strategies, in its order
                strategy = strategies[index]
                got = api.recommendations(session.access_token, session.user_id, strategy=strategy, limit=12)
                _open_choices(page, "recs_strategy")
                ui_ms = _timed(
                    page,
                    lambda index=index: _choose(page, index),  # type: ignore[misc]
                    _shows(page, "recs", [m.id for m in got.items]),
                )
                note(
                    "change strategy",
                    ui_ms,
                    _api_timed(
                        lambda s=strategy: api.recommendations(  # type: ignore[misc]
                            session.access_token, session.user_id, strategy=s, limit=12
                        )
                    ),
                )
            for _ in range(tries):
                page.reload()  # a new session (logged in again from the cookie) starts at 12 picks
                expect(page.locator("[class*='st-key-card-recs-']").nth(11)).to_be_visible()
                _settle(page)
                ui_ms = _timed(
                    page,
                    lambda: page.locator(".st-key-recs_more button").click(),
                    _shown(page, "[class*='st-key-card-recs-']", 24),
                )
                note(
                    "show more",
                    ui_ms,
                    _api_timed(lambda: api.recommendations(session.access_token, session.user_id, limit=24)),
                )
            ids = _card_ids(page, "recs")
            for n in range(tries):
                movie_id = ids[n % len(ids)]
                opened = _open_card(page, "recs", movie_id, f".st-key-similar-recs-{movie_id} button")
                if opened is not None:
                    note("open a card's actions", opened, 0.0)
                ui_ms = _timed(
                    page,
                    lambda movie_id=movie_id: page.locator(f".st-key-similar-recs-{movie_id} button").click(),  # type: ignore[misc]
                    _shown(page, "[role='dialog'] [class*='st-key-card-similar']"),
                )
                note("open More like this", ui_ms, _api_timed(lambda m=movie_id: api.similar(m, 6)))  # type: ignore[misc]
                page.keyboard.press("Escape")
                expect(page.get_by_role("dialog")).to_be_hidden()
                _settle(page)
            for _ in range(tries):
                ui_ms = _timed(
                    page,
                    lambda: _go(page, "My ratings"),
                    _shown(page, "[data-testid='stDataFrame']"),
                )
                note(
                    "open My ratings",
                    ui_ms,
                    _api_timed(lambda: api.all_my_ratings(session.access_token, session.user_id)),
                )
                _go(page, "Search")
                _settle(page)
            report("  recommendations, similar, my ratings: done")
        finally:
            browser.close()
            api.close()
    return results


def run(tries: int = TRIES, output_dir: Path | None = None, report: Callable[[str], None] = print) -> dict[str, Any]:
    if not CHROMIUM.exists():
        raise BenchUiError(f"Chromium is not installed at {CHROMIUM} (run `scripts/services install chromium`)")
    api_port, ui_port = free_ports(2)
    api_url, ui_url = f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{ui_port}"
    with tempfile.TemporaryDirectory(prefix="movierec-bench-ui-") as tmp:
        data_dir, log_path = Path(tmp) / "data", Path(tmp) / "up.log"
        load_before = load_average()
        report(f"UI benchmark: movierec up (fresh data dir), {tries} tries per interaction, load {load_before}")
        with movierec_up(data_dir, api_port, ui_port, log_path) as first_start:
            report(f"  first start: {first_start:.1f} s until the API and the UI answered")
        with movierec_up(data_dir, api_port, ui_port, log_path) as later_start:
            report(f"  later start: {later_start:.1f} s")
            warm_up: dict[str, float] = {}
            timings = measure(ui_url, api_url, tries, report, warm_up)
            report(
                "  the API's first answers after its start (asked before the UI is timed): OpenAPI document "
                f"{warm_up['api_first_openapi_ms']:.0f} ms, recommendations "
                f"{warm_up['api_first_recommendations_ms']:.0f} ms"
            )
    rows = []
    for name, t in timings.items():
        ui50, ui95, api50, api95 = (
            percentile(t.ui, 50),
            percentile(t.ui, 95),
            percentile(t.api, 50),
            percentile(t.api, 95),
        )
        rows.append(
            {
                "interaction": name,
                "tries": len(t.ui),
                "ui_p50_ms": round(ui50, 1),
                "ui_p95_ms": round(ui95, 1),
                "api_p50_ms": round(api50, 2),
                "api_p95_ms": round(api95, 2),
                "ratio_p50": round(ui50 / api50, 1) if api50 > 0 else None,
                "browser_cpu_p50_ms": round(percentile(t.browser_cpu, 50), 1),
            }
        )
    report(
        f"\n{'interaction':<22}{'UI p50':>9}{'UI p95':>9}{'API p50':>9}{'API p95':>9}{'UI/API':>8}{'browser CPU':>13}"
    )
    for row in rows:
        report(
            f"{row['interaction']:<22}{row['ui_p50_ms']:>9.0f}{row['ui_p95_ms']:>9.0f}"
            f"{row['api_p50_ms']:>9.1f}{row['api_p95_ms']:>9.1f}{row['ratio_p50'] or 0:>7.0f}×"
            f"{row['browser_cpu_p50_ms']:>13.0f}"
        )
    result = {
        "machine": machine(),
        "load_average_before": load_before,  # 1, 5 and 15 minutes: the figures are only as good as the machine was idle
        "load_average_after": load_average(),
        "first_start_s": round(first_start, 1),
        "later_start_s": round(later_start, 1),
        **warm_up,
        "interactions": rows,
    }
    if output_dir is not None:
        output_dir.mkdir(parents=True, exist_ok=True)
        (output_dir / "ui.json").write_text(json.dumps(result, indent=2) + "\n")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tries", type=int, default=TRIES)
    parser.add_argument("--output-dir", type=Path, default=Path(__file__).resolve().parent)
    args = parser.parse_args()
    configure_logging("WARNING")
    try:
        run(args.tries, args.output_dir)
    except BenchUiError as exc:
        sys.stderr.write(f"bench: {exc}\n")
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
