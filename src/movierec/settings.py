"""One Settings object read from the environment. Nothing else in the package reads ``os.environ``.

Unset service URLs mean embedded: SQLite in the data dir, an in-process cache, the embedded search engine and the
durable embedded event log. With any real service configured, ``SECRET_KEY`` is required and must not be a
placeholder.
"""

from __future__ import annotations

import os
import secrets
from functools import cached_property
from pathlib import Path

import platformdirs
from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
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
    model_config = SettingsConfigDict(env_prefix="", extra="ignore", frozen=True, populate_by_name=True)

    database_url: str | None = Field(default=None, validation_alias=AliasChoices("DATABASE_URL", "database_url"))
    redis_url: str | None = Field(default=None, validation_alias=AliasChoices("REDIS_URL", "redis_url"))
    elasticsearch_url: str | None = Field(
        default=None, validation_alias=AliasChoices("ELASTICSEARCH_URL", "elasticsearch_url")
    )
    kafka_bootstrap_servers: str | None = Field(
        default=None, validation_alias=AliasChoices("KAFKA_BOOTSTRAP_SERVERS", "kafka_bootstrap_servers")
    )
    tmdb_api_key: SecretStr | None = Field(default=None, validation_alias=AliasChoices("TMDB_API_KEY", "tmdb_api_key"))
    secret_key: SecretStr | None = Field(default=None, validation_alias=AliasChoices("SECRET_KEY", "secret_key"))
    data_dir: Path = Field(
        default_factory=default_data_dir, validation_alias=AliasChoices("MOVIEREC_DATA_DIR", "data_dir")
    )
    demo_ratings: bool = Field(default=True, validation_alias=AliasChoices("MOVIEREC_DEMO_RATINGS", "demo_ratings"))
    api_url: str = Field(default="http://127.0.0.1:8000", validation_alias=AliasChoices("MOVIEREC_API_URL", "api_url"))
    log_level: str = Field(default="INFO", validation_alias=AliasChoices("MOVIEREC_LOG_LEVEL", "log_level"))
    log_json: bool = Field(default=False, validation_alias=AliasChoices("MOVIEREC_LOG_JSON", "log_json"))

    token_ttl_seconds: int = Field(
        validation_alias=AliasChoices("MOVIEREC_TOKEN_TTL_SECONDS", "token_ttl_seconds"),
        default=3600,
        ge=60,
        le=7 * 24 * 3600,
    )
    # argon2id cost (RFC 9106 low-memory profile by default); lower only for tests
    argon2_time_cost: int = Field(
        validation_alias=AliasChoices("MOVIEREC_ARGON2_TIME_COST", "argon2_time_cost"), default=3, ge=1, le=10
    )
    argon2_memory_kib: int = Field(
        validation_alias=AliasChoices("MOVIEREC_ARGON2_MEMORY_KIB", "argon2_memory_kib"),
        default=65536,
        ge=1024,
        le=1 << 20,
    )
    argon2_parallelism: int = Field(
        validation_alias=AliasChoices("MOVIEREC_ARGON2_PARALLELISM", "argon2_parallelism"), default=4, ge=1, le=16
    )
    login_attempts_per_minute: int = Field(
        default=10,
        ge=1,
        le=1000,
        validation_alias=AliasChoices("MOVIEREC_LOGIN_ATTEMPTS_PER_MINUTE", "login_attempts_per_minute"),
    )
    login_address_attempts_per_minute: int = Field(
        default=30,
        ge=1,
        le=10_000,
        validation_alias=AliasChoices(
            "MOVIEREC_LOGIN_ADDRESS_ATTEMPTS_PER_MINUTE", "login_address_attempts_per_minute"
        ),
    )
    registrations_per_hour: int = Field(
        default=20,
        ge=1,
        le=100_000,
        validation_alias=AliasChoices("MOVIEREC_REGISTRATIONS_PER_HOUR", "registrations_per_hour"),
    )
    # Password hashes computed at once per process, requests allowed to wait for one, and how long they wait.
    password_hash_slots: int = Field(
        default=1, ge=1, le=64, validation_alias=AliasChoices("MOVIEREC_PASSWORD_HASH_SLOTS", "password_hash_slots")
    )
    password_hash_queue: int = Field(
        default=4, ge=0, le=256, validation_alias=AliasChoices("MOVIEREC_PASSWORD_HASH_QUEUE", "password_hash_queue")
    )
    password_hash_wait_seconds: float = Field(
        default=5.0,
        gt=0,
        le=60,
        validation_alias=AliasChoices("MOVIEREC_PASSWORD_HASH_WAIT_SECONDS", "password_hash_wait_seconds"),
    )
    # Reverse proxies in front of the API whose X-Forwarded-For is trusted (1 behind Nginx, 0 when exposed directly)
    trusted_proxies: int = Field(
        default=0, ge=0, le=5, validation_alias=AliasChoices("MOVIEREC_TRUSTED_PROXIES", "trusted_proxies")
    )
    recommendation_cache_seconds: int = Field(
        validation_alias=AliasChoices("MOVIEREC_RECOMMENDATION_CACHE_SECONDS", "recommendation_cache_seconds"),
        default=300,
        ge=1,
        le=3600,
    )
    kafka_topic: str = Field(default="movies", validation_alias=AliasChoices("MOVIEREC_KAFKA_TOPIC", "kafka_topic"))
    kafka_dlq_topic: str = Field(
        default="movies.dlq", validation_alias=AliasChoices("MOVIEREC_KAFKA_DLQ_TOPIC", "kafka_dlq_topic")
    )
    kafka_group: str = Field(
        default="movie-indexer", validation_alias=AliasChoices("MOVIEREC_KAFKA_GROUP", "kafka_group")
    )
    search_index: str = Field(default="movies", validation_alias=AliasChoices("MOVIEREC_SEARCH_INDEX", "search_index"))
    # Timeouts (seconds) for every external call.
    db_timeout: float = Field(default=5.0, validation_alias=AliasChoices("MOVIEREC_DB_TIMEOUT", "db_timeout"))
    cache_timeout: float = Field(default=0.25, validation_alias=AliasChoices("MOVIEREC_CACHE_TIMEOUT", "cache_timeout"))
    search_timeout: float = Field(
        default=5.0, validation_alias=AliasChoices("MOVIEREC_SEARCH_TIMEOUT", "search_timeout")
    )
    kafka_timeout: float = Field(default=10.0, validation_alias=AliasChoices("MOVIEREC_KAFKA_TIMEOUT", "kafka_timeout"))
    # Prometheus metrics. PROMETHEUS_MULTIPROC_DIR (read by prometheus-client itself when it is imported, so it must
    # be in the environment): gunicorn's workers write their metrics there and a scrape sums them. The indexer's and
    # the trainer's /metrics ports are off unless set (in `movierec up` the API's /metrics shows theirs).
    prometheus_multiproc_dir: Path | None = Field(
        default=None, validation_alias=AliasChoices("PROMETHEUS_MULTIPROC_DIR", "prometheus_multiproc_dir")
    )
    metrics_host: str = Field(
        default="127.0.0.1", validation_alias=AliasChoices("MOVIEREC_METRICS_HOST", "metrics_host")
    )
    indexer_metrics_port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        validation_alias=AliasChoices("MOVIEREC_INDEXER_METRICS_PORT", "indexer_metrics_port"),
    )
    trainer_metrics_port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        validation_alias=AliasChoices("MOVIEREC_TRAINER_METRICS_PORT", "trainer_metrics_port"),
    )
    # Catalogue and history page caps.
    max_page_size: int = Field(default=100, validation_alias=AliasChoices("MOVIEREC_MAX_PAGE_SIZE", "max_page_size"))

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

    @model_validator(mode="after")
    def _secret_required_outside_embedded(self) -> Settings:
        if self.embedded:
            return self
        secret = self.secret_key.get_secret_value() if self.secret_key else ""
        if secret.strip().lower() in PLACEHOLDER_SECRETS or len(secret) < MIN_SECRET_LENGTH:
            raise ConfigurationError(
                "SECRET_KEY must be set to a random value of at least 16 characters when real services are "
                "configured (DATABASE_URL, REDIS_URL, ELASTICSEARCH_URL or KAFKA_BOOTSTRAP_SERVERS); "
                "generate one with: python -c 'import secrets; print(secrets.token_urlsafe(32))'"
            )
        return self

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
        """The key that signs access tokens; in embedded mode generated once and kept in the data dir."""
        if self.secret_key is not None and self.secret_key.get_secret_value():
            return self.secret_key.get_secret_value()
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
