"""The original app's high-level flow through the real parts: PostgreSQL, Kafka, the indexer, Elasticsearch, Redis.

seed (TMDB seeder against a local fake TMDB) -> PostgreSQL -> Kafka `movies` -> `movierec indexer` (a separate
process) -> Elasticsearch -> GET /search; POST /rate -> PostgreSQL; GET /recommendations -> Redis with a TTL.
"""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
import redis
from confluent_kafka import Producer
from sqlalchemy import text

from movierec.api import create_app
from movierec.domain.movies import MovieDraft
from movierec.events.kafka import KafkaMovieEvents
from movierec.ingest.seeder import TmdbSeeder
from movierec.ingest.tmdb import TmdbClient
from movierec.services.recommendations import recommendations_key
from movierec.wiring import Container, cache_namespace
from tests.conftest import Auth, Indexer, wait_until
from tests.fakes.tmdb_server import DEFAULT_API_KEY, FakeTmdb

pytestmark = pytest.mark.slow


def test_seed_index_search_rate_recommend_through_the_real_services(
    stack: Container, indexer: Indexer, tmp_path: Path
) -> None:
    assert (stack.store.dialect, stack.cache.name, stack.index.name, stack.events.name) == (
        "postgresql",
        "redis",
        "elasticsearch",
        "kafka",
    )

    # 1. Seed 500 movies from (a local fake of) TMDB: PostgreSQL, then Kafka.
    with FakeTmdb(pages=25) as fake, TmdbClient(DEFAULT_API_KEY, base_url=fake.url, timeout=5.0) as client:
        report = TmdbSeeder(client, stack.catalogue, tmp_path / "tmdb-state.json").run(pages=25)
    assert report.error is None and report.new == 500
    with stack.store.engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM movies WHERE tmdb_id IS NOT NULL")).scalar() == 500
    assert stack.relay.pending() == 0  # every movie was acknowledged by Kafka

    # 2. The indexer (another process) streams them into Elasticsearch.
    wait_until(lambda: stack.index.count() == 500, 120, "500 movies in Elasticsearch")
    with stack.store.uow() as uow:
        assert stack.index.ids() == set(uow.movies.all_ids())

    app = create_app(container=stack)
    client = app.test_client()
    some_title = stack.catalogue.latest(1)[0].title
    found = client.get("/search", query_string={"q": some_title}).get_json()
    assert found["items"][0]["title"] == some_title

    # 3. A rating lands in PostgreSQL.
    user_id, headers = Auth(client).user()
    movie_id = found["items"][0]["id"]
    assert client.post("/rate", json={"movie_id": movie_id, "rating": 9}, headers=headers).status_code == 200
    with stack.store.engine.connect() as connection:
        stored = connection.execute(
            text("SELECT rating FROM ratings WHERE user_id = :u AND movie_id = :m"), {"u": user_id, "m": movie_id}
        ).scalar()
    assert stored == 9

    # 4. Recommendations are cached in Redis for at most 5 minutes; the user's next rating drops them.
    raw = redis.Redis.from_url(str(stack.settings.redis_url), socket_timeout=5)
    key = cache_namespace(stack.settings) + recommendations_key(user_id)  # the database's namespace, then the user
    first = client.get(f"/recommendations/{user_id}", headers=headers).get_json()
    assert first["cached"] is False and first["items"]
    assert 0 < raw.ttl(key) <= 300
    assert client.get(f"/recommendations/{user_id}", headers=headers).get_json()["cached"] is True
    other = first["items"][0]["id"]
    assert client.post("/rate", json={"movie_id": other, "rating": 7}, headers=headers).status_code == 200
    assert raw.exists(key) == 0
    assert client.get(f"/recommendations/{user_id}", headers=headers).get_json()["cached"] is False
    raw.close()

    # 5. A poison message on `movies` goes to `movies.dlq` with its reason; the indexer goes on.
    events = stack.events
    assert isinstance(events, KafkaMovieEvents)
    producer = Producer({"bootstrap.servers": stack.settings.kafka_bootstrap_servers})
    producer.produce(stack.settings.kafka_topic, key=b"poison", value=b'{"schema_version": 99}')
    producer.flush(10)
    stack.catalogue.upsert([MovieDraft("test:after-poison", "Arrived After The Poison", 2020)])
    wait_until(lambda: stack.index.count() == 501, 60, "the movie after the poison message")
    dlq = events.consumer("dlq-check", topic=stack.settings.kafka_dlq_topic)
    dead: list = []
    wait_until(lambda: dead.extend(dlq.poll(10, 0.5)) or dead, 30, "the dead letter")
    dlq.close()
    assert dead[0].value == b'{"schema_version": 99}' and "schema_version" in (dead[0].reason or "")

    # 6. SIGTERM: the indexer finishes its batch, commits and exits cleanly.
    assert indexer.signal(signal.SIGTERM) == 0
    log_text = indexer.log()
    assert "indexer.stopped" in log_text and "Traceback" not in log_text
