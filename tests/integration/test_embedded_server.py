"""The embedded server (`movierec serve`, what `movierec up` runs) exposed as it is: connection floods, huge bodies,
file permissions in the data dir, and children that outlive a killed parent."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from movierec.cli import UiFailed, _start_ui
from movierec.probes import free_ports, http_ok
from movierec.processes import terminate, with_parent_death_signal
from tests.conftest import wait_until

pytestmark = pytest.mark.slow

EMBEDDED_ENV = {"DATABASE_URL", "REDIS_URL", "ELASTICSEARCH_URL", "KAFKA_BOOTSTRAP_SERVERS", "SECRET_KEY"}


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[int, Path, Path]]:
    """`movierec serve` on a fresh data dir: (port, data dir, log)."""
    port = free_ports(1)[0]
    data_dir = tmp_path / "data"
    log_path = tmp_path / "serve.log"
    env = {k: v for k, v in os.environ.items() if k not in EMBEDDED_ENV}
    env["MOVIEREC_DATA_DIR"] = str(data_dir)
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "movierec", "serve", "--port", str(port)], env=env, stdout=log, stderr=log
        )
    try:
        wait_until(
            lambda: process.poll() is not None or http_ok(f"http://127.0.0.1:{port}/healthz"),
            timeout=120,
            what=f"movierec serve to answer:\n{log_path.read_text()[-2000:]}",
        )
        assert process.poll() is None, log_path.read_text()[-2000:]
        yield port, data_dir, log_path
    finally:
        terminate(process)


def test_idle_and_half_open_connections_do_not_lock_others_out(served: tuple[int, Path, Path]) -> None:
    port, _, _ = served
    idle: list[socket.socket] = []
    try:
        for n in range(300):  # past waitress' default of 100 connections, each held open doing nothing
            sock = socket.create_connection(("127.0.0.1", port), timeout=10)
            if n % 2:
                sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # half a request, never finished
            idle.append(sock)
        # A real client still gets through (the default would make it wait for the 120 s channel timeout).
        response = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=20)
        assert response.status_code == 200
    finally:
        for sock in idle:
            sock.close()


def test_a_huge_body_is_refused_before_it_is_read(served: tuple[int, Path, Path]) -> None:
    port, _, _ = served
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(
            b"POST /register HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 209715200\r\n\r\n"  # 200 MiB announced; not one byte of it is sent
        )
        answer = sock.recv(4096)  # arrives only if the server answers without reading the body
    assert answer.startswith(b"HTTP/1.1 413")


def test_the_data_dir_and_its_files_are_private_from_the_start(served: tuple[int, Path, Path]) -> None:
    _, data_dir, _ = served
    assert _mode(data_dir) == 0o700
    for name in ("movierec.sqlite3", "secret_key", "events.sqlite3"):
        assert _mode(data_dir / name) == 0o600, name
    leftovers = [p.name for p in data_dir.iterdir() if p.name.startswith(".secret_key")]
    assert leftovers == []


def test_a_data_dir_readable_by_others_is_reported(tmp_path: Path) -> None:
    data_dir = tmp_path / "open"
    data_dir.mkdir(mode=0o755)
    data_dir.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k not in EMBEDDED_ENV}
    env["MOVIEREC_DATA_DIR"] = str(data_dir)
    result = subprocess.run(
        [sys.executable, "-m", "movierec", "migrate"], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert "data_dir.readable_by_others" in result.stdout + result.stderr
    assert f"chmod 700 {data_dir}" in result.stdout + result.stderr


def test_a_child_dies_with_its_parent_even_on_sigkill(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    parent_code = (
        "import subprocess, sys, time\n"
        "from movierec.processes import with_parent_death_signal\n"
        "child = subprocess.Popen(with_parent_death_signal([sys.executable, '-c', 'import time; time.sleep(600)']))\n"
        f"open({str(pid_file)!r}, 'w').write(str(child.pid))\n"
        "time.sleep(600)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", parent_code])
    try:
        wait_until(lambda: pid_file.exists() and pid_file.read_text(), timeout=60, what="the child to start")
        child_pid = int(pid_file.read_text())
        wait_until(lambda: "time.sleep(600)" in _cmdline(child_pid), timeout=60, what="the child to exec")
        parent.kill()
        parent.wait(30)
        wait_until(lambda: not _alive(child_pid), timeout=60, what="the orphaned child to end")
    finally:
        if parent.poll() is None:
            parent.kill()


def test_the_wrapper_runs_the_command_it_wraps(tmp_path: Path) -> None:
    out = subprocess.run(with_parent_death_signal([sys.executable, "-c", "print('ran')"]), capture_output=True)
    assert out.returncode == 0 and out.stdout.strip() == b"ran"


def test_the_ui_reports_a_taken_port_instead_of_claiming_to_be_up(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        with pytest.raises(UiFailed, match=f"port {port} is already in use"):
            _start_ui("http://127.0.0.1:1", port, tmp_path / "ui.log")


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in {"Z", "X"}


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except FileNotFoundError:
        return ""
