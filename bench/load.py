"""Load: the same wrk runs against the embedded server (``movierec serve``, what ``movierec up`` runs: waitress) and
against the full stack (``movierec stack``: two gunicorn backends, 2 gthread workers x 4 threads each, behind
Nginx, plus the indexer), each beside ``bench.hello`` (a Flask app with one JSON route) on the same server and
settings: the framework's ceiling, idle while the endpoints run and run before and after each connection count's
endpoints (ratios take the mean of the two, so a machine that speeds up or slows down meanwhile moves both sides
alike). wrk runs on 127.0.0.1 only.

Each run is ``wrk -t2 -c<connections> -d<seconds>s`` with a Lua script that cycles through a fixed list of requests
(search queries; users each with their own bearer token) and prints wrk's own summary as JSON. Cached
recommendations are warmed before their run. Uncached recommendations are never served from the cache: every user
re-rates a movie (which drops their cached lists) before the run, and the run cycles through (user, limit) pairs
that are each requested once. On the full stack every endpoint also runs against one backend directly;
``/healthz`` pings PostgreSQL, Redis, Elasticsearch and Kafka, ``/nginx-health`` is answered by Nginx itself.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx

from bench.common import BenchError, Report, peak_memory, poll_until, ratio
from movierec.probes import free_ports, http_ok
from movierec.processes import terminate
from movierec.search.port import SearchQuery
from movierec.settings import Settings
from movierec_tools.stack import (
    ENV_NAMES,
    NGINX_TEMPLATE,
    REPO_ROOT,
    Stack,
    StackOptions,
    nginx_command,
    write_nginx_config,
)

WRK_THREADS = 2
# The embedded server must not pick up service URLs from the environment.
EMBEDDED_UNSET = {*ENV_NAMES.values(), "SECRET_KEY", "MOVIEREC_API_URL"}
MINIMAL_APP = "/hello (minimal Flask app)"
MINIMAL_VIA_NGINX = "Nginx, two backends"  # the one-route app behind the stack's own Nginx config

_LUA = """
local paths = %(paths)s
local tokens = %(tokens)s
local prepared = {}
local position = 0

init = function(args)
  for n = 1, #paths do
    local headers = {}
    if tokens[n] ~= "" then headers["Authorization"] = "Bearer " .. tokens[n] end
    prepared[n] = wrk.format("GET", paths[n], headers)
  end
end

