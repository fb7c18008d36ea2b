"""What a user said beyond ratings, applied to any strategy's ranking: "not interested" movies never come back,
and movies like them are pushed down.

The penalty of a candidate is its strongest similarity to a not-interested movie (each neighbour list scaled by its
own largest similarity, so 1 means "the movie most like one you turned down"); the candidate loses ``weight`` times
that share of the list's score spread. A weight of 0.5 moves the movie most like a turned-down one halfway down the
scores; movies like nothing turned down keep their scores and order.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

DEFAULT_WEIGHT = 0.5
# How many candidates beyond the requested ones a steered list is picked from: enough for pushed-down movies to be
# replaced, few enough that scoring stays as cheap as a plain list.
EXTRA_CANDIDATES = 20
# The most recent not-interested movies whose neighbours count (each costs one ``similar_items``), and how many
# neighbours of each: every not-interested movie is excluded all the same.
MAX_SIGNALS = 20
NEIGHBOURS = 50


def pool_size(n: int, not_interested: int) -> int:
    """How many candidates to ask a strategy for, to return ``n`` after steering by ``not_interested`` movies."""
    if not_interested <= 0:
        return n
    return n + not_interested + max(n, EXTRA_CANDIDATES)


def steer(
    ids: np.ndarray,
    scores: np.ndarray,
    not_interested: Iterable[int],
    neighbours: Iterable[tuple[np.ndarray, np.ndarray]],
    n: int,
    *,
    weight: float = DEFAULT_WEIGHT,
) -> tuple[np.ndarray, np.ndarray]:
    """The best ``n`` of ``ids`` (ranked by ``scores``, best first) without the not-interested movies, with movies
    similar to them down-weighted. ``neighbours`` holds one (ids, similarities) pair per not-interested movie, as
    ``Recommender.similar_items`` returns them. Returns (ids, adjusted scores), best first."""
    ids = np.asarray(ids, dtype=np.int64).reshape(-1)
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    if len(ids) != len(scores):
        raise ValueError("ids and scores must have the same length")
    if weight < 0:
        raise ValueError("weight must be >= 0")
    banned = np.fromiter((int(i) for i in not_interested), dtype=np.int64)
    keep = ~np.isin(ids, banned)
    ids, scores = ids[keep], scores[keep]
    if n <= 0 or len(ids) == 0:
        return ids[:0], scores[:0]
    penalty = np.zeros(len(ids))
    for similar_ids, similarity in neighbours:
        similarity = np.asarray(similarity, dtype=np.float64).reshape(-1)
        top = float(similarity.max()) if len(similarity) else 0.0
        if top <= 0:
            continue
        share = dict(zip(np.asarray(similar_ids, dtype=np.int64).tolist(), (similarity / top).tolist(), strict=True))
        penalty = np.maximum(penalty, np.array([max(share.get(i, 0.0), 0.0) for i in ids.tolist()]))
    spread = float(scores.max() - scores.min())
    adjusted = scores - weight * penalty * (spread if spread > 0 else 1.0)
    order = np.argsort(-adjusted, kind="stable")[:n]  # stable: equal scores keep the strategy's order
    return ids[order], adjusted[order]
