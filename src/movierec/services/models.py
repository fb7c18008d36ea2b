"""Trained recommender models: fitted by ``movierec train``, stored in the data dir, hot-reloaded by the API.

``<data dir>/models/`` holds one ``<strategy>.npz`` per strategy and ``manifest.json``, written last and
atomically, naming the files of the current generation. API processes look at the manifest at most every few
seconds and load a newer generation without a restart. With no trained model yet, the models are fitted in
memory from the database on first use.
"""

from __future__ import annotations

import gc
import json
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from movierec import metrics
from movierec.domain.recommenders import DEFAULT_STRATEGY, STRATEGIES
from movierec.domain.recommenders.base import Interactions, ItemCatalogue, Recommender
from movierec.domain.recommenders.ease import EaseSeqRecommender, FitData
from movierec.files import replacing, write_atomically
from movierec.log import get_logger
from movierec.store.port import Store

log = get_logger(__name__)
MANIFEST = "manifest.json"


@dataclass(frozen=True)
class Generation:
    version: str
    trained_at: float
    ratings: int
    movies: int
    models: dict[str, Recommender]
    source: str  # "file" or "memory"


def training_data(store: Store) -> tuple[Interactions, ItemCatalogue]:
    with store.uow() as uow:
        users, items, ratings, times = uow.ratings.all_interactions()
        snapshot = uow.movies.snapshot()
    interactions = Interactions(users, items, ratings, times)
    catalogue = ItemCatalogue(
        snapshot.item_ids, snapshot.genres, snapshot.vote_average, snapshot.vote_count, snapshot.year
    )
    return interactions, catalogue


def fit_all(interactions: Interactions, catalogue: ItemCatalogue) -> dict[str, Recommender]:
    """Fit every strategy once; the EASE-family models share one prepared fit (arrays, item table, Gram)."""
    models: dict[str, Recommender] = {}
    shared: FitData | None = None
    for name, cls in STRATEGIES.items():
        started = time.perf_counter()
        model = cls()
        if isinstance(model, EaseSeqRecommender):
            shared = shared if shared is not None else FitData.build(interactions, catalogue)
            models[name] = model.fit_data(shared)
        else:
            models[name] = model.fit(interactions, catalogue)
        log.info("model.fitted", strategy=name, seconds=round(time.perf_counter() - started, 2))
    return models


def train(store: Store, models_dir: Path) -> dict[str, Any]:
    """Fit every strategy on the database's ratings and publish them as the current generation."""
    started = time.perf_counter()
    interactions, catalogue = training_data(store)
    models = fit_all(interactions, catalogue)
    models_dir.mkdir(parents=True, exist_ok=True)
    version = time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + f"-{os.getpid()}-{time.monotonic_ns() % 10**6}"
    files: dict[str, str] = {}
    for name, model in models.items():
        file_name = f"{name}-{version}.npz"
        with replacing(models_dir / file_name) as tmp:
            model.save(tmp)  # writes exactly this path; renamed into place so readers never see half a file
        files[name] = file_name
    manifest = {
        "version": version,
        "trained_at": time.time(),
        "ratings": len(interactions),
        "movies": len(catalogue),
        "default_strategy": DEFAULT_STRATEGY,
        "files": files,
    }
    write_atomically(models_dir / MANIFEST, json.dumps(manifest, indent=2))
    _remove_old_generations(models_dir, keep=set(files.values()))
    metrics.model_trained(time.perf_counter() - started, len(interactions), time.time())
    log.info("model.trained", version=version, ratings=len(interactions), movies=len(catalogue))
    return manifest


def _remove_old_generations(models_dir: Path, keep: set[str]) -> None:
    # Keep the previous generation too: a process may be loading it right now.
    generations = sorted(models_dir.glob("*.npz"), key=lambda p: p.stat().st_mtime, reverse=True)
    keep_also = {p.name for p in generations[len(keep) : 2 * len(keep)]}
    for path in generations:
        if path.name not in keep and path.name not in keep_also:
            path.unlink(missing_ok=True)


