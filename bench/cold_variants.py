"""What was tried for new users, on five ``cold`` validation folds: ``python -m bench.cold_variants``.

Each fold is a ``cold`` validation split (seeds 1-5) carved from the ``cold`` protocol's training part, so no test
user is in any of them; together about 525 new users against the 134 of the one test part. Each fold is scored on
both targets: the user's latest ratings (``cold``) and the 10 they rate right after the shown ones (``cold-next``).
Printed: the mean NDCG@10 over the folds at 1 / 3 / 5 ratings shown, for the ``ease_seq`` configurations and the
variants tried beside them, and ``implicit``'s BPR peer as ``movierec eval`` fits it (its two learning rates).

The variants (each added to a configuration's scores, scaled to a largest magnitude of ``w``):
* a low-rank part: the items' factors of a rank-``k`` truncated SVD of the binary user x movie matrix, a user being
  the sum of their movies' factors;
* BPR's own scores (its fold-in of the user), the ceiling of any latent-factor part;
* a genre-conditioned prior: the prior times ``g`` times the cosine between the movie's genres and the user's;
* fade-ins: the recent-taste and sequential parts (or every part) weighted ``1 - 0.5 ** (n / h)`` at ``n`` ratings.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as sla
from threadpoolctl import threadpool_limits

from movierec.domain.evaluation import cold_split, user_ndcgs
from movierec.domain.recommenders.base import UserHistory
from movierec.domain.recommenders.ease import EaseSeqRecommender, _history_key
from movierec.evaluation import (
    COLD_SIZES,
    View,
    _catalogue_for,
    _latest_per_pair,
    _views,
    cold_next_split,
    list_change,
    movielens_data,
    protocol_views,
)
from movierec.evaluation_peers import PEERS

Extra = Callable[[EaseSeqRecommender, UserHistory], np.ndarray | float]
# the configuration the cold validation split chose in the full run (l2=500 is the fit's), and the parts off
COLD_TUNED = {"ease_weight": 0.0, "long_weight": 1.0, "seq_weight": 0.0}
PRIOR_ONLY = {"ease_weight": 0.0, "long_weight": 0.0, "seq_weight": 0.0}
SERVED = {"ease_weight": 1.0, "long_weight": 0.5, "seq_weight": 1.4}


def fade(h: float, every_part: bool) -> Callable[[int], dict[str, float]]:
    def weights(n: int) -> dict[str, float]:
        share = 1.0 - 0.5 ** (n / h)
        out = {"ease_weight": 1.0 * share, "seq_weight": 1.4 * share}
        return {**out, "long_weight": 0.5 * share} if every_part else out

    return weights


def latent(factors: np.ndarray, weight: float) -> Extra:
    def extra(model: EaseSeqRecommender, history: UserHistory) -> np.ndarray | float:
        rows, _ = model.table.rows_of(history.item_ids)
        if len(rows) == 0:
            return 0.0
        scores: np.ndarray = factors @ factors[rows].sum(axis=0)
        top = float(np.abs(scores).max())
        return weight * scores / top if top > 0 else 0.0

    return extra


def bpr_scores(peer: Any, weight: float) -> Extra:
    items = np.asarray(peer.model.item_factors)

    def extra(model: EaseSeqRecommender, history: UserHistory) -> np.ndarray | float:
        cols = np.searchsorted(peer.items, history.item_ids[np.isin(history.item_ids, peer.items)])
        if len(cols) == 0:
            return 0.0
        user = items[cols].mean(axis=0)
        user[-1] = 1.0  # the item bias counts (as the peer's fold-in)
        raw = items @ user
        scores = np.full(len(model.table), raw.min())
        rows, known = model.table.rows_of(peer.items)
        scores[rows] = raw[known]
        scores -= scores.min()
        return weight * scores / scores.max() if scores.max() > 0 else 0.0

    return extra


def genre_prior(model: EaseSeqRecommender, weight: float) -> Extra:
    names = sorted({g for genres in model.table.genres for g in genres})
    index = {g: i for i, g in enumerate(names)}
    cells = [(row, index[g]) for row, genres in enumerate(model.table.genres) for g in genres]
    rows, cols = (np.array(x, dtype=np.int64) for x in zip(*cells, strict=True))
    genres = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(model.table), len(names)))
    norms = np.sqrt(np.asarray(genres.sum(axis=1)).ravel())

    def extra(m: EaseSeqRecommender, history: UserHistory) -> np.ndarray | float:
        rated, _ = m.table.rows_of(history.item_ids)
        taste = np.asarray(genres[rated].sum(axis=0)).ravel()
        if len(rated) == 0 or not taste.any():
            return 0.0
        cosine = (genres @ taste) / (np.linalg.norm(taste) * np.maximum(norms, 1e-9))
        base = m._score(history, _history_key(history))[2]
        return weight * base * cosine

    return extra


class ByLength:
    """A model whose scoring weights depend on the history's length (the fade-ins), for ``list_change``."""

    def __init__(self, model: EaseSeqRecommender, weights: Callable[[int], dict[str, float]]) -> None:
        self.model, self.weights = model, weights
        self.models: dict[int, EaseSeqRecommender] = {}

    def recommend(self, history: UserHistory, n: int, **options: Any) -> tuple[np.ndarray, np.ndarray]:
        size = len(history.latest_per_item())
        if size not in self.models:
            self.models[size] = self.model.reconfigured(**self.weights(size))
        return self.models[size].recommend(history, n, **options)


