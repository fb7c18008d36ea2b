"""The temporal split, the evaluation loop and the evaluation run's plumbing."""

from __future__ import annotations

import json

import numpy as np
import pytest

from movierec.domain.evaluation import (
    EvalUser,
    Split,
    evaluate_lists,
    evaluate_ranker,
    evaluation_users,
    holdout_size,
    temporal_split,
)
from movierec.domain.recommenders import EaseRecommender, Interactions, ItemCatalogue, PopularRecommender
from movierec.evaluation import (
    EvaluationReport,
    ProtocolResult,
    RatingAccuracy,
    StrategyResult,
    TuningPoint,
    View,
    _compare,
    _peer,
    format_report,
    tune,
    tune_strategy,
)

PEER = "implicit_als"


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(7)


def interactions(rows: list[tuple[int, int, int, float]]) -> Interactions:
    users, items, ratings, times = zip(*rows, strict=True)
    return Interactions(np.array(users), np.array(items), np.array(ratings), np.array(times))


def pairs(data: Interactions) -> set[tuple[int, int]]:
    return set(zip(data.user_ids.tolist(), data.item_ids.tolist(), strict=True))


class TestSplit:
    def test_holdout_size_is_ceil_and_at_least_one(self) -> None:
        assert [holdout_size(n) for n in (0, 1, 4, 5, 6, 10, 11)] == [0, 1, 1, 1, 2, 2, 3]

    def test_hand_made_example(self) -> None:
        data = interactions(
            [
                # user 1: 6 ratings -> ceil(1.2) = 2 held out: the two latest (t=40 and t=50)
                (1, 11, 8, 10.0),
                (1, 12, 8, 20.0),
                (1, 13, 8, 20.0),
                (1, 14, 8, 30.0),
                (1, 15, 8, 50.0),
                (1, 16, 8, 40.0),
                # user 2: 5 ratings -> 1 held out; films 40 and 30 share the last timestamp, 40 is later by id
                (2, 10, 8, 1.0),
                (2, 11, 8, 2.0),
                (2, 12, 8, 3.0),
                (2, 40, 8, 5.0),
                (2, 30, 8, 5.0),
                # user 3: a single rating is held out (at least one)
                (3, 99, 8, 7.0),
                # user 4: 10 ratings -> exactly 2 held out (0.2 * 10 is not rounded up to 3)
                *[(4, 100 + i, 8, float(i)) for i in range(10)],
            ]
        )
        split = temporal_split(data)
        assert pairs(split.test) == {(1, 15), (1, 16), (2, 40), (3, 99), (4, 108), (4, 109)}
        assert len(split.train) + len(split.test) == len(data)
        assert pairs(split.train) | pairs(split.test) == pairs(data)

    def test_held_out_ratings_are_never_older_than_training_ones(self, rng: np.random.Generator) -> None:
        n = 2000
        data = Interactions(
            rng.integers(1, 40, n), rng.integers(1, 300, n), rng.integers(1, 11, n), rng.integers(0, 50, n)
        )
        split = temporal_split(data)
        for user in np.unique(data.user_ids):
            train_t = split.train.timestamps[split.train.user_ids == user]
            test_t = split.test.timestamps[split.test.user_ids == user]
            total = len(train_t) + len(test_t)
            assert len(test_t) == holdout_size(total)
            if len(train_t):
                assert train_t.max() <= test_t.min()

    def test_validation_split_is_carved_from_training(self, rng: np.random.Generator) -> None:
        rows = [
            (u, int(i), 8, float(t))
            for u in range(1, 10)
            for i, t in zip(rng.permutation(100)[:50], rng.random(50) * 1e6, strict=True)
        ]
        data = interactions(rows)
        test_split = temporal_split(data)
        validation = temporal_split(test_split.train)
        assert not pairs(validation.test) & pairs(test_split.test)
        assert pairs(validation.train) | pairs(validation.test) == pairs(test_split.train)


