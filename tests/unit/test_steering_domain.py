"""Steering a ranking: "not interested" movies never come back; movies like them drop."""

from __future__ import annotations

import numpy as np
import pytest

from movierec.domain.recommenders import DEFAULT_STRATEGY, Interactions, ItemCatalogue, UserHistory, create
from movierec.domain.recommenders.steering import pool_size, steer

IDS = np.array([1, 2, 3, 4, 5])
SCORES = np.array([5.0, 4.0, 3.0, 2.0, 1.0])


def test_not_interested_movies_are_dropped_and_the_rest_keep_their_order() -> None:
    ids, scores = steer(IDS, SCORES, [2, 4], [], 10)
    assert ids.tolist() == [1, 3, 5]
    assert scores.tolist() == [5.0, 3.0, 1.0]


def test_a_movie_like_a_turned_down_one_drops_and_others_keep_their_scores() -> None:
    # Movie 9 was turned down; 1 is the movie most like it, 3 is a little like it.
    ids, scores = steer(IDS, SCORES, [9], [(np.array([1, 3]), np.array([0.8, 0.2]))], 5, weight=0.5)
    # The spread is 4: movie 1 (share 1.0) loses 2, movie 3 (share 0.2 / 0.8 = 0.25) loses 0.5.
    assert ids.tolist() == [2, 1, 3, 4, 5]
    assert scores.tolist() == [4.0, 3.0, 2.5, 2.0, 1.0]


def test_weight_zero_changes_nothing_but_the_exclusion() -> None:
    ids, scores = steer(IDS, SCORES, [9], [(np.array([1]), np.array([1.0]))], 3, weight=0.0)
    assert ids.tolist() == [1, 2, 3] and scores.tolist() == [5.0, 4.0, 3.0]


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="same length"):
        steer(IDS, SCORES[:2], [], [], 3)
    with pytest.raises(ValueError, match="weight"):
        steer(IDS, SCORES, [], [], 3, weight=-1)


def test_the_pool_grows_only_when_something_was_turned_down() -> None:
    assert pool_size(10, 0) == 10
    assert pool_size(10, 3) > 10 + 3


def test_on_a_tiny_catalogue_a_movie_similar_to_a_turned_down_one_drops_in_rank() -> None:
    """Users who watch 11 also watch 12, users who watch 21 also watch 22, and the user's two ratings are liked by
    both groups alike: turning 11 down puts 12 below 21 and 22 (the default strategy's own similarities)."""
    users, items, ratings = [], [], []
    for user in range(1, 13):
        liked = [11, 12] if user <= 6 else [21, 22]
        liked += [31] if user % 2 else [32]
        for item in liked:
            users.append(user)
            items.append(item)
            ratings.append(9)
    times = np.arange(len(users), dtype=np.float64) * 60 + 1e9
    ids = np.array([11, 12, 21, 22, 31, 32])
    catalogue = ItemCatalogue(ids, (("Drama",),) * 6, np.full(6, 7.0), np.full(6, 10), np.full(6, 2000.0))
    model = create(DEFAULT_STRATEGY).fit(
        Interactions(np.array(users), np.array(items), np.array(ratings), times), catalogue
    )
    history = UserHistory(np.array([31, 32]), np.array([9, 9]), np.array([1e9, 1e9 + 60]))
    plain_ids, plain_scores = model.recommend(history, pool_size(4, 1))
    assert 11 in plain_ids.tolist() and 12 in plain_ids.tolist()
    steered, _ = steer(plain_ids, plain_scores, [11], [model.similar_items(11, 10)], 4)
    assert 11 not in steered.tolist()
    assert steered.tolist().index(12) > [i for i in plain_ids.tolist() if i != 11].index(12)
    assert steered.tolist()[-1] == 12
