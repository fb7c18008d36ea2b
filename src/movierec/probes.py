"""Small network probes shared by ``movierec up``, the development tools, the benchmarks and the tests."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

import httpx


def tcp_reachable(url: str, default_port: int, timeout: float = 1.0) -> bool:
    """True when something accepts a TCP connection at the URL's host and port (a bare ``host:port`` works too)."""
    parts = urlsplit(url if "://" in url else f"tcp://{url.split(',')[0]}")
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or default_port), timeout=timeout):
            return True
    except OSError:
        return False


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """``count`` distinct ports nothing listens on right now (asked of the OS, all held until all are chosen)."""
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind((host, 0))
            sockets.append(sock)
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def port_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def http_ok(url: str, timeout: float = 2.0) -> bool:
    try:
        with httpx.Client(timeout=timeout, trust_env=False) as client:
            return client.get(url).is_success
    except httpx.HTTPError:
        return False
