"""Models are trained into the data dir, picked up by running API processes, and retrained as ratings arrive."""

from __future__ import annotations

import gc
import signal
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner

from movierec.cli import main
from movierec.runtime import PeriodicTrainer
from movierec.services import models as model_store
from movierec.services.models import ModelRegistry
from movierec.wiring import Container
from tests.conftest import Auth, create_app_for


def rate_many(container: Container, ids: list[int], users: int) -> None:
    for n in range(users):
        user = container.accounts.register(f"rater{n}", "a fine password")
        for movie_id in ids[n % 3 :: 2]:
            container.ratings.rate(user.id, movie_id, 6 + (movie_id + n) % 5)


def test_train_command_writes_a_generation_the_api_picks_up(
    container: Container, sample_catalogue: dict[str, int]
) -> None:
    ids = list(sample_catalogue.values())
    rate_many(container, ids, 4)
    client = create_app_for(container).test_client()
    user_id, headers = Auth(client).user()
    assert client.get(f"/recommendations/{user_id}", headers=headers).status_code == 200
    registry = ModelRegistry(container.store, container.settings.models_dir, check_every_seconds=0.0)
    assert registry.current().source == "memory"  # nothing trained yet: fitted in memory
    assert gc.get_freeze_count() > 0  # what the process holds once it has a generation is frozen (services/models.py)

    env = {"MOVIEREC_DATA_DIR": str(container.settings.data_dir)}
    result = CliRunner().invoke(main, ["train"], env=env)
    assert result.exit_code == 0, result.output
    manifest = model_store.read_manifest(container.settings.models_dir)
    with container.store.uow() as uow:
        assert manifest is not None and manifest["ratings"] == uow.ratings.count()
    generation = registry.current()  # a running process sees the new generation at its next check
    assert (generation.source, generation.version) == ("file", manifest["version"])
    assert set(generation.models) == set(manifest["files"])


def test_periodic_trainer_retrains_only_when_enough_ratings_arrived(
    container: Container, sample_catalogue: dict[str, int]
) -> None:
    ids = list(sample_catalogue.values())
    trainer = PeriodicTrainer(container, every_seconds=3600, min_new_ratings=5, min_growth=0.0)
    assert not trainer.due()  # no ratings at all
    rate_many(container, ids, 2)
    assert trainer.due()  # ratings and no model
    first = model_store.train(container.store, container.settings.models_dir)
    assert not trainer.due()
    user = container.accounts.register("late", "a fine password")
    for movie_id in ids[:4]:
        container.ratings.rate(user.id, movie_id, 8)
    assert not trainer.due()  # 4 new ratings: not enough
    container.ratings.rate(user.id, ids[4], 8)
    assert trainer.due()
    trainer.stop()
    trainer.run()  # checks once, trains, sees the stop flag and returns
    assert model_store.read_manifest(container.settings.models_dir)["version"] != first["version"]  # type: ignore[index]


def test_train_every_runs_until_sigterm(container: Container, sample_catalogue: dict[str, int]) -> None:
    rate_many(container, list(sample_catalogue.values()), 2)
    process = subprocess.Popen(
        [sys.executable, "-m", "movierec", "train", "--every", "3600"],
        env={"MOVIEREC_DATA_DIR": str(container.settings.data_dir), "PATH": "/usr/bin:/bin"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while model_store.read_manifest(container.settings.models_dir) is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert model_store.read_manifest(container.settings.models_dir) is not None
    process.send_signal(signal.SIGTERM)
    assert process.wait(30) == 0
    assert process.stderr is not None and b"Traceback" not in process.stderr.read()
    process.stderr.close()


def test_trainer_healthcheck_follows_the_heartbeat(
    container: Container, sample_catalogue: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    from movierec.healthcheck import Unhealthy, check_trainer
    from movierec.healthcheck import main as healthcheck

    monkeypatch.setenv("MOVIEREC_DATA_DIR", str(container.settings.data_dir))
    assert healthcheck(["trainer"]) == 1  # never ran
    trainer = PeriodicTrainer(container, every_seconds=60)
    trainer.stop()
    trainer.run()  # one round, then stops
    assert healthcheck(["trainer"]) == 0
    with pytest.raises(Unhealthy, match="last checked"):
        check_trainer(now=time.time() + 3 * 60 + 61)  # three rounds missed


def test_a_worker_loads_its_models_as_it_starts(container: Container, sample_catalogue: dict[str, int]) -> None:
    """gunicorn's ``post_worker_init`` (and ``movierec serve``) start loading the generation before any request."""
    from types import SimpleNamespace

    from movierec import gunicorn_conf

    rate_many(container, list(sample_catalogue.values()), 4)
    app = create_app_for(container)
    assert container.models.loaded() is None  # nothing asked for recommendations yet
    started = []
    warm = container.models.warm
    container.models.warm = lambda: started.append(warm()) or started[-1]  # type: ignore[method-assign]
    gunicorn_conf.post_worker_init(SimpleNamespace(wsgi=app))
    assert len(started) == 1
    started[0].join(timeout=120)
    assert not started[0].is_alive()
    assert container.models.loaded() is not None
