"""The deployment files: docker-compose.yml, deploy/Dockerfile, deploy/nginx.conf, .env.example, .dockerignore.

The compose file is validated by Debian's docker-compose (`config -q`, which checks it against the Compose spec
schema and interpolates it) and its structure is checked in Python; scripts/compose-test runs it in containers (on
stand-in images, see test_compose_standins.py). The Nginx template is rendered the way both deployments render it
and checked by a real ``nginx -t``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from movierec.api import MAX_BODY_BYTES
from movierec.settings import ConfigurationError, load_settings
from movierec_tools.stack import (
    NGINX_TEMPLATE,
    StackError,
    nginx_command,
    render_nginx_site,
    render_template,
    write_nginx_config,
)
from tests.conftest import IN_CI

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "deploy" / "Dockerfile"
NGINX = "/usr/sbin/nginx"

DATA_SERVICES = ("postgres", "redis", "kafka", "elasticsearch")
APP_SERVICES = ("kafka_indexer", "trainer", "backend1", "backend2")
ALL_SERVICES = (*DATA_SERVICES, "migrate", *APP_SERVICES, "nginx", "streamlit")
ONE_SHOT = ("migrate",)


def need_binary(path_or_name: str, install_hint: str) -> str:
    found = shutil.which(path_or_name)
    if found is None:
        message = f"{path_or_name} is not installed ({install_hint})"
        if IN_CI:
            pytest.fail(f"CI=true requires it: {message}")
        pytest.skip(message)
    return found


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text())


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, Any]:
    return compose["services"]


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):  # the KEY=VALUE list form
        env = dict(item.split("=", 1) for item in env)
    return {str(key): str(value) for key, value in env.items()}


def depends(service: dict[str, Any]) -> dict[str, str]:
    depends_on = service.get("depends_on") or {}
    if isinstance(depends_on, list):  # the short form means service_started
        return dict.fromkeys(depends_on, "service_started")
    return {name: spec["condition"] for name, spec in depends_on.items()}


# ---------------------------------------------------------------------------------------------- docker-compose


def run_compose(tmp_path: Path, env_lines: list[str], *args: str) -> subprocess.CompletedProcess[str]:
    binary = need_binary("docker-compose", "scripts/services install compose")
    env_file = tmp_path / "compose.env"
    env_file.write_text("\n".join(env_lines) + "\n")
    env = {key: value for key, value in os.environ.items() if key not in {"SECRET_KEY", "POSTGRES_PASSWORD"}}
    return subprocess.run(
        [binary, "--project-directory", str(ROOT), "--env-file", str(env_file), "-f", str(COMPOSE_FILE), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )


def test_docker_compose_accepts_the_file(tmp_path: Path) -> None:
    result = run_compose(
        tmp_path, ["SECRET_KEY=a-key-for-the-config-check-only", "POSTGRES_PASSWORD=pw"], "config", "-q"
    )
    assert result.returncode == 0, result.stderr


def test_docker_compose_interpolates_secrets_from_the_env_file(tmp_path: Path) -> None:
    result = run_compose(tmp_path, ["SECRET_KEY=the-key-from-env-file-1234", "POSTGRES_PASSWORD=pw-from-env"], "config")
    assert result.returncode == 0, result.stderr
    rendered = yaml.safe_load(result.stdout)["services"]
    for name in ("backend1", "backend2", "kafka_indexer", "migrate"):
        env = rendered[name]["environment"]
        assert env["SECRET_KEY"] == "the-key-from-env-file-1234"
        assert env["DATABASE_URL"] == "postgresql://movierec:pw-from-env@postgres:5432/movierec"
    assert rendered["postgres"]["environment"]["POSTGRES_PASSWORD"] == "pw-from-env"


@pytest.mark.parametrize("missing", ["SECRET_KEY", "POSTGRES_PASSWORD"])
def test_a_missing_secret_stops_compose_with_a_clear_message(tmp_path: Path, missing: str) -> None:
    lines = [
        line for line in ("SECRET_KEY=a-key-for-the-config-check-only", "POSTGRES_PASSWORD=pw") if missing not in line
    ]
    result = run_compose(tmp_path, lines, "config", "-q")
    assert result.returncode != 0
    assert f"set {missing} in .env" in result.stderr


# ---------------------------------------------------------------------------------------------- structure


def test_the_original_services_are_there_and_no_zookeeper(services: dict[str, Any]) -> None:
    assert set(ALL_SERVICES) <= set(services)
    assert not [name for name in services if "zookeeper" in name.lower()]
    kafka = environment(services["kafka"])
    assert "controller" in kafka["KAFKA_PROCESS_ROLES"] and "broker" in kafka["KAFKA_PROCESS_ROLES"]
    assert not [key for key in kafka if "ZOOKEEPER" in key]
    assert services["kafka"]["image"].startswith("apache/kafka:")


def test_images_and_versions(services: dict[str, Any]) -> None:
    assert re.fullmatch(r"postgres:15(\.\d+)?(-\w+)?", services["postgres"]["image"])
    assert re.fullmatch(r"redis:7(\.\d+)*(-\w+)?", services["redis"]["image"])
    assert re.fullmatch(
        r"docker\.elastic\.co/elasticsearch/elasticsearch:8\.19\.\d+", services["elasticsearch"]["image"]
    )
    es = environment(services["elasticsearch"])
    assert es["discovery.type"] == "single-node"
    assert es["xpack.security.enabled"] == "false"
    assert re.search(r"-Xmx\d+[mg]", es["ES_JAVA_OPTS"])


def test_every_long_running_service_has_a_healthcheck(services: dict[str, Any]) -> None:
    for name, service in services.items():
        check = service.get("healthcheck") or {}
        if name in ONE_SHOT:
            assert check.get("disable") is True, f"{name} is one-shot: the image's API healthcheck does not apply"
            assert service.get("restart") == "no"
            continue
        assert not check.get("disable"), name
        assert check.get("test"), f"{name} has no healthcheck"


def test_startup_order_waits_for_health_and_for_the_one_migration(services: dict[str, Any]) -> None:
    data = dict.fromkeys(DATA_SERVICES, "service_healthy")
    for name in APP_SERVICES:
        assert depends(services[name]) == {**data, "migrate": "service_completed_successfully"}, name
    assert depends(services["migrate"]) == {"postgres": "service_healthy"}
    assert depends(services["nginx"]) == {"backend1": "service_healthy", "backend2": "service_healthy"}
    assert depends(services["streamlit"]) == {"nginx": "service_healthy"}
    assert services["migrate"]["command"] == [
        "movierec",
        "first-start",
        "--seed",
        "none",
        "--no-demo-ratings",
        "--no-train",
    ]
    assert services["kafka_indexer"]["command"] == ["movierec", "indexer"]
    assert services["trainer"]["command"][:3] == ["movierec", "train", "--every"]


def test_named_volumes_for_data_and_the_shared_models(compose: dict[str, Any], services: dict[str, Any]) -> None:
    declared = set(compose["volumes"])

    def named_mount(service: str, target: str) -> str:
        for volume in services[service].get("volumes", []):
            source, _, rest = volume.partition(":")
            if rest.split(":")[0] == target and source in declared:
                return source
        raise AssertionError(f"{service} has no named volume at {target}")

    named_mount("postgres", "/var/lib/postgresql/data")
    named_mount("elasticsearch", "/usr/share/elasticsearch/data")
    assert named_mount("backend1", "/data/models") == named_mount("backend2", "/data/models")


def test_secrets_come_from_the_environment_only(services: dict[str, Any]) -> None:
    text = COMPOSE_FILE.read_text()
    for name, service in services.items():
        env = environment(service)
        if "SECRET_KEY" in env:
            assert re.fullmatch(r"\$\{SECRET_KEY:\?[^}]+\}", env["SECRET_KEY"]), name
        if "TMDB_API_KEY" in env:
            assert re.fullmatch(r"\$\{TMDB_API_KEY(:-)?\}", env["TMDB_API_KEY"]), name
        for key, value in env.items():
            if re.search(r"SECRET|PASSWORD|TOKEN|API_KEY", key):
                assert value.startswith("${"), f"{name}: {key} is a literal"
            for password in re.findall(r"://[^:/@]+:([^@]+)@", value):
                assert password.startswith("${"), f"{name}: {key} holds a literal password"
    assert "SECRET_KEY" in environment(services["backend1"])
    assert environment(services["backend1"])["SECRET_KEY"] == environment(services["backend2"])["SECRET_KEY"]
    assert "change-me" not in text


def test_the_ui_reaches_the_api_through_nginx_and_holds_no_secret(services: dict[str, Any]) -> None:
    env = environment(services["streamlit"])
    assert re.fullmatch(r"http://nginx(:80)?/?", env["MOVIEREC_API_URL"])
    assert not {"SECRET_KEY", "DATABASE_URL", "TMDB_API_KEY", "POSTGRES_PASSWORD"} & set(env)
    assert services["streamlit"]["command"][:2] == ["movierec", "ui"]  # the settings of movierec up
    assert "8501" in services["streamlit"]["command"]


def test_only_nginx_and_the_ui_publish_ports(services: dict[str, Any]) -> None:
    # the optional monitoring profile (Prometheus, Grafana) publishes its own: tests/deploy/test_monitoring.py
    published = {name for name, service in services.items() if service.get("ports") and not service.get("profiles")}
    assert published == {"nginx", "streamlit"}


def test_env_example_placeholders_are_refused_by_the_app() -> None:
    values = dict(
        line.split("=", 1)
        for line in (ROOT / ".env.example").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    )
    assert {"SECRET_KEY", "POSTGRES_PASSWORD", "TMDB_API_KEY"} <= set(values)
    with pytest.raises(ConfigurationError, match="SECRET_KEY"):
        _ = load_settings(
            database_url="postgresql://movierec:x@postgres/movierec", secret_key=values["SECRET_KEY"]
        ).signing_key
    assert "secrets.token_urlsafe" in (ROOT / ".env.example").read_text()


# ---------------------------------------------------------------------------------------------- Dockerfile


def dockerfile_instructions() -> list[tuple[str, str]]:
    joined = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    instructions = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            instructions.append((keyword.upper(), rest.strip()))
    return instructions


def test_dockerfile_installs_dependencies_before_the_source_and_runs_as_non_root() -> None:
    instructions = dockerfile_instructions()
    keywords = [keyword for keyword, _ in instructions]
    assert instructions[0][0] == "FROM" and re.match(r"python:3\.11(\.\d+)?-slim", instructions[0][1])

    def index(keyword: str, pattern: str) -> int:
        for position, (kw, rest) in enumerate(instructions):
            if kw == keyword and re.search(pattern, rest):
                return position
        raise AssertionError(f"no {keyword} matching {pattern}")

    copy_pyproject = index("COPY", r"^pyproject\.toml ")
    install_dependencies = index("RUN", r"pip install .*-r ")
    copy_source = index("COPY", r"^src ")
    assert copy_pyproject < install_dependencies < copy_source
    users = [rest for keyword, rest in instructions if keyword == "USER"]
    assert users and users[-1] not in {"root", "0", "0:0"}
    assert keywords.index("USER") < keywords.index("CMD")
    workdir = [rest for keyword, rest in instructions if keyword == "WORKDIR"][-1]
    assert workdir == "/app" and re.search(r"seed_tmdb\.py \./", instructions[index("COPY", r"seed_tmdb\.py")][1])
    assert "HEALTHCHECK" in keywords
    cmd = instructions[keywords.index("CMD")][1]
    assert "gunicorn" in cmd and "gthread" in cmd and "movierec.api:create_app()" in cmd


def test_dockerfile_installs_the_system_libraries_of_the_wheels_before_them() -> None:
    """implicit's extension modules link against libgomp.so.1, which the slim image lacks.

    scripts/compose-test checks the built image itself (ldd over every extension module); this keeps the step
    in its place: one apt layer, before the dependencies, with the package lists removed.
    """
    instructions = dockerfile_instructions()
    apt = [i for i, (kw, rest) in enumerate(instructions) if kw == "RUN" and "apt-get install" in rest]
    pip = [i for i, (kw, rest) in enumerate(instructions) if kw == "RUN" and re.search(r"pip install .*-r ", rest)]
    assert len(apt) == 1 and pip and apt[0] < pip[0]
    command = instructions[apt[0]][1]
    assert re.search(r"\blibgomp1\b", command) and "--no-install-recommends" in command
    assert "rm -rf /var/lib/apt/lists/*" in command


def test_dockerfile_bakes_in_no_secret() -> None:
    for keyword, rest in dockerfile_instructions():
        if keyword in {"ENV", "ARG", "LABEL"}:
            assert not re.search(r"SECRET|PASSWORD|TOKEN|API_KEY|DATABASE_URL", rest), rest


def test_dockerignore_keeps_local_files_out_of_the_image() -> None:
    lines = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()]
    patterns = [line for line in lines if line and not line.startswith("#")]
    assert patterns[0] == "*"  # everything excluded, then only what the Dockerfile copies
    assert {"!pyproject.toml", "!README.md", "!seed_tmdb.py", "!src"} <= set(patterns)
    assert not [p for p in patterns if p.startswith("!") and re.search(r"\.env|\.venv|data", p)]


# ---------------------------------------------------------------------------------------------- Nginx template


def test_nginx_template_balances_both_backends_and_retries_idempotent_requests_once() -> None:
    text = NGINX_TEMPLATE.read_text()
    upstream = re.search(r"upstream\s+\w+\s*\{(.*?)\n\}", text, re.S)
    assert upstream is not None
    assert re.search(r"server \$\{BACKEND1\}", upstream.group(1))
    assert re.search(r"server \$\{BACKEND2\}", upstream.group(1))
    assert re.search(r"^\s*keepalive \d+;", upstream.group(1), re.M)
    directives = re.findall(r"^\s*(proxy_next_upstream(?:_tries)?)\s+([^;]+);", text, re.M)
    assert ("proxy_next_upstream", "error timeout http_502 http_503") in directives
    assert ("proxy_next_upstream_tries", "2") in directives
    assert "non_idempotent" not in re.sub(r"#.*", "", text)
    assert re.search(r"^\s*server_tokens off;", text, re.M)
    assert re.search(r"^\s*client_max_body_size 64k;", text, re.M) and MAX_BODY_BYTES == 64 * 1024
    for slow_client in ("client_body_timeout", "client_header_timeout", "send_timeout", "keepalive_timeout"):
        assert re.search(rf"^\s*{slow_client} \d+s;", text, re.M), slow_client
    assert re.search(r"^\s*limit_conn \w+ \d+;", text, re.M)  # one address cannot hold every connection
    assert re.search(r"^\s*reset_timedout_connection on;", text, re.M)
    for timeout in ("proxy_connect_timeout", "proxy_read_timeout", "proxy_send_timeout"):
        assert re.search(rf"^\s*{timeout} \d+s;", text, re.M), timeout
    log_format = re.search(r"log_format\s+(\w+)(.*?);", text, re.S)
    assert log_format is not None
    for variable in ("$upstream_addr", "$status", "$request_time", "$upstream_response_time"):
        assert variable in log_format.group(2), variable
    assert re.search(rf"access_log \S+ {log_format.group(1)}( buffer=\w+)?( flush=\w+)?;", text)
    for header in ("X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy"):
        assert re.search(rf'add_header {header} "[^"]+" always;', text), header


def test_compose_renders_the_same_template_with_every_placeholder_defined(services: dict[str, Any]) -> None:
    nginx = services["nginx"]
    mounts = {volume.split(":")[0]: volume.split(":")[1] for volume in nginx["volumes"]}
    assert mounts["./deploy/nginx.conf"].startswith("/etc/nginx/templates/")
    assert mounts["./deploy/nginx.conf"].endswith(".template")
    placeholders = set(re.findall(r"\$\{(\w+)\}", NGINX_TEMPLATE.read_text()))
    env = environment(nginx)
    assert placeholders == {"BACKEND1", "BACKEND2", "NGINX_PORT"}
    assert placeholders <= set(env)
    assert env["BACKEND1"] == "backend1:8000" and env["BACKEND2"] == "backend2:8000"
    assert all(re.search(env["NGINX_ENVSUBST_FILTER"].replace("$$", "$"), name) for name in placeholders)


def test_python_rendering_matches_envsubst_as_the_nginx_image_does_it() -> None:
    envsubst = need_binary("envsubst", "apt-get install gettext-base")
    template = NGINX_TEMPLATE.read_text()
    values = {"BACKEND1": "backend1:8000", "BACKEND2": "backend2:8000", "NGINX_PORT": "80"}
    # the nginx image's 20-envsubst-on-templates.sh passes only the defined variables' names
    result = subprocess.run(
        [envsubst, " ".join(f"${{{name}}}" for name in values)],
        input=template,
        capture_output=True,
        text=True,
        timeout=10,
        env={**os.environ, **values},
        check=True,
    )
    assert render_nginx_site(template, ["backend1:8000", "backend2:8000"], 80) == result.stdout
    assert "$upstream_addr" in result.stdout and "${" not in result.stdout


def test_render_template_names_missing_values_and_leaves_nginx_variables() -> None:
    assert (
        render_template("proxy_pass http://${A}; set $x $host;", {"A": "h:1"}) == "proxy_pass http://h:1; set $x $host;"
    )
    with pytest.raises(StackError, match="BACKEND2"):
        render_template("${BACKEND1} ${BACKEND2}", {"BACKEND1": "a:1"})


def test_rendered_config_passes_nginx_t(tmp_path: Path) -> None:
    need_binary(NGINX, "scripts/services install nginx")
    run_dir = tmp_path / "run"
    main = write_nginx_config(NGINX_TEMPLATE, run_dir, ["127.0.0.1:18001", "127.0.0.1:18002"], 18080)
    site = (run_dir / "nginx-movierec.conf").read_text()
    assert "server 127.0.0.1:18001" in site and "server 127.0.0.1:18002" in site and "listen 18080" in site
    result = subprocess.run(
        [*nginx_command(NGINX, main, run_dir), "-t"], capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "syntax is ok" in result.stderr and "test is successful" in result.stderr


def test_nginx_t_rejects_a_broken_template(tmp_path: Path) -> None:
    """The syntax check above can fail: the same check on a template with one directive broken does."""
    need_binary(NGINX, "scripts/services install nginx")
    broken = tmp_path / "nginx.conf"
    broken.write_text(NGINX_TEMPLATE.read_text().replace("proxy_next_upstream_tries 2;", "proxy_next_upstream_tries;"))
    main = write_nginx_config(broken, tmp_path / "run", ["127.0.0.1:18001", "127.0.0.1:18002"], 18080)
    result = subprocess.run(
        [*nginx_command(NGINX, main, tmp_path / "run"), "-t"], capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode != 0 and "proxy_next_upstream_tries" in result.stderr
