"""A registration flood against the embedded server, with bounded password hashing and without it, side by side.

`movierec serve` (waitress, 8 threads, production argon2id cost) on a data dir holding the sample catalogue. For each
configuration: `/search` latency with nothing else going on, then again, one search after another,
for as long as `--flood` registrations sent at once (each a fresh username from one address) take; printed: search
p50/p95 (and count) in both phases, how the registrations were answered (201 created, 503 busy with Retry-After,
429 throttled) and how long the flood took.

    .venv/bin/python -m bench.abuse [--flood 16] [--searches 60]

The "unbounded" configuration gives the server as many hashing slots as there are threads, which is what the API
did before hashing was bounded.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from tests.conftest import SAMPLE_MOVIES, index_everything

from bench.common import load_average, poll_until, summarise, timed_ms
from movierec.probes import free_ports, http_ok
from movierec.processes import terminate
from movierec.wiring import build_container

CONFIGURATIONS = {
    "bounded (default: 1 slot, 4 waiting)": {},
    "unbounded (a slot per server thread)": {"MOVIEREC_PASSWORD_HASH_SLOTS": "8", "MOVIEREC_PASSWORD_HASH_QUEUE": "0"},
}


def prepare(data_dir: Path) -> None:
    from movierec.settings import load_settings

    container = build_container(load_settings(data_dir=data_dir), run_migrations=True)
    try:
        container.catalogue.upsert(SAMPLE_MOVIES)
        index_everything(container)
    finally:
        container.close()


@contextmanager
def serve(data_dir: Path, extra_env: dict[str, str]) -> Iterator[str]:
    port = free_ports(1)[0]
    env = {k: v for k, v in os.environ.items() if not k.endswith("_URL") and k != "KAFKA_BOOTSTRAP_SERVERS"}
    env.update(MOVIEREC_DATA_DIR=str(data_dir), MOVIEREC_LOG_LEVEL="WARNING", **extra_env)
    process = subprocess.Popen(
        [sys.executable, "-m", "movierec", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        poll_until(lambda: http_ok(f"{base}/healthz"), timeout=120, interval=0.2, what="movierec serve")
        yield base
    finally:
        terminate(process)


def searches(base: str, count: int, while_alive: threading.Thread | None = None) -> list[float]:
    """``count`` searches, one after another (and more, for as long as ``while_alive`` runs)."""
    samples: list[float] = []
    with httpx.Client(base_url=base, timeout=60) as http:

        def search() -> None:
            http.get("/search", params={"q": "matrix"}).raise_for_status()

        while len(samples) < count or (while_alive is not None and while_alive.is_alive()):
            samples.append(timed_ms(search)[0])
    return samples


def flood(base: str, size: int, tag: str) -> tuple[Counter[int], float]:
    statuses: Counter[int] = Counter()
    lock = threading.Lock()

    def register(n: int) -> None:
        with httpx.Client(base_url=base, timeout=120) as http:
            status = http.post(
                "/register", json={"username": f"{tag}{n}", "password": "a flood of phrases"}
            ).status_code
        with lock:
            statuses[status] += 1

    threads = [threading.Thread(target=register, args=(n,)) for n in range(size)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flood", type=int, default=16, help="registrations sent at once")
    parser.add_argument("--searches", type=int, default=60, help="searches measured in each phase")
    args = parser.parse_args()
    print(f"load average at start: {load_average()}, cores: {os.cpu_count()}")
    print(f"{'configuration':40} {'idle p50/p95 ms':>18} {'flood p50/p95 ms':>19} {'flood s':>8}  registrations")
    for label, extra_env in CONFIGURATIONS.items():
        with tempfile.TemporaryDirectory() as tmp:
            data_dir = Path(tmp) / "data"
            prepare(data_dir)
            with serve(data_dir, extra_env) as base:
                idle = summarise(searches(base, args.searches))
                outcome: list[tuple[Counter[int], float]] = []
                flooder = threading.Thread(target=lambda: outcome.append(flood(base, args.flood, "flood")))  # noqa: B023
                flooder.start()
                time.sleep(0.5)  # the registrations are under way
                during = summarise(searches(base, 1, while_alive=flooder))
                flooder.join()
        statuses, seconds = outcome[0]
        print(
            f"{label:40} {idle['p50_ms']:>8.1f} / {idle['p95_ms']:<8.1f} "
            f"{during['p50_ms']:>8.1f} / {during['p95_ms']:<9.1f} (n={during['n']}) {seconds:>7.1f}  "
            f"{dict(sorted(statuses.items()))}"
        )


if __name__ == "__main__":
    main()
