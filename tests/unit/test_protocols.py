"""The protocols' splitters (no held-out movie is ever visible in training) and the bootstrap intervals."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from movierec.domain.evaluation import (
    Split,
    bootstrap_means,
    cold_split,
    evaluation_users,
    holdout_size,
    interval,
    last_one_split,
    random_split,
    temporal_split,
)
from movierec.domain.recommenders import Interactions
from movierec.evaluation import cold_next_split

SPLITTERS: dict[str, Callable[[Interactions], Split]] = {
    "temporal": temporal_split,
    "last-one": last_one_split,
    "random": lambda data: random_split(data, seed=3),
    "cold-1": lambda data: cold_split(data, 1, seed=3),
    "cold-3": lambda data: cold_split(data, 3, seed=3),
    "cold-5": lambda data: cold_split(data, 5, seed=3),
    "cold-next-1": lambda data: cold_next_split(cold_split(data, 1, seed=3)),
    "cold-next-5": lambda data: cold_next_split(cold_split(data, 5, seed=3), 3),
}


def make_data(rerated: bool) -> Interactions:
    """60 users with 1-40 ratings each, coarse timestamps (many ties); ``rerated``: some movies rated twice."""
    rng = np.random.default_rng(11)
    rows = []
    for user in range(60):
        count = int(rng.integers(1, 41))
        items = rng.choice(200, size=count, replace=False)
        rows += [(user, int(i), int(rng.integers(1, 11)), float(rng.integers(0, 30))) for i in items]
        if rerated:
            for item in items[: count // 8]:  # re-rated later: the same pair twice
                rows.append((user, int(item), int(rng.integers(1, 11)), 40.0 + float(rng.integers(0, 5))))
    u, i, r, t = zip(*rows, strict=True)
    return Interactions(np.array(u), np.array(i), np.array(r), np.array(t))


@pytest.fixture
def data() -> Interactions:
    """One rating per (user, item), as the database keeps them and ``movierec eval`` scores them."""
    return make_data(rerated=False)


def triples(data: Interactions) -> list[tuple[int, int, float]]:
    return sorted(zip(data.user_ids.tolist(), data.item_ids.tolist(), data.timestamps.tolist(), strict=True))


def pairs(data: Interactions) -> set[tuple[int, int]]:
    return set(zip(data.user_ids.tolist(), data.item_ids.tolist(), strict=True))


@pytest.mark.parametrize("name", sorted(SPLITTERS))
class TestEverySplitter:
    def test_no_held_out_movie_is_visible_in_training_or_history(self, name: str, data: Interactions) -> None:
        split = SPLITTERS[name](data)
        visible = pairs(split.train) | (pairs(split.history) if split.history is not None else set())
        assert len(split.test) > 0
        assert not pairs(split.test) & visible
        for user in evaluation_users(split):
            assert not np.isin(user.relevant, user.history.item_ids).any()

    def test_every_rating_lands_on_at_most_one_side(self, name: str, data: Interactions) -> None:
        split = SPLITTERS[name](data)
        parts = [split.train, split.test] + ([split.history] if split.history is not None else [])
        used = sorted(t for part in parts for t in triples(part))
        assert len(set(used)) == len(used)
        assert set(used) <= set(triples(data))
        if not name.startswith("cold"):  # cold users' middle ratings are used nowhere
            assert used == triples(data)

    def test_is_deterministic(self, name: str, data: Interactions) -> None:
        one, two = SPLITTERS[name](data), SPLITTERS[name](data)
        assert triples(one.test) == triples(two.test)


@pytest.mark.parametrize("name", sorted(set(SPLITTERS) - {"temporal"}))
def test_the_new_splitters_keep_a_rerated_movie_on_one_side(name: str) -> None:
    split = SPLITTERS[name](make_data(rerated=True))
    visible = pairs(split.train) | (pairs(split.history) if split.history is not None else set())
    assert not pairs(split.test) & visible


def latest_distinct_counts(data: Interactions) -> dict[int, int]:
    return {int(u): len(np.unique(data.item_ids[data.user_ids == u])) for u in np.unique(data.user_ids)}


def test_last_one_holds_out_each_users_latest_rating(data: Interactions) -> None:
    split = last_one_split(data)
    for user, count in latest_distinct_counts(data).items():
        mine = data.user_ids == user
        held = split.test.user_ids == user
        if mine.sum() < 2:
            assert held.sum() == 0
            continue
        latest_time = data.timestamps[mine].max()
        latest_item = data.item_ids[mine][data.timestamps[mine] == latest_time].max()
        assert set(split.test.item_ids[held].tolist()) == {int(latest_item)}
        assert count >= 1


def test_random_holds_out_a_fifth_of_each_user_spread_over_time(data: Interactions) -> None:
    split = random_split(data, seed=3)
    for user in np.unique(data.user_ids):
        n = int((data.user_ids == user).sum())
        assert (split.test.user_ids == user).sum() >= holdout_size(n)  # re-rated pairs may add the second rating
    # spread over the history, unlike the temporal split: some held-out ratings are older than training ones
    older = 0
    for user in np.unique(split.test.user_ids):
        train_t = split.train.timestamps[split.train.user_ids == user]
        if len(train_t):
            older += int(split.test.timestamps[split.test.user_ids == user].min() < train_t.max())
    assert older > 10
    assert triples(random_split(data, seed=4).test) != triples(split.test)


def test_cold_users_leave_training_and_show_their_first_ratings(data: Interactions) -> None:
    splits = {m: cold_split(data, m, seed=3) for m in (1, 3, 5)}
    assert triples(splits[1].train) == triples(splits[3].train) == triples(splits[5].train)
    cold_users = set(splits[3].test.user_ids.tolist())
    assert cold_users and not cold_users & set(splits[3].train.user_ids.tolist())
    eligible = [u for u in np.unique(data.user_ids) if (data.user_ids == u).sum() >= 10]
    assert len(cold_users) == round(0.2 * len(eligible))
    for m, split in splits.items():
        assert split.history is not None
        assert triples(split.test) == triples(splits[1].test)
        for user in cold_users:
            mine = data.user_ids == user
            order = np.lexsort((data.item_ids[mine], data.timestamps[mine]))
            ordered = data.item_ids[mine][order]
            shown = set(split.history.item_ids[split.history.user_ids == user].tolist())
            held = set(split.test.item_ids[split.test.user_ids == user].tolist())
            assert shown == set(ordered[:m].tolist())
            assert held == set(ordered[len(ordered) - holdout_size(len(ordered)) :].tolist())


def test_cold_history_and_holdout_must_fit_in_the_eligible_users(data: Interactions) -> None:
    with pytest.raises(ValueError, match="history_size"):
        cold_split(data, 8)


def test_bootstrap_interval_brackets_the_mean_and_pairs_resample_the_same_users() -> None:
    rng = np.random.default_rng(5)
    a = rng.random(400)
    b = a - 0.1  # every user exactly 0.1 lower: the paired difference has no spread at all
    means = bootstrap_means(np.column_stack([a, b]), resamples=500)
    low, high = interval(means[:, 0])
    assert low < a.mean() < high
    assert high - low < 0.1
    np.testing.assert_allclose(means[:, 0] - means[:, 1], 0.1)
    assert bootstrap_means(np.zeros(0), resamples=7).shape == (7,)


def test_cold_users_middle_ratings_are_neither_shown_held_out_nor_candidates(data: Interactions) -> None:
    from movierec.domain.evaluation import evaluate_lists

    split = cold_split(data, 1, seed=3)
    assert split.history is not None and split.hidden is not None and len(split.hidden)
    assert not pairs(split.hidden) & (pairs(split.test) | pairs(split.history) | pairs(split.train))
    users = evaluation_users(split)
    user = next(u for u in users if len(u.hidden))
    assert set(user.hidden.tolist()) == set(split.hidden.item_ids[split.hidden.user_ids == user.user_id].tolist())
    lists = [np.zeros(0, dtype=np.int64) for _ in users]
    train_items = set(split.train.item_ids.tolist())
    lists[users.index(user)] = np.array([next(i for i in user.hidden.tolist() if i in train_items)])
    with pytest.raises(ValueError, match="candidate set"):
        evaluate_lists(lists, split, users)


def test_cold_next_holds_out_the_ratings_right_after_the_shown_ones(data: Interactions) -> None:
    cold = cold_split(data, 3, seed=3)
    split = cold_next_split(cold, 4)
    assert triples(split.train) == triples(cold.train) and triples(split.history) == triples(cold.history)
    assert split.hidden is not None and cold.hidden is not None
    # the same ratings as the cold split's hidden and held-out ones, cut at another place
    assert sorted(triples(split.test) + triples(split.hidden)) == sorted(triples(cold.test) + triples(cold.hidden))
    for user in np.unique(cold.test.user_ids):
        mine = data.user_ids == user
        order = np.lexsort((data.item_ids[mine], data.timestamps[mine]))
        items = data.item_ids[mine][order]
        assert set(split.test.item_ids[split.test.user_ids == user].tolist()) == set(items[3:7].tolist())
        assert set(split.hidden.item_ids[split.hidden.user_ids == user].tolist()) == set(items[7:].tolist())


def test_cold_next_known_answer() -> None:
    def part(rows: list[tuple[int, int, int, float]]) -> Interactions:
        if not rows:
            return Interactions(np.zeros(0, int), np.zeros(0, int), np.zeros(0, int), np.zeros(0))
        u, i, r, t = zip(*rows, strict=True)
        return Interactions(np.array(u), np.array(i), np.array(r), np.array(t))

    train = part([(1, 10, 8, 0.0), (1, 11, 6, 1.0)])
    shown = part([(7, 20, 9, 5.0)])
    # user 7 rated 21..26 after the movie shown (26 and 25 at one time: the item id breaks the tie)
    hidden = part([(7, 22, 4, 7.0), (7, 21, 8, 6.0), (7, 23, 9, 8.0)])
    test = part([(7, 26, 8, 9.0), (7, 25, 10, 9.0), (7, 24, 3, 8.5)])
    split = cold_next_split(Split(train, test, shown, hidden), 3)
    assert triples(split.test) == [(7, 21, 6.0), (7, 22, 7.0), (7, 23, 8.0)]
    assert split.hidden is not None
    assert triples(split.hidden) == [(7, 24, 8.5), (7, 25, 9.0), (7, 26, 9.0)]
    (user,) = evaluation_users(split)
    assert user.relevant.tolist() == [21, 23] and user.hidden.tolist() == [24, 25, 26]
    assert user.history.item_ids.tolist() == [20]
    with pytest.raises(ValueError):
        cold_next_split(Split(train, test), 3)
