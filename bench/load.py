"""Load through Nginx with two backends: ``movierec stack`` (two gunicorn backends, 2 gthread workers x 4 threads
each, behind Nginx, plus the indexer) on the full-stack MovieLens run, driven by ``wrk`` on 127.0.0.1 only.

Each run is ``wrk -t2 -c<connections> -d<seconds>s`` with a Lua script that cycles through a fixed list of requests
(search queries; recommendation users each with their own bearer token) and prints wrk's own summary as JSON.
Every endpoint runs through Nginx and against one backend directly; ``/healthz`` through the same Nginx is the
reference (it pings PostgreSQL, Redis, Elasticsearch and Kafka), ``/nginx-health`` (answered by Nginx itself)
is the proxy's own ceiling, and ``bench.hello`` (a Flask app with one JSON route, on one gunicorn backend with the
same worker settings, after the stack has stopped) is the framework's.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx

from bench.common import BenchError, Report, peak_memory, poll_until, ratio
from movierec.search.port import SearchQuery
from movierec.settings import Settings
from movierec.stack import REPO_ROOT, Stack, StackOptions, free_ports, http_ok

WRK_THREADS = 2
MINIMAL_APP = "/hello (minimal Flask app)"

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


def warm_recommendations(base_url: str, requests: Sequence[tuple[str, str]]) -> None:
    """One request per user, so the load that follows is served from the cache."""
    with httpx.Client(base_url=base_url, timeout=30.0, trust_env=False) as client:
        for path, token in requests:
            response = client.get(path, headers={"Authorization": f"Bearer {token}"})
            if response.status_code != 200:
                raise BenchError(f"warming {path}: {response.status_code} {response.text[:200]}")


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
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)


def run_load(
    settings: Settings,
    run_dir: Path,
    search_queries: Sequence[SearchQuery],
    recommendation_users: Sequence[tuple[int, str]],
    *,
    seconds: float,
    connections: Sequence[int],
    report: Report,
) -> dict[str, Any]:
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
    scripts = run_dir / "wrk"
    scripts.mkdir(parents=True, exist_ok=True)
    recommendations = [(f"/recommendations/{user}", token) for user, token in recommendation_users]
    endpoints: dict[str, list[tuple[str, str]]] = {
        "/healthz": [("/healthz", "")],
        "/nginx-health": [("/nginx-health", "")],
        "/movies/latest": [("/movies/latest", "")],
        "/search?q=": [(path, "") for path in search_paths(search_queries)],
        "/recommendations (cached)": recommendations,
    }
    script_of = {
        name: write_script(scripts / f"{n}.lua", requests) for n, (name, requests) in enumerate(endpoints.items())
    }
    runs: list[dict[str, Any]] = []
    try:
        stack.start()
        targets = {"nginx": stack.nginx_url, "backend1": f"http://127.0.0.1:{backend1}"}
        pids = {child.name: child.pid for child in stack.children}
        for base in targets.values():  # warm up every endpoint on every target (connections, models, caches)
            for name in endpoints:
                if name != "/nginx-health" or base == stack.nginx_url:
                    wrk(base, script_of[name], 4, 1)
        for count in connections:
            for name in endpoints:
                for target, base in targets.items():
                    if name == "/nginx-health" and target != "nginx":
                        continue
                    if name.startswith("/recommendations"):
                        warm_recommendations(base, recommendations)
                    outcome = {"endpoint": name, "target": target, **wrk(base, script_of[name], count, seconds)}
                    runs.append(outcome)
                    report(
                        f"    {name} via {target} c={count}: {outcome['requests_per_s']} req/s, "
                        f"p99 {outcome['p99_ms']} ms" + (f", {outcome['errors']} errors" if outcome["errors"] else "")
                    )
        memory = {name: peak_memory(pid) for name, pid in pids.items() if pid is not None and name != "nginx"}
    finally:
        stack.stop()
    hello = write_script(scripts / "hello.lua", [("/hello", "")])
    with minimal_backend(options, run_dir) as url:
        wrk(url, hello, 4, 1)
        for count in connections:
            outcome = {"endpoint": MINIMAL_APP, "target": "one backend", **wrk(url, hello, count, seconds)}
            runs.append(outcome)
            report(f"    {MINIMAL_APP} c={count}: {outcome['requests_per_s']} req/s, p99 {outcome['p99_ms']} ms")
    return {
        "seconds_per_run": seconds,
        "wrk_threads": WRK_THREADS,
        "backends": {"count": 2, "workers": options.workers, "threads": options.threads},
        "runs": runs,
        "ratios": ratios(runs),
        "memory": memory,
    }


def ratios(runs: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per endpoint and connection count: through Nginx over /healthz through Nginx, and over one backend direct."""
    by = {(r["endpoint"], r["target"], r["connections"]): r for r in runs}
    found = []
    for (endpoint, target, connections), run in by.items():
        if target != "nginx" or endpoint in ("/healthz", "/nginx-health", MINIMAL_APP):
            continue
        healthz = by.get(("/healthz", "nginx", connections))
        direct = by.get((endpoint, "backend1", connections))
        hello = by.get((MINIMAL_APP, "one backend", connections))
        found.append(
            {
                "endpoint": endpoint,
                "connections": connections,
                "nginx_requests_per_s": run["requests_per_s"],
                "over_healthz_via_nginx": ratio(run["requests_per_s"], healthz["requests_per_s"]) if healthz else None,
                "over_one_backend_direct": ratio(run["requests_per_s"], direct["requests_per_s"]) if direct else None,
                "direct_over_minimal_app": (
                    ratio(direct["requests_per_s"], hello["requests_per_s"]) if direct and hello else None
                ),
            }
        )
    return found
