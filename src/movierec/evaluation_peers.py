"""The peers ``movierec eval`` measures the strategies against, each fitted on a protocol's training part.

Every peer sees the binary user x item training matrix (a rating, whatever its value, is an interaction) and
ranks, for each evaluation user, the training items that user has not rated, from the user's history as the
protocol gives it (for the cold protocol the user is not in training at all: the item-item peers score the
history directly, ALS solves the user's factors from it, BPR averages the history's item factors).

* ``item_knn``: ``implicit``'s cosine item-item neighbours (``K`` neighbours per item).
* ``ease_dense``: EASE (Steck 2019) with the full dense weight matrix over every item with at least two
  training ratings, ``l2`` tuned.
* ``rp3beta``: RP3beta (Paudel et al. 2017): ``W = P_iu^a P_ui^a``, columns divided by popularity ** beta,
  ``K`` largest weights per row.
* ``implicit_als`` / ``implicit_bpr``: ``implicit``'s ALS and BPR, 15 and 100 iterations.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp

from movierec.domain.evaluation import EvalUser
from movierec.domain.recommenders.base import Interactions
from movierec.domain.recommenders.ease import _dense_top_k, _ease_weights

ALS_ITERATIONS = 15
BPR_ITERATIONS = 100


class Peer:
    """Shared plumbing: the dense item index of the training part and top-k over the unseen items."""

    name: ClassVar[str] = ""

    def __init__(self, **params: Any) -> None:
        self.params = params

    def fit(self, train: Interactions) -> Peer:
        self.users, user_rows = np.unique(train.user_ids, return_inverse=True)
        self.items, item_cols = np.unique(train.item_ids, return_inverse=True)
        matrix = sp.csr_matrix(
            (np.ones(len(train), dtype=np.float32), (user_rows, item_cols)),
            shape=(len(self.users), len(self.items)),
        )
        matrix.sum_duplicates()
        matrix.data[:] = 1.0
        self.matrix = matrix
        self._fit(matrix)
        return self

    def _fit(self, matrix: sp.csr_matrix) -> None:
        raise NotImplementedError

    def histories(self, users: list[EvalUser]) -> sp.csr_matrix:
        """The users' histories as binary rows over the training items (items unknown to training dropped)."""
        rows, cols = [], []
        for index, user in enumerate(users):
            ids = np.unique(user.history.item_ids)
            pos = np.searchsorted(self.items, ids)
            pos = np.minimum(pos, len(self.items) - 1)
            known = pos[self.items[pos] == ids]
            rows.append(np.full(len(known), index))
            cols.append(known)
        r = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
        c = np.concatenate(cols) if cols else np.zeros(0, dtype=np.int64)
        return sp.csr_matrix(
            (np.ones(len(r), dtype=np.float32), (r, c)), shape=(len(users), len(self.items)), dtype=np.float32
        )

    def scores(self, users: list[EvalUser], history: sp.csr_matrix) -> np.ndarray:
        raise NotImplementedError

    def rank(self, users: list[EvalUser], k: int) -> list[np.ndarray]:
        out: list[np.ndarray] = []
        for start in range(0, len(users), 256):
            batch = users[start : start + 256]
            history = self.histories(batch)
            scores = np.asarray(self.scores(batch, history), dtype=np.float64)
            scores[history.nonzero()] = -np.inf
            for row in scores:
                top = np.argpartition(-row, min(k, len(row) - 1))[:k]
                top = top[np.lexsort((top, -row[top]))]
                top = top[np.isfinite(row[top])]
                out.append(self.items[top])
        return out


class ItemKnnPeer(Peer):
    name: ClassVar[str] = "item_knn"

    def _fit(self, matrix: sp.csr_matrix) -> None:
        from implicit.nearest_neighbours import ItemItemRecommender

        # cosine = the dot product of unit-length item columns (what implicit's CosineRecommender does, but
        # handing it CSR: its own normalisation passes COO and warns)
        norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=0)).ravel())
        unit = sp.csr_matrix(matrix @ sp.diags(1.0 / np.maximum(norms, 1e-12)), dtype=np.float64)
        self.model = ItemItemRecommender(K=int(self.params.get("K", 100)), num_threads=1)
        self.model.fit(unit, show_progress=False)
        self.similarity = sp.csr_matrix(self.model.similarity, dtype=np.float32)

    def scores(self, users: list[EvalUser], history: sp.csr_matrix) -> np.ndarray:
        return np.asarray((history @ self.similarity).toarray())


class EaseDensePeer(Peer):
    name: ClassVar[str] = "ease_dense"

    def _fit(self, matrix: sp.csr_matrix) -> None:
        counts = np.asarray(matrix.sum(axis=0)).ravel()
        self.eligible = np.flatnonzero(counts >= 2)
        x = matrix[:, self.eligible]
        gram = (x.T @ x).toarray()
        self.weights = _ease_weights(gram, float(self.params.get("l2", 500.0)))

    def scores(self, users: list[EvalUser], history: sp.csr_matrix) -> np.ndarray:
        out = np.zeros(history.shape, dtype=np.float64)
        out[:, self.eligible] = np.asarray(history[:, self.eligible] @ self.weights)
        out[:, np.setdiff1d(np.arange(history.shape[1]), self.eligible)] = -1e9  # rank after every weighted item
        return out


