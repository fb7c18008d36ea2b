"""Container healthchecks: ``python -m movierec.healthcheck http URL`` and ``python -m movierec.healthcheck indexer``.

Exit status 0 when healthy, 1 otherwise, with one line on standard error saying why (Docker keeps it in the
container's health log). Only the standard library and the Kafka client the image already has.

- ``http URL``: the URL answers 2xx within the timeout (the API's ``/healthz``, Streamlit's ``/_stcore/health``).
- ``trainer``: ``movierec train --every N`` checked the ratings within the last two rounds (its heartbeat file).
- ``indexer``: the indexer's Kafka consumer group (``MOVIEREC_KAFKA_GROUP``) has at least one member, i.e. an
  indexer is connected to the broker and consuming; a hung or crashed indexer leaves the group.
"""

from __future__ import annotations

import sys
import urllib.error
import urllib.request
from collections.abc import Sequence

TIMEOUT_SECONDS = 5.0


class Unhealthy(Exception):
    pass


def check_http(url: str, timeout: float = TIMEOUT_SECONDS) -> str:
    if not url.startswith(("http://", "https://")):
        raise Unhealthy(f"not an http(s) URL: {url!r}")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never through a proxy
    try:
        with opener.open(url, timeout=timeout) as response:
            return f"{url} answered {response.status}"
    except urllib.error.HTTPError as exc:
        raise Unhealthy(f"{url} answered {exc.code}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise Unhealthy(f"{url} is unreachable: {getattr(exc, 'reason', exc)}") from None


def check_indexer(timeout: float = TIMEOUT_SECONDS) -> str:
    from confluent_kafka import ConsumerGroupState, KafkaException
    from confluent_kafka.admin import AdminClient

    from movierec.settings import load_settings

    settings = load_settings()
    if not settings.kafka_bootstrap_servers:
        raise Unhealthy("KAFKA_BOOTSTRAP_SERVERS is not set: the embedded indexer runs inside `movierec up`")
    admin = AdminClient(
        {"bootstrap.servers": settings.kafka_bootstrap_servers, "socket.timeout.ms": int(timeout * 1000)}
    )
    group = settings.kafka_group
    try:
        future = admin.describe_consumer_groups([group], request_timeout=timeout)[group]
        description = future.result(timeout=timeout)
    except (KafkaException, TimeoutError) as exc:
        raise Unhealthy(f"cannot describe consumer group {group!r}: {exc}") from None
    members = len(description.members)
    if members == 0 or description.state in (ConsumerGroupState.DEAD, ConsumerGroupState.EMPTY):
        raise Unhealthy(f"consumer group {group!r} has no member (state {description.state.name})")
    return f"consumer group {group!r}: {members} member(s), state {description.state.name}"


def check_trainer(now: float | None = None) -> str:
    import json
    import time

    from movierec.runtime import heartbeat_path
    from movierec.settings import load_settings

    settings = load_settings()
    path = heartbeat_path(settings.data_dir)
    try:
        beat = json.loads(path.read_text())
        age = (now or time.time()) - float(beat["checked_at"])
        every = float(beat["every"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise Unhealthy(f"no trainer heartbeat at {path}: {exc}") from None
    if age > 2 * every + 60:
        raise Unhealthy(f"the trainer last checked {age:.0f} s ago (every {every:.0f} s)")
    if beat.get("error"):
        raise Unhealthy(f"the trainer's last round failed: {beat['error']}")
    return f"the trainer checked {age:.0f} s ago"


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        if len(args) == 2 and args[0] == "http":
            message = check_http(args[1])
        elif args == ["indexer"]:
            message = check_indexer()
        elif args == ["trainer"]:
            message = check_trainer()
        else:
            sys.stderr.write("usage: python -m movierec.healthcheck http URL | indexer | trainer\n")
            return 2
    except Unhealthy as exc:
        sys.stderr.write(f"unhealthy: {exc}\n")
        return 1
    sys.stderr.write(f"healthy: {message}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
