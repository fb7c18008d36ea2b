"""`movierec stack` configuration and refusals: settings and secrets, the environments handed to children, and the
clear errors it gives before starting anything."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from movierec.cli import main
from movierec.probes import free_ports
from movierec.settings import ConfigurationError
from movierec_tools.stack import (
    DEFAULT_NGINX,
    StackError,
    StackOptions,
    child_environment,
    local_services,
    stack_settings,
    ui_environment,
)

SERVICE_VARIABLES = ("DATABASE_URL", "REDIS_URL", "ELASTICSEARCH_URL", "KAFKA_BOOTSTRAP_SERVERS")
GOOD_SECRET = "a-secret-from-the-environment-0123456789"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in (*SERVICE_VARIABLES, "SECRET_KEY", "TMDB_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MOVIEREC_DATA_DIR", str(tmp_path / "data"))


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_unset_services_are_the_local_ones_and_a_secret_is_generated_for_the_run() -> None:
    settings, generated = stack_settings(new_secret=lambda: "generated-for-this-run-0123456789")
    assert generated is True
    assert settings.secret_key is not None
    assert settings.secret_key.get_secret_value() == "generated-for-this-run-0123456789"
    for name, (_, url, _) in local_services().items():
        assert getattr(settings, name) == url


def test_the_environment_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECRET_KEY", GOOD_SECRET)
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6390/3")
    settings, generated = stack_settings()
    assert generated is False
    assert settings.secret_key is not None and settings.secret_key.get_secret_value() == GOOD_SECRET
    assert settings.redis_url == "redis://127.0.0.1:6390/3"
    assert settings.database_url == local_services()["database_url"][1]


@pytest.mark.parametrize("secret", ["change-me", "short"])
def test_a_bad_secret_in_the_environment_is_refused_not_replaced(monkeypatch: pytest.MonkeyPatch, secret: str) -> None:
    monkeypatch.setenv("SECRET_KEY", secret)
    with pytest.raises(ConfigurationError, match="SECRET_KEY"):
        stack_settings()


def test_every_backend_gets_the_same_settings_and_the_ui_only_the_api_url() -> None:
    settings, _ = stack_settings(new_secret=lambda: "generated-for-this-run-0123456789")
    base = {"PATH": "/usr/bin", "SECRET_KEY": "", "TMDB_API_KEY": "tmdb", "DATABASE_URL": "sqlite:///x"}
    env = child_environment(settings, base)
    assert env["SECRET_KEY"] == "generated-for-this-run-0123456789"
    assert env["DATABASE_URL"] == local_services()["database_url"][1]
    assert env["MOVIEREC_TRUSTED_PROXIES"] == "1" and env["PATH"] == "/usr/bin"
    assert env["MOVIEREC_KAFKA_GROUP"] == settings.kafka_group
    ui = ui_environment(env, "http://127.0.0.1:8080")
    assert ui["MOVIEREC_API_URL"] == "http://127.0.0.1:8080"
    assert not {"SECRET_KEY", "TMDB_API_KEY", *SERVICE_VARIABLES} & set(ui)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"nginx_port": 8001}, "must all differ"),
        ({"backend_ports": (8001, 8001)}, "must all differ"),
        ({"backend_ports": (8001,)}, "exactly two"),
        ({"ui_port": 70000}, "between 1 and 65535"),
        ({"seed": "everything"}, "--seed"),
    ],
)
def test_bad_options_are_refused(options: dict[str, object], message: str) -> None:
    with pytest.raises(StackError, match=message):
        StackOptions(**options)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--backend-ports", "8001"], "two ports separated by a comma"),
        (["--backend-ports", "a,b"], "two ports separated by a comma"),
        (["--backend-ports", "8001,8001"], "must all differ"),
        (["--seed", "everything"], "'everything' is not one of"),
    ],
)
def test_the_command_says_what_is_wrong_without_a_traceback(args: list[str], message: str) -> None:
    result = CliRunner().invoke(main, ["stack", *args])
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output and not isinstance(result.exception, (StackError, ValueError))


def nginx_installed() -> None:
    if not Path(DEFAULT_NGINX).exists():
        pytest.skip(f"Nginx is not installed at {DEFAULT_NGINX}: the stack stops at that check first")


def test_a_busy_port_is_named_before_anything_starts(busy_port: int, tmp_path: Path) -> None:
    nginx_installed()
    run_dir = tmp_path / "run"
    result = CliRunner().invoke(
        main, ["stack", "--nginx-port", str(busy_port), "--run-dir", str(run_dir), "--no-start-services", "--no-ui"]
    )
    assert result.exit_code == 1
    assert f"already in use on 127.0.0.1: Nginx port {busy_port}" in result.output
    assert not list(run_dir.glob("*.log"))  # nothing was started


def test_unreachable_services_are_named_with_what_to_do(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    nginx_installed()
    dead, nginx_port = free_ports(2)  # nothing listens on them
    monkeypatch.setenv("DATABASE_URL", f"postgresql://movierec:hunter2@127.0.0.1:{dead}/movierec")
    monkeypatch.setenv("SECRET_KEY", GOOD_SECRET)
    result = CliRunner().invoke(
        main,
        [
            "stack",
            "--nginx-port",
            str(nginx_port),
            "--run-dir",
            str(tmp_path / "run"),
            "--no-start-services",
            "--no-ui",
        ],
    )
    assert result.exit_code == 1
    assert f"not reachable: DATABASE_URL=postgresql://movierec:***@127.0.0.1:{dead}/movierec" in result.output
    assert "hunter2" not in result.output
    assert "scripts/services start" in result.output
