"""The embedded event bus: a durable append-only log in a SQLite file, with committed offsets per group.

It behaves like one Kafka partition per topic: messages keep their order, a consumer group resumes after its
last commit, and anything polled but not committed is delivered again to the next consumer of the group.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from movierec.domain.errors import BusUnavailable
from movierec.events.port import EventMessage, MovieUpserted, PublishFailed
from movierec.files import private_file

_SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    topic TEXT NOT NULL,
    "offset" INTEGER NOT NULL,
    key BLOB,
    value BLOB,
    headers TEXT,
    created_at REAL NOT NULL,
    PRIMARY KEY (topic, "offset")
);
CREATE TABLE IF NOT EXISTS group_offsets (
    topic TEXT NOT NULL,
    "group" TEXT NOT NULL,
    next_offset INTEGER NOT NULL,
    PRIMARY KEY (topic, "group")
);
"""


class _Log:
    def __init__(self, path: str, timeout: float) -> None:
        if path != ":memory:":
            private_file(Path(path))
        self.conn = sqlite3.connect(path, timeout=timeout, check_same_thread=False, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.execute(f"PRAGMA busy_timeout={int(timeout * 1000)}")
        self.conn.executescript(_SCHEMA)
        self.lock = threading.Lock()

    def append(self, topic: str, rows: Sequence[tuple[bytes | None, bytes | None, str | None]]) -> None:
        with self.lock:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                (last,) = self.conn.execute(
                    'SELECT COALESCE(MAX("offset"), -1) FROM messages WHERE topic = ?', (topic,)
                ).fetchone()
                now = time.time()
                self.conn.executemany(
                    'INSERT INTO messages (topic, "offset", key, value, headers, created_at) VALUES (?, ?, ?, ?, ?, ?)',
                    [(topic, last + n, key, value, headers, now) for n, (key, value, headers) in enumerate(rows, 1)],
                )
                self.conn.execute("COMMIT")
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise

    def read(self, topic: str, from_offset: int, limit: int) -> list[EventMessage]:
        with self.lock:
            rows = self.conn.execute(
                'SELECT "offset", key, value, headers FROM messages WHERE topic = ? AND "offset" >= ? '
                'ORDER BY "offset" LIMIT ?',
                (topic, from_offset, limit),
            ).fetchall()
        return [EventMessage(key=k, value=v, position=(0, off), topic=topic, reason=r) for off, k, v, r in rows]

    def end(self, topic: str) -> int:
        """The offset the next message of ``topic`` will get (Kafka's high watermark)."""
        with self.lock:
            (last,) = self.conn.execute(
                'SELECT COALESCE(MAX("offset"), -1) FROM messages WHERE topic = ?', (topic,)
            ).fetchone()
        return int(last) + 1

    def committed(self, topic: str, group: str) -> int:
        with self.lock:
            row = self.conn.execute(
                'SELECT next_offset FROM group_offsets WHERE topic = ? AND "group" = ?', (topic, group)
            ).fetchone()
        return 0 if row is None else int(row[0])

    def commit(self, topic: str, group: str, next_offset: int) -> None:
        with self.lock:
            self.conn.execute(
                'INSERT INTO group_offsets (topic, "group", next_offset) VALUES (?, ?, ?) '
                'ON CONFLICT (topic, "group") DO UPDATE SET next_offset = MAX(next_offset, excluded.next_offset)',
                (topic, group, next_offset),
            )

    def close(self) -> None:
        with self.lock:
            self.conn.close()


class EmbeddedEventPublisher:
    def __init__(self, log: _Log, topic: str, dlq_topic: str) -> None:
        self._log, self._topic, self._dlq = log, topic, dlq_topic

    def publish(self, events: Sequence[MovieUpserted]) -> None:
        if not events:
            return
        try:
            self._log.append(self._topic, [(e.key, e.to_bytes(), None) for e in events])
        except sqlite3.Error as exc:
            raise PublishFailed(f"event log write failed: {exc}") from exc

    def publish_dead_letter(self, message: EventMessage, reason: str) -> None:
        try:
            self._log.append(self._dlq, [(message.key, message.value, reason)])
        except sqlite3.Error as exc:
            raise PublishFailed(f"dead-letter write failed: {exc}") from exc

    def close(self) -> None:
        return None


class EmbeddedEventConsumer:
    def __init__(self, log: _Log, topic: str, group: str) -> None:
        self._log, self._topic, self._group = log, topic, group
        self._position = log.committed(topic, group)

    def poll(self, max_messages: int, timeout: float) -> list[EventMessage]:
        deadline = time.monotonic() + timeout
        while True:
            messages = self._log.read(self._topic, self._position, max_messages)
            if messages:
                self._position = messages[-1].position[1] + 1
                return messages
            if time.monotonic() >= deadline:
                return []
            time.sleep(min(0.05, max(deadline - time.monotonic(), 0)))

    def commit(self, messages: Sequence[EventMessage]) -> None:
        if messages:
            self._log.commit(self._topic, self._group, max(m.position[1] for m in messages) + 1)

    def lag(self) -> dict[int, int]:
        try:
            end = self._log.end(self._topic)
        except sqlite3.Error as exc:
            raise BusUnavailable(f"event log read failed: {exc}") from exc
        return {0: max(end - self._position, 0)}

    def close(self) -> None:
        return None


class EmbeddedMovieEvents:
    name = "embedded"

    def __init__(self, path: Path | str, topic: str = "movies", dlq_topic: str = "movies.dlq", timeout: float = 5.0):
        self.topic, self.dlq_topic = topic, dlq_topic
        self._log = _Log(str(path), timeout)

    def publisher(self) -> EmbeddedEventPublisher:
        return EmbeddedEventPublisher(self._log, self.topic, self.dlq_topic)

    def consumer(self, group: str, topic: str | None = None) -> EmbeddedEventConsumer:
        return EmbeddedEventConsumer(self._log, topic or self.topic, group)

    def ping(self) -> None:
        with self._log.lock:
            self._log.conn.execute("SELECT 1").fetchone()

    def close(self) -> None:
        self._log.close()