request = function()
  position = (position %% #prepared) + 1
  return prepared[position]
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests":%%d,"duration_us":%%d,"bytes":%%d,"errors":{"connect":%%d,"read":%%d,"write":%%d,"status":%%d,' ..
    '"timeout":%%d},"latency_us":{"p50":%%d,"p90":%%d,"p99":%%d,"max":%%d,"mean":%%.1f}}\\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end
"""


def _lua_list(values: Sequence[str]) -> str:
    return "{" + ", ".join(json.dumps(value) for value in values) + "}"


def write_script(path: Path, requests: Sequence[tuple[str, str]]) -> Path:
    """A wrk script cycling through (path, token) pairs; an empty token sends no Authorization header."""
    path.write_text(
        _LUA % {"paths": _lua_list([p for p, _ in requests]), "tokens": _lua_list([t for _, t in requests])}
    )
    return path


def wrk(base_url: str, script: Path, connections: int, seconds: float) -> dict[str, Any]:
    if not base_url.startswith("http://127.0.0.1:"):
        raise BenchError(f"load goes to 127.0.0.1 only, not {base_url}")
    argv = [
        "wrk", f"-t{WRK_THREADS}", f"-c{connections}", f"-d{max(int(seconds), 1)}s", "--timeout", "10s",
        "-s", str(script), base_url,
    ]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60, check=False)
    line = next((ln for ln in reversed(done.stdout.splitlines()) if ln.startswith("{")), None)
    if done.returncode != 0 or line is None:
        raise BenchError(f"wrk failed ({done.returncode}): {done.stderr.strip()[:300]} {done.stdout[-300:]}")
    raw = json.loads(line)
    seconds_run = raw["duration_us"] / 1e6
    errors = sum(raw["errors"].values())
    return {
        "connections": connections,
        "seconds": round(seconds_run, 2),
        "requests": raw["requests"],
        "requests_per_s": round(raw["requests"] / seconds_run, 1),
        "p50_ms": round(raw["latency_us"]["p50"] / 1000, 2),
        "p90_ms": round(raw["latency_us"]["p90"] / 1000, 2),
        "p99_ms": round(raw["latency_us"]["p99"] / 1000, 2),
        "max_ms": round(raw["latency_us"]["max"] / 1000, 2),
        "errors": errors,
        "non_2xx": raw["errors"]["status"],
    }


def search_paths(queries: Sequence[SearchQuery]) -> list[str]:
    paths = []
    for query in queries:
        params: dict[str, Any] = {"limit": query.limit}
        if query.text is not None:
            params["q"] = query.text
        if query.genre is not None:
            params["genre"] = query.genre
        paths.append(f"/search?{urlencode(params)}")
    return paths


@dataclass(frozen=True)
class LoadUser:
    """A user the load runs as: their token, and a movie they rated (re-rated to drop their cached lists)."""

    user_id: int
    token: str
    movie_id: int
    rating: int


@dataclass(frozen=True)
class LoadPlan:
    """What every load run asks for, and for how long."""

    queries: Sequence[SearchQuery]
    users: Sequence[LoadUser]
    uncached_users: Sequence[LoadUser]
    seconds: float
    connections: Sequence[int]


UNCACHED_LIMITS = range(1, 101)  # (user, limit) and (query, limit) pairs: each asked once per run, so each is computed


def endpoints(
    search_queries: Sequence[SearchQuery], users: Sequence[LoadUser], uncached_users: Sequence[LoadUser]
) -> dict[str, list[tuple[str, str]]]:
    """Every endpoint the load runs measure, as the (path, token) pairs its script cycles through."""
    uncached = [(f"/recommendations/{u.user_id}?limit={n}", u.token) for n in UNCACHED_LIMITS for u in uncached_users]
    distinct = [replace(q, limit=n) for n in UNCACHED_LIMITS for q in search_queries]
    return {
        "/movies/latest": [("/movies/latest", "")],
        "/search?q=": [(path, "") for path in search_paths(search_queries)],
        SEARCH_UNCACHED: [(path, "") for path in search_paths(distinct)],
        CACHED: [(f"/recommendations/{u.user_id}", u.token) for u in users],
        UNCACHED: uncached,
        "/my-ratings": [(f"/my-ratings/{u.user_id}", u.token) for u in users],
    }


CACHED = "/recommendations (cached)"
SEARCH_UNCACHED = "/search?q= (each page once)"  # pages never asked before (services/search.py): the engine every time
UNCACHED = "/recommendations (uncached)"


def warm_recommendations(base_url: str, requests: Sequence[tuple[str, str]]) -> None:
    """One request per user, so the load that follows is served from the cache."""
    with httpx.Client(base_url=base_url, timeout=30.0, trust_env=False) as client:
        for path, token in requests:
            response = client.get(path, headers={"Authorization": f"Bearer {token}"})
            if response.status_code != 200:
                raise BenchError(f"warming {path}: {response.status_code} {response.text[:200]}")


def drop_recommendations(base_url: str, users: Sequence[LoadUser]) -> None:
    """Every user re-rates a movie they rated, as another client would: their cached lists are dropped."""
    with httpx.Client(base_url=base_url, timeout=30.0, trust_env=False) as client:
        for user in users:
            response = client.post(
                "/rate",
                json={"movie_id": user.movie_id, "rating": user.rating},
                headers={"Authorization": f"Bearer {user.token}"},
            )
            if response.status_code != 200:
                raise BenchError(f"re-rating as user {user.user_id}: {response.status_code} {response.text[:200]}")


@contextmanager
def minimal_backend(options: StackOptions, run_dir: Path) -> Iterator[str]:
    """``bench.hello`` on one gunicorn backend with the stack's worker settings; yields its URL."""
    (port,) = free_ports(1)
    argv = [
        sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--chdir", str(REPO_ROOT),
        "--worker-class", "gthread", "--workers", str(options.workers), "--threads", str(options.threads),
        "--keep-alive", "75", "--no-control-socket", "bench.hello:create_app()",
    ]  # fmt: skip
    with (run_dir / "hello.log").open("ab") as output:
        process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=output, stderr=output, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        poll_until(lambda: process.poll() is None and http_ok(f"{url}/hello"), 60, 0.25, "the minimal Flask backend")
        yield url
    finally:
        terminate(process, group=True)


@contextmanager
def minimal_stack(options: StackOptions, run_dir: Path) -> Iterator[str]:
    """The one-route app on two gunicorn backends behind Nginx with the stack's own config (``deploy/nginx.conf``):
    what the design itself costs on this machine, with no work behind it. Yields Nginx's URL."""
    with ExitStack() as stack:
        backends = [stack.enter_context(minimal_backend(options, run_dir)) for _ in range(2)]
        (port,) = free_ports(1)
        nginx_dir = run_dir / "hello-nginx"
        nginx_dir.mkdir(parents=True, exist_ok=True)
        main = write_nginx_config(NGINX_TEMPLATE, nginx_dir, [url.removeprefix("http://") for url in backends], port)
        with (nginx_dir / "nginx-output.log").open("ab") as output:
            process = subprocess.Popen(
                nginx_command(options.nginx_binary, main, nginx_dir),
                stdin=subprocess.DEVNULL, stdout=output, stderr=output, start_new_session=True,
            )  # fmt: skip
        stack.callback(terminate, process, group=True)
        url = f"http://127.0.0.1:{port}"
        poll_until(lambda: process.poll() is None and http_ok(f"{url}/hello"), 60, 0.25, "Nginx over the minimal app")
        yield url


def _measure(
    targets: dict[str, str],
    scripts: dict[str, Path],
    requests: dict[str, list[tuple[str, str]]],
    plan: LoadPlan,
    report: Report,
    label: str,
    baselines: dict[str, str],
) -> list[dict[str, Any]]:
    """Every endpoint on every target at each connection count, between two runs of the one-route app on each of
    ``baselines`` (target name -> URL; idle meanwhile): its figure is the mean of the two, so a machine that
    speeds up or slows down during the endpoints' runs moves both sides of a ratio alike."""
    runs: list[dict[str, Any]] = []
    hello = write_script(next(iter(scripts.values())).with_name("hello.lua"), [("/hello", "")])
    for base in baselines.values():
        wrk(base, hello, 4, 1)
    fresh = 0  # each run of SEARCH_UNCACHED asks pages at its own offset: none was asked before, by any run
    for base in targets.values():  # warm up every endpoint on every target (connections, models, caches)
        for name in scripts:
            if name != "/nginx-health" or base == targets.get("nginx"):
                wrk(base, scripts[name], 4, 1)
    for count in plan.connections:
        runs += _hello_runs(baselines, hello, count, plan, report, label, "before")
        for name in scripts:
            for target, base in targets.items():
                if name == "/nginx-health" and target != "nginx":
                    continue
                if name == CACHED:
                    warm_recommendations(base, requests[name])
                if name == UNCACHED:
                    drop_recommendations(base, plan.uncached_users)
                script = scripts[name]
                if name == SEARCH_UNCACHED:
                    fresh += 1
                    pages = [(f"{path}&offset={fresh}", token) for path, token in requests[name]]
                    script = write_script(script.with_name(f"search-offset-{fresh}.lua"), pages)
                outcome = {"endpoint": name, "target": target, **wrk(base, script, count, plan.seconds)}
                runs.append(outcome)
                report(
                    f"    {label} {name} via {target} c={count}: {outcome['requests_per_s']} req/s, "
                    f"p99 {outcome['p99_ms']} ms" + (f", {outcome['errors']} errors" if outcome["errors"] else "")
                )
        runs += _hello_runs(baselines, hello, count, plan, report, label, "after")
    return runs


def _write_scripts(directory: Path, requests: dict[str, list[tuple[str, str]]]) -> dict[str, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    return {name: write_script(directory / f"{n}.lua", pairs) for n, (name, pairs) in enumerate(requests.items())}


def _hello_runs(
    baselines: dict[str, str], hello: Path, count: int, plan: LoadPlan, report: Report, label: str, when: str
) -> list[dict[str, Any]]:
    runs = []
    for target, url in baselines.items():
        outcome = {"endpoint": MINIMAL_APP, "target": target, "round": when, **wrk(url, hello, count, plan.seconds)}
        runs.append(outcome)
        report(
            f"    {label} {MINIMAL_APP} via {target} c={count} ({when}): {outcome['requests_per_s']} req/s, "
            f"p99 {outcome['p99_ms']} ms"
        )
    return runs


def minimal_rate(runs: Sequence[dict[str, Any]], target: str, connections: int) -> float | None:
    """The one-route app's requests/s on ``target`` at ``connections``: the mean of its runs before and after."""
    rates = [
        r["requests_per_s"]
        for r in runs
        if r["endpoint"] == MINIMAL_APP and r["target"] == target and r["connections"] == connections
    ]
    return sum(rates) / len(rates) if rates else None


def run_load(settings: Settings, run_dir: Path, plan: LoadPlan, report: Report) -> dict[str, Any]:
    """The full stack through Nginx and one backend direct, beside the one-route app on one gunicorn backend and on
    two behind the stack's Nginx config (idle while the stack runs; see ``_measure``)."""
    if shutil.which("wrk") is None:
        raise BenchError("wrk is not installed: scripts/services install wrk (or apt-get install wrk)")
    nginx_port, backend1, backend2 = free_ports(3)
    options = StackOptions(
        nginx_port=nginx_port,
        backend_ports=(backend1, backend2),
        ui=False,
        seed="none",
        run_dir=run_dir,
        start_services=False,
    )
    stack = Stack(settings, options, report=lambda line: report(f"    stack: {line}"), base_env=dict(os.environ))
    requests = {
        "/healthz": [("/healthz", "")],
        "/nginx-health": [("/nginx-health", "")],
        **endpoints(plan.queries, plan.users, plan.uncached_users),
    }
    scripts = _write_scripts(run_dir / "wrk", requests)
    with minimal_backend(options, run_dir) as one, minimal_stack(options, run_dir) as via_nginx:
        baselines = {"one backend": one, MINIMAL_VIA_NGINX: via_nginx}
        try:
            stack.start()
            targets = {"nginx": stack.nginx_url, "backend1": f"http://127.0.0.1:{backend1}"}
            pids = {child.name: child.pid for child in stack.children}
            runs = _measure(targets, scripts, requests, plan, report, "full stack", baselines)
            memory = {name: peak_memory(pid) for name, pid in pids.items() if pid is not None and name != "nginx"}
        finally:
            stack.stop()
    return {
        "seconds_per_run": plan.seconds,
        "wrk_threads": WRK_THREADS,
        "backends": {"count": 2, "workers": options.workers, "threads": options.threads},
        "runs": runs,
        "ratios": ratios(runs),
        "memory": memory,
    }


EMBEDDED_THREADS = 8  # movierec serve's default, what movierec up runs


@contextmanager
def _process(argv: list[str], env: dict[str, str], log_path: Path, health: str, what: str) -> Iterator[None]:
    with log_path.open("ab") as output:
        process = subprocess.Popen(
            argv, cwd=REPO_ROOT, env=env, stdin=subprocess.DEVNULL, stdout=output, stderr=output, start_new_session=True
        )
    try:
        poll_until(lambda: process.poll() is None and http_ok(health), 120, 0.25, what)
        yield
    finally:
        terminate(process, group=True)


def run_embedded_load(data_dir: Path, run_dir: Path, plan: LoadPlan, report: Report) -> dict[str, Any]:
    """``movierec serve`` on the embedded data dir (SQLite, in-process cache, embedded search), beside the
    one-route app on the same waitress settings (idle while the API runs; see ``_measure``)."""
    if shutil.which("wrk") is None:
        raise BenchError("wrk is not installed: scripts/services install wrk (or apt-get install wrk)")
    run_dir.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k not in EMBEDDED_UNSET}
    env["MOVIEREC_DATA_DIR"] = str(data_dir)
    env["MOVIEREC_LOG_LEVEL"] = "WARNING"  # as the full stack's backends, the access log is not what is measured
    requests = endpoints(plan.queries, plan.users, plan.uncached_users)
    scripts = _write_scripts(run_dir / "wrk", requests)
    (api_port, hello_port) = free_ports(2)
    api = f"http://127.0.0.1:{api_port}"
    serve = [sys.executable, "-m", "movierec", "serve", "--port", str(api_port), "--threads", str(EMBEDDED_THREADS)]
    hello = [sys.executable, "-m", "bench.hello", str(hello_port), str(EMBEDDED_THREADS)]
    hello_url = f"http://127.0.0.1:{hello_port}"
    with (
        _process(hello, env, run_dir / "hello.log", f"{hello_url}/hello", "the minimal Flask app on waitress"),
        _process(serve, env, run_dir / "serve.log", f"{api}/healthz", "movierec serve"),
    ):
        pid = _child_pid(api_port)
        runs = _measure({"server": api}, scripts, requests, plan, report, "embedded", {"server": hello_url})
        memory = peak_memory(pid) if pid else None
    return {
        "seconds_per_run": plan.seconds,
        "wrk_threads": WRK_THREADS,
        "server": {"name": "waitress", "processes": 1, "threads": EMBEDDED_THREADS},
        "runs": runs,
        "over_minimal_app": over_minimal_app(runs, "server"),
        "memory": memory,
    }


def _child_pid(port: int) -> int | None:
    """The pid listening on ``port`` (the server), from /proc; None when it cannot be told."""
    try:
        done = subprocess.run(["ss", "-ltnpH", f"sport = :{port}"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    found = re.search(r"pid=(\d+)", done.stdout)
    return int(found.group(1)) if found else None


def over_minimal_app(runs: Sequence[dict[str, Any]], target: str) -> list[dict[str, Any]]:
    """Per endpoint and connection count on ``target``: requests/s over the one-route app's on the same server."""
    found = []
    for run in runs:
        base = minimal_rate(runs, target, run["connections"])
        if run["target"] != target or run["endpoint"] == MINIMAL_APP or base is None:
            continue
        found.append(
            {
                "endpoint": run["endpoint"],
                "connections": run["connections"],
                "requests_per_s": run["requests_per_s"],
                "minimal_app_requests_per_s": round(base, 1),
                "over_minimal_app": ratio(run["requests_per_s"], base),
            }
        )
    return found


def ratios(runs: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per endpoint and connection count through Nginx: over /healthz through Nginx, over one backend direct, over
    the one-route app on one backend with the same gunicorn settings, and over that app behind the same Nginx and
    two backends."""
    by = {(r["endpoint"], r["target"], r["connections"]): r for r in runs}
    found = []
    for (endpoint, target, connections), run in by.items():
        if target != "nginx" or endpoint in ("/healthz", "/nginx-health", MINIMAL_APP):
            continue
        healthz = by.get(("/healthz", "nginx", connections))
        direct = by.get((endpoint, "backend1", connections))
        hello = minimal_rate(runs, "one backend", connections)
        hello_nginx = minimal_rate(runs, MINIMAL_VIA_NGINX, connections)
        found.append(
            {
                "endpoint": endpoint,
                "connections": connections,
                "nginx_requests_per_s": run["requests_per_s"],
                "over_healthz_via_nginx": ratio(run["requests_per_s"], healthz["requests_per_s"]) if healthz else None,
                "over_one_backend_direct": ratio(run["requests_per_s"], direct["requests_per_s"]) if direct else None,
                "direct_over_minimal_app": ratio(direct["requests_per_s"], hello) if direct and hello else None,
                "nginx_over_minimal_app": ratio(run["requests_per_s"], hello) if hello else None,
                "nginx_over_minimal_app_via_nginx": ratio(run["requests_per_s"], hello_nginx) if hello_nginx else None,
            }
        )
    return found
