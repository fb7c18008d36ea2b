"""Offline evaluation: the protocols' splits, the top-k metrics and bootstrap intervals (pure numpy).

Protocols
---------
* ``temporal`` (``temporal_split``): the protocol described below; "what will this user rate next".
* ``last-one`` (``last_one_split``): each user's single latest rating is held out (users with >= 2 ratings).
* ``random`` (``random_split``): a seeded random ``ceil(0.2 * n)`` of each user's ratings is held out, so the
  held-out ratings are spread over the user's history.
* ``cold`` (``cold_split``): a seeded random 20% of the users with at least ``COLD_MIN_RATINGS`` ratings are
  removed from training; each is scored from only their first ``m`` ratings (by time) on their latest
  ``ceil(0.2 * n)`` (held out as in ``temporal``). The training and test parts are the same for every ``m``.

``movierec eval`` scores one rating per (user, item), the latest (the database's key guarantees it; MovieLens has
no repeats), so no held-out movie is ever in that user's training ratings. ``temporal_split`` is kept exactly
as it always was; the other splitters also keep both ratings of a re-rated movie on one side (both held out,
or for ``cold`` both shown) should they be given repeats. The temporal protocol in detail:

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
from dataclasses import dataclass, field

import numpy as np

from movierec.domain.recommenders.base import Interactions, UserHistory

HOLDOUT_FRACTION = 0.2
RELEVANT_MIN_RATING = 8
K = 10


COLD_MIN_RATINGS = 10
COLD_USER_FRACTION = 0.2


@dataclass(frozen=True, slots=True)
class Split:
    """Training ratings, held-out ratings, and ratings the users show at request time that are not in training
    (only the cold protocol has those)."""

    train: Interactions
    test: Interactions
    history: Interactions | None = None
    hidden: Interactions | None = None  # rated, neither shown nor held out: never candidates (``cold``)


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


def _user_runs(interactions: Interactions, order: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    users = interactions.user_ids[order]
    starts = np.flatnonzero(np.r_[True, users[1:] != users[:-1]])
    return starts, np.r_[starts[1:], len(order)]


def _whole_pairs(interactions: Interactions, is_test: np.ndarray) -> np.ndarray:
    """Widen a held-out mask so that every rating of a held-out (user, item) pair is held out too."""
    if not is_test.any():
        return is_test
    held = set(zip(interactions.user_ids[is_test].tolist(), interactions.item_ids[is_test].tolist(), strict=True))
    pairs = zip(interactions.user_ids.tolist(), interactions.item_ids.tolist(), strict=True)
    return np.fromiter((p in held for p in pairs), dtype=bool, count=len(interactions))


def last_one_split(interactions: Interactions) -> Split:
    """Hold out each user's latest rating (by timestamp, then item id); users with one rating stay in training."""
    n = len(interactions)
    if n == 0:
        return Split(interactions, interactions)
    order = np.lexsort((interactions.item_ids, interactions.timestamps, interactions.user_ids))
    starts, ends = _user_runs(interactions, order)
    test_sorted = np.zeros(n, dtype=bool)
    last = ends[ends - starts >= 2] - 1
    test_sorted[last] = True
    is_test = np.zeros(n, dtype=bool)
    is_test[order] = test_sorted
    is_test = _whole_pairs(interactions, is_test)
    return Split(interactions.subset(~is_test), interactions.subset(is_test))


def random_split(interactions: Interactions, fraction: float = HOLDOUT_FRACTION, seed: int = 0) -> Split:
    """Hold out a seeded random ``ceil(fraction * n)`` of each user's ratings (at least one per user)."""
    n = len(interactions)
    if n == 0:
        return Split(interactions, interactions)
    rng = np.random.default_rng(seed)
    order = np.lexsort((rng.random(n), interactions.user_ids))
    starts, ends = _user_runs(interactions, order)
    test_sorted = np.zeros(n, dtype=bool)
    for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
        test_sorted[start : start + holdout_size(end - start, fraction)] = True
    is_test = np.zeros(n, dtype=bool)
    is_test[order] = test_sorted
    is_test = _whole_pairs(interactions, is_test)
    return Split(interactions.subset(~is_test), interactions.subset(is_test))


