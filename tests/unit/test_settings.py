from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import SecretStr

from movierec.settings import ConfigurationError, Settings, load_settings


def test_embedded_by_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DATABASE_URL", "REDIS_URL", "ELASTICSEARCH_URL", "KAFKA_BOOTSTRAP_SERVERS", "SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MOVIEREC_DATA_DIR", str(tmp_path))
    settings = load_settings()
    assert settings.embedded
    assert settings.data_dir == tmp_path
    assert settings.effective_database_url == f"sqlite:///{tmp_path / 'movierec.sqlite3'}"


def test_embedded_secret_is_generated_once_and_kept(tmp_path: Path) -> None:
    first = load_settings(data_dir=tmp_path).signing_key
    second = load_settings(data_dir=tmp_path).signing_key
    assert first == second
    assert len(first) >= 32
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600
    assert load_settings(data_dir=tmp_path / "other").signing_key != first


def test_environment_names(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:p@db/movierec")
    monkeypatch.setenv("REDIS_URL", "redis://cache:6379/0")
    monkeypatch.setenv("ELASTICSEARCH_URL", "http://search:9200")
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "kafka:9092")
    monkeypatch.setenv("SECRET_KEY", "k" * 40)
    monkeypatch.setenv("TMDB_API_KEY", "abc")
    monkeypatch.setenv("MOVIEREC_DATA_DIR", str(tmp_path))
    settings = load_settings()
    assert not settings.embedded
    assert settings.redis_url == "redis://cache:6379/0"
    assert settings.tmdb_api_key is not None and settings.tmdb_api_key.get_secret_value() == "abc"
    assert settings.signing_key == "k" * 40
    assert "abc" not in repr(settings) and "k" * 40 not in repr(settings)


