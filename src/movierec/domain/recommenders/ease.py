"""The collaborative strategies: EASE item-item weights plus a "what people rate next" sequential matrix.

Both are item-item models, so a user is scored from the history passed to ``recommend`` (their ratings right
now); nothing about users is stored and a new rating counts without retraining.

* **EASE** (Steck, 2019): ``B = I - P / diag(P)`` with ``P = (X^T X + l2 I)^-1`` over the binary user x item
  matrix, fitted on the items with at least ``ease_min_count`` training ratings and pruned to the
  ``neighbours`` largest weights (by magnitude) per row, so ~10k movies fit in tens of MB instead of a dense
  400 MB matrix.
* **Sequential co-occurrence**: for every user's time-ordered ratings, item ``i`` votes for each item ``j``
  rated within the next ``seq_window`` ratings, with weight ``0.5 ** ((distance - 1) / seq_half_life)``,
  scaled by ``seq_disliked_weight`` when ``j`` was rated below 8. Rows are normalised by ``(row sum + 1) **
  seq_row_exponent`` and columns damped by ``(column sum + 1) ** seq_pop_exponent``; top ``neighbours`` per
  row.
* **User weights**: rating ``r`` at recency position ``p`` (0 = latest) weighs ``(r - rating_centre) *
  0.5 ** (p / half_life)`` (disliked movies push their neighbours down), with separate half-lives per part.
* **Blend**: each part's score vector is divided by its largest magnitude, then ``ease_weight * ease +
  seq_weight * seq + pop_weight * 0.5 ** (n_ratings / pop_half_life) * popularity`` (popularity / its maximum),
  so a user with no ratings gets the popular list and the prior fades as ratings accumulate.
* **Recently popular** (the prior's popularity): the training ratings made by now (``RatingSpans``), each weighing
  ``0.5 ** (age in days / pop_recent_half_life)``; ``movierec eval`` counts them at the user's latest rating
  instead (``pop_at_latest_rating``), so no rating made after it counts. ``None``: the plain rating count.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

import numpy as np
import scipy.linalg
import scipy.sparse as sp
from pydantic import BaseModel, ConfigDict, Field

from movierec.domain.ratings import LIKED_THRESHOLD
from movierec.domain.recommenders.base import (
    _EMPTY_IDS,
    _EMPTY_SCORES,
    Interactions,
    ItemCatalogue,
    ItemTable,
    Reason,
    UserHistory,
    genre_similar,
    load_arrays,
    save_arrays,
    top_n,
)


class EaseSeqConfig(BaseModel):
    """Hyper-parameters. Fields in ``SCORING_FIELDS`` only affect scoring and can change without refitting."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    l2: float = Field(250.0, gt=0)
    ease_min_count: int = Field(3, ge=1)
    ease_max_items: int = Field(5000, ge=1)  # bounds the fit: O(n^3) time, 2 n^2 float32 memory
    neighbours: int = Field(200, ge=1)
    seq_window: int = Field(100, ge=0)  # 0 disables the sequential part
    seq_half_life: float = Field(30.0, gt=0)
    seq_disliked_weight: float = Field(0.5, ge=0)
    seq_pop_exponent: float = Field(0.25, ge=0)
    seq_row_exponent: float = Field(0.5, ge=0)
    ease_weight: float = Field(1.0, ge=0)  # the recent-taste EASE part (recency-weighted)
    seq_weight: float = Field(1.4, ge=0)
    long_weight: float = Field(0.5, ge=0)  # the long-term EASE part: every rating weighs the same
    ease_user_half_life: float | None = Field(10.0, gt=0)  # None: every rating weighs the same
    seq_user_half_life: float | None = Field(5.0, gt=0)
    rating_centre: float | None = 5.5  # None: binary (every rating counts +1)
    # the prior leads a new user's first ratings (10 x 0.5 ** (n / 2): 7.1 at one rating, 1.8 at five, 0.04 at 16,
    # against at most 2.9 for the parts): each rating still brings about 2 new movies into the top 10 (cold eval)
    pop_weight: float = Field(10.0, ge=0)
    pop_half_life: float = Field(2.0, gt=0)  # in ratings: the prior halves with every this many
    # "recently popular": the training ratings made by then, each weighing 0.5 ** (age in days / this); None: the
    # plain training rating count
    pop_recent_half_life: float | None = Field(365.0, gt=0)
    # when the recent prior is counted: now (serving: every training rating is older), or at the history's latest
    # rating (``movierec eval`` replays the past: the ratings other users made later are not counted)
    pop_at_latest_rating: bool = False
    pop_span_days: float = Field(30.0, gt=0)  # the recent prior counts ratings in spans of this many days
    # after the top ``neighbours`` cut, drop a row's links weaker than this fraction of its strongest (0: keep)
    prune_below: float = Field(0.0, ge=0, lt=1)


SCORING_FIELDS = frozenset(
    {
        "ease_weight",
        "seq_weight",
        "long_weight",
        "ease_user_half_life",
        "seq_user_half_life",
        "rating_centre",
        "pop_weight",
        "pop_half_life",
        "pop_recent_half_life",
        "pop_at_latest_rating",
    }
)


def _add_normalised(total: np.ndarray, weight: float, scores: np.ndarray) -> float:
    """Add ``scores`` (one per item) to ``total`` scaled to a largest magnitude of ``weight``; return the scale they
    were divided by, 0.0 when every score is 0."""
    norm = float(np.abs(scores).max())
    if norm > 0:
        total += weight / norm * scores
        return norm
    return 0.0


