"""movierec: a movie recommender that runs embedded on a laptop or on PostgreSQL, Redis, Kafka and Elasticsearch."""

from __future__ import annotations

__version__ = "0.1.0"
