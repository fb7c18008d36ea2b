from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from movierec.cli import main
from movierec.domain.movies import Movie
from movierec.services.reconcile import reconcile
from movierec.wiring import Container
from tests.conftest import index_everything


def test_reconcile_repairs_missing_and_extra(container: Container, sample_catalogue: dict[str, int]) -> None:
    heat, casino = sample_catalogue["Heat"], sample_catalogue["Casino"]
    container.index.delete_movies([heat, casino])
    container.index.index_movies([Movie(id=424_242, title="Not In The Database")])

    dry = reconcile(container.store, container.index, repair=False)
    assert (dry.missing, dry.extra, dry.repaired) == ([min(heat, casino), max(heat, casino)], [424_242], False)
    assert container.index.count() == len(sample_catalogue) - 1

    fixed = reconcile(container.store, container.index)
    assert fixed.repaired
    with container.store.uow() as uow:
        assert container.index.ids() == set(uow.movies.all_ids())
    assert reconcile(container.store, container.index, repair=False).consistent
    assert container.search.search("heat", None, 5, 0).movies[0].title == "Heat"


def test_reconcile_command(container: Container, tmp_path: Path) -> None:
    from tests.conftest import SAMPLE_MOVIES

    container.catalogue.upsert(SAMPLE_MOVIES)
    index_everything(container)
    some = next(iter(container.index.ids()))
    container.index.delete_movies([some])
    env = {"MOVIEREC_DATA_DIR": str(container.settings.data_dir)}
    runner = CliRunner()
    dry = runner.invoke(main, ["reconcile", "--dry-run"], env=env)
    assert dry.exit_code == 1 and "1 missing, 0 extra" in dry.output
    repaired = runner.invoke(main, ["reconcile"], env=env)
    assert repaired.exit_code == 0 and "(repaired)" in repaired.output
    assert runner.invoke(main, ["reconcile", "--dry-run"], env=env).exit_code == 0
