"""`movierec stack` end to end: the compose topology from local binaries, driven through Nginx only.

The real PostgreSQL (a fresh database), Redis (DB 14), Kafka (unique topics and group) and Elasticsearch (a unique
alias), Debian's Nginx at /usr/sbin/nginx, two gunicorn backends, the indexer and the UI, all started by one
``movierec stack`` process on free loopback ports with the MovieLens catalogue. No SECRET_KEY is given: the stack
generates one for the run and both backends must share it.

The tests share that one running stack and run in file order: the last two kill a backend and stop the stack.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from movierec.probes import free_ports
from tests.conftest import IN_CI, fresh_postgres_database, service_url, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.services]

NGINX = Path("/usr/sbin/nginx")
STARTUP_TIMEOUT = 240.0
PASSWORD = "correct horse battery"


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not stat.exists() or stat.read_text().rsplit(")", 1)[1].split()[0] not in {"Z", "X"}


@dataclass
class RunningStack:
    process: subprocess.Popen[bytes]
    run_dir: Path
    output: Path
    nginx_port: int
    backend_ports: tuple[int, int]
    ui_port: int
    env: dict[str, str]
    metrics_ports: tuple[int, int]

    @property
    def nginx(self) -> str:
        return f"http://127.0.0.1:{self.nginx_port}"

    def backend(self, number: int) -> str:
        return f"http://127.0.0.1:{self.backend_ports[number - 1]}"

    def state(self) -> dict[str, Any]:
        return json.loads((self.run_dir / "stack.json").read_text())  # type: ignore[no-any-return]

    def access_log(self) -> list[dict[str, str]]:
        entries = []
        for line in (self.run_dir / "nginx-access.log").read_text().splitlines():
            match = re.search(
                r'"(?P<request>[^"]*)" (?P<status>\d{3}) \d+ upstream=(?P<upstream>.*?) '
                r"upstream_status=(?P<upstream_status>.*?) request_time=(?P<request_time>[\d.]+) "
                r"upstream_response_time=(?P<upstream_response_time>\S+)",
                line,
            )
            assert match is not None, f"access log line not in the movierec format: {line}"
            entries.append(match.groupdict())
        return entries

    def output_tail(self) -> str:
        return "\n".join(self.output.read_text(errors="replace").splitlines()[-40:])


def _stop(stack: RunningStack) -> None:
    if stack.process.poll() is None:
        stack.process.send_signal(signal.SIGTERM)
        try:
            stack.process.wait(90)
        except subprocess.TimeoutExpired:
            stack.process.kill()
            stack.process.wait(10)
    # whatever a failed run left behind: the children the stack recorded, each its own process group
    state_file = stack.run_dir / "stack.json"
    if state_file.exists():
        for child in json.loads(state_file.read_text())["children"].values():
            try:
                os.killpg(child["pid"], signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    if not NGINX.exists():
        message = f"Nginx is not installed at {NGINX} (scripts/services install nginx)"
        if IN_CI:
            pytest.fail(f"CI=true requires it: {message}")
        pytest.skip(message)
    kafka, elasticsearch = service_url("kafka"), service_url("elasticsearch")
    redis_url = service_url("redis").rsplit("/", 1)[0] + "/14"
    unique = uuid.uuid4().hex[:12]
    alias = f"movies-test-{unique}"
    tmp = tmp_path_factory.mktemp("stack")
    nginx_port, backend1, backend2, ui_port, indexer_metrics, trainer_metrics = free_ports(6)
    with fresh_postgres_database() as database_url:
        client = redis.Redis.from_url(redis_url, socket_timeout=5)
        client.flushdb()
        client.close()
        env = {key: value for key, value in os.environ.items() if key not in {"SECRET_KEY", "TMDB_API_KEY"}}
        env.update(
            DATABASE_URL=database_url,
            REDIS_URL=redis_url,
            KAFKA_BOOTSTRAP_SERVERS=kafka,
            ELASTICSEARCH_URL=elasticsearch,
            MOVIEREC_DATA_DIR=str(tmp / "data"),
            MOVIEREC_KAFKA_TOPIC=f"movies-{unique}",
            MOVIEREC_KAFKA_DLQ_TOPIC=f"movies-{unique}.dlq",
            MOVIEREC_KAFKA_GROUP=f"movie-indexer-{unique}",
            MOVIEREC_SEARCH_INDEX=alias,
            # tests hash a few passwords: the cheap argon2id cost of tests/conftest.py
            MOVIEREC_ARGON2_TIME_COST="1",
            MOVIEREC_ARGON2_MEMORY_KIB="1024",
            MOVIEREC_ARGON2_PARALLELISM="1",
        )
        run_dir = tmp / "run"
        output = tmp / "stack-output.log"
        command = [
            sys.executable, "-m", "movierec", "stack",
            "--nginx-port", str(nginx_port), "--backend-ports", f"{backend1},{backend2}", "--ui-port", str(ui_port),
            "--seed", "movielens", "--run-dir", str(run_dir), "--no-start-services",
            "--metrics-ports", f"{indexer_metrics},{trainer_metrics}",
        ]  # fmt: skip
        started = time.monotonic()
        with output.open("wb") as sink:
            process = subprocess.Popen(command, env=env, stdout=sink, stderr=subprocess.STDOUT)
        running = RunningStack(
            process, run_dir, output, nginx_port, (backend1, backend2), ui_port, env, (indexer_metrics, trainer_metrics)
        )
        try:
            wait_until(
                lambda: (run_dir / "stack.json").exists() or process.poll() is not None,
                STARTUP_TIMEOUT,
                "the stack to come up",
            )
            if process.poll() is not None:
                pytest.fail(f"movierec stack exited ({process.returncode}):\n{running.output_tail()}")
            sys.stderr.write(f"\nmovierec stack up in {time.monotonic() - started:.1f} s\n")
            yield running
        finally:
            _stop(running)
            from movierec.search.elastic import ElasticMovieIndex

            index = ElasticMovieIndex(elasticsearch, alias=alias)
            index.drop()
            index.close()


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=30.0, trust_env=False) as client:
        yield client


def user(http: httpx.Client, base: str, name: str) -> tuple[int, dict[str, str]]:
    registered = http.post(f"{base}/register", json={"username": name, "password": PASSWORD})
    assert registered.status_code == 201, registered.text
    login = http.post(f"{base}/login", json={"username": name, "password": PASSWORD})
    assert login.status_code == 200, login.text
    body = login.json()
    return int(body["user_id"]), {"Authorization": f"Bearer {body['access_token']}"}


def search_ids(http: httpx.Client, base: str, query: str) -> list[int]:
    response = http.get(f"{base}/search", params={"q": query, "limit": 5})
    return [item["id"] for item in response.json()["items"]] if response.status_code == 200 else []


def test_the_stack_reports_its_parts(stack: RunningStack, http: httpx.Client) -> None:
    output = stack.output.read_text()
    assert "SECRET_KEY is not set: using one generated for this run" in output
    assert f"movierec stack is up: API (through Nginx) {stack.nginx}" in output
    children = stack.state()["children"]
    assert set(children) == {"indexer", "trainer", "backend1", "backend2", "nginx", "ui"}
    assert all(pid_alive(child["pid"]) for child in children.values())
    health = http.get(f"{stack.nginx}/healthz")
    assert health.status_code == 200 and health.json()["status"] == "ok", health.text
    assert {check["adapter"] for check in health.json()["checks"].values()} == {
        "postgresql",
        "redis",
        "elasticsearch",
        "kafka",
    }
    assert http.get(f"http://127.0.0.1:{stack.ui_port}/_stcore/health").status_code == 200
    assert health.headers["server"] == "nginx"  # server_tokens off: no version
    assert health.headers["x-content-type-options"] == "nosniff"
    # the compose file's healthcheck commands, against the real processes
    for check in (["http", f"{stack.backend(2)}/healthz"], ["indexer"], ["trainer"]):
        assert healthcheck(stack, *check).returncode == 0, check


def healthcheck(stack: RunningStack, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "movierec.healthcheck", *args]
    return subprocess.run(command, env=stack.env, capture_output=True, text=True, timeout=30, check=False)


def test_a_user_journey_through_nginx(stack: RunningStack, http: httpx.Client) -> None:
    base = stack.nginx
    ids = wait_until(lambda: search_ids(http, base, "matirx"), 90, "the indexer to make The Matrix searchable")
    matrix = http.get(f"{base}/movies/{ids[0]}").json()
    assert matrix["title"] == "The Matrix"

    user_id, headers = user(http, base, "journey")
    rated = http.post(f"{base}/rate", json={"movie_id": matrix["id"], "rating": 9}, headers=headers)
    assert rated.status_code == 200, rated.text
    assert rated.json()["rating"] == 9

    recommendations = http.get(f"{base}/recommendations/{user_id}", params={"limit": 10}, headers=headers)
    assert recommendations.status_code == 200, recommendations.text
    items = recommendations.json()["items"]
    assert len(items) == 10 and matrix["id"] not in {item["id"] for item in items}

    history = http.get(f"{base}/my-ratings/{user_id}", headers=headers)
    assert history.status_code == 200, history.text
    assert [(entry["movie"]["id"], entry["rating"]) for entry in history.json()["items"]] == [(matrix["id"], 9)]

    assert http.get(f"{base}/my-ratings/{user_id}").status_code == 401
    too_big = http.post(
        f"{base}/register", content=b"x" * (64 * 1024 + 1), headers={"Content-Type": "application/json"}
    )
    assert too_big.status_code == 413 and too_big.json()["error"]["code"] == "payload_too_large"
    padded = http.post(  # past Nginx's in-memory body buffer: written to its temp dir under the private data dir
        f"{base}/login", json={"username": "journey", "password": "wrong password", "padding": "p" * 40_000}
    )
    assert padded.status_code == 401, padded.text
    as_form = http.post(f"{base}/login", content=b"username=journey&password=x", headers={"Content-Type": "text/plain"})
    assert as_form.status_code == 415 and as_form.json()["error"]["code"] == "unsupported_media_type"


def test_nginx_spreads_requests_over_both_backends_and_logs_which(stack: RunningStack, http: httpx.Client) -> None:
    marker = "limit=7&offset="  # only this test asks for pages of 7
    for offset in range(20):
        assert http.get(f"{stack.nginx}/movies/latest", params={"limit": 7, "offset": offset}).status_code == 200

    def served_here() -> list[dict[str, str]]:
        return [entry for entry in stack.access_log() if marker in entry["request"]]

    wait_until(lambda: len(served_here()) >= 20, 10, "20 access log lines")
    served = served_here()
    assert len(served) == 20
    backends = {f"127.0.0.1:{port}" for port in stack.backend_ports}
    assert {entry["upstream"] for entry in served} == backends
    for entry in served:
        assert entry["status"] == entry["upstream_status"] == "200"
        assert float(entry["request_time"]) >= 0 and float(entry["upstream_response_time"]) >= 0


def test_every_part_serves_prometheus_metrics_but_nginx_does_not(stack: RunningStack, http: httpx.Client) -> None:
    output = stack.output.read_text()
    indexer, trainer = (f"http://127.0.0.1:{port}/metrics" for port in stack.metrics_ports)
    assert f"indexer {indexer}" in output and f"trainer {trainer}" in output
    for url in (f"{stack.backend(1)}/metrics", f"{stack.backend(2)}/metrics", indexer, trainer):
        response = http.get(url)
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain"), url
    assert "movierec_http_requests_total" in http.get(f"{stack.backend(1)}/metrics").text
    assert "movierec_indexer_batch_seconds_count" in http.get(indexer).text
    assert "movierec_trainer_ratings_seen" in http.get(trainer).text
    hidden = http.get(f"{stack.nginx}/metrics")
    assert hidden.status_code == 404 and hidden.json()["error"]["code"] == "not_found"


def test_a_token_issued_by_one_backend_is_accepted_by_the_other(stack: RunningStack, http: httpx.Client) -> None:
    user_id, headers = user(http, stack.backend(1), "crossover")
    on_other = http.get(f"{stack.backend(2)}/my-ratings/{user_id}", headers=headers)
    assert on_other.status_code == 200, on_other.text
    assert on_other.json()["user_id"] == user_id
    forged = {"Authorization": headers["Authorization"][:-4] + "AAAA"}
    assert http.get(f"{stack.backend(2)}/my-ratings/{user_id}", headers=forged).status_code == 401


def test_a_token_logged_out_on_one_backend_is_refused_by_the_other(stack: RunningStack, http: httpx.Client) -> None:
    user_id, headers = user(http, stack.backend(1), "leaver")
    assert http.post(f"{stack.backend(1)}/logout", headers=headers).status_code == 204
    refused = http.get(f"{stack.backend(2)}/my-ratings/{user_id}", headers=headers)
    assert refused.status_code == 401 and "revoked" in refused.json()["error"]["message"]


def test_no_request_fails_when_a_backend_is_killed_mid_run(stack: RunningStack, http: httpx.Client) -> None:
    user_id, headers = user(http, stack.nginx, "survivor")
    paths = [
        ("/search", {"q": "toy story"}, {}),
        ("/movies/latest", {"limit": 10}, {}),
        ("/genres", {}, {}),
        (f"/recommendations/{user_id}", {"limit": 5}, headers),
        (f"/my-ratings/{user_id}", {}, headers),
    ]
    victim = stack.state()["children"]["backend1"]["pid"]
    log_before = len(stack.access_log())
    done = 0
    lock = threading.Lock()
    killed_at: list[int] = []

    def one(number: int) -> int:
        nonlocal done
        path, params, extra = paths[number % len(paths)]
        status = http.get(f"{stack.nginx}{path}", params=params, headers=extra).status_code
        with lock:
            done += 1
            if done == 100 and not killed_at:
                os.killpg(victim, signal.SIGKILL)  # the gunicorn master and its workers, at once
                killed_at.append(done)
        return status

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(one, range(500)))
    elapsed = time.monotonic() - started
    sys.stderr.write(f"\n500 GETs through Nginx with backend1 killed after 100: {elapsed:.1f} s\n")

    assert killed_at == [100]
    assert not pid_alive(victim)
    failures = [status for status in statuses if not 200 <= status < 300]
    assert failures == [], f"{len(failures)} of 500 requests failed: {sorted(set(failures))}"

    # Nginx saved them: some requests went to the dead backend first, then to the other one. (Nginx writes its
    # access log at least once a second.)
    def retried_entries() -> list[dict[str, str]]:
        return [entry for entry in stack.access_log()[log_before:] if ", " in entry["upstream"]]

    wait_until(lambda: bool(retried_entries()), 10, "a request retried on the other backend, in the access log")
    retried = retried_entries()
    assert all(entry["status"] == "200" for entry in retried)

    # The stack restarts the killed backend, under a new pid.
    def restarted() -> bool:
        pid = stack.state()["children"]["backend1"]["pid"]
        return pid != victim and http.get(f"{stack.backend(1)}/healthz").status_code == 200

    wait_until(lambda: _quiet(restarted), 60, "backend1 to be restarted")


def _quiet(check: Callable[[], bool]) -> bool:
    try:
        return check()
    except (httpx.HTTPError, OSError, ValueError, KeyError):
        return False


def test_sigterm_stops_everything(stack: RunningStack, http: httpx.Client) -> None:
    pids = [child["pid"] for child in stack.state()["children"].values()]
    started = time.monotonic()
    stack.process.send_signal(signal.SIGTERM)
    assert stack.process.wait(90) == 0, stack.output_tail()
    sys.stderr.write(f"\nstack stopped in {time.monotonic() - started:.1f} s\n")
    assert not [pid for pid in pids if pid_alive(pid)]
    with pytest.raises(httpx.ConnectError):
        http.get(f"{stack.nginx}/healthz")
    output = stack.output.read_text()
    order = [re.search(rf"stack.stopped\s+child={name}\b", output) for name in ("ui", "nginx", "indexer")]
    assert all(order), stack.output_tail()
    assert order[0].start() < order[1].start() < order[2].start()  # type: ignore[union-attr]
    assert not (stack.run_dir / "stack.json").exists()
    indexer_gone = healthcheck(stack, "indexer")
    assert indexer_gone.returncode == 1 and "has no member" in indexer_gone.stderr
