"""The user journey of scripts/compose-test, against docker-compose.yml running in containers.

``python -m tests.deploy.compose_journey --api URL --ui URL --tmdb-base-url URL``, with ``MOVIEREC_COMPOSE_CMD``
(the docker-compose command line, as a JSON list) and ``MOVIEREC_COMPOSE_PROJECT`` in the environment. Every
HTTP request goes through the published Nginx port; the seeding commands run in ``backend1`` with
``docker-compose exec``, as the README says. Exits non-zero at the first step that fails, saying which and why.
Every wait has a deadline (generous: the machine may be busy).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import httpx

PASSWORD = "compose-journey-pw-7431"
JSON = {"Content-Type": "application/json"}


class JourneyFailed(Exception):
    pass


def say(message: str) -> None:
    sys.stderr.write(f"[journey] {message}\n")
    sys.stderr.flush()


def compose(*args: str, timeout: float = 120) -> str:
    command = [*json.loads(os.environ["MOVIEREC_COMPOSE_CMD"]), *args]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise JourneyFailed(f"`docker-compose {' '.join(args)}` did not finish in {timeout:.0f} s") from None
    if result.returncode != 0:
        output = result.stdout[-3000:] + result.stderr[-3000:]
        raise JourneyFailed(f"`docker-compose {' '.join(args)}` exited {result.returncode}:\n{output}")
    return result.stdout + result.stderr


def expect(response: httpx.Response, status: int, what: str) -> Any:
    if response.status_code != status:
        raise JourneyFailed(f"{what}: expected {status}, got {response.status_code}: {response.text[:500]}")
    return response.json() if response.headers.get("content-type", "").startswith("application/json") else None


def wait_for(what: str, probe: Callable[[], Any], deadline_s: float, every_s: float = 2.0) -> Any:
    """Call ``probe`` until it returns something truthy; fail after ``deadline_s`` with the last problem seen."""
    end = time.monotonic() + deadline_s
    last: object = None
    while True:
        try:
            result = probe()
            if result:
                return result
            last = result
        except (httpx.HTTPError, JourneyFailed) as exc:
            last = exc
        if time.monotonic() > end:
            raise JourneyFailed(f"{what}: not within {deadline_s:.0f} s (last: {last})")
        time.sleep(every_s)


def container_ip(service: str) -> str:
    project = os.environ["MOVIEREC_COMPOSE_PROJECT"]
    result = subprocess.run(
        ["podman", "inspect", "--format", "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}",
         f"{project}_{service}_1"],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    return result.stdout.split()[0]


# Fetches a URL from inside the compose network (as Prometheus does) and prints the body: the image has no curl.
_FETCH = "import sys, urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=10).read().decode())"


def prometheus_targets() -> list[str]:
    import yaml  # the test environment's (dev dependency); the journey runs on the host

    from tests.deploy.test_monitoring import PROMETHEUS_CONFIG

    config = yaml.safe_load(PROMETHEUS_CONFIG.read_text())
    jobs = [job for job in config["scrape_configs"] if job["job_name"].startswith("movierec-")]
    return [target for job in jobs for static in job["static_configs"] for target in static["targets"]]


def scrape_in_network(target: str) -> str:
    def probe() -> str:
        return compose("exec", "-T", "backend1", "python", "-c", _FETCH, f"http://{target}/metrics", timeout=60)

    return str(wait_for(f"GET http://{target}/metrics inside the compose network", probe, 120))


def metric(text: str, name: str, labels: str = "") -> float:
    """The value of ``name{labels...}`` in a scrape (0 when absent); ``labels`` is a substring of its label set."""
    total = 0.0
    for line in text.splitlines():
        series, _, value = line.rpartition(" ")
        if series == name or (series.startswith(name + "{") and labels in series):
            total += float(value)
    return total


def search(client: httpx.Client, query: str) -> list[dict[str, Any]]:
    body = expect(client.get("/search", params={"q": query, "limit": 5}), 200, f"search {query!r}")
    return list(body["items"])


def both_backends_logged(backends: dict[str, str]) -> bool:
    """Whether Nginx's access log names both backends (by container address); ``JourneyFailed`` saying which it does
    name otherwise."""
    logs = compose("logs", "--no-color", "nginx")
    served = {backends[a] for a in re.findall(r"upstream=([0-9.]+):8000", logs) if a in backends}
    if served != {"backend1", "backend2"}:
        raise JourneyFailed(f"Nginx's log names {sorted(served) or 'no backend'} (addresses {backends})")
    return True


def journey(api: str, ui: str, tmdb_base_url: str) -> None:
    client = httpx.Client(base_url=api, timeout=30)

    say("API answers through Nginx")
    wait_for("GET /healthz through Nginx answers 200", lambda: client.get("/healthz").status_code == 200, 120)

    say("seed the offline catalogue: docker-compose exec backend1 movierec seed movielens")
    say(compose("exec", "-T", "backend1", "movierec", "seed", "movielens", timeout=900).strip().splitlines()[-1])
    say("train the models: docker-compose exec backend1 movierec train")
    say(compose("exec", "-T", "backend1", "movierec", "train", timeout=900).strip().splitlines()[-1])

    say("the catalogue reaches search through Kafka and the indexer")
    matrix = wait_for(
        "The Matrix is searchable (typo 'matirx')",
        lambda: [m for m in search(client, "matirx") if m["title"].startswith("Matrix") or "Matrix" in m["title"]],
        300,
    )[0]
    heat = wait_for("Heat is searchable", lambda: [m for m in search(client, "heat") if m["title"] == "Heat"], 60)[0]

    say("register and log in")
    username = f"journey_{os.getpid()}"
    credentials = {"username": username, "password": PASSWORD}
    registered = expect(client.post("/register", json=credentials, headers=JSON), 201, "POST /register")
    login = expect(client.post("/login", json=credentials, headers=JSON), 200, "POST /login")
    user_id = login["user_id"]
    if user_id != registered["user_id"]:
        raise JourneyFailed(f"login returned user {user_id}, register {registered['user_id']}")
    auth = {**JSON, "Authorization": f"Bearer {login['access_token']}"}

    say("rate two movies")
    for movie, rating in ((matrix, 9), (heat, 8)):
        rated = expect(
            client.post("/rate", json={"movie_id": movie["id"], "rating": rating}, headers=auth), 200, "POST /rate"
        )
        if rated["rating"] != rating or rated["movie_id"] != movie["id"]:
            raise JourneyFailed(f"POST /rate answered {rated}")

    say("recommendations, then the same from the cache")
    first = expect(client.get(f"/recommendations/{user_id}", params={"limit": 5}, headers=auth), 200, "recommendations")
    second = expect(client.get(f"/recommendations/{user_id}", params={"limit": 5}, headers=auth), 200, "again")
    if not first["items"] or first["cached"] is not False or second["cached"] is not True:
        raise JourneyFailed(f"expected items, cached false then true: {first['cached']}, {second['cached']}")
    if [m["id"] for m in second["items"]] != [m["id"] for m in first["items"]]:
        raise JourneyFailed("the cached recommendations differ from the first ones")
    if {matrix["id"], heat["id"]} & {m["id"] for m in first["items"]}:
        raise JourneyFailed("a movie the user rated was recommended")

    say("my ratings and the latest movies")
    mine = expect(client.get(f"/my-ratings/{user_id}", headers=auth), 200, "my-ratings")
    if mine["total"] != 2 or {item["movie"]["id"] for item in mine["items"]} != {matrix["id"], heat["id"]}:
        raise JourneyFailed(f"my-ratings: {mine}")
    latest = expect(client.get("/movies/latest", params={"limit": 5}), 200, "movies/latest")
    if len(latest["items"]) != 5:
        raise JourneyFailed(f"movies/latest: {latest}")

    say("both backends served requests (Nginx access log)")
    backends = {container_ip("backend1"): "backend1", container_ip("backend2"): "backend2"}
    for _ in range(10):
        expect(client.get("/movies/latest", params={"limit": 1}), 200, "movies/latest")
    wait_for(  # Nginx writes its access log once a second
        "both backends in Nginx's access log", lambda: both_backends_logged(backends), 10, every_s=0.5
    )

    say("every target of deploy/monitoring/prometheus.yml serves /metrics on the compose network; Nginx does not")
    scrapes = {target: scrape_in_network(target) for target in prometheus_targets()}
    served_hits = sum(
        metric(scrapes[target], "movierec_recommendations_served_total", 'cache="hit"')
        for target in ("backend1:8000", "backend2:8000")
    )
    if served_hits < 1:  # the cached answer above, counted by whichever worker of whichever backend served it
        raise JourneyFailed("no backend's /metrics counted the cached recommendation")
    if metric(scrapes["kafka_indexer:9100"], "movierec_indexer_movies_indexed_total") < 9000:
        raise JourneyFailed("the indexer's /metrics did not count the MovieLens catalogue")
    if not re.search(r"^movierec_trainer_ratings_seen \d", scrapes["trainer:9100"], re.M):  # its first check
        raise JourneyFailed("the trainer's /metrics has no ratings_seen")
    expect(client.get("/metrics"), 404, "GET /metrics through Nginx")

    say("the UI answers on its port")
    with httpx.Client(base_url=ui, timeout=30) as ui_client:
        wait_for("the UI's health", lambda: ui_client.get("/_stcore/health").text.strip() == "ok", 120)
        page = ui_client.get("/")
        if page.status_code != 200 or "<html" not in page.text.lower():
            raise JourneyFailed(f"the UI's page answered {page.status_code}")

    say(f"seed from TMDB in the container: python seed_tmdb.py --base-url {tmdb_base_url}")
    say(compose("exec", "-T", "backend1", "python", "seed_tmdb.py", "--base-url", tmdb_base_url, "--pages", "3",
                timeout=600).strip().splitlines()[-1])  # fmt: skip
    fake = wait_for(
        "the TMDB movies reach search",
        lambda: [m for m in search(client, "Fake Movie 1007") if m["title"] == "Fake Movie 1007"],
        180,
    )[0]
    wait_for(
        "the last TMDB page reaches search",
        lambda: [m for m in search(client, "Fake Movie 1420") if m["title"] == "Fake Movie 1420"],
        120,
    )
    say(f"found {fake['title']} (tmdb id {fake['tmdb_id']})")

    say("stop backend2: GETs still succeed through Nginx")
    compose("stop", "backend2", timeout=120)
    failures = []
    for i in range(20):
        response = client.get("/search", params={"q": "heat", "limit": 3}) if i % 2 else client.get("/movies/latest")
        if response.status_code != 200:
            failures.append(response.status_code)
    mine = expect(client.get(f"/my-ratings/{user_id}", headers=auth), 200, "my-ratings with one backend")
    if failures or mine["total"] != 2:
        raise JourneyFailed(f"with backend2 stopped: {len(failures)} of 20 GETs failed ({failures})")
    client.close()
    say("journey complete")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--api", required=True)
    parser.add_argument("--ui", required=True)
    parser.add_argument("--tmdb-base-url", required=True)
    args = parser.parse_args()
    try:
        journey(args.api, args.ui, args.tmdb_base_url)
    except JourneyFailed as exc:
        say(f"FAILED: {exc}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