class TestEvaluationLoop:
    @pytest.fixture
    def split(self) -> Split:
        train = interactions([(1, 1, 9, 1.0), (1, 2, 9, 2.0), (2, 1, 9, 1.0), (2, 3, 4, 2.0), (3, 4, 9, 1.0)])
        test = interactions([(1, 3, 10, 3.0), (1, 5, 9, 4.0), (2, 2, 6, 3.0), (3, 1, 8, 2.0), (3, 2, 3, 3.0)])
        return Split(train, test)

    def test_only_users_with_relevant_items(self, split: Split) -> None:
        users = evaluation_users(split)
        assert [u.user_id for u in users] == [1, 3]  # user 2's held-out rating (6) is not relevant
        assert users[0].relevant.tolist() == [3, 5]  # 5 never appears in training but still counts
        assert users[0].history.item_ids.tolist() == [1, 2]

    def test_metrics_average_over_users(self, split: Split) -> None:
        users = evaluation_users(split)
        metrics = evaluate_lists([np.array([3, 4]), np.array([1, 2])], split, users)
        # user 1: hit at rank 1, 2 relevant -> NDCG 1 / (1 + 1/log2 3), recall 1/2; user 3: hit at rank 1 -> 1, 1
        ndcg_user1 = 1 / (1 + 1 / np.log2(3))
        assert metrics.ndcg == pytest.approx((ndcg_user1 + 1) / 2)
        assert metrics.recall == pytest.approx((0.5 + 1) / 2)
        assert metrics.hit_rate == 1.0
        assert metrics.coverage == pytest.approx(4 / 4)  # items {1, 2, 3, 4} of 4 training items
        assert metrics.users == 2

    def test_rankings_outside_the_candidates_are_refused(self, split: Split) -> None:
        users = evaluation_users(split)
        with pytest.raises(ValueError, match="candidate set"):
            evaluate_lists([np.array([1]), np.array([1])], split, users)  # user 1 rated film 1 in training
        with pytest.raises(ValueError, match="candidate set"):
            evaluate_lists([np.array([5]), np.array([1])], split, users)  # film 5 is not in training

    def test_evaluate_ranker_with_a_model(self, split: Split) -> None:
        catalogue = ItemCatalogue.empty()
        model = PopularRecommender().fit(split.train, catalogue)
        metrics = evaluate_ranker(lambda u: model.recommend(u.history, 10)[0], split)
        assert metrics.users == 2
        assert 0.0 < metrics.ndcg <= 1.0


def cluster_split(rng: np.random.Generator) -> tuple[Split, ItemCatalogue]:
    """40 users in two taste clusters of 15 films each; the split holds out each user's latest ratings."""
    rows = []
    for user in range(40):
        cluster = np.arange(15) + (100 if user % 2 else 200)
        for t, item in enumerate(rng.permutation(cluster)[:10]):
            rows.append((user, int(item), int(rng.integers(7, 11)), float(t)))
    data = interactions(rows)
    ids = np.unique(data.item_ids)
    catalogue = ItemCatalogue(ids, (("Drama",),) * len(ids), np.full(len(ids), 7.0), np.ones(len(ids)), ids * 0.0)
    return temporal_split(data), catalogue


class TestTuning:
    def test_tune_strategy_picks_from_the_grid(self, rng: np.random.Generator) -> None:
        split, catalogue = cluster_split(rng)
        users = evaluation_users(split)
        params, ndcg, points = tune_strategy(EaseRecommender, split, users, catalogue, ({"l2": [1.0, 1e6]}, {}))
        assert len(points) == 2
        assert params["l2"] in (1.0, 1e6)
        assert ndcg == max(p.validation_ndcg for p in points)
        assert ndcg > 0.3  # two clean clusters: EASE must find the user's own cluster

    def test_tune_als_runs_without_warnings(self, rng: np.random.Generator) -> None:
        split, _ = cluster_split(rng)
        views = [View("v", split, evaluation_users(split))]
        grid = {"factors": [4], "regularization": [0.1], "alpha": [1.0]}
        params, score_params, ndcg, points = tune(_peer(PEER), views, (grid, {}), "temporal")
        assert params == {"factors": 4, "regularization": 0.1, "alpha": 1.0} and score_params == {}
        assert points[0].name == PEER and points[0].protocol == "temporal"
        assert ndcg > 0.3


def fake_report() -> EvaluationReport:
    def row(name: str, ndcg: float, kind: str = "strategy") -> StrategyResult:
        return StrategyResult(
            name, ndcg, 0.2, 0.5, 0.1, 600, 1.5, 0.2, {"l2": 250.0}, {"l2": 250.0}, ndcg + 0.01, kind, (0.1, 0.2)
        )

    result = ProtocolResult(
        "temporal",
        "last 20%",
        {"train_ratings": 80, "test_ratings": 20, "shown_ratings": 0, "train_movies": 9, "users": 3},
        [row("seed", 0.001), row("ease_seq", 0.15), row(PEER, 0.1, "peer")],
        "ease_seq",
        best_peer=PEER,
        ratio=1.5,
        ratio_ci=(1.2, 1.8),
        difference=0.05,
        difference_ci=(0.01, 0.09),
        target=1.25,
        ablations={"no recency": 0.13},
        rating_accuracy=RatingAccuracy(20, {"model": 1.7, "user mean": 1.9}, {"model": 1.3, "user mean": 1.5}),
    )
    return EvaluationReport(
        dataset={"name": "MovieLens", "ratings": 100, "users": 3, "movies": 10},
        protocol={"relevant": ">= 8", "candidates": "unrated training items", "k": 10, "tuning": "v", "intervals": "b"},
        protocols=[result],
        default="ease_seq",
        quick=True,
        tuning=[TuningPoint("ease_seq", {"l2": 250.0}, 0.16)],
        explanations={"users": 5.0, "items": 50.0, "named": 0.9, "top-1": 0.8, "top-3": 0.95},
    )


