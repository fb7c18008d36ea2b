"""bench/scale.py at its tiny size: the generator keeps MovieLens' shape, and one stage run in a child process
reports its own figures. No timing is asserted."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from bench import scale
from movierec.ingest import offline


@pytest.fixture
def data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return scale.generate("10k", report=lambda _: None)


def test_generated_ratings_replay_real_users_over_the_synthetic_movies(data: Path) -> None:
    with (data / "ratings.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    n_ratings, n_movies = scale.SIZES["10k"]
    assert 0.9 * n_ratings <= len(rows) <= n_ratings  # the tiny size merges copies of movies: a few pairs repeat
    movies = np.array([int(r["movie"].split(":")[1]) for r in rows])
    assert movies.min() >= 1 and movies.max() <= n_movies
    assert {int(r["rating"]) for r in rows} <= set(range(1, 11))
    per_user = np.unique([r["user"] for r in rows], return_counts=True)[1]
    real = offline.movielens_frame()["userId"].value_counts()
    assert per_user.max() <= real.max()  # each user replays (part of) one real user's history
    assert scale.generate("10k") == data  # cached: the second call finds it


def test_a_stage_in_a_child_process_reports_wall_cpu_and_peak_memory(data: Path, tmp_path: Path) -> None:
    base = {"database_url": f"sqlite:///{tmp_path / 'db.sqlite3'}", "data": str(data), "models_dir": ""}
    catalogue = scale.run_stage("catalogue", base)
    assert catalogue["movies"] == scale.SIZES["10k"][1]
    imported = scale.run_stage("import", base)
    assert 0 < imported["written"] <= imported["ratings"]  # a pair rated twice in the file is written once
    for key in ("wall_s", "cpu_s", "peak_rss_mb"):
        assert imported[key] > 0
    assert imported["peak_rss_mb"] < 2048  # its own process, not the test runner's
