"""Secrets stay secret; the full stack will not start on a missing or placeholder SECRET_KEY."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from movierec.wiring import Container
from tests.conftest import Auth


def test_passwords_tokens_and_keys_never_reach_the_logs(
    client: FlaskClient, container: Container, capfd: pytest.CaptureFixture[str]
) -> None:
    from movierec.log import configure_logging

    configure_logging("DEBUG")
    password = "a very secret passphrase"
    user_id, headers = Auth(client).user("secretive", password)
    client.post("/login", json={"username": "secretive", "password": "wrong " + password})
    client.get(f"/my-ratings/{user_id + 1}", headers=headers)  # a refused request is logged too
    token = headers["Authorization"].split()[1]
    out, err = capfd.readouterr()
    logs = out + err
    assert "path=/login" in logs and "status=401" in logs  # requests are logged...
    assert password not in logs  # ...without what they carried
    assert token not in logs
    assert container.settings.signing_key not in logs


@pytest.mark.parametrize("secret", [None, "", "changeme", "dev", "short"])
def test_full_stack_refuses_to_start_without_a_real_secret(tmp_path: Path, secret: str | None) -> None:
    env = {k: v for k, v in os.environ.items() if k != "SECRET_KEY"}
    env.update(MOVIEREC_DATA_DIR=str(tmp_path), REDIS_URL="redis://127.0.0.1:1/0")
    if secret is not None:
        env["SECRET_KEY"] = secret
    result = subprocess.run(
        [sys.executable, "-m", "movierec", "serve", "--port", "1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr
    assert "Traceback" not in result.stderr