class Rp3BetaPeer(Peer):
    name: ClassVar[str] = "rp3beta"

    def _fit(self, matrix: sp.csr_matrix) -> None:
        alpha = float(self.params.get("alpha", 1.0))
        beta = float(self.params.get("beta", 0.5))
        k = int(self.params.get("K", 100))
        user_degree = np.asarray(matrix.sum(axis=1)).ravel()
        item_degree = np.asarray(matrix.sum(axis=0)).ravel()
        p_ui = sp.diags(1.0 / np.maximum(user_degree, 1.0)) @ matrix  # user -> item
        p_iu = sp.diags(1.0 / np.maximum(item_degree, 1.0)) @ matrix.T.tocsr()  # item -> user
        if alpha != 1.0:
            p_ui = p_ui.power(alpha)
            p_iu = p_iu.power(alpha)
        dense = np.asarray(p_iu.toarray(), dtype=np.float32) @ np.asarray(p_ui.toarray(), dtype=np.float32)
        dense /= np.power(np.maximum(item_degree, 1.0), beta).astype(np.float32)[None, :]
        np.fill_diagonal(dense, 0.0)
        self.weights = _dense_top_k(dense, k)

    def scores(self, users: list[EvalUser], history: sp.csr_matrix) -> np.ndarray:
        return np.asarray((history @ self.weights).toarray())


class _FactorPeer(Peer):
    model: Any  # implicit's fitted model: user_factors and item_factors

    def scores(self, users: list[EvalUser], history: sp.csr_matrix) -> np.ndarray:
        from threadpoolctl import threadpool_limits

        rows = np.searchsorted(self.users, [u.user_id for u in users])
        rows = np.minimum(rows, len(self.users) - 1)
        in_train = self.users[rows] == np.array([u.user_id for u in users])
        factors = np.asarray(self.model.user_factors)[rows].copy()
        if not in_train.all():
            factors[~in_train] = self.fold_in(history[np.flatnonzero(~in_train)])
        with threadpool_limits(1, "blas"):
            return np.asarray(factors @ np.asarray(self.model.item_factors).T)

    def fold_in(self, history: sp.csr_matrix) -> np.ndarray:
        raise NotImplementedError


class AlsPeer(_FactorPeer):
    name: ClassVar[str] = "implicit_als"

    def _fit(self, matrix: sp.csr_matrix) -> None:
        from implicit.als import AlternatingLeastSquares
        from threadpoolctl import threadpool_limits

        # implicit wants a single-threaded BLAS (it parallelises itself) and warns otherwise.
        with threadpool_limits(1, "blas"):
            self.model = AlternatingLeastSquares(
                factors=int(self.params["factors"]),
                regularization=float(self.params["regularization"]),
                alpha=float(self.params["alpha"]),
                iterations=int(self.params.get("iterations", ALS_ITERATIONS)),
                random_state=0,
                use_gpu=False,
            )
            self.model.fit(matrix, show_progress=False)

    def fold_in(self, history: sp.csr_matrix) -> np.ndarray:
        from threadpoolctl import threadpool_limits

        with threadpool_limits(1, "blas"):
            return np.asarray(self.model.recalculate_user(np.arange(history.shape[0]), history))


class BprPeer(_FactorPeer):
    name: ClassVar[str] = "implicit_bpr"

    def _fit(self, matrix: sp.csr_matrix) -> None:
        from implicit.bpr import BayesianPersonalizedRanking
        from threadpoolctl import threadpool_limits

        with threadpool_limits(1, "blas"):
            self.model = BayesianPersonalizedRanking(
                factors=int(self.params["factors"]),
                learning_rate=float(self.params["learning_rate"]),
                regularization=float(self.params["regularization"]),
                iterations=int(self.params.get("iterations", BPR_ITERATIONS)),
                random_state=0,
                use_gpu=False,
                num_threads=1,  # its stochastic updates are only reproducible on one thread
            )
            self.model.fit(matrix, show_progress=False)

    def fold_in(self, history: sp.csr_matrix) -> np.ndarray:
        # BPR's item factors end with the item bias and its user factors with a constant 1: a new user is the
        # mean of their items' factors, with the 1 kept so the bias still counts.
        items = np.asarray(self.model.item_factors)
        counts = np.maximum(np.asarray(history.sum(axis=1)).ravel(), 1.0)
        users: np.ndarray = np.asarray(history @ items) / counts[:, None]
        users[:, -1] = 1.0
        return users


PEERS: dict[str, type[Peer]] = {peer.name: peer for peer in (ItemKnnPeer, EaseDensePeer, Rp3BetaPeer, AlsPeer, BprPeer)}
