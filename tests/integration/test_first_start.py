"""The first start (`movierec up`, `movierec stack`, compose's one-shot step): each step runs once, when its result
is missing, and a second run changes nothing."""

from __future__ import annotations

from click.testing import CliRunner

from movierec.cli import main
from movierec.services.first_start import first_start
from movierec.services.models import read_manifest
from movierec.settings import Settings
from movierec.wiring import Container


def counts(container: Container) -> tuple[int, int]:
    with container.store.uow() as uow:
        return uow.movies.count(), uow.ratings.count()


def test_nothing_asked_for_loads_nothing(container: Container) -> None:
    done = first_start(
        container.store, container.catalogue, container.settings.models_dir, seed="none", demo_ratings=True
    )
    assert counts(container) == (0, 0)  # no catalogue: no ratings to import, no models to train
    assert done.catalogue is None and done.ratings_imported == 0 and done.trained is None
    assert read_manifest(container.settings.models_dir) is None


def test_auto_loads_movielens_trains_once_and_then_does_nothing(container: Container) -> None:
    models = container.settings.models_dir
    done = first_start(container.store, container.catalogue, models, seed="auto", demo_ratings=False)
    movies, ratings = counts(container)
    assert done.catalogue == "movielens" and done.loaded is not None and done.loaded.new == movies > 9000
    assert ratings == 0 and done.ratings_imported == 0
    assert done.trained is not None and read_manifest(models) == done.trained

    again = first_start(container.store, container.catalogue, models, seed="auto", demo_ratings=False)
    assert again.catalogue is None and again.trained is None
    assert counts(container) == (movies, 0)
    assert read_manifest(models) == done.trained


def test_the_command_with_every_step_off_only_migrates(settings: Settings) -> None:
    runner = CliRunner()
    result = runner.invoke(
        main,
        ["first-start", "--seed", "none", "--no-demo-ratings", "--no-train"],
        env={
            "MOVIEREC_DATA_DIR": str(settings.data_dir),
            **dict.fromkeys(("DATABASE_URL", "REDIS_URL", "ELASTICSEARCH_URL", "KAFKA_BOOTSTRAP_SERVERS"), ""),
        },
    )
    assert result.exit_code == 0, result.output
    assert (settings.data_dir / "movierec.sqlite3").exists()
    assert read_manifest(settings.models_dir) is None
    assert "movielens" not in result.output