def read_manifest(models_dir: Path) -> dict[str, Any] | None:
    try:
        return json.loads((models_dir / MANIFEST).read_text())  # type: ignore[no-any-return]
    except (FileNotFoundError, json.JSONDecodeError):
        return None


_frozen = False


def _freeze_once() -> None:
    """After the process's first model generation: move every object alive then (modules, the app, the adapters,
    the model) out of the cyclic collector's reach (``gc.freeze``), so its full collections, which a serving process
    triggers every few thousand requests, no longer walk the ~180k objects of a started server (0.25-0.5 s each,
    measured on MovieLens). Once per process: later generations are collected as usual, and refcounting still frees
    frozen objects; only a reference cycle among them outlives its use."""
    global _frozen
    if not _frozen:
        _frozen = True
        gc.collect()
        gc.freeze()


class ModelRegistry:
    def __init__(self, store: Store, models_dir: Path, check_every_seconds: float = 5.0) -> None:
        self.store = store
        self.models_dir = models_dir
        self.check_every = check_every_seconds
        self._generation: Generation | None = None
        self._checked_at = 0.0
        self._lock = threading.Lock()

    def current(self) -> Generation:
        now = time.monotonic()
        generation = self._generation
        if generation is not None and now - self._checked_at < self.check_every:
            return generation
        with self._lock:
            if self._generation is not None and time.monotonic() - self._checked_at < self.check_every:
                return self._generation
            manifest = read_manifest(self.models_dir)
            if manifest is not None and (self._generation is None or self._generation.version != manifest["version"]):
                try:
                    self._generation = self._load(manifest)
                    log.info("model.loaded", version=manifest["version"])
                except (OSError, ValueError, KeyError) as exc:
                    log.warning("model.load_failed", version=manifest.get("version"), error=repr(exc))
            if self._generation is None:
                self._generation = self._fit_in_memory()
            self._checked_at = time.monotonic()
            _freeze_once()
            return self._generation

    def loaded(self) -> Generation | None:
        """The generation in memory now, without looking for a newer one or fitting one (for metrics)."""
        return self._generation

    def warm(self) -> threading.Thread:
        """Load the current generation in a background thread, so that a server's first recommendation does not
        wait for it (about 0.2 s on MovieLens; a request that comes sooner waits on the same lock)."""
        thread = threading.Thread(target=self._warm, name="models-warm", daemon=True)
        thread.start()
        return thread

    def _warm(self) -> None:
        try:
            self.current()
        except Exception as exc:  # a background thread's boundary: the first request will load (and report) it
            log.warning("model.warm_failed", error=repr(exc))

    def model(self, strategy: str) -> Recommender:
        return self.current().models[strategy]

    def invalidate(self) -> None:
        """Forget the in-memory generation (e.g. after a catalogue load) so the next use refits or reloads."""
        with self._lock:
            self._generation = None
            self._checked_at = 0.0

    def _load(self, manifest: dict[str, Any]) -> Generation:
        models: dict[str, Recommender] = {}
        for name, cls in STRATEGIES.items():
            file_name = manifest["files"].get(name)
            if file_name is None:
                raise KeyError(f"manifest has no {name} model")
            models[name] = cls.load(self.models_dir / file_name)
        return Generation(
            version=manifest["version"],
            trained_at=float(manifest["trained_at"]),
            ratings=int(manifest["ratings"]),
            movies=int(manifest["movies"]),
            models=models,
            source="file",
        )

    def _fit_in_memory(self) -> Generation:
        interactions, catalogue = training_data(self.store)
        models = fit_all(interactions, catalogue)
        return Generation(
            version=f"memory-{time.time():.0f}",
            trained_at=time.time(),
            ratings=len(interactions),
            movies=len(catalogue),
            models=models,
            source="memory",
        )
