"""The composition root: the one place that chooses adapters, from the URLs in Settings."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from argon2 import PasswordHasher
from limits.storage import Storage, storage_from_string
from sqlalchemy.engine import make_url

from movierec.cache.guarded import GuardedCache
from movierec.cache.memory import InProcessCache
from movierec.cache.port import Cache
from movierec.events.indexer import MovieIndexer
from movierec.events.port import MovieEvents
from movierec.files import private_dir, warn_if_open
from movierec.log import get_logger
from movierec.search.port import MovieIndex
from movierec.services.accounts import AccountService
from movierec.services.catalogue import CatalogueService
from movierec.services.models import ModelRegistry
from movierec.services.passwords import PasswordHashing
from movierec.services.publishing import OutboxRelay
from movierec.services.ratings import RatingService
from movierec.services.recommendations import RecommendationService
from movierec.services.search import SearchService
from movierec.services.steering import SteeringService
from movierec.services.throttle import LoginThrottle, RegistrationThrottle, Throttle
from movierec.settings import Settings
from movierec.store import migrate
from movierec.store.database import create_db_engine, normalise_url
from movierec.store.port import Store
from movierec.store.uow import SqlStore

log = get_logger(__name__)
# How long a command that migrates first (every CLI command) waits for the database to answer.
DATABASE_WAIT_SECONDS = 30.0


def build_store(settings: Settings) -> SqlStore:
    # Every command opens the store first: the data dir is made private here, or reported when it is not.
    if not warn_if_open(settings.data_dir):
        private_dir(settings.data_dir)
    return SqlStore(create_db_engine(settings.effective_database_url, timeout=settings.db_timeout))


def build_throttle(settings: Settings) -> Throttle:
    """Counters for login and registration throttling: Redis when configured (shared by every backend), else memory."""
    storage: Storage
    if settings.redis_url:
        storage = storage_from_string(  # type: ignore[assignment]  # a sync URL gives a sync storage
            settings.redis_url,
            wrap_exceptions=True,
            socket_timeout=settings.cache_timeout,
            socket_connect_timeout=settings.cache_timeout,
            key_prefix="throttle",
        )
    else:
        storage = storage_from_string("memory://", wrap_exceptions=True)  # type: ignore[assignment]
    return Throttle(storage)


def build_accounts(settings: Settings, store: Store, throttle: Throttle, cache: GuardedCache) -> AccountService:
    hasher = PasswordHasher(
        time_cost=settings.argon2_time_cost,
        memory_cost=settings.argon2_memory_kib,
        parallelism=settings.argon2_parallelism,
    )
    return AccountService(
        store,
        settings.signing_key,
        settings.token_ttl_seconds,
        PasswordHashing(
            hasher,
            slots=settings.password_hash_slots,
            queue=settings.password_hash_queue,
            wait_seconds=settings.password_hash_wait_seconds,
        ),
        LoginThrottle(throttle, settings.login_attempts_per_minute, settings.login_address_attempts_per_minute),
        RegistrationThrottle(throttle, settings.registrations_per_hour),
        cache,
    )


def migrate_store(store: SqlStore) -> None:
    """Wait (bounded) for the database to answer, then bring its schema to the newest revision."""
    store.wait_until_reachable(timeout=DATABASE_WAIT_SECONDS)
    migrate.upgrade(store.engine)


def cache_namespace(settings: Settings) -> str:
    """A key prefix naming the database the cached entries were computed from: a Redis shared by two databases
    (a test run, a staging copy, a recreated database) never serves one's entries to the other's users."""
    url = make_url(normalise_url(settings.effective_database_url)).render_as_string(hide_password=True)
    return f"movierec:{hashlib.sha256(url.encode()).hexdigest()[:12]}:"


def build_cache(settings: Settings) -> Cache:
    if settings.redis_url:
        from movierec.cache.redis import RedisCache

        return RedisCache(
            settings.redis_url,
            timeout=settings.cache_timeout,
            key_prefix=cache_namespace(settings),
            near_seconds=settings.cache_near_seconds,
        )
    return InProcessCache()


def build_index(settings: Settings) -> MovieIndex:
    if settings.elasticsearch_url:
        from movierec.search.elastic import ElasticMovieIndex

        return ElasticMovieIndex(
            settings.elasticsearch_url, alias=settings.search_index, timeout=settings.search_timeout
        )
    from movierec.search.embedded import EmbeddedMovieIndex

    _remove_legacy_search_file(settings)
    return EmbeddedMovieIndex(settings.search_path, timeout=settings.search_timeout)


LEGACY_SEARCH_FILES = ("search.sqlite3", "search.sqlite3-wal", "search.sqlite3-shm")


def _remove_legacy_search_file(settings: Settings) -> None:
    """The earlier embedded engine's SQLite file: unused now (``movierec up`` rebuilds the index from the database)."""
    for name in LEGACY_SEARCH_FILES:
        legacy = settings.data_dir / name
        if legacy.is_file():
            legacy.unlink(missing_ok=True)
            log.info("search.legacy_index_removed", path=str(legacy))


