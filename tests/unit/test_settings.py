from __future__ import annotations

from pathlib import Path

import pytest

from movierec.settings import ConfigurationError, load_settings


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
    with pytest.raises(ConfigurationError, match="SECRET_KEY"):
        load_settings(**overrides)


def test_blank_urls_mean_embedded(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path, database_url="  ", redis_url="")
    assert settings.embedded
