"""One Settings object read from the environment. Nothing else in the package reads ``os.environ``.

Unset service URLs mean embedded: SQLite in the data dir, an in-process cache, the embedded search engine and the
durable embedded event log. With any real service configured, signing a token needs ``SECRET_KEY``, which must not be
a placeholder (checked by ``Settings.signing_key``, when the API's accounts are built).

Each setting is read from ``MOVIEREC_<FIELD>`` (``MOVIEREC_DATA_DIR``, ``MOVIEREC_LOG_LEVEL``, ...), except the
standard names that deployments use, which keep their names: ``DATABASE_URL``, ``REDIS_URL``, ``ELASTICSEARCH_URL``,
``KAFKA_BOOTSTRAP_SERVERS``, ``TMDB_API_KEY``, ``SECRET_KEY`` and ``PROMETHEUS_MULTIPROC_DIR``.
"""

from __future__ import annotations

import os
import secrets
from functools import cached_property
from pathlib import Path

import platformdirs
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from movierec.files import private_file

PLACEHOLDER_SECRETS = frozenset(
    {"", "dev", "secret", "changeme", "change-me", "changethis", "please-change-me", "secret_key", "your-secret-key"}
)
MIN_SECRET_LENGTH = 16


class ConfigurationError(RuntimeError):
    """The configuration cannot work; the message says what to change."""


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("movierec", appauthor=False))