def cold_split(
    interactions: Interactions,
    history_size: int,
    *,
    user_fraction: float = COLD_USER_FRACTION,
    min_ratings: int = COLD_MIN_RATINGS,
    fraction: float = HOLDOUT_FRACTION,
    seed: int = 0,
) -> Split:
    """New users: a seeded random ``user_fraction`` of the users with ``>= min_ratings`` ratings leave training;
    each shows only their first ``history_size`` ratings and is scored on their latest ``ceil(fraction * n)``
    (as in ``temporal_split``; both by timestamp, then item id). The ratings in between are ``hidden``: not
    shown, not held out, and not candidates either (the user has rated them; as in ``temporal``, nothing the
    user rated before the held-out part can count as a miss).

    The chosen users do not depend on ``history_size``, so every size shares one training part and one test part.
    """
    if history_size + holdout_size(min_ratings, fraction) >= min_ratings:
        raise ValueError("history_size plus the held-out ratings must stay below min_ratings")
    n = len(interactions)
    if n == 0:
        return Split(interactions, interactions, interactions)
    users, counts = np.unique(interactions.user_ids, return_counts=True)
    eligible = users[counts >= min_ratings]
    rng = np.random.default_rng(seed)
    chosen = np.sort(rng.permutation(eligible)[: int(round(user_fraction * len(eligible)))])
    cold = np.isin(interactions.user_ids, chosen)
    order = np.lexsort((interactions.item_ids, interactions.timestamps, interactions.user_ids))
    order = order[cold[order]]
    starts, ends = _user_runs(interactions, order)
    shown = np.zeros(n, dtype=bool)
    held = np.zeros(n, dtype=bool)
    for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
        shown[order[start : start + history_size]] = True
        held[order[end - holdout_size(end - start, fraction) : end]] = True
    held = _whole_pairs(interactions, held)
    shown = _whole_pairs(interactions, shown) & ~held  # a movie shown and re-rated at the end is held out only
    hidden = cold & ~held & ~shown
    return Split(
        interactions.subset(~cold), interactions.subset(held), interactions.subset(shown), interactions.subset(hidden)
    )


def bootstrap_means(values: np.ndarray, resamples: int = 1000, seed: int = 0) -> np.ndarray:
    """Means of ``values`` (one row per user; extra columns are other models, resampled with the same users)
    over ``resamples`` bootstrap resamples of the users: shape ``(resamples,) + values.shape[1:]``."""
    values = np.asarray(values, dtype=np.float64)
    if len(values) == 0:
        return np.zeros((resamples,) + values.shape[1:])
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(values), size=(resamples, len(values)))
    means: np.ndarray = values[picks].mean(axis=1)
    return means


def interval(samples: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """The central ``level`` percentile interval of bootstrap samples."""
    tail = (1.0 - level) / 2 * 100
    low, high = np.percentile(np.asarray(samples, dtype=np.float64), [tail, 100 - tail])
    return float(low), float(high)


def user_ndcgs(lists: list[np.ndarray], users: list[EvalUser], k: int = K) -> np.ndarray:
    """NDCG@k per evaluation user (same order as ``users``)."""
    return np.array([ndcg_at_k(ranked, user.relevant, k) for ranked, user in zip(lists, users, strict=True)])


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
    hidden: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # rated, not shown: not candidates


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
    """Users with at least one relevant held-out item, with their history (training ratings plus any ratings
    shown at request time), ordered by user id."""
    train = split.train
    train_rows = dict(_groups(train.user_ids))
    shown = split.history
    shown_rows = dict(_groups(shown.user_ids)) if shown is not None else {}
    hidden = split.hidden
    hidden_rows = dict(_groups(hidden.user_ids)) if hidden is not None else {}
    none = np.zeros(0, dtype=np.int64)
    out: list[EvalUser] = []
    for user, rows in _groups(split.test.user_ids):
        liked = split.test.ratings[rows] >= min_rating
        if not liked.any():
            continue
        relevant = np.unique(split.test.item_ids[rows][liked])
        own = train_rows.get(user, none)
        history = UserHistory(train.item_ids[own], train.ratings[own], train.timestamps[own])
        if shown is not None and user in shown_rows:
            extra = shown_rows[user]
            history = UserHistory(
                np.r_[history.item_ids, shown.item_ids[extra]],
                np.r_[history.ratings, shown.ratings[extra]],
                np.r_[history.timestamps, shown.timestamps[extra]],
            )
        unseen = np.unique(hidden.item_ids[hidden_rows[user]]) if hidden is not None and user in hidden_rows else none
        out.append(EvalUser(user, history, relevant, unseen))
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
        outside = (
            not np.isin(ranked, train_items).all()
            or np.isin(ranked, user.history.item_ids).any()
            or np.isin(ranked, user.hidden).any()
        )
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
