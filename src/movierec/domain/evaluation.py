"""Offline evaluation: the per-user temporal split and the top-k metrics (pure numpy).

Protocol
--------
* Per user, ratings are sorted by timestamp (the item id breaks ties) and the last ``ceil(0.2 * n)`` are held
  out, so every user with at least one rating holds out at least one (``ceil``, not ``round``).
* Relevant items are held-out ratings >= 8 on our 1-10 scale (>= 4.0 stars). Relevant items that never appear
  in training cannot be recommended but still count in the denominators (the metrics are not flattered).
* For each user with at least one relevant item, the model ranks every item seen in training that the user did
  not rate in training; we report NDCG@k (binary gains, ideal DCG over ``min(k, |relevant|)``), Recall@k
  (hits / ``min(k, |relevant|)``), HitRate@k, and catalogue coverage@k (distinct items in the evaluated users'
  top-k lists / number of items in training).
* Hyper-parameters are tuned on a validation split carved from the training part in the same way, never on the
  test part.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from movierec.domain.recommenders.base import Interactions, UserHistory

HOLDOUT_FRACTION = 0.2
RELEVANT_MIN_RATING = 8
K = 10


@dataclass(frozen=True, slots=True)
class Split:
    train: Interactions
    test: Interactions


def holdout_size(n: int, fraction: float = HOLDOUT_FRACTION) -> int:
    """How many of a user's ``n`` ratings are held out: ``ceil(fraction * n)``, at least 1 when ``n >= 1``."""
    if n <= 0:
        return 0
    # The small epsilon keeps 0.2 * 10 == 2.0000000000000004 from rounding up to 3.
    return max(1, math.ceil(fraction * n - 1e-9))


def temporal_split(interactions: Interactions, fraction: float = HOLDOUT_FRACTION) -> Split:
    """Hold out each user's latest ``ceil(fraction * n)`` ratings (ordered by timestamp, then item id)."""
    n = len(interactions)
    if n == 0:
        return Split(interactions, interactions)
    order = np.lexsort((interactions.item_ids, interactions.timestamps, interactions.user_ids))
    users = interactions.user_ids[order]
    starts = np.flatnonzero(np.r_[True, users[1:] != users[:-1]])
    ends = np.r_[starts[1:], n]
    test_sorted = np.zeros(n, dtype=bool)
    for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
        test_sorted[end - holdout_size(end - start, fraction) : end] = True
    is_test = np.zeros(n, dtype=bool)
    is_test[order] = test_sorted
    return Split(interactions.subset(~is_test), interactions.subset(is_test))


def dcg_discounts(k: int = K) -> np.ndarray:
    return 1.0 / np.log2(np.arange(2, k + 2))


def ndcg_at_k(ranked: np.ndarray, relevant: np.ndarray, k: int = K) -> float:
    """Binary-gain NDCG@k; the ideal DCG places ``min(k, |relevant|)`` hits at the top."""
    relevant = np.unique(np.asarray(relevant))
    if len(relevant) == 0:
        return 0.0
    hits = np.isin(np.asarray(ranked)[:k], relevant)
    discounts = dcg_discounts(k)
    dcg = float(discounts[: len(hits)][hits].sum())
    ideal = float(discounts[: min(k, len(relevant))].sum())
    return dcg / ideal


def recall_at_k(ranked: np.ndarray, relevant: np.ndarray, k: int = K) -> float:
    """Hits in the top k over ``min(k, |relevant|)`` (a perfect list scores 1 even with many relevant)."""
    relevant = np.unique(np.asarray(relevant))
    if len(relevant) == 0:
        return 0.0
    hits = int(np.isin(np.asarray(ranked)[:k], relevant).sum())
    return hits / min(k, len(relevant))


def hit_rate_at_k(ranked: np.ndarray, relevant: np.ndarray, k: int = K) -> float:
    """1.0 when at least one relevant item is in the top k, else 0.0."""
    return float(np.isin(np.asarray(ranked)[:k], np.asarray(relevant)).any())