class Settings(BaseSettings):
    # MOVIEREC_<FIELD> in the environment; the standard names are their fields' aliases. Code and tests pass field
    # names (populate_by_name).
    model_config = SettingsConfigDict(env_prefix="MOVIEREC_", extra="ignore", frozen=True, populate_by_name=True)

    database_url: str | None = Field(default=None, validation_alias="DATABASE_URL")
    redis_url: str | None = Field(default=None, validation_alias="REDIS_URL")
    elasticsearch_url: str | None = Field(default=None, validation_alias="ELASTICSEARCH_URL")
    kafka_bootstrap_servers: str | None = Field(default=None, validation_alias="KAFKA_BOOTSTRAP_SERVERS")
    tmdb_api_key: SecretStr | None = Field(default=None, validation_alias="TMDB_API_KEY")
    secret_key: SecretStr | None = Field(default=None, validation_alias="SECRET_KEY")
    data_dir: Path = Field(default_factory=default_data_dir)
    demo_ratings: bool = True
    api_url: str = "http://127.0.0.1:8000"
    log_level: str = "INFO"
    log_json: bool = False

    token_ttl_seconds: int = Field(default=3600, ge=60, le=7 * 24 * 3600)
    # argon2id cost: by default OWASP's Password Storage Cheat Sheet minimum (19 MiB, 2 passes, 1 lane; ~25 ms of CPU
    # a hash); lower only for tests. A stored hash of another cost (e.g. the RFC 9106 second profile, t=3, 64 MiB, p=4,
    # the default before) still verifies, and is rehashed at this cost on its next login.
    argon2_time_cost: int = Field(default=2, ge=1, le=10)
    argon2_memory_kib: int = Field(default=19456, ge=1024, le=1 << 20)
    argon2_parallelism: int = Field(default=1, ge=1, le=16)
    login_attempts_per_minute: int = Field(default=10, ge=1, le=1000)
    login_address_attempts_per_minute: int = Field(default=30, ge=1, le=10_000)
    registrations_per_hour: int = Field(default=20, ge=1, le=100_000)
    # Password hashes computed at once per process, requests allowed to wait for one, and how long they wait.
    password_hash_slots: int = Field(default=1, ge=1, le=64)
    password_hash_queue: int = Field(default=4, ge=0, le=256)
    password_hash_wait_seconds: float = Field(default=5.0, gt=0, le=60)
    # Reverse proxies in front of the API whose X-Forwarded-For is trusted (1 behind Nginx, 0 when exposed directly)
    trusted_proxies: int = Field(default=0, ge=0, le=5)
    recommendation_cache_seconds: int = Field(default=300, ge=1, le=3600)
    # Redis only: how long a process may answer from its own copy of a cache entry while Redis has announced no change
    # to it (client-side caching, cache/redis.py); 0 sends every lookup to Redis.
    cache_near_seconds: float = Field(default=10.0, ge=0, le=300)
    kafka_topic: str = "movies"
    kafka_dlq_topic: str = "movies.dlq"
    kafka_group: str = "movie-indexer"
    search_index: str = "movies"
    # Timeouts (seconds) for every external call.
    db_timeout: float = 5.0
    cache_timeout: float = 0.25
    search_timeout: float = 5.0
    kafka_timeout: float = 10.0
    # Prometheus metrics. PROMETHEUS_MULTIPROC_DIR (read by prometheus-client itself when it is imported, so it must
    # be in the environment): gunicorn's workers write their metrics there and a scrape sums them. The indexer's and
    # the trainer's /metrics ports are off unless set (in `movierec up` the API's /metrics shows theirs).
    prometheus_multiproc_dir: Path | None = Field(default=None, validation_alias="PROMETHEUS_MULTIPROC_DIR")
    metrics_host: str = "127.0.0.1"
    indexer_metrics_port: int | None = Field(default=None, ge=1, le=65535)
    trainer_metrics_port: int | None = Field(default=None, ge=1, le=65535)

    @field_validator(
        "database_url",
        "redis_url",
        "elasticsearch_url",
        "kafka_bootstrap_servers",
        "prometheus_multiproc_dir",
        "indexer_metrics_port",
        "trainer_metrics_port",
        mode="before",
    )
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator("data_dir", mode="after")
    @classmethod
    def _expand(cls, value: Path) -> Path:
        return value.expanduser()

    @property
    def embedded(self) -> bool:
        """True when no real service is configured: everything runs in-process on files in the data dir."""
        return not any((self.database_url, self.redis_url, self.elasticsearch_url, self.kafka_bootstrap_servers))

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'movierec.sqlite3'}"

    @property
    def search_path(self) -> Path:
        return self.data_dir / "search"

    @property
    def events_path(self) -> Path:
        return self.data_dir / "events.sqlite3"

    @property
    def models_dir(self) -> Path:
        return self.data_dir / "models"

    @cached_property
    def signing_key(self) -> str:
        """The key that signs access tokens. With a real service configured it is ``SECRET_KEY``, which must not be
        a placeholder (ConfigurationError otherwise); in embedded mode, without one, it is generated once and kept in
        the data dir. Only what signs or checks tokens asks for it, so the healthcheck and the UI need no secret."""
        secret = self.secret_key.get_secret_value() if self.secret_key is not None else ""
        if not self.embedded:
            if secret.strip().lower() in PLACEHOLDER_SECRETS or len(secret) < MIN_SECRET_LENGTH:
                raise ConfigurationError(
                    "SECRET_KEY must be set to a random value of at least 16 characters when real services are "
                    "configured (DATABASE_URL, REDIS_URL, ELASTICSEARCH_URL or KAFKA_BOOTSTRAP_SERVERS); "
                    "generate one with: python -c 'import secrets; print(secrets.token_urlsafe(32))'"
                )
            return secret
        if secret:
            return secret
        path = self.data_dir / "secret_key"
        if not path.exists():
            candidate = private_file(self.data_dir / f".secret_key.{secrets.token_hex(8)}")
            candidate.write_text(secrets.token_urlsafe(48))  # created 0600 before any byte is written
            try:
                os.link(candidate, path)  # atomic, and never replaces a key another process made first
            except FileExistsError:
                pass
            finally:
                candidate.unlink(missing_ok=True)
        return path.read_text().strip()


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment, with explicit overrides (used by tests and the CLI)."""
    return Settings(**overrides)  # type: ignore[arg-type]
