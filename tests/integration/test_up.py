"""`movierec up` on an empty data dir: a working recommender with the MovieLens catalogue, no servers."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from movierec.probes import free_ports
from movierec.processes import terminate

pytestmark = pytest.mark.slow


def start_up(data_dir: Path, port: int, log_path: Path) -> subprocess.Popen[bytes]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "REDIS_URL", "ELASTICSEARCH_URL", "KAFKA_BOOTSTRAP_SERVERS", "SECRET_KEY"}
    }
    env["MOVIEREC_DATA_DIR"] = str(data_dir)
    with log_path.open("wb") as log:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(
            [sys.executable, "-m", "movierec", "up", "--no-ui", "--port", str(port)], env=env, stdout=log, stderr=log
        )


def wait_healthy(base: str, process: subprocess.Popen[bytes], log_path: Path, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"movierec up exited with {process.returncode}:\n{log_path.read_text()[-3000:]}")
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    pytest.fail(f"movierec up did not become healthy in {timeout} s:\n{log_path.read_text()[-3000:]}")


def stop(process: subprocess.Popen[bytes]) -> int:
    return terminate(process)


@pytest.fixture
def running(tmp_path: Path) -> Iterator[tuple[str, Path, subprocess.Popen[bytes], Path]]:
    port = free_ports(1)[0]
    data_dir = tmp_path / "data"
    log_path = tmp_path / "up.log"
    process = start_up(data_dir, port, log_path)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(base, process, log_path)
        yield base, data_dir, process, log_path
    finally:
        if process.poll() is None:
            stop(process)


def test_up_on_an_empty_data_dir_serves_search_and_recommendations(
    running: tuple[str, Path, subprocess.Popen[bytes], Path],
) -> None:
    base, data_dir, process, log_path = running
    with httpx.Client(base_url=base, timeout=10) as http:
        found = http.get("/search", params={"q": "toy story"}).json()
        assert found["items"][0]["title"] == "Toy Story"
        assert http.get("/search", params={"genre": "Comedy", "limit": 1}).json()["total"] > 3000
        latest = http.get("/movies/latest").json()["items"]
        assert len(latest) == 20

        assert http.post("/register", json={"username": "newcomer", "password": "a fine password"}).status_code == 201
        login = http.post("/login", json={"username": "newcomer", "password": "a fine password"}).json()
        headers = {"Authorization": f"Bearer {login['access_token']}"}
        toy_story = found["items"][0]["id"]
        assert http.post("/rate", json={"movie_id": toy_story, "rating": 9}, headers=headers).status_code == 200
        recommendations = http.get(f"/recommendations/{login['user_id']}", headers=headers).json()
        assert len(recommendations["items"]) == 20
        assert toy_story not in [m["id"] for m in recommendations["items"]]
        assert any(m["reason"] == "because you rated Toy Story 9/10" for m in recommendations["items"])

    # The first start loaded the catalogue, the community's ratings, and trained the models.
    assert (data_dir / "models" / "manifest.json").exists()
    assert (data_dir / "secret_key").exists()
    assert stop(process) == 0
    assert "Traceback" not in log_path.read_text()


def test_second_start_keeps_everything(tmp_path: Path) -> None:
    port = free_ports(1)[0]
    data_dir = tmp_path / "data"
    base = f"http://127.0.0.1:{port}"
    first = start_up(data_dir, port, tmp_path / "first.log")
    try:
        wait_healthy(base, first, tmp_path / "first.log")
        assert (
            httpx.post(f"{base}/register", json={"username": "keeper", "password": "a fine password"}).status_code
            == 201
        )
    finally:
        assert stop(first) == 0
    second = start_up(data_dir, port, tmp_path / "second.log")
    try:
        wait_healthy(base, second, tmp_path / "second.log", timeout=120)
        login = httpx.post(f"{base}/login", json={"username": "keeper", "password": "a fine password"})
        assert login.status_code == 200
        assert httpx.get(f"{base}/search", params={"q": "heat"}).json()["total"] >= 1
    finally:
        stop(second)
    # Nothing is loaded or trained again: what the first start spent its time on, the second does not do.
    first_log, second_log = ((tmp_path / f"{name}.log").read_text() for name in ("first", "second"))
    for step in ("loading movielens catalogue", "training recommendation models"):
        assert step in first_log and step not in second_log, step
