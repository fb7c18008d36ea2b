"""The monitoring profile of docker-compose.yml: Prometheus and Grafana, off by default, scraping every movierec
process where compose runs it, and a dashboard whose queries use only metrics the processes really export.

The images cannot be pulled here, so what is checked is what can be: the files agree with each other and with a
real scrape of the API, the indexer and the trainer."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from movierec import metrics
from movierec.domain.movies import MovieDraft
from movierec.probes import free_ports
from movierec.runtime import IndexerWorker, PeriodicTrainer
from movierec.services import models as model_store
from movierec.wiring import Container
from movierec_tools.stack import NGINX_TEMPLATE, render_nginx_site
from tests.conftest import Auth, create_app_for
from tests.deploy.test_compose import COMPOSE_FILE, DOCKERFILE, environment, run_compose
from tests.integration.test_training import rate_many

ROOT = Path(__file__).resolve().parents[2]
MONITORING = ROOT / "deploy" / "monitoring"
PROMETHEUS_CONFIG = MONITORING / "prometheus.yml"
DASHBOARD = MONITORING / "grafana" / "dashboards" / "movierec.json"
DATASOURCE = MONITORING / "grafana" / "provisioning" / "datasources" / "prometheus.yml"
PROVIDER = MONITORING / "grafana" / "provisioning" / "dashboards" / "movierec.yml"
PROFILE = {"prometheus", "grafana"}
ENV = ["SECRET_KEY=a-key-for-the-config-check-only", "POSTGRES_PASSWORD=pw"]


@pytest.fixture(scope="module")
def services() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text())["services"]  # type: ignore[no-any-return]


def targets() -> dict[str, list[str]]:
    config = yaml.safe_load(PROMETHEUS_CONFIG.read_text())
    return {
        job["job_name"]: [target for static in job["static_configs"] for target in static["targets"]]
        for job in config["scrape_configs"]
    }


def mounts(service: dict[str, Any]) -> dict[str, str]:
    """Container path -> host path (or volume name) of a service's volumes."""
    found = {}
    for volume in service.get("volumes", []):
        source, target = volume.split(":")[:2]
        found[target] = source
    return found


def test_the_monitoring_services_are_in_their_profile_only(services: dict[str, Any]) -> None:
    profiled = {name for name, service in services.items() if service.get("profiles")}
    assert profiled == PROFILE
    for name in PROFILE:
        assert services[name]["profiles"] == ["monitoring"]
        assert re.fullmatch(r"[a-z/]+:v?\d+\.\d+\.\d+", services[name]["image"]), "pin an exact tag"
        assert services[name]["healthcheck"]["test"], name
        for port in services[name]["ports"]:  # published on loopback unless asked otherwise
            assert port.startswith("${MOVIEREC_MONITORING_BIND:-127.0.0.1}:"), port
    for name in set(services) - PROFILE:  # the default stack does not depend on them
        assert not set(services[name].get("depends_on") or {}) & PROFILE, name


def test_docker_compose_starts_the_profile_only_when_asked(tmp_path: Path) -> None:
    rendered = run_compose(tmp_path, ENV, "config")
    assert rendered.returncode == 0, rendered.stderr
    config = yaml.safe_load(rendered.stdout)["services"]
    assert {name for name, service in config.items() if "monitoring" in service.get("profiles", [])} == PROFILE
    assert run_compose(tmp_path, ENV, "--profile", "monitoring", "config", "-q").returncode == 0


def test_prometheus_scrapes_each_process_where_compose_serves_its_metrics(services: dict[str, Any]) -> None:
    jobs = targets()
    assert sorted(jobs["movierec-api"]) == ["backend1:8000", "backend2:8000"]
    assert '"--bind", "0.0.0.0:8000"' in DOCKERFILE.read_text()  # the backends' gunicorn, the image's command
    assert '"--config", "python:movierec.gunicorn_conf"' in DOCKERFILE.read_text()
    for name in ("backend1", "backend2"):
        assert environment(services[name])["PROMETHEUS_MULTIPROC_DIR"].startswith("/tmp/")
    for job, service, variable in (
        ("movierec-indexer", "kafka_indexer", "MOVIEREC_INDEXER_METRICS_PORT"),
        ("movierec-trainer", "trainer", "MOVIEREC_TRAINER_METRICS_PORT"),
    ):
        env = environment(services[service])
        assert jobs[job] == [f"{service}:{env[variable]}"]
        assert env["MOVIEREC_METRICS_HOST"] == "0.0.0.0"  # reachable on the compose network
        assert not services[service].get("ports")  # and from nowhere else
    assert mounts(services["prometheus"])["/etc/prometheus/prometheus.yml"] == "./deploy/monitoring/prometheus.yml"
    assert "--config.file=/etc/prometheus/prometheus.yml" in services["prometheus"]["command"]


def test_grafana_is_provisioned_with_the_datasource_and_the_dashboard(services: dict[str, Any]) -> None:
    grafana = mounts(services["grafana"])
    assert grafana["/etc/grafana/provisioning"] == "./deploy/monitoring/grafana/provisioning"
    datasource = yaml.safe_load(DATASOURCE.read_text())["datasources"][0]
    assert datasource["url"] == "http://prometheus:9090"  # the service's name and port
    provider = yaml.safe_load(PROVIDER.read_text())["providers"][0]
    assert grafana[provider["options"]["path"]] == "./deploy/monitoring/grafana/dashboards"
    dashboard = json.loads(DASHBOARD.read_text())
    for panel in dashboard["panels"]:
        assert panel["datasource"]["uid"] == datasource["uid"], panel["title"]
        assert panel["targets"], panel["title"]


def test_nginx_does_not_pass_metrics_on() -> None:
    site = render_nginx_site(NGINX_TEMPLATE.read_text(), ["127.0.0.1:1", "127.0.0.1:2"], 80)
    block = re.search(r"location = /metrics \{(.*?)\}", site, re.S)
    assert block is not None and "return 404" in block.group(1) and "proxy_pass" not in block.group(1)


def scraped_names(text: str) -> set[str]:
    return {sample.name for family in text_string_to_metric_families(text) for sample in family.samples}


def test_every_metric_of_the_dashboard_is_exported(container: Container, sample_catalogue: dict[str, int]) -> None:
    # The API: requests, a recommendation computed then served from the cache, the generation it serves.
    rate_many(container, list(sample_catalogue.values()), 3)
    client = create_app_for(container).test_client()
    user_id, headers = Auth(client).user()
    for _ in range(2):
        assert client.get(f"/recommendations/{user_id}", headers=headers).status_code == 200
    exported = scraped_names(client.get("/metrics").get_data(as_text=True))
    # The indexer and the trainer on their own endpoint (the server `movierec indexer` and `train --every` run).
    worker = IndexerWorker(container, relay_every_seconds=0.0, batch_seconds=0.01)
    container.catalogue.upsert([MovieDraft("dashboard:1", "Dashboard Movie", 2020)])
    worker.step()
    worker.measure()
    worker.indexer.consumer.close()
    assert PeriodicTrainer(container).due()  # a check (ratings seen), then a fit
    model_store.train(container.store, container.settings.models_dir)
    port = free_ports(1)[0]
    server = metrics.serve("127.0.0.1", port)
    try:
        exported |= scraped_names(httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10, trust_env=False).text)
    finally:
        server.shutdown()
        server.server_close()

    used = {
        name
        for panel in json.loads(DASHBOARD.read_text())["panels"]
        for target in panel["targets"]
        for name in re.findall(r"\bmovierec_[a-z_]+", target["expr"])
    }
    assert len(used) >= 15
    assert used - exported == set()