def _ease_weights(gram: np.ndarray, l2: float) -> np.ndarray:
    """Closed-form EASE on a dense Gram matrix (Cholesky inverse: the matrix is positive definite).

    Works in float32 and in place where it can, so the peak memory is about two n x n float32 matrices.
    """
    gram = np.asarray(gram, dtype=np.float32)
    gram[np.diag_indices_from(gram)] += np.float32(l2)
    factor, info = scipy.linalg.lapack.spotrf(gram, lower=False, overwrite_a=True)
    if info != 0:
        raise np.linalg.LinAlgError(f"Cholesky factorisation failed ({info})")
    inverse: np.ndarray
    inverse, info = scipy.linalg.lapack.spotri(factor, lower=False, overwrite_c=True)
    if info != 0:
        raise np.linalg.LinAlgError(f"Cholesky inverse failed ({info})")
    n = inverse.shape[0]
    for start in range(0, n, 1024):  # mirror the upper triangle into the lower one, a block of rows at a time
        stop = min(start + 1024, n)
        block = inverse[start:stop, :stop]
        rows, cols = np.tril_indices(stop - start, -1, stop - start)
        block[:, :start] = inverse[:start, start:stop].T
        block[rows, cols + start] = block[cols, rows + start]
    diagonal = np.diag(inverse).copy()
    inverse /= -diagonal  # B[i, j] = -P[i, j] / P[j, j]
    np.fill_diagonal(inverse, 0.0)
    return inverse


# The sequential part is counted one block of source rows at a time: a block is dense (rows x items, float64)
# while it is counted and pruned, so it holds at most this many cells; a block also takes at most this many
# (row, later item) pairs at once. Both bound the fit's extra memory, whatever the number of ratings.
BLOCK_CELLS = 8_000_000
BLOCK_PAIRS = 8_000_000
DENSE_FROM = 16  # a block is counted dense when its pairs fill at least 1/16 of its cells


@dataclass(frozen=True, slots=True)
class FitData:
    """What every EASE-family fit starts from, computed once and shared (``movierec train`` fits two models).

    One rating per (user, item) (the latest), as compact arrays: the dense user index, the item's row in
    ``table``, the rating and the time; plus a cache of Gram matrices by their item set.
    """

    table: ItemTable
    users: np.ndarray  # int32, dense user index
    rows: np.ndarray  # int32, row of the item in ``table``
    ratings: np.ndarray  # int8
    timestamps: np.ndarray  # float64
    n_users: int
    grams: dict[bytes, np.ndarray] = field(default_factory=dict)

    @classmethod
    def build(cls, interactions: Interactions, items: ItemCatalogue) -> FitData:
        table = ItemTable.build(interactions, items)
        latest = _latest_per_pair(interactions)
        rows = np.searchsorted(table.ids, latest.item_ids).astype(np.int32)
        _, users = np.unique(latest.user_ids, return_inverse=True)
        n_users = int(users.max()) + 1 if len(users) else 0
        return cls(table, users.astype(np.int32), rows, latest.ratings.astype(np.int8), latest.timestamps, n_users)

    def __len__(self) -> int:
        return len(self.rows)

    def gram(self, eligible: np.ndarray) -> np.ndarray:
        """``X^T X`` over the binary user x eligible-item matrix, float32 (exact: counts stay below 2**24)."""
        key = eligible.astype(np.int64).tobytes()
        if key not in self.grams:
            column = np.full(len(self.table), -1, dtype=np.int64)
            column[eligible] = np.arange(len(eligible))
            mask = column[self.rows] >= 0
            x = sp.csr_matrix(
                (np.ones(int(mask.sum()), dtype=np.float32), (self.users[mask], column[self.rows[mask]])),
                shape=(self.n_users, len(eligible)),
            )
            self.grams[key] = (x.T @ x).toarray()
        return self.grams[key]


def _top_k_segments(
    rows: np.ndarray, cols: np.ndarray, values: np.ndarray, k: int, prune_below: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Of entries sorted by row (columns ascending within a row), keep each row's ``k`` largest magnitudes
    (ties at the cut to the lower column), then drop those below ``prune_below`` times the row's largest."""
    if len(rows) == 0:
        return rows, cols, values
    starts = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])
    ends = np.r_[starts[1:], len(rows)]
    keep = np.ones(len(rows), dtype=bool)
    magnitude = np.abs(values)
    for start, end in zip(starts[ends - starts > k].tolist(), ends[ends - starts > k].tolist(), strict=True):
        segment = magnitude[start:end]
        kth = np.partition(segment, len(segment) - k)[len(segment) - k]  # the k-th largest magnitude
        tied = np.flatnonzero(segment == kth)
        chosen = segment > kth
        chosen[tied[: k - int(chosen.sum())]] = True  # ties at the cut go to the lower column: deterministic
        keep[start:end] = chosen
    if prune_below > 0:
        row_max = np.maximum.reduceat(magnitude, starts)
        keep &= magnitude >= prune_below * np.repeat(row_max, ends - starts)
    return rows[keep], cols[keep], values[keep]


def _csr(rows: np.ndarray, cols: np.ndarray, values: np.ndarray, n: int) -> sp.csr_matrix:
    """A float32 CSR from entries already sorted by row then column (no sort, no duplicate pass)."""
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n), out=indptr[1:])
    matrix = sp.csr_matrix((values.astype(np.float32), cols.astype(np.int32), indptr), shape=(n, n), dtype=np.float32)
    matrix.indices = matrix.indices.astype(np.int32)
    return matrix


def _dense_top_k(dense: np.ndarray, k: int, prune_below: float = 0.0, chunk: int = 1024) -> sp.csr_matrix:
    """Keep the ``k`` largest-magnitude non-zero entries of each row of a dense matrix."""
    n_rows, n_cols = dense.shape
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    for start in range(0, n_rows, chunk):
        block = dense[start : start + chunk]
        rows, cols = np.divmod(np.flatnonzero(block), n_cols)
        kept = _top_k_segments(rows, cols, block[rows, cols], k, prune_below)
        parts.append((kept[0] + start, kept[1], kept[2]))
    rows, cols, values = (np.concatenate([p[i] for p in parts]) for i in range(3))
    indptr = np.zeros(n_rows + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n_rows), out=indptr[1:])
    return sp.csr_matrix((values.astype(np.float32), cols.astype(np.int32), indptr), shape=dense.shape)