def top10(model: EaseSeqRecommender, scores: np.ndarray, history: UserHistory, hidden: np.ndarray) -> np.ndarray:
    scores = scores.copy()
    for ids in (history.item_ids, hidden):
        rows, _ = model.table.rows_of(ids)
        scores[rows] = -np.inf
    return model.table.ids[np.argsort(-scores, kind="stable")[:10]]


def binary_matrix(model: EaseSeqRecommender, views: list[View]) -> sp.csr_matrix:
    train = views[0].split.train
    rows = np.searchsorted(model.table.ids, train.item_ids)
    _, users = np.unique(train.user_ids, return_inverse=True)
    return sp.csr_matrix((np.ones(len(rows)), (users, rows)), shape=(int(users.max()) + 1, len(model.table)))


def svd_factors(x: sp.csr_matrix, k: int) -> np.ndarray:
    with threadpool_limits(1):
        _, s, vt = sla.svds(x.astype(np.float64), k=k, v0=np.full(min(x.shape), 1.0 / np.sqrt(min(x.shape))))
    factors: np.ndarray = vt.T * s
    return factors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, default=5)
    args = parser.parse_args()
    started = time.perf_counter()
    interactions, catalogue = movielens_data()
    interactions = _latest_per_pair(interactions)
    tests, _ = protocol_views("cold", interactions)
    train0 = tests[0].split.train
    results: dict[str, dict[str, list[list[float]]]] = {"cold": {}, "cold-next": {}}
    changes: dict[str, list[list[float]]] = {}
    for seed in range(1, args.folds + 1):
        latest = _views([(f"cold-{m}", cold_split(train0, m, seed=seed)) for m in COLD_SIZES])
        following = _views([(v.label, cold_next_split(v.split)) for v in latest])
        train = latest[0].split.train
        fitted = {
            l2: EaseSeqRecommender(pop_at_latest_rating=True, l2=l2).fit(train, _catalogue_for(train, catalogue))
            for l2 in (250.0, 500.0)
        }
        m500, m250 = fitted[500.0], fitted[250.0]
        peers = {
            lr: PEERS["implicit_bpr"](factors=64, learning_rate=lr, regularization=0.01).fit(train)
            for lr in (0.01, 0.05)
        }
        v64 = svd_factors(binary_matrix(m500, latest), 64)
        variants: list[tuple[str, EaseSeqRecommender, Callable[[int], dict[str, float]], Extra | None]] = [
            ("cold's tuned point (l2=500, long 1, no recent/seq)", m500, lambda n: COLD_TUNED, None),
            ("  tuned, long 0.5", m500, lambda n: {**COLD_TUNED, "long_weight": 0.5}, None),
            ("  tuned + SVD part k=64, w=1", m500, lambda n: COLD_TUNED, latent(v64, 1.0)),
            ("  tuned + BPR's own scores, w=1", m500, lambda n: COLD_TUNED, bpr_scores(peers[0.01], 1.0)),
            ("  tuned + BPR's own scores, w=3", m500, lambda n: COLD_TUNED, bpr_scores(peers[0.01], 3.0)),
            ("  tuned + genre-conditioned prior, g=0.5", m500, lambda n: COLD_TUNED, genre_prior(m500, 0.5)),
            ("prior only", m500, lambda n: PRIOR_ONLY, None),
            ("served (the default configuration)", m250, lambda n: SERVED, None),
            ("  served + SVD part k=64, w=1", m250, lambda n: SERVED, latent(v64, 1.0)),
            ("  served + BPR's own scores, w=1", m250, lambda n: SERVED, bpr_scores(peers[0.01], 1.0)),
            ("  served, recent + sequential fade in, h=2", m250, fade(2.0, False), None),
            ("  served, every part fades in, h=4", m250, fade(4.0, True), None),
            ("  served, no sequential part", m250, lambda n: {**SERVED, "seq_weight": 0.0}, None),
        ]
        assert len({label for label, *_ in variants}) == len(variants)  # one row each
        for target, views in (("cold", latest), ("cold-next", following)):
            for label, model, weights, extra in variants:
                cache: dict[int, EaseSeqRecommender] = {}
                out = []
                for view in views:
                    lists = []
                    for user in view.users:
                        n = len(user.history.latest_per_item())
                        if n not in cache:
                            cache[n] = model.reconfigured(**weights(n))
                        scored = cache[n]
                        scores = scored.score_all(user.history)
                        if extra is not None:
                            scores = scores + extra(scored, user.history)
                        lists.append(top10(scored, scores, user.history, user.hidden))
                    out.append(float(user_ndcgs(lists, view.users).mean()))
                results[target].setdefault(label, []).append(out)
                if target == "cold" and extra is None and label.lstrip().startswith("served"):
                    changes.setdefault(label, []).append(list_change(ByLength(model, weights), views[-1].users, 5))
            for lr, peer in peers.items():
                out = []
                for view in views:
                    longest = max(len(u.hidden) for u in view.users)
                    ranked = peer.rank(view.users, 10 + longest)
                    lists = [r[~np.isin(r, u.hidden)][:10] for r, u in zip(ranked, view.users, strict=True)]
                    out.append(float(user_ndcgs(lists, view.users).mean()))
                results[target].setdefault(f"implicit_bpr, learning rate {lr}", []).append(out)
        print(f"fold {seed} done ({time.perf_counter() - started:.0f} s)", flush=True)
    for target, rows in results.items():
        users = "latest ceil(0.2 n) ratings" if target == "cold" else "next 10 ratings"
        print(f"\n{target}: mean NDCG@10 over {args.folds} validation folds, scored on the {users}")
        print(f"  {'':<52}{'1 shown':>9}{'3 shown':>9}{'5 shown':>9}{'mean':>9}")
        for label, folds in rows.items():
            means = np.array(folds).mean(axis=0)
            print(f"  {label:<52}" + "".join(f"{v:>9.4f}" for v in means) + f"{means.mean():>9.4f}")
    print(f"\nnew movies in a new user's top 10 after each of their first 5 ratings (mean over {args.folds} folds)")
    for label, folds in changes.items():
        print(f"  {label:<52}" + " ".join(f"{v:>4.0%}" for v in np.array(folds).mean(axis=0)))
    print(f"\ntotal {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
