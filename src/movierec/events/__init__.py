"""The movie event bus port, its adapters (embedded durable log, Kafka) and the search indexer."""

from movierec.events.port import (
    EventMessage,
    InvalidEvent,
    MovieEventConsumer,
    MovieEventPublisher,
    MovieEvents,
    MovieUpserted,
    PublishFailed,
)

__all__ = [
    "EventMessage",
    "InvalidEvent",
    "MovieEventConsumer",
    "MovieEventPublisher",
    "MovieEvents",
    "MovieUpserted",
    "PublishFailed",
]