class _Sequence:
    """Every user's ratings in time order, with what a block of source rows needs to count its pairs."""

    def __init__(self, data: FitData, config: EaseSeqConfig) -> None:
        self.n = len(data.table)
        self.window = config.seq_window
        # Positions and rows fit int32 (fewer than 2**31 ratings); a block's flat cell index is int64.
        order = np.lexsort((data.rows, data.timestamps, data.users))  # rows sort as ids do: the table is sorted
        users = data.users[order]
        self.rows = data.rows[order]
        # the later item's factor: liked (>= LIKED_THRESHOLD, 8) counts fully, disliked by ``seq_disliked_weight``
        self.later = np.where(data.ratings[order] >= LIKED_THRESHOLD, 1.0, config.seq_disliked_weight)
        del order
        size = len(users)
        first = np.flatnonzero(np.r_[True, users[1:] != users[:-1]]).astype(np.int32)
        run_length = np.diff(np.r_[first, size]).astype(np.int32)
        run_start = np.repeat(first, run_length)
        run_end = run_start + np.repeat(run_length, run_length)
        position = np.arange(size, dtype=np.int32)
        # pairs with this rating as the earlier one; and how many earlier ratings vote for it
        self.ahead = np.minimum(run_end - position - 1, self.window).astype(np.int32)
        behind = np.minimum(position - run_start, self.window)
        del run_start, run_end, position, users
        self.weight = 0.5 ** (np.arange(self.window, dtype=np.float64) / config.seq_half_life)  # distance 1..window
        cumulative = np.r_[0.0, np.cumsum(self.weight)]
        # column sums in closed form: an item gets sum(weight[:behind]) x its factor from its earlier ratings
        self.col_sum = np.bincount(self.rows, weights=cumulative[behind] * self.later, minlength=self.n)
        del behind
        self.by_row = np.argsort(self.rows, kind="stable").astype(np.int32)
        self.row_start = np.zeros(self.n + 1, dtype=np.int64)
        np.cumsum(np.bincount(self.rows, minlength=self.n), out=self.row_start[1:])
        self.row_pairs = np.bincount(self.rows, weights=self.ahead, minlength=self.n).astype(np.int64)

    def blocks(self) -> Iterator[tuple[int, int]]:
        """Row ranges whose dense block and pair count stay within ``BLOCK_CELLS`` and ``BLOCK_PAIRS``."""
        max_rows = max(1, BLOCK_CELLS // max(self.n, 1))
        start = 0
        while start < self.n:
            stop, pairs = start, 0
            while (
                stop < self.n
                and stop - start < max_rows
                and (stop == start or pairs + self.row_pairs[stop] <= BLOCK_PAIRS)
            ):
                pairs += int(self.row_pairs[stop])
                stop += 1
            yield start, stop
            start = stop

    def counts(self, start: int, stop: int) -> sp.csr_matrix:
        """Decayed counts of rows ``start:stop`` against every item, a ``(stop - start, n)`` canonical CSR.

        Pairs are summed with one ``bincount`` over a dense block when they fill at least ``1 / DENSE_FROM`` of
        it (its cost is the block's cells), else by sorting them into a sparse matrix (its cost is the pairs).
        """
        n = self.n
        block_rows = stop - start
        sources = self.by_row[self.row_start[start] : self.row_start[stop]]
        sources = sources[np.argsort(-self.ahead[sources], kind="stable")]  # most pairs first: prefixes below
        reach = self.ahead[sources]
        total = int(reach.sum(dtype=np.int64))
        flat = np.empty(total, dtype=np.int64)
        values = np.empty(total, dtype=np.float64)
        local = (self.rows[sources] - start).astype(np.int64) * n
        filled = 0
        for distance in range(1, self.window + 1):
            count = int(np.searchsorted(-reach, -distance, side="right"))  # sources with >= distance ahead
            if count == 0:
                break
            later = sources[:count] + distance
            flat[filled : filled + count] = local[:count] + self.rows[later]
            values[filled : filled + count] = self.weight[distance - 1] * self.later[later]
            filled += count
        del sources, reach, local
        if total * DENSE_FROM >= block_rows * n:
            dense = np.bincount(flat, weights=values, minlength=block_rows * n)
            del flat, values
            dense[np.arange(block_rows) * n + np.arange(start, stop)] = 0.0  # a movie does not predict itself
            cells = np.flatnonzero(dense)
            rows, cols = np.divmod(cells, n)
            data = dense[cells]
        else:
            rows, cols = np.divmod(flat, n)
            del flat
            summed = sp.csr_matrix((values, (rows, cols)), shape=(block_rows, n))
            summed.sum_duplicates()
            rows = np.repeat(np.arange(block_rows), np.diff(summed.indptr))
            cols, data = summed.indices, summed.data
            itself = cols == rows + start  # a movie does not predict itself
            rows, cols, data = rows[~itself], cols[~itself], data[~itself]
        indptr = np.zeros(block_rows + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=block_rows), out=indptr[1:])
        return sp.csr_matrix((data, cols.astype(np.int32), indptr), shape=(block_rows, n))


def _sequential_top_k(data: FitData, config: EaseSeqConfig) -> sp.csr_matrix:
    """The sequential matrix, normalised and pruned to ``neighbours`` per row, one block of rows at a time.

    Rows are normalised by ``(row sum + 1) ** -seq_row_exponent`` and columns by ``(column sum + 1) **
    -seq_pop_exponent``; column sums come first (in closed form), so each block is final once counted.
    """
    sequence = _Sequence(data, config)
    col_norm = (sequence.col_sum + 1.0) ** -config.seq_pop_exponent
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    for start, stop in sequence.blocks():
        block = sequence.counts(start, stop)
        lengths = np.diff(block.indptr)
        row_norm = (np.asarray(block.sum(axis=1)).ravel() + 1.0) ** -config.seq_row_exponent
        rows = np.repeat(np.arange(stop - start), lengths)
        cols = block.indices
        values = (row_norm[rows] * block.data) * col_norm[cols]
        del block
        rows, cols, values = _top_k_segments(rows, cols, values, config.neighbours, config.prune_below)
        parts.append(((rows + start).astype(np.int32), cols.astype(np.int32), values.astype(np.float32)))
    if not parts:
        return sp.csr_matrix((sequence.n, sequence.n), dtype=np.float32)
    rows, cols, values = (np.concatenate([p[i] for p in parts]) for i in range(3))
    return _csr(rows, cols, values, sequence.n)