class TestReport:
    def test_format_report_has_every_row_the_ratio_and_the_targets(self) -> None:
        text = format_report(fake_report())
        for name in ("seed", "* ease_seq", f"p {PEER}"):
            assert name in text
        assert "0.1500" in text and "1.50x [1.20, 1.80]" in text and "target >= 1.25x met" in text
        assert "no recency: 0.1300" in text
        assert "RMSE model 1.700, user mean 1.900" in text
        assert "the largest contributor for 80.0%, among the 3 largest for 95.0%" in text

    def test_json_round_trips(self) -> None:
        data = json.loads(fake_report().to_json())
        result = data["protocols"][0]
        assert result["ratio"] == pytest.approx(1.5)
        assert [r["name"] for r in result["rows"]] == ["seed", "ease_seq", PEER]
        assert result["rows"][1]["ndcg"] == 0.15

    def test_compare_picks_the_best_peer_and_pairs_the_users(self) -> None:
        result = fake_report().protocols[0]
        result.rows.append(StrategyResult("popular", 0.05, 0, 0, 0, 3, 0, 0, {}, {}, 0, "peer"))
        ndcgs = {"ease_seq": np.array([0.3, 0.2, 0.4]), PEER: np.array([0.1, 0.1, 0.1]), "popular": np.zeros(3)}
        _compare(result, ndcgs)
        assert result.best_peer == PEER
        assert result.difference == pytest.approx(0.2)
        assert result.ratio == pytest.approx(3.0)
        assert result.difference_ci[0] <= 0.2 <= result.difference_ci[1]


def test_hidden_movies_are_dropped_before_the_top_ten() -> None:
    from movierec.domain.recommenders import UserHistory
    from movierec.evaluation import _drop_hidden

    users = [
        EvalUser(1, UserHistory.empty(), np.array([3]), np.array([2, 5])),
        EvalUser(2, UserHistory.empty(), np.array([3])),
    ]
    lists = _drop_hidden([np.arange(1, 15), np.arange(1, 15)], users)
    assert lists[0].tolist() == [1, 3, 4, 6, 7, 8, 9, 10, 11, 12]
    assert lists[1].tolist() == list(range(1, 11))


class TestListChange:
    """``list_change``: the share of a new user's top 10 that is new after each of their first ratings."""

    @staticmethod
    def users() -> list[EvalUser]:
        from movierec.domain.recommenders import UserHistory

        # shown out of time order on purpose: the first k ratings are the k oldest
        history = UserHistory(np.array([3, 1, 2]), np.array([9, 8, 7]), np.array([30.0, 10.0, 20.0]))
        return [EvalUser(1, history, np.array([50]), np.array([4]))]

    def test_a_list_that_ignores_the_ratings_never_changes(self) -> None:
        from movierec.evaluation import list_change

        rows = [(u, i, 8, float(u * 10 + i)) for u in range(1, 9) for i in range(1, 30) if (u + i) % 3]
        ids = np.arange(1, 30)
        catalogue = ItemCatalogue(ids, (("Drama",),) * len(ids), np.zeros(len(ids)), ids, np.full(len(ids), 2000.0))
        model = PopularRecommender().fit(interactions(rows), catalogue)
        assert list_change(model, self.users(), 3) == [0.0, 0.0, 0.0]  # rated and hidden movies left out each time

    def test_known_answer(self) -> None:
        from movierec.domain.recommenders import UserHistory
        from movierec.evaluation import list_change

        class Shifting:
            """Recommends 100, 101, ... before any rating; each rating shifts the list by (its movie id) places."""

            def recommend(self, history: UserHistory, n: int) -> tuple[np.ndarray, np.ndarray]:
                ids = np.arange(100, 100 + n) + int(history.item_ids.sum())
                return ids, -ids.astype(np.float64)

        # the oldest ratings are movies 1, 2, 3: shifts of 1, 2 and 3 places bring 1, 2 and 3 new movies of 10
        assert list_change(Shifting(), self.users(), 3) == pytest.approx([0.1, 0.2, 0.3])  # type: ignore[arg-type]


def test_the_tuned_points_are_listed_once_per_protocol() -> None:
    report = fake_report()
    views = []
    for m in (1, 3):
        view = fake_report().protocols[0]
        view.name, view.protocol = f"cold-next-{m}", "cold-next"
        views.append(view)
    report.protocols += views
    lines = format_report(report).splitlines()
    assert lines.count("  temporal:") == 1 and lines.count("  cold-next:") == 1
    assert "  cold-next-1    0.1500" in "\n".join(lines)  # each view keeps its own summary row


def test_cold_next_views_share_the_cold_users_and_training() -> None:
    from movierec.evaluation import protocol_views

    rng = np.random.default_rng(5)
    rows = [
        (u, int(i), int(rng.integers(1, 11)), float(t))
        for u in range(40)
        for t, i in enumerate(rng.choice(50, 20, replace=False))
    ]
    data = interactions(rows)
    cold, _ = protocol_views("cold", data)
    following, validation = protocol_views("cold-next", data)
    assert [v.label for v in following] == ["cold-next-1", "cold-next-3", "cold-next-5"]
    for a, b in zip(cold, following, strict=True):
        assert pairs(a.split.train) == pairs(b.split.train)
        assert set(a.split.test.user_ids.tolist()) == set(b.split.test.user_ids.tolist())
    assert not set(validation[0].split.test.user_ids.tolist()) & set(following[0].split.test.user_ids.tolist())