def build_events(settings: Settings) -> MovieEvents:
    if settings.kafka_bootstrap_servers:
        from movierec.events.kafka import KafkaMovieEvents

        return KafkaMovieEvents(
            settings.kafka_bootstrap_servers,
            topic=settings.kafka_topic,
            dlq_topic=settings.kafka_dlq_topic,
            timeout=settings.kafka_timeout,
        )
    from movierec.events.embedded import EmbeddedMovieEvents

    return EmbeddedMovieEvents(
        settings.events_path,
        topic=settings.kafka_topic,
        dlq_topic=settings.kafka_dlq_topic,
        timeout=settings.db_timeout,
    )


@dataclass
class Container:
    settings: Settings
    store: Store
    cache: Cache
    index: MovieIndex
    events: MovieEvents
    throttle: Throttle
    relay: OutboxRelay
    accounts: AccountService
    catalogue: CatalogueService
    ratings: RatingService
    recommendations: RecommendationService
    search: SearchService
    models: ModelRegistry
    steering: SteeringService
    _closers: list[Any] = field(default_factory=list)

    def indexer(self, **options: Any) -> MovieIndexer:
        options.setdefault("on_indexed", self.search.forget)  # this process's search pages are stale now
        return MovieIndexer(
            self.events.consumer(self.settings.kafka_group), self.events.publisher(), self.index, **options
        )

    def health(self) -> tuple[str, dict[str, dict[str, str]]]:
        """Overall status (``ok``, ``degraded`` or ``down``) and one check per dependency."""
        checks: dict[str, dict[str, str]] = {}
        for name, adapter, ping in (
            ("database", self.store.dialect, self.store.ping),
            ("cache", self.cache.name, self.cache.ping),
            ("search", self.index.name, self.index.ping),
            ("events", self.events.name, self.events.ping),
        ):
            try:
                ping()
                checks[name] = {"status": "ok", "adapter": adapter}
            except Exception as exc:  # a boundary: a health check reports any failure of a dependency as down
                checks[name] = {"status": "down", "adapter": adapter, "detail": type(exc).__name__}
        if checks["database"]["status"] != "ok":
            return "down", checks
        if any(check["status"] != "ok" for check in checks.values()):
            return "degraded", checks
        return "ok", checks

    def close(self) -> None:
        for closer in (self.relay.publisher.close, self.events.close, self.index.close, self.cache.close):
            try:
                closer()
            except Exception as exc:  # closing is best effort; report and carry on closing the rest
                log.warning("close.failed", what=getattr(closer, "__qualname__", "?"), error=repr(exc))
        self.store.dispose()


def build_container(
    settings: Settings,
    *,
    run_migrations: bool = False,
    store: Store | None = None,
    cache: Cache | None = None,
    index: MovieIndex | None = None,
    events: MovieEvents | None = None,
    throttle: Throttle | None = None,
) -> Container:
    """Every adapter named by ``settings``, and the services over them. An adapter given here is used instead of
    the one ``settings`` names (tests, tools): the container owns it from then on and closes it in ``close()``.
    ``run_migrations`` migrates a SQL store built here or given."""
    if store is None:
        store = build_store(settings)
    if run_migrations and isinstance(store, SqlStore):
        migrate_store(store)
    cache = build_cache(settings) if cache is None else cache
    guarded = GuardedCache(cache)  # one for every service: a drop that failed is retried before any lookup of its key
    index = build_index(settings) if index is None else index
    events = build_events(settings) if events is None else events
    throttle = build_throttle(settings) if throttle is None else throttle
    relay = OutboxRelay(store, events.publisher())
    catalogue = CatalogueService(store, relay)
    models = ModelRegistry(store, settings.models_dir)
    ratings = RatingService(store, guarded, catalogue)
    return Container(
        settings=settings,
        store=store,
        cache=cache,
        index=index,
        events=events,
        throttle=throttle,
        relay=relay,
        accounts=build_accounts(settings, store, throttle, guarded),
        catalogue=catalogue,
        ratings=ratings,
        recommendations=RecommendationService(store, guarded, models, settings.recommendation_cache_seconds, catalogue),
        search=SearchService(index, guarded),
        models=models,
        steering=SteeringService(store, ratings),
    )