DAY_SECONDS = 86_400.0


@dataclass(frozen=True, slots=True)
class RatingSpans:
    """Training ratings counted per (item, span of ``width`` seconds from ``origin``), for the "recently popular"
    prior, and the newest training rating's time.

    Compact CSR by item: ``indptr`` (int64, items + 1), each cell's span (uint16: 5,000 years of 30-day spans) and
    count (uint16, saturating at 65,535 ratings of one movie in one span), so a cell costs 4 bytes (the synthetic
    25M-rating, 60k-movie data of ``bench/scale.py``: 5.4M cells, at most 103 ratings in one, 22 MB).

    ``prior(counted, half_life_days)`` sums the first ``counted`` spans only (``counted(reference)``: those that end at
    or before ``reference``, or every span when ``reference`` is at or after the newest rating: serving, now). A span
    weighs ``0.5 ** (age / half_life_days)``, its age in days counted back from the latest span that is counted (with
    an exponential decay, counting back from the reference itself would multiply every item by one factor: the same
    ranking).
    """

    indptr: np.ndarray
    spans: np.ndarray
    counts: np.ndarray
    n_spans: int
    origin: float
    width: float  # seconds
    newest: float

    @classmethod
    def build(cls, data: FitData, span_days: float) -> RatingSpans:
        n = len(data.table)
        width = span_days * DAY_SECONDS
        if len(data) == 0:
            empty = np.zeros(0, dtype=np.uint16)
            return cls(np.zeros(n + 1, dtype=np.int64), empty, empty, 0, 0.0, width, -np.inf)
        origin, newest = float(data.timestamps.min()), float(data.timestamps.max())
        most = np.iinfo(np.uint16).max
        if (newest - origin) / width >= most:  # ratings over more than ~5,000 years: wider spans, never a failed fit
            width = (newest - origin) / (most - 1)
        span = np.minimum((data.timestamps - origin) // width, most - 1).astype(np.int64)
        n_spans = int(span.max()) + 1
        cells, counts = np.unique(data.rows.astype(np.int64) * n_spans + span, return_counts=True)
        items, spans = np.divmod(cells, n_spans)
        indptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(items, minlength=n), out=indptr[1:])
        counts = np.minimum(counts, np.iinfo(np.uint16).max).astype(np.uint16)
        return cls(indptr, spans.astype(np.uint16), counts, n_spans, origin, width, newest)

    @property
    def nbytes(self) -> int:
        return int(self.indptr.nbytes + self.spans.nbytes + self.counts.nbytes)

    def counted(self, reference: float) -> int:
        """How many spans, from the first, hold only ratings made at or before ``reference``."""
        if reference >= self.newest:
            return self.n_spans
        return int(np.clip((reference - self.origin) // self.width, 0, self.n_spans))

    def prior(self, counted: int, half_life_days: float) -> np.ndarray:
        """Per item, the ratings of the first ``counted`` spans, a span ``k`` spans older than the last counted one
        weighing ``0.5 ** (k * span days / half_life_days)``; later spans weigh 0."""
        weights = np.zeros(self.n_spans)
        age = np.arange(counted - 1, -1, -1, dtype=np.float64) * (self.width / DAY_SECONDS)
        weights[:counted] = 0.5 ** (age / half_life_days)
        running = np.zeros(len(self.counts) + 1)
        np.cumsum(self.counts * weights[self.spans], out=running[1:])
        prior: np.ndarray = np.maximum(running[self.indptr[1:]] - running[self.indptr[:-1]], 0.0)  # no rounding below 0
        return prior

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {
            "pop_span_indptr": self.indptr,
            "pop_span_spans": self.spans,
            "pop_span_counts": self.counts,
            "pop_span_facts": np.array([self.origin, self.width, self.newest, self.n_spans], dtype=np.float64),
        }

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> RatingSpans | None:
        """The spans saved with a model; None for a model saved before they existed."""
        if "pop_span_facts" not in arrays:
            return None
        origin, width, newest, n_spans = (float(v) for v in arrays["pop_span_facts"])
        return cls(
            arrays["pop_span_indptr"].astype(np.int64),
            arrays["pop_span_spans"].astype(np.uint16),
            arrays["pop_span_counts"].astype(np.uint16),
            int(n_spans),
            origin,
            width,
            newest,
        )


class EaseSeqRecommender:
    """EASE + sequential co-occurrence, recency- and rating-weighted, with a popularity prior (the
    default)."""

    name: ClassVar[str] = "ease_seq"
    config_class: ClassVar[type[EaseSeqConfig]] = EaseSeqConfig

    def __init__(self, config: EaseSeqConfig | None = None, **overrides: Any) -> None:
        base = config or self.default_config()
        self.config = base.model_copy(update=overrides) if overrides else base
        self.config = self.config_class.model_validate(self.config.model_dump())
        self._table: ItemTable | None = None
        self._ease: sp.csr_matrix | None = None
        self._seq: sp.csr_matrix | None = None
        self._spans: RatingSpans | None = None  # None: the prior is the plain rating count (or the saved "now" one)
        # a model saved for serving keeps the recent prior counted now only (one value per item, not every span)
        self._now_prior: np.ndarray | None = None
        self._now_half_life: float | None = None
        self._priors: OrderedDict[tuple[int, float], np.ndarray] = OrderedDict()  # by (spans counted, half-life)
        self._recent: OrderedDict[bytes, _Scoring] = OrderedDict()
        self._recent_lock = threading.Lock()
        self._baseline_cache: tuple[float, np.ndarray] | None = None
        self._order_cache: np.ndarray | None = None

    @classmethod
    def default_config(cls) -> EaseSeqConfig:
        return EaseSeqConfig()

    # ------------------------------------------------------------ fitting

    @property
    def table(self) -> ItemTable:
        if self._table is None:
            raise RuntimeError(f"the {self.name!r} recommender is not fitted")
        return self._table

    def fit(self, interactions: Interactions, items: ItemCatalogue) -> Self:
        return self.fit_data(FitData.build(interactions, items))

    def fit_data(self, data: FitData) -> Self:
        """Fit from prepared arrays (shared by every EASE-family model fitted on the same ratings)."""
        cfg = self.config
        table = data.table
        n = len(table)
        counts = table.rating_count
        eligible = np.flatnonzero(counts >= cfg.ease_min_count)
        if len(eligible) > cfg.ease_max_items:
            eligible = np.sort(eligible[np.argsort(-counts[eligible], kind="stable")[: cfg.ease_max_items]])
        self._ease = sp.csr_matrix((n, n), dtype=np.float32)
        if (cfg.ease_weight > 0 or cfg.long_weight > 0) and len(eligible) > 1:
            weights = _ease_weights(data.gram(eligible).copy(), cfg.l2)
            pruned = _dense_top_k(weights, cfg.neighbours, cfg.prune_below).tocoo()
            del weights
            self._ease = sp.csr_matrix(
                (pruned.data, (eligible[pruned.row], eligible[pruned.col])), shape=(n, n), dtype=np.float32
            )
            self._ease.indices = self._ease.indices.astype(np.int32)

        self._seq = sp.csr_matrix((n, n), dtype=np.float32)
        if cfg.seq_weight > 0 and cfg.seq_window > 0 and len(data):
            self._seq = _sequential_top_k(data, cfg)
        self._spans = RatingSpans.build(data, cfg.pop_span_days)
        self._table = table
        self._priors = OrderedDict()
        self._baseline_cache = self._order_cache = None  # the previous fit's
        with self._recent_lock:
            self._recent.clear()
        return self

    def reconfigured(self, **changes: Any) -> Self:
        """A copy sharing the fitted matrices with different scoring-only settings (used by tuning)."""
        unknown = set(changes) - SCORING_FIELDS
        if unknown:
            raise ValueError(f"{sorted(unknown)} need a refit")
        clone = type(self)(self.config, **changes)
        clone._table, clone._ease, clone._seq, clone._spans = self._table, self._ease, self._seq, self._spans
        clone._now_prior, clone._now_half_life = self._now_prior, self._now_half_life
        return clone

    @property
    def nbytes(self) -> int:
        """Memory held by the fitted model's arrays."""
        total = sum(a.nbytes for a in self.table.to_arrays().values())
        for matrix in (self._ease, self._seq):
            if matrix is not None:
                total += matrix.data.nbytes + matrix.indices.nbytes + matrix.indptr.nbytes
        total += self._spans.nbytes if self._spans is not None else 0
        return total + (self._now_prior.nbytes if self._now_prior is not None else 0)

    # ------------------------------------------------------------ scoring

    def _remembered(self, history: UserHistory) -> _Scoring | None:
        """The scoring just made of this very history, if still remembered."""
        key = _history_key(history)
        with self._recent_lock:
            return self._recent.get(key)

    def _scoring(self, history: UserHistory) -> _Scoring:
        """The history's rows, weights and model rows: remembered from the scoring just made, else made now."""
        found = self._remembered(history)
        return found if found is not None else self._score(history, _history_key(history))[1]

    def _score(self, history: UserHistory, key: bytes) -> tuple[np.ndarray, _Scoring, np.ndarray | float]:
        """Score every item from ``history``, and say what the popularity prior alone gave each; the rows read on the
        way are remembered for ``explain`` and ``predict_ratings`` on the same history (so neither slices the model
        again)."""
        cfg = self.config
        table = self.table
        latest = history.latest_per_item()
        rows, known = table.rows_of(latest.item_ids)
        if latest is history:  # already oldest first, one rating per movie: the positions need no sort
            positions = np.arange(len(latest) - 1, -1, -1, dtype=np.float64)[known]
        else:
            positions = latest.recency_positions()[known]
        if cfg.rating_centre is None:
            w_long = np.ones(len(rows))
        else:
            w_long = latest.ratings[known].astype(np.float64) - cfg.rating_centre
        w_ease = w_long * _decay(positions, cfg.ease_user_half_life)
        w_seq = w_long * _decay(positions, cfg.seq_user_half_life)
        n = len(table)
        total = np.zeros(n)
        base: np.ndarray | float = 0.0  # the popularity prior: what a movie no rated movie links to scores
        ease_rows = seq_rows = None
        ease_norm = seq_norm = long_norm = 0.0
        if len(rows):
            # Each part's item scores are ``links.T @ user_weights``, one row of links per rated movie; the recent
            # and long-term EASE parts read the same rows in one pass.
            if (cfg.ease_weight > 0 or cfg.long_weight > 0) and self._ease is not None and self._ease.nnz:
                ease_rows = self._ease[rows]
                both = np.asarray(ease_rows.T @ np.column_stack((w_ease, w_long)))
                if cfg.ease_weight > 0:
                    ease_norm = _add_normalised(total, cfg.ease_weight, both[:, 0])
                if cfg.long_weight > 0:
                    long_norm = _add_normalised(total, cfg.long_weight, both[:, 1])
            if cfg.seq_weight > 0 and self._seq is not None and self._seq.nnz:
                seq_rows = self._seq[rows]
                seq_norm = _add_normalised(total, cfg.seq_weight, np.asarray(seq_rows.T @ w_seq).ravel())
        if cfg.pop_weight > 0 and n:
            popularity = self._popularity(history)
            top = popularity.max()
            if top > 0:
                prior = cfg.pop_weight * 0.5 ** (len(rows) / cfg.pop_half_life)
                base = prior / top * popularity
                total += base
        scoring = _Scoring(
            latest,
            known,
            rows,
            latest.ratings[known],
            w_ease,
            w_seq,
            w_long,
            (ease_norm, seq_norm, long_norm),
            ease_rows,
            seq_rows,
            sum(m.nnz for m in (ease_rows, seq_rows) if m is not None),
        )
        self._remember(key, scoring)
        return total, scoring, base

    def _popularity(self, history: UserHistory) -> np.ndarray:
        """The prior's popularity per item: the training rating count, or with ``pop_recent_half_life`` the ratings
        made by now, recency-weighted backwards (``RatingSpans.prior``); with ``pop_at_latest_rating``, those made
        at or before the history's latest rating (an empty history: now). A model saved for serving has only the prior
        counted now, for the half-life it was saved with (another half-life: the count); one saved before the spans
        existed has the count only."""
        cfg = self.config
        half_life = cfg.pop_recent_half_life
        spans = self._spans
        if spans is None and half_life is not None and half_life == self._now_half_life:
            assert self._now_prior is not None
            return self._now_prior  # a model saved for serving: counted now, for the half-life it was saved with
        if half_life is None or spans is None:
            return self.table.rating_count.astype(np.float64)
        at_latest = cfg.pop_at_latest_rating and len(history)
        counted = spans.counted(float(history.timestamps.max()) if at_latest else np.inf)
        key = (counted, half_life)
        with self._recent_lock:
            found = self._priors.get(key)
        if found is None:
            found = spans.prior(counted, half_life)
            with self._recent_lock:
                self._priors[key] = found
                while len(self._priors) > _PRIORS_KEPT:
                    self._priors.popitem(last=False)
        return found

    def _recent_prior_on(self) -> bool:
        """Whether ``_popularity`` gives the recent prior (not the plain rating count)."""
        half_life = self.config.pop_recent_half_life
        return half_life is not None and (self._spans is not None or half_life == self._now_half_life)

    def score_all(self, history: UserHistory) -> np.ndarray:
        """One score per item of the model's universe (aligned with ``item_ids``), before any exclusion."""
        return self._score(history, _history_key(history))[0]

    @property
    def item_ids(self) -> np.ndarray:
        return self.table.ids

    def recommend(
        self,
        history: UserHistory,
        n: int,
        *,
        exclude_seen: bool = True,
        candidates: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        scores, scoring, base = self._score(history, _history_key(history))
        seen = scoring.rows if exclude_seen else None  # every rated movie the model knows, once
        allowed = None
        if candidates is None and 0 < n and scoring.links < _SPARSE_SELECTION * len(self.table):
            allowed = self._contenders(scores, base, seen, n)
        return top_n(self.table, scores, n, exclude_rows=seen, candidates=candidates, allowed=allowed)

    def _contenders(self, scores: np.ndarray, base: np.ndarray | float, seen: np.ndarray | None, n: int) -> np.ndarray:
        """The rows that can be among the ``n`` best (a mask), so the selection sorts those, not the catalogue.

        A movie none of the rated movies links to scores its popularity prior exactly (``base``). The plain prior
        grows with its training rating count, the first key of the fallback order that breaks ties: among those
        movies the fallback order is the score order. So the contenders are every movie the links moved off its
        prior, and the first ``n`` of the others in fallback order that are not excluded. The recent prior has its
        own order: then the others kept are those whose prior is at least the ``n``-th largest among them.
        """
        plain: np.ndarray = np.asarray(scores == base)
        allowed: np.ndarray = ~plain
        if seen is not None and len(seen):
            plain[seen] = False
        if isinstance(base, np.ndarray) and self._recent_prior_on():
            # the recent prior does not follow the fallback order: keep the plain movies whose prior reaches the n-th
            # largest (every tie with it too; the selection orders them)
            priors = base[plain]
            if len(priors) > n:
                allowed |= plain & (base >= np.partition(priors, len(priors) - n)[len(priors) - n])
            else:
                allowed |= plain
            return allowed
        order = self._fallback_order()
        allowed[order[np.flatnonzero(plain[order])[:n]]] = True
        return allowed

    def _fallback_order(self) -> np.ndarray:
        """Rows by ``fallback_rank``, best first: fixed for a fitted model."""
        found = self._order_cache
        if found is None:
            found = self._order_cache = np.argsort(self.table.fallback_rank, kind="stable")
        return found

    def reasons(self, history: UserHistory, item_ids: np.ndarray, genre: str | None = None) -> list[Reason]:
        """The rated movie that contributed most to each item (``explain``), with the user's rating of it;
        popularity where none did."""
        scoring = self._scoring(history)
        sources = self._sources(scoring, np.asarray(item_ids, dtype=np.int64).reshape(-1))
        ids, rows, ratings = self.table.ids, scoring.rows, scoring.ratings
        return [
            Reason() if index is None else Reason(rated=int(ids[rows[index]]), rating=int(ratings[index]))
            for index in sources
        ]

    def explain(self, history: UserHistory, item_ids: np.ndarray) -> list[int | None]:
        """For each item, the rated movie whose weighted neighbour link contributed most to its score.

        Reads only the links from the rated movies to ``item_ids``, in the model rows and with the score scales of
        the ``recommend`` just made for the same history (remembered briefly), so nothing is sliced or scored twice.
        """
        scoring = self._scoring(history)
        sources = self._sources(scoring, np.asarray(item_ids, dtype=np.int64).reshape(-1))
        ids = self.table.ids
        return [None if index is None else int(ids[scoring.rows[index]]) for index in sources]

    def _sources(self, scoring: _Scoring, item_ids: np.ndarray) -> list[int | None]:
        """Per item, the index (into ``scoring.rows``) of the rated movie that contributed most, None if none did.

        A rated movie contributes to an item through the links between them only: each part's contributions are
        written from those links (``_Targets``) into one rated x distinct-items block, so no dense block is made per
        part nor copied per item (the same values, added in the same order, as before)."""
        result: list[int | None] = [None] * len(item_ids)
        if len(item_ids) == 0:
            return result
        cfg = self.config
        targets = scoring.targets(self.table, item_ids)
        if len(scoring.rows) == 0 or len(targets.rows) == 0:
            return result
        ease_norm, seq_norm, long_norm = scoring.norms
        # one column per distinct item, column-major so that each column's argmax reads contiguous memory
        contribution = np.zeros((len(scoring.rows), len(targets.rows)), order="F")
        if (ease_norm > 0 or long_norm > 0) and scoring.ease_rows is not None:
            rated, slots, links = targets.links("ease", scoring.ease_rows)
            value = None
            if ease_norm > 0:
                value = (cfg.ease_weight / ease_norm * scoring.w_ease)[rated] * links
            if long_norm > 0:
                recent = (cfg.long_weight / long_norm * scoring.w_long)[rated] * links
                value = recent if value is None else value + recent
            contribution[rated, slots] = value
        if seq_norm > 0 and scoring.seq_rows is not None:
            rated, slots, links = targets.links("seq", scoring.seq_rows)
            contribution[rated, slots] += (cfg.seq_weight / seq_norm * scoring.w_seq)[rated] * links
        first = contribution.argmax(axis=0)  # the first of equal ones
        best = np.where(contribution[first, np.arange(len(targets.rows))] > 0, first, -1)
        for slot, index in zip(targets.known.tolist(), best[targets.slot_of].tolist(), strict=True):
            if index >= 0:
                result[slot] = index
        return result

    def predict_ratings(self, history: UserHistory, item_ids: np.ndarray) -> np.ndarray:
        """The rating (1-10) the user would likely give each of ``item_ids``, one float per id, in order.

        A shrunk baseline plus a neighbour term: the training mean ``mu``; the item's offset, its training ratings'
        mean minus ``mu`` shrunk as if it had ``ITEM_SHRINK`` more ratings at ``mu``; the user's offset, the
        history's ratings minus their items' baselines, shrunk by ``USER_SHRINK``; then the EASE links from the
        rated movies to the item, weighting the history's residuals (``sum w r / (sum |w| + NEIGHBOUR_SHRINK)``).
        Clipped to 1-10. Unknown items get ``mu`` plus the user's offset. Reads the EASE rows of the history the
        scoring already sliced (and the same links ``explain`` read); ``mu`` and the item offsets are the model's,
        computed once.
        """
        table = self.table
        item_ids = np.asarray(item_ids, dtype=np.int64).reshape(-1)
        mu, item_offset = self._baseline()
        scoring = self._remembered(history)
        if scoring is not None:
            history, rows, known = scoring.latest, scoring.rows, scoring.known
        else:
            history = history.latest_per_item()
            rows, known = table.rows_of(history.item_ids)
        ratings = history.ratings.astype(np.float64)
        offsets = np.zeros(len(history))
        offsets[known] = item_offset[rows]
        user_offset = float((ratings - mu - offsets).sum() / (len(history) + USER_SHRINK)) if len(history) else 0.0
        out = np.full(len(item_ids), mu + user_offset)
        found = scoring.targets(table, item_ids) if scoring is not None else _Targets.of(table, item_ids)
        target_known = found.known
        out[target_known] += item_offset[found.rows[found.slot_of]]
        if len(rows) and len(found.rows) and self._ease is not None and self._ease.nnz:
            residual = ratings[known] - mu - user_offset - item_offset[rows]
            # not scored just now, or scored without its EASE part: read the rated movies' links alone
            sub = scoring.ease_rows if scoring is not None and scoring.ease_rows is not None else self._ease[rows]
            rated, slots, links = found.links("ease", sub)
            # summed down each item's column as numpy sums a column-major block (pairwise): the same bits as ever
            block = np.zeros((len(rows), len(found.rows)), order="F")
            block[rated, slots] = links
            weight = np.abs(block).sum(axis=0) + NEIGHBOUR_SHRINK
            term = (block * residual[:, None]).sum(axis=0) / weight
            out[target_known] += term[found.slot_of]
        clipped: np.ndarray = np.clip(out, 1.0, 10.0)
        return clipped

    def _baseline(self) -> tuple[float, np.ndarray]:
        """``predict_ratings``'s training mean and shrunk item offsets (one per item): fixed for a fitted model."""
        found = self._baseline_cache
        if found is None:
            table = self.table
            counts = table.rating_count.astype(np.float64)
            total = float(counts.sum())
            mu = float((table.rating_mean * counts).sum() / total) if total > 0 else 5.5
            found = self._baseline_cache = (mu, counts * (table.rating_mean - mu) / (counts + ITEM_SHRINK))
        return found

    def _remember(self, key: bytes, scoring: _Scoring) -> None:
        """Keep the latest scorings, at most ``_RECENT_SCORINGS`` and ``_RECENT_LINKS`` model links in all."""
        with self._recent_lock:
            self._recent.pop(key, None)
            self._recent[key] = scoring
            links = sum(s.links for s in self._recent.values())
            while len(self._recent) > 1 and (len(self._recent) > _RECENT_SCORINGS or links > _RECENT_LINKS):
                _, dropped = self._recent.popitem(last=False)
                links -= dropped.links

    def similar_items(self, item_id: int, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Movies linked to ``item_id`` (as if a user had rated only it); by genre when it has no links."""
        table = self.table
        rows, known = table.rows_of(np.array([item_id]))
        if not known.all() or n <= 0:
            return _EMPTY_IDS, _EMPTY_SCORES
        row = int(rows[0])
        cfg = self.config
        scores = np.zeros(len(table))
        for weight, matrix in ((cfg.ease_weight + cfg.long_weight, self._ease), (cfg.seq_weight, self._seq)):
            if weight > 0 and matrix is not None and matrix.nnz:
                links = matrix[row].toarray().ravel().astype(np.float64)
                norm = float(np.abs(links).max())
                if norm > 0:
                    scores += weight / norm * links
        if not (scores > 0).any():
            return genre_similar(table, item_id, n)
        return top_n(table, scores, n, exclude_rows=np.array([row]), allowed=scores > 0)

    # ------------------------------------------------------------ storage

    def save(self, path: str | os.PathLike[str]) -> None:
        arrays = self.table.to_arrays()
        for key, matrix in (("ease", self._ease), ("seq", self._seq)):
            assert matrix is not None
            arrays[f"{key}_data"] = matrix.data.astype(np.float32)
            arrays[f"{key}_indices"] = matrix.indices.astype(np.int32)
            arrays[f"{key}_indptr"] = matrix.indptr.astype(np.int64)
        if self._spans is not None and self.config.pop_at_latest_rating:
            arrays.update(self._spans.to_arrays())  # a model that replays the past needs every span
        elif self._recent_prior_on():
            # served, the prior is always counted now: one value per item (not 22 MB of spans at 25M ratings)
            arrays["pop_recent_now"] = self._popularity(UserHistory.empty())
        save_arrays(path, self.name, self.config.model_dump(), arrays)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Self:
        config, arrays = load_arrays(path, cls.name)
        model = cls(cls.config_class.model_validate(config))
        table = ItemTable.from_arrays(arrays)
        n = len(table)
        matrices = []
        for key in ("ease", "seq"):
            matrix = sp.csr_matrix(
                (arrays[f"{key}_data"], arrays[f"{key}_indices"], arrays[f"{key}_indptr"]), shape=(n, n)
            )
            matrices.append(matrix)
        model._table, model._ease, model._seq = table, matrices[0], matrices[1]
        model._spans = RatingSpans.from_arrays(arrays)
        if "pop_recent_now" in arrays and model._spans is None:
            model._now_prior = arrays["pop_recent_now"].astype(np.float64)
            model._now_half_life = model.config.pop_recent_half_life
        return model


class EaseRecommender(EaseSeqRecommender):
    """Plain EASE: binary user vector, no recency, no sequential part (kept as a baseline)."""

    name: ClassVar[str] = "ease"

    @classmethod
    def default_config(cls) -> EaseSeqConfig:
        return EaseSeqConfig(
            l2=500.0,
            seq_window=0,
            seq_weight=0.0,
            long_weight=0.0,
            ease_user_half_life=None,
            seq_user_half_life=None,
            rating_centre=None,
            pop_weight=0.0,
        )


# Shrinkage of predict_ratings, in ratings: an item's or a user's offset from the mean counts fully only once
# it rests on many more ratings than this; the neighbour term is damped while its links are weaker than this.
ITEM_SHRINK = 5.0
USER_SHRINK = 3.0
NEIGHBOUR_SHRINK = 0.1

# Scorings remembered between recommend and explain/reasons/predict_ratings of the same history (one request's calls,
# a few requests at once): at most this many, holding at most this many model links in all (8 bytes each: 8 MB; a
# 2,000-rating history reads ~460k). One evicted early is scored again when asked for: the same answer, more CPU.
_RECENT_SCORINGS = 8
_PRIORS_KEPT = 16  # recent priors kept, by the spans they count (a new user's, served now, is always the same one)
# recommend sorts only the movies that can make the list when the history's links touch fewer than this share of the
# catalogue (short histories); past it, the whole catalogue is cheaper than finding them
_SPARSE_SELECTION = 0.25
_RECENT_LINKS = 1_000_000


@dataclass(slots=True)
class _Scoring:
    """What scoring one history read: the rows of its rated movies the model knows (latest rating per movie), their
    ratings and weights, the score scales, and those rows of the EASE and sequential matrices (None when the part was
    not scored). ``block`` gives the links from these rows to a few target rows, remembered for the last targets."""

    latest: UserHistory  # the history, latest rating per movie
    known: np.ndarray  # which of its movies the model knows
    rows: np.ndarray
    ratings: np.ndarray
    w_ease: np.ndarray
    w_seq: np.ndarray
    w_long: np.ndarray
    norms: tuple[float, float, float]  # recent EASE, sequential, long-term
    ease_rows: sp.csr_matrix | None
    seq_rows: sp.csr_matrix | None
    links: int  # entries in ease_rows and seq_rows
    last_targets: tuple[bytes, _Targets] | None = None

    def targets(self, table: ItemTable, item_ids: np.ndarray) -> _Targets:
        """``_Targets.of`` these items, remembered for the last items asked (``explain`` then ``predict_ratings``)."""
        key = item_ids.tobytes()
        found = self.last_targets
        if found is not None and found[0] == key:
            return found[1]
        made = _Targets.of(table, item_ids)
        self.last_targets = (key, made)
        return made


@dataclass(slots=True)
class _Targets:
    """A few items to read links to: their distinct rows (``rows``), which of the items the model knows (``known``:
    their positions) and the slot of each known one in ``rows`` (``slot_of``); ``links`` per part, remembered."""

    rows: np.ndarray
    known: np.ndarray
    slot_of: np.ndarray
    slot: np.ndarray  # per model row, its slot in ``rows`` or -1
    found: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = field(default_factory=dict)

    @classmethod
    def of(cls, table: ItemTable, item_ids: np.ndarray) -> _Targets:
        rows, known = table.rows_of(item_ids)
        wanted, slot_of = np.unique(rows, return_inverse=True)
        kind = np.int8 if len(wanted) < 128 else np.int32  # a small table: the pass over the entries stays in cache
        slot = np.full(len(table), -1, dtype=kind)
        slot[wanted] = np.arange(len(wanted), dtype=kind)
        return cls(wanted, np.flatnonzero(known), slot_of.reshape(-1), slot)

    def links(self, part: str, sub: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The links of ``sub`` (some rows of the ``part`` matrix) to these items, row by row: the row of each (its
        position in ``sub``), the item's slot and the weight (float64); one pass over ``sub``'s entries."""
        found = self.found.get(part)
        if found is None:
            slots = self.slot[sub.indices]
            hits = np.flatnonzero(slots >= 0)
            rated = np.searchsorted(sub.indptr, hits, side="right") - 1
            found = self.found[part] = (rated, slots[hits].astype(np.int64), sub.data[hits].astype(np.float64))
        return found


def _history_key(history: UserHistory) -> bytes:
    digest = hashlib.blake2b(digest_size=16)
    for array in (history.item_ids, history.ratings, history.timestamps):
        digest.update(np.ascontiguousarray(array).tobytes())
        digest.update(b"|")
    return digest.digest()


def _decay(positions: np.ndarray, half_life: float | None) -> np.ndarray:
    if half_life is None:
        return np.ones(len(positions))
    return 0.5 ** (positions / half_life)


def _latest_per_pair(interactions: Interactions) -> Interactions:
    """One rating per (user, item): the most recent."""
    n = len(interactions)
    if n == 0:
        return interactions
    order = np.lexsort((np.arange(n), interactions.timestamps, interactions.item_ids, interactions.user_ids))
    users, items = interactions.user_ids[order], interactions.item_ids[order]
    last = np.r_[(users[1:] != users[:-1]) | (items[1:] != items[:-1]), True]
    if last.all():  # no pair rated twice (the database's key guarantees it): no copy
        return interactions
    return interactions.subset(np.sort(order[last]))
