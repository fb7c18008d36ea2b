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
  seq_weight * seq + pop_weight * 0.5 ** (n_ratings / pop_half_life) * popularity`` (popularity = training rating
  count / its maximum), so a user with no ratings gets the popular list and the prior fades as ratings
  accumulate.
"""

from __future__ import annotations

import os
from typing import Any, ClassVar, Self

import numpy as np
import scipy.linalg
import scipy.sparse as sp
from pydantic import BaseModel, ConfigDict, Field

from movierec.domain.recommenders.base import (
    _EMPTY_IDS,
    _EMPTY_SCORES,
    Interactions,
    ItemCatalogue,
    ItemTable,
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
    ease_weight: float = Field(1.0, ge=0)
    seq_weight: float = Field(1.4, ge=0)
    ease_user_half_life: float | None = Field(10.0, gt=0)  # None: every rating weighs the same
    seq_user_half_life: float | None = Field(5.0, gt=0)
    rating_centre: float | None = 5.5  # None: binary (every rating counts +1)
    pop_weight: float = Field(1.0, ge=0)
    pop_half_life: float = Field(3.0, gt=0)  # in ratings: the prior halves with every this many


SCORING_FIELDS = frozenset(
    {
        "ease_weight",
        "seq_weight",
        "ease_user_half_life",
        "seq_user_half_life",
        "rating_centre",
        "pop_weight",
        "pop_half_life",
    }
)


def _ease_weights(gram: np.ndarray, l2: float) -> np.ndarray:
    """Closed-form EASE on a dense Gram matrix (Cholesky inverse: the matrix is positive definite).

    Works in float32 and in place where it can, so the peak memory is about two n x n float32 matrices.
    """
    gram = np.asarray(gram, dtype=np.float32)
    gram[np.diag_indices_from(gram)] += np.float32(l2)
    factor, info = scipy.linalg.lapack.spotrf(gram, lower=False, overwrite_a=True)
    if info != 0:
        raise np.linalg.LinAlgError(f"Cholesky factorisation failed ({info})")
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


def _dense_top_k(dense: np.ndarray, k: int, chunk: int = 1024) -> sp.csr_matrix:
    """Keep the ``k`` largest-magnitude non-zero entries of each row of a dense matrix."""
    n_rows, n_cols = dense.shape
    k = min(k, n_cols)
    indptr = [0]
    indices: list[np.ndarray] = []
    data: list[np.ndarray] = []
    for start in range(0, n_rows, chunk):
        block = dense[start : start + chunk]
        if k < n_cols:
            cols = np.argpartition(-np.abs(block), k - 1, axis=1)[:, :k]
        else:
            cols = np.broadcast_to(np.arange(n_cols), block.shape)
        values = np.take_along_axis(block, cols, axis=1)
        for row_cols, row_values in zip(cols, values, strict=True):
            nonzero = row_values != 0
            order = np.argsort(row_cols[nonzero])
            indices.append(row_cols[nonzero][order].astype(np.int32))
            data.append(row_values[nonzero][order].astype(np.float32))
            indptr.append(indptr[-1] + int(nonzero.sum()))
    return sp.csr_matrix(
        (
            np.concatenate(data) if data else np.zeros(0, np.float32),
            np.concatenate(indices) if indices else np.zeros(0, np.int32),
            np.asarray(indptr, dtype=np.int64),
        ),
        shape=dense.shape,
    )


def _sparse_top_k(matrix: sp.csr_matrix, k: int) -> sp.csr_matrix:
    """Keep the ``k`` largest-magnitude entries of each row of a CSR matrix."""
    matrix = matrix.tocsr()
    matrix.sum_duplicates()
    matrix.eliminate_zeros()
    lengths = np.diff(matrix.indptr)
    keep = np.ones(matrix.nnz, dtype=bool)
    for row in np.flatnonzero(lengths > k).tolist():
        start, end = matrix.indptr[row], matrix.indptr[row + 1]
        values = np.abs(matrix.data[start:end])
        drop = np.argpartition(-values, k - 1)[k:]
        keep[start + drop] = False
    rows = np.repeat(np.arange(matrix.shape[0]), lengths)[keep]
    out = sp.csr_matrix(
        (matrix.data[keep].astype(np.float32), (rows, matrix.indices[keep])),
        shape=matrix.shape,
        dtype=np.float32,
    )
    out.indices = out.indices.astype(np.int32)
    return out


def _sequential_counts(
    users: np.ndarray,
    rows: np.ndarray,
    ratings: np.ndarray,
    timestamps: np.ndarray,
    item_ids: np.ndarray,
    n_items: int,
    config: EaseSeqConfig,
) -> sp.csr_matrix:
    """Decayed counts of "``j`` was rated within ``seq_window`` ratings after ``i`` by the same user"."""
    order = np.lexsort((item_ids, timestamps, users))
    users, rows, liked = users[order], rows[order], ratings[order] >= 8
    total = sp.csr_matrix((n_items, n_items), dtype=np.float64)
    batch: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    for distance in range(1, config.seq_window + 1):
        same = users[distance:] == users[:-distance]
        if not same.any():
            break
        later_liked = liked[distance:][same]
        weight = 0.5 ** ((distance - 1) / config.seq_half_life)
        values = np.where(later_liked, weight, weight * config.seq_disliked_weight)
        batch.append((rows[:-distance][same], rows[distance:][same], values))
        if sum(len(b[0]) for b in batch) > 2_000_000:
            total = total + _coo(batch, n_items)
            batch = []
    if batch:
        total = total + _coo(batch, n_items)
    return total.tocsr()


def _coo(batch: list[tuple[np.ndarray, np.ndarray, np.ndarray]], n_items: int) -> sp.csr_matrix:
    src = np.concatenate([b[0] for b in batch])
    dst = np.concatenate([b[1] for b in batch])
    values = np.concatenate([b[2] for b in batch])
    keep = src != dst  # a re-rated movie does not predict itself
    return sp.csr_matrix((values[keep], (src[keep], dst[keep])), shape=(n_items, n_items))


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
        cfg = self.config
        table = ItemTable.build(interactions, items)
        n = len(table)
        latest = _latest_per_pair(interactions)
        rows = np.searchsorted(table.ids, latest.item_ids)
        _, users = np.unique(latest.user_ids, return_inverse=True)
        n_users = int(users.max()) + 1 if len(users) else 0

        counts = table.rating_count
        eligible = np.flatnonzero(counts >= cfg.ease_min_count)
        if len(eligible) > cfg.ease_max_items:
            eligible = np.sort(eligible[np.argsort(-counts[eligible], kind="stable")[: cfg.ease_max_items]])
        self._ease = sp.csr_matrix((n, n), dtype=np.float32)
        if cfg.ease_weight > 0 and len(eligible) > 1:
            column = np.full(n, -1, dtype=np.int64)
            column[eligible] = np.arange(len(eligible))
            mask = column[rows] >= 0
            x = sp.csr_matrix(
                (np.ones(int(mask.sum())), (users[mask], column[rows[mask]])), shape=(n_users, len(eligible))
            )
            gram = (x.T @ x).toarray()
            pruned = _dense_top_k(_ease_weights(gram, cfg.l2), cfg.neighbours).tocoo()
            self._ease = sp.csr_matrix(
                (pruned.data, (eligible[pruned.row], eligible[pruned.col])), shape=(n, n), dtype=np.float32
            )
            self._ease.indices = self._ease.indices.astype(np.int32)

        self._seq = sp.csr_matrix((n, n), dtype=np.float32)
        if cfg.seq_weight > 0 and cfg.seq_window > 0 and len(latest):
            counts_seq = _sequential_counts(users, rows, latest.ratings, latest.timestamps, latest.item_ids, n, cfg)
            row_sum = np.asarray(counts_seq.sum(axis=1)).ravel() + 1.0
            col_sum = np.asarray(counts_seq.sum(axis=0)).ravel() + 1.0
            normalised = (
                sp.diags(row_sum**-cfg.seq_row_exponent) @ counts_seq @ sp.diags(col_sum**-cfg.seq_pop_exponent)
            )
            self._seq = _sparse_top_k(sp.csr_matrix(normalised), cfg.neighbours)
        self._table = table
        return self

    def reconfigured(self, **changes: Any) -> Self:
        """A copy sharing the fitted matrices with different scoring-only settings (used by tuning)."""
        unknown = set(changes) - SCORING_FIELDS
        if unknown:
            raise ValueError(f"{sorted(unknown)} need a refit")
        clone = type(self)(self.config, **changes)
        clone._table, clone._ease, clone._seq = self._table, self._ease, self._seq
        return clone

    @property
    def nbytes(self) -> int:
        """Memory held by the fitted model's arrays."""
        total = sum(a.nbytes for a in self.table.to_arrays().values())
        for matrix in (self._ease, self._seq):
            if matrix is not None:
                total += matrix.data.nbytes + matrix.indices.nbytes + matrix.indptr.nbytes
        return total

    # ------------------------------------------------------------ scoring

    def _weights(self, history: UserHistory) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Rows of the rated items the model knows, with their EASE and sequential weights."""
        cfg = self.config
        table = self.table
        history = history.latest_per_item()
        rows, known = table.rows_of(history.item_ids)
        positions = history.recency_positions()[known]
        if cfg.rating_centre is None:
            base = np.ones(len(rows))
        else:
            base = history.ratings[known].astype(np.float64) - cfg.rating_centre
        w_ease = base * _decay(positions, cfg.ease_user_half_life)
        w_seq = base * _decay(positions, cfg.seq_user_half_life)
        return rows, w_ease, w_seq

    def _scores(self, history: UserHistory) -> tuple[np.ndarray, dict[str, Any]]:
        cfg = self.config
        table = self.table
        rows, w_ease, w_seq = self._weights(history)
        n = len(table)
        total = np.zeros(n)
        parts: dict[str, Any] = {
            "rows": rows,
            "w_ease": w_ease,
            "w_seq": w_seq,
            "ease_norm": 0.0,
            "seq_norm": 0.0,
        }
        if len(rows):
            if cfg.ease_weight > 0 and self._ease is not None and self._ease.nnz:
                ease = np.asarray(self._ease[rows].T @ w_ease).ravel()
                norm = float(np.abs(ease).max())
                if norm > 0:
                    total += cfg.ease_weight / norm * ease
                    parts["ease_norm"] = norm
            if cfg.seq_weight > 0 and self._seq is not None and self._seq.nnz:
                seq = np.asarray(self._seq[rows].T @ w_seq).ravel()
                norm = float(np.abs(seq).max())
                if norm > 0:
                    total += cfg.seq_weight / norm * seq
                    parts["seq_norm"] = norm
        if cfg.pop_weight > 0:
            top = table.rating_count.max() if n else 0
            if top > 0:
                prior = cfg.pop_weight * 0.5 ** (len(rows) / cfg.pop_half_life)
                total += prior * table.rating_count / top
        return total, parts

    def score_all(self, history: UserHistory) -> np.ndarray:
        """One score per item of the model's universe (aligned with ``item_ids``), before any exclusion."""
        return self._scores(history)[0]

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
        scores, _ = self._scores(history)
        seen = self.table.rows_of(history.item_ids)[0] if exclude_seen else None
        return top_n(self.table, scores, n, exclude_rows=seen, candidates=candidates)

    def explain(self, history: UserHistory, item_ids: np.ndarray) -> list[int | None]:
        """For each item, the rated movie whose weighted neighbour link contributed most to its score."""
        item_ids = np.asarray(item_ids, dtype=np.int64).reshape(-1)
        if len(item_ids) == 0:
            return []
        cfg = self.config
        table = self.table
        _, parts = self._scores(history)
        rows = parts["rows"]
        targets, known = table.rows_of(item_ids)
        result: list[int | None] = [None] * len(item_ids)
        if len(rows) == 0 or len(targets) == 0:
            return result
        contribution = np.zeros((len(rows), len(targets)))
        if parts["ease_norm"] > 0:
            block = self._ease[rows][:, targets].toarray()  # type: ignore[index]
            contribution += cfg.ease_weight / parts["ease_norm"] * parts["w_ease"][:, None] * block
        if parts["seq_norm"] > 0:
            block = self._seq[rows][:, targets].toarray()  # type: ignore[index]
            contribution += cfg.seq_weight / parts["seq_norm"] * parts["w_seq"][:, None] * block
        best = contribution.argmax(axis=0)
        best_value = contribution[best, np.arange(len(targets))]
        history_ids = table.ids[rows]
        for slot, (index, value) in zip(
            np.flatnonzero(known).tolist(), zip(best, best_value, strict=True), strict=True
        ):
            if value > 0:
                result[slot] = int(history_ids[index])
        return result

    def similar_items(self, item_id: int, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Movies linked to ``item_id`` (as if a user had rated only it); by genre when it has no links."""
        table = self.table
        rows, known = table.rows_of(np.array([item_id]))
        if not known.all() or n <= 0:
            return _EMPTY_IDS, _EMPTY_SCORES
        row = int(rows[0])
        cfg = self.config
        scores = np.zeros(len(table))
        for weight, matrix in ((cfg.ease_weight, self._ease), (cfg.seq_weight, self._seq)):
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
            ease_user_half_life=None,
            seq_user_half_life=None,
            rating_centre=None,
            pop_weight=0.0,
        )


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
    return interactions.subset(np.sort(order[last]))