@pytest.mark.parametrize("secret", [None, "", "dev", "changeme", "secret", "short"])
def test_real_services_need_a_real_secret(secret: str | None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SECRET_KEY", raising=False)
    overrides: dict[str, object] = {"redis_url": "redis://127.0.0.1:6379/0"}
    if secret is not None:
        overrides["secret_key"] = secret
    settings = load_settings(**overrides)  # reading the settings needs no secret (the healthcheck, the UI)...
    with pytest.raises(ConfigurationError, match="SECRET_KEY"):
        _ = settings.signing_key  # ...signing a token does


def test_blank_urls_mean_embedded(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path, database_url="  ", redis_url="")
    assert settings.embedded


# ---------------------------------------------------------------------------------------------- documented names

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTED_IN = ["README.md", "CONTRIBUTING.md", ".env.example", "docker-compose.yml", "docker-compose.standins.yml"]
DOCUMENTED_IN_DIRS = ["docs", "scripts", "deploy"]
NAME = re.compile(
    r"\b(MOVIEREC_[A-Z0-9_]+|DATABASE_URL|REDIS_URL|ELASTICSEARCH_URL|KAFKA_BOOTSTRAP_SERVERS|SECRET_KEY|TMDB_API_KEY"
    r"|PROMETHEUS_MULTIPROC_DIR)\b"
)
# Variables the docs name that are not the application's settings: read by compose, the scripts or the tests.
NOT_SETTINGS = {
    "MOVIEREC_BIND",  # compose: the host address of the published ports
    "MOVIEREC_API_PORT",
    "MOVIEREC_UI_PORT",
    "MOVIEREC_MONITORING_BIND",
    "MOVIEREC_PROMETHEUS_PORT",
    "MOVIEREC_GRAFANA_PORT",
    "MOVIEREC_INSTALL_ONLY",  # scripts/up
    "MOVIEREC_TEST_SERVICES",  # scripts/test and tests/conftest.py
    "MOVIEREC_TEST_COMPOSE",
    "MOVIEREC_SERVICES_HOME",  # scripts/services
    "MOVIEREC_SERVICES_TIMEOUT",
    "MOVIEREC_JAVA_HOME",
    "MOVIEREC_DEBIAN_MIRROR",
    "MOVIEREC_COMPOSE_CACHE",  # scripts/compose-test
    "MOVIEREC_COMPOSE_CMD",
    "MOVIEREC_COMPOSE_PYTHON",
    "MOVIEREC_COMPOSE_PROJECT",
    "MOVIEREC_COMPOSE_UP_TIMEOUT",
    "MOVIEREC_COMPOSE_BUILD_TIMEOUT",
}
# A value for each setting's variable that differs from its default, and the field it must reach.
SAMPLES = {
    "DATABASE_URL": "postgresql://u:p@db/movierec",
    "REDIS_URL": "redis://cache:6379/0",
    "ELASTICSEARCH_URL": "http://search:9200",
    "KAFKA_BOOTSTRAP_SERVERS": "kafka:9092",
    "SECRET_KEY": "k" * 40,
    "TMDB_API_KEY": "abc",
    "PROMETHEUS_MULTIPROC_DIR": "/tmp/metrics-dir",
    "MOVIEREC_DATA_DIR": "/tmp/movierec-data",
    "MOVIEREC_DEMO_RATINGS": "false",
    "MOVIEREC_API_URL": "http://api.example:8000",
    "MOVIEREC_LOG_LEVEL": "DEBUG",
    "MOVIEREC_LOG_JSON": "true",
    "MOVIEREC_METRICS_HOST": "0.0.0.0",
    "MOVIEREC_INDEXER_METRICS_PORT": "9100",
    "MOVIEREC_TRAINER_METRICS_PORT": "9101",
    "MOVIEREC_TRUSTED_PROXIES": "1",
    "MOVIEREC_REGISTRATIONS_PER_HOUR": "7",
    "MOVIEREC_PASSWORD_HASH_SLOTS": "2",
    "MOVIEREC_PASSWORD_HASH_QUEUE": "9",
    "MOVIEREC_LOGIN_ATTEMPTS_PER_MINUTE": "3",
    "MOVIEREC_LOGIN_ADDRESS_ATTEMPTS_PER_MINUTE": "4",
    "MOVIEREC_KAFKA_TOPIC": "movies-x",
    "MOVIEREC_KAFKA_DLQ_TOPIC": "movies-x.dlq",
    "MOVIEREC_KAFKA_GROUP": "group-x",
    "MOVIEREC_SEARCH_INDEX": "movies-x",
    "MOVIEREC_ARGON2_TIME_COST": "1",
    "MOVIEREC_ARGON2_MEMORY_KIB": "1024",
    "MOVIEREC_ARGON2_PARALLELISM": "2",
    "MOVIEREC_TOKEN_TTL_SECONDS": "600",
    "MOVIEREC_RECOMMENDATION_CACHE_SECONDS": "60",
    "MOVIEREC_PASSWORD_HASH_WAIT_SECONDS": "2.5",
    "MOVIEREC_DB_TIMEOUT": "2.5",
    "MOVIEREC_CACHE_TIMEOUT": "0.5",
    "MOVIEREC_CACHE_NEAR_SECONDS": "2.5",
    "MOVIEREC_SEARCH_TIMEOUT": "2.5",
    "MOVIEREC_KAFKA_TIMEOUT": "2.5",
}
FIELD_OF = {
    "DATABASE_URL": "database_url",
    "REDIS_URL": "redis_url",
    "ELASTICSEARCH_URL": "elasticsearch_url",
    "KAFKA_BOOTSTRAP_SERVERS": "kafka_bootstrap_servers",
    "SECRET_KEY": "secret_key",
    "TMDB_API_KEY": "tmdb_api_key",
    "PROMETHEUS_MULTIPROC_DIR": "prometheus_multiproc_dir",
}


def documented_names() -> set[str]:
    files = [ROOT / name for name in DOCUMENTED_IN] + [
        path for folder in DOCUMENTED_IN_DIRS for path in (ROOT / folder).rglob("*") if path.is_file()
    ]
    return {name for path in files if path.is_file() for name in NAME.findall(path.read_text(errors="replace"))}


def field_of(variable: str) -> str:
    return FIELD_OF.get(variable) or variable.removeprefix("MOVIEREC_").lower()


def test_every_documented_variable_is_a_setting_or_named_as_not_one() -> None:
    documented = documented_names()
    assert {"DATABASE_URL", "SECRET_KEY", "MOVIEREC_DATA_DIR"} <= documented  # the scan finds what it should
    unknown = documented - NOT_SETTINGS - set(SAMPLES)
    assert not unknown, f"documented but neither a setting with a sample here nor listed as not one: {unknown}"
    assert not {field_of(name) for name in NOT_SETTINGS} & set(Settings.model_fields)


@pytest.mark.parametrize("variable", sorted(SAMPLES))
def test_each_setting_variable_is_read(variable: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in SAMPLES:
        monkeypatch.delenv(name, raising=False)
    field = field_of(variable)
    assert field in Settings.model_fields
    before = getattr(load_settings(), field)
    monkeypatch.setenv(variable, SAMPLES[variable])
    after = getattr(load_settings(), field)
    assert after != before
    shown = after.get_secret_value() if isinstance(after, SecretStr) else after
    assert str(shown).lower() == SAMPLES[variable].lower() or float(str(shown)) == float(SAMPLES[variable])


def test_every_setting_has_a_variable_sampled_here() -> None:
    assert {field_of(name) for name in SAMPLES} == set(Settings.model_fields)