def catalogue_coverage(lists: list[np.ndarray], n_items: int, k: int = K) -> float:
    """Distinct items over all top-k lists divided by the number of catalogue (training) items."""
    if n_items <= 0:
        return 0.0
    if not lists:
        return 0.0
    distinct = np.unique(np.concatenate([np.asarray(lst)[:k] for lst in lists]))
    return len(distinct) / n_items


@dataclass(frozen=True, slots=True)
class Metrics:
    ndcg: float
    recall: float
    hit_rate: float
    coverage: float
    users: int
    score_seconds: float


@dataclass(frozen=True, slots=True)
class EvalUser:
    user_id: int
    history: UserHistory  # the user's training ratings
    relevant: np.ndarray  # held-out item ids rated >= RELEVANT_MIN_RATING


def _groups(user_ids: np.ndarray) -> Iterator[tuple[int, np.ndarray]]:
    order = np.argsort(user_ids, kind="stable")
    users = user_ids[order]
    if len(users) == 0:
        return
    starts = np.flatnonzero(np.r_[True, users[1:] != users[:-1]])
    ends = np.r_[starts[1:], len(users)]
    for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
        yield int(users[start]), order[start:end]


def evaluation_users(split: Split, min_rating: int = RELEVANT_MIN_RATING) -> list[EvalUser]:
    """Users with at least one relevant held-out item, with their training history, ordered by user id."""
    train = split.train
    train_rows = dict(_groups(train.user_ids))
    out: list[EvalUser] = []
    for user, rows in _groups(split.test.user_ids):
        liked = split.test.ratings[rows] >= min_rating
        if not liked.any():
            continue
        relevant = np.unique(split.test.item_ids[rows][liked])
        own = train_rows.get(user, np.zeros(0, dtype=np.int64))
        history = UserHistory(train.item_ids[own], train.ratings[own], train.timestamps[own])
        out.append(EvalUser(user, history, relevant))
    return out


Ranker = Callable[[EvalUser], np.ndarray]


def evaluate_ranker(rank: Ranker, split: Split, k: int = K, users: list[EvalUser] | None = None) -> Metrics:
    """Average the metrics of ``rank`` (user -> its top-k item ids, best first) over the evaluation users."""
    users = evaluation_users(split) if users is None else users
    start = time.perf_counter()
    lists = [np.asarray(rank(user))[:k] for user in users]
    return evaluate_lists(lists, split, users, k, score_seconds=time.perf_counter() - start)


def evaluate_lists(
    lists: list[np.ndarray], split: Split, users: list[EvalUser], k: int = K, *, score_seconds: float = 0.0
) -> Metrics:
    """Average the metrics of ready-made top-k lists (one per user of ``users``, same order).

    Lists may hold only candidates: items seen in training that the user did not rate in training. This is
    checked, so a model cannot score by recommending items outside the protocol's candidate set.
    """
    if len(lists) != len(users):
        raise ValueError("one list per user is needed")
    train_items = np.unique(split.train.item_ids)
    lists = [np.asarray(lst)[:k] for lst in lists]
    seconds = score_seconds
    ndcg = recall = hits = 0.0
    for user, ranked in zip(users, lists, strict=True):
        outside = not np.isin(ranked, train_items).all() or np.isin(ranked, user.history.item_ids).any()
        if len(ranked) and outside:
            raise ValueError(f"ranking for user {user.user_id} contains items outside the candidate set")
        ndcg += ndcg_at_k(ranked, user.relevant, k)
        recall += recall_at_k(ranked, user.relevant, k)
        hits += hit_rate_at_k(ranked, user.relevant, k)
    count = len(users)
    if count == 0:
        return Metrics(0.0, 0.0, 0.0, 0.0, 0, seconds)
    return Metrics(
        ndcg / count,
        recall / count,
        hits / count,
        catalogue_coverage(lists, len(train_items), k),
        count,
        seconds,
    )
