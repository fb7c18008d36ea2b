"""docker-compose.standins.yml, the override of scripts/compose-test, changes only what it says it changes.

The compose test runs the real docker-compose.yml on stand-in images (deploy/standins/); these checks keep the
override from drifting into a second compose file: merged with the real one, it differs only in the image names of
the services whose official images cannot be pulled here, Elasticsearch's ulimits and its heap.
"""

from __future__ import annotations

import copy
import re
import subprocess
from pathlib import Path
from typing import Any

import yaml

from tests.deploy.test_compose import COMPOSE_FILE, ROOT, need_binary

OVERRIDE = ROOT / "docker-compose.standins.yml"
STANDINS = ROOT / "deploy" / "standins"
SWAPPED = {"postgres", "redis", "elasticsearch", "kafka", "nginx"}
ENV = ["SECRET_KEY=a-key-for-the-config-check-only", "POSTGRES_PASSWORD=pw"]


def rendered(tmp_path: Path, *files: Path) -> dict[str, Any]:
    binary = need_binary("docker-compose", "scripts/services install compose")
    env_file = tmp_path / "compose.env"
    env_file.write_text("\n".join(ENV) + "\n")
    args = [binary, "--project-directory", str(ROOT), "--env-file", str(env_file)]
    for file in files:
        args += ["-f", str(file)]
    result = subprocess.run([*args, "config"], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    return dict(yaml.safe_load(result.stdout))


def without_the_documented_changes(config: dict[str, Any]) -> dict[str, Any]:
    config = copy.deepcopy(config)
    for name in SWAPPED:
        config["services"][name].pop("image")
    es = config["services"]["elasticsearch"]
    es.pop("ulimits")
    es["environment"].pop("ES_JAVA_OPTS")
    return config


def test_the_override_changes_only_images_the_es_ulimits_and_heap(tmp_path: Path) -> None:
    real = rendered(tmp_path, COMPOSE_FILE)
    merged = rendered(tmp_path, COMPOSE_FILE, OVERRIDE)
    assert without_the_documented_changes(merged) == without_the_documented_changes(real)
    for name in SWAPPED:
        assert merged["services"][name]["image"] != real["services"][name]["image"]
        assert merged["services"][name]["image"].startswith("localhost/movierec-standin/")
    assert merged["services"]["elasticsearch"]["environment"]["ES_JAVA_OPTS"] == "-Xms512m -Xmx512m"
    assert merged["services"]["elasticsearch"]["ulimits"]["nofile"] == {"soft": 20000, "hard": 20000}


def test_the_comparison_above_can_fail(tmp_path: Path) -> None:
    """A change outside the documented ones (here: a healthcheck) is seen by the same comparison."""
    override = yaml.safe_load(OVERRIDE.read_text())
    override["services"]["redis"]["healthcheck"] = {"test": ["CMD", "true"]}
    changed = tmp_path / "override.yml"
    changed.write_text(yaml.safe_dump(override))
    real = rendered(tmp_path, COMPOSE_FILE)
    merged = rendered(tmp_path, COMPOSE_FILE, changed)
    assert without_the_documented_changes(merged) != without_the_documented_changes(real)


def test_every_swapped_image_has_a_stand_in_recipe_of_the_same_version() -> None:
    real = yaml.safe_load(COMPOSE_FILE.read_text())["services"]
    override = yaml.safe_load(OVERRIDE.read_text())["services"]
    assert set(override) == SWAPPED
    for name in SWAPPED:
        assert (STANDINS / name / "Dockerfile").is_file(), name
        official_tag = real[name]["image"].rsplit(":", 1)[1]
        standin_tag = override[name]["image"].rsplit(":", 1)[1]
        # same version, or the stand-in's is the official one's prefix (nginx:1.28-alpine -> 1.28)
        assert official_tag == standin_tag or official_tag.startswith(standin_tag + "-"), name


def test_stand_ins_build_only_on_stand_ins() -> None:
    for dockerfile in STANDINS.glob("*/Dockerfile"):
        froms = re.findall(r"^FROM\s+(\S+)", dockerfile.read_text(), flags=re.MULTILINE)
        assert froms and all(ref.startswith("localhost/movierec-standin/") for ref in froms), dockerfile
