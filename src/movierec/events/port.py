"""Movie event bus port.

A ``MovieUpserted`` event carries the whole movie (the search document), keyed by the movie id, as JSON with a
schema version. Publishing blocks until the bus has acknowledged every event, or raises ``PublishFailed``.
Consumers belong to a group, receive each event at least once, and resume after the last committed message.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from movierec.domain.documents import movie_from_document, movie_to_document
from movierec.domain.errors import BusUnavailable
from movierec.domain.movies import Movie

SCHEMA_VERSION = 1
EVENT_TYPE = "MovieUpserted"


class PublishFailed(BusUnavailable):
    """The bus did not acknowledge every event; nothing may be assumed delivered."""


class InvalidEvent(ValueError):
    """A message that is not a valid movie event (it goes to the dead-letter topic)."""


@dataclass(frozen=True, slots=True)
class MovieUpserted:
    movie: Movie
    occurred_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))

    @property
    def key(self) -> bytes:
        return str(self.movie.id).encode()

    def to_bytes(self) -> bytes:
        return json.dumps(
            {
                "schema_version": SCHEMA_VERSION,
                "type": EVENT_TYPE,
                "occurred_at": self.occurred_at.isoformat(),
                "movie": movie_to_document(self.movie),
            },
            separators=(",", ":"),
        ).encode()

    @classmethod
    def from_bytes(cls, value: bytes | None) -> MovieUpserted:
        if value is None:
            raise InvalidEvent("empty message")
        try:
            payload: Any = json.loads(value)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InvalidEvent(f"not JSON: {exc}") from None
        if not isinstance(payload, dict):
            raise InvalidEvent("not a JSON object")
        if payload.get("schema_version") != SCHEMA_VERSION:
            raise InvalidEvent(f"unsupported schema_version {payload.get('schema_version')!r}")
        if payload.get("type") != EVENT_TYPE:
            raise InvalidEvent(f"unknown event type {payload.get('type')!r}")
        document = payload.get("movie")
        if not isinstance(document, dict):
            raise InvalidEvent("missing movie object")
        try:
            movie = movie_from_document(document)
            occurred_at = dt.datetime.fromisoformat(payload["occurred_at"])
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidEvent(f"invalid movie: {exc!r}") from None
        return cls(movie=movie, occurred_at=occurred_at)


@dataclass(frozen=True, slots=True)
class EventMessage:
    """One message as a consumer received it; ``position`` is adapter-specific (partition, offset)."""

    key: bytes | None
    value: bytes | None
    position: tuple[int, int]
    topic: str = ""
    reason: str | None = None  # set on dead letters: why the message was rejected


class MovieEventPublisher(Protocol):
    def publish(self, events: Sequence[MovieUpserted]) -> None: ...

    def publish_dead_letter(self, message: EventMessage, reason: str) -> None: ...

    def close(self) -> None: ...


class MovieEventConsumer(Protocol):
    def poll(self, max_messages: int, timeout: float) -> list[EventMessage]: ...

    def commit(self, messages: Sequence[EventMessage]) -> None:
        """Mark every message up to these (per partition) as processed for the group."""
        ...

    def lag(self) -> dict[int, int]:
        """Messages not yet received, per partition this consumer holds: the high watermark minus its position."""
        ...

    def close(self) -> None: ...


class MovieEvents(Protocol):
    """Factory of publishers and consumers on one bus."""

    name: str
    topic: str
    dlq_topic: str

    def publisher(self) -> MovieEventPublisher: ...

    def consumer(self, group: str, topic: str | None = None) -> MovieEventConsumer: ...

    def ping(self) -> None: ...

    def close(self) -> None: ...
