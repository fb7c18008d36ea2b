"""Long-running workers: the indexer (outbox relay + event consumer) and the periodic trainer."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

from movierec import metrics
from movierec.domain.errors import Unavailable
from movierec.files import write_private
from movierec.log import get_logger
from movierec.search.port import COMPACT_AFTER_WRITES
from movierec.services import models as model_store
from movierec.wiring import Container

log = get_logger(__name__)


class IndexerWorker:
    """Relays the outbox to the bus and indexes bus events into search, until stopped."""

    def __init__(
        self,
        container: Container,
        relay_every_seconds: float = 1.0,
        metrics_every_seconds: float = 5.0,
        compact_after: int = COMPACT_AFTER_WRITES,
        **indexer_options: object,
    ) -> None:
        self.container = container
        self.relay_every = relay_every_seconds
        self.metrics_every = metrics_every_seconds
        self.indexer = container.indexer(**indexer_options)
        self._thread: threading.Thread | None = None
        self._relayed_at = 0.0
        self._measured_at = float("-inf")
        self.compact_after = compact_after
        self._written = 0  # movies indexed since the last compaction

    def step(self) -> int:
        if time.monotonic() - self._relayed_at >= self.relay_every:
            self.container.relay.drain_or_warn()
            self._relayed_at = time.monotonic()
        indexed = self.indexer.run_once()
        self._written += indexed
        if indexed == 0 and self._written >= self.compact_after:
            self.compact()
        if time.monotonic() - self._measured_at >= self.metrics_every:
            self.measure()
        return indexed

    def compact(self) -> None:
        """Once a burst of writes is over (nothing came in this round), merge what it left in the index: searches
        keep being answered from the old segments meanwhile. A failure is logged and tried after the next burst."""
        written, self._written = self._written, 0
        started = time.monotonic()
        try:
            segments = self.container.index.compact()
        except Unavailable as exc:
            log.warning("search.compact_failed", error=str(exc))
            return
        log.info(
            "search.compacted", movies_written=written, segments=segments, seconds=round(time.monotonic() - started, 1)
        )

    def measure(self) -> None:
        """Outbox depth and consumer lag for /metrics: asked here, in the indexer's thread, which owns the consumer
        (a scrape never waits on the database or the broker). Best effort: a dependency that is down leaves the
        last values, and indexing goes on."""
        self._measured_at = time.monotonic()
        try:
            metrics.outbox_depth(self.container.relay.pending())
            metrics.consumer_lag(self.indexer.consumer.lag())
        except Unavailable as exc:  # the database or the broker is away; the next round asks again
            log.debug("indexer.metrics_failed", error=repr(exc))

    def run(self) -> None:
        log.info("indexer.started", search=self.container.index.name, events=self.container.events.name)
        try:
            while not self.indexer.stopping:
                try:
                    self.step()
                except Exception:  # the loop's last resort: whatever one step hit, log it and carry on indexing
                    if self.indexer.stopping:
                        break
                    log.exception("indexer.step_failed")
                    time.sleep(1.0)
        finally:
            self.indexer.consumer.close()
            log.info("indexer.stopped", **vars(self.indexer.stats))

    def start(self) -> threading.Thread:
        self._thread = threading.Thread(target=self.run, name="movierec-indexer", daemon=True)
        self._thread.start()
        return self._thread

    def stop(self, timeout: float = 30.0) -> None:
        self.indexer.stop()
        if self._thread is not None:
            self._thread.join(timeout)


def heartbeat_path(data_dir: Path) -> Path:
    return data_dir / "models" / "trainer-heartbeat.json"


class PeriodicTrainer:
    """Retrains the models when enough new ratings arrived since the current generation was trained."""

    def __init__(
        self, container: Container, every_seconds: float = 600.0, min_new_ratings: int = 50, min_growth: float = 0.01
    ) -> None:
        self.container = container
        self.every = every_seconds
        self.min_new = min_new_ratings
        self.min_growth = min_growth
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def due(self) -> bool:
        with self.container.store.uow() as uow:
            ratings = uow.ratings.count()
        metrics.trainer_checked(ratings)
        manifest = model_store.read_manifest(self.container.settings.models_dir)
        if manifest is None:
            return ratings > 0
        grown = ratings - int(manifest["ratings"])
        return grown >= self.min_new and grown >= self.min_growth * max(int(manifest["ratings"]), 1)

    def run(self) -> None:
        """Check now, then every ``every`` seconds, until stopped; each round leaves a heartbeat file."""
        while True:
            error = None
            try:
                if self.due():
                    model_store.train(self.container.store, self.container.settings.models_dir)
            except Exception as exc:  # the loop's last resort (the database may be away): the next round tries again
                log.exception("trainer.failed")
                metrics.trainer_failed()
                error = type(exc).__name__
            self._heartbeat(error)
            if self._stop.wait(self.every):
                return

    def _heartbeat(self, error: str | None) -> None:
        path = heartbeat_path(self.container.settings.data_dir)
        try:
            write_private(path, json.dumps({"checked_at": time.time(), "every": self.every, "error": error}))
        except OSError as exc:
            log.warning("trainer.heartbeat_failed", error=repr(exc))

    def start(self) -> threading.Thread:
        self._thread = threading.Thread(target=self.run, name="movierec-trainer", daemon=True)
        self._thread.start()
        return self._thread

    def stop(self) -> None:
        self._stop.set()
