"""The evaluation's peers: known answers on tiny matrices, and users they have never seen (the cold protocol)."""

from __future__ import annotations

import numpy as np
import pytest

from movierec.domain.evaluation import EvalUser
from movierec.domain.recommenders import Interactions, UserHistory
from movierec.evaluation_peers import PEERS, EaseDensePeer, Rp3BetaPeer

PARAMS = {
    "item_knn": {"K": 10},
    "ease_dense": {"l2": 20.0},
    "rp3beta": {"alpha": 1.0, "beta": 0.5, "K": 10},
    "implicit_als": {"factors": 4, "regularization": 0.1, "alpha": 1.0},
    "implicit_bpr": {"factors": 4, "learning_rate": 0.05, "regularization": 0.01},
}
A, B = [1, 2, 3, 4, 5], [11, 12, 13, 14, 15]


def clusters() -> Interactions:
    """30 users: even ones rate most of cluster A, odd ones most of cluster B (each rating twice)."""
    rng = np.random.default_rng(2)
    rows = []
    for user in range(30):
        films = A if user % 2 == 0 else B
        for item in rng.permutation(films)[:4]:
            rows.append((user, int(item)))
    users, items = zip(*rows, strict=True)
    n = len(rows)
    return Interactions(np.array(users), np.array(items), np.full(n, 9), np.arange(n, dtype=float))


def user(user_id: int, *items: int) -> EvalUser:
    ids = np.array(items, dtype=np.int64)
    return EvalUser(user_id, UserHistory(ids, np.full(len(ids), 9), np.arange(len(ids), dtype=float)), ids)


@pytest.mark.parametrize("name", sorted(PEERS))
class TestEveryPeer:
    def test_ranks_the_users_cluster_and_never_their_own_movies(self, name: str) -> None:
        peer = PEERS[name](**PARAMS[name]).fit(clusters())
        known = user(0, *A[:3])  # user 0 is in training
        stranger = user(999, *B[:2])  # never seen in training: scored from the history alone
        lists = peer.rank([known, stranger], 2)
        assert len(lists) == 2 and all(len(lst) == 2 for lst in lists)
        assert set(lists[0].tolist()) <= set(A) - set(A[:3])
        assert set(lists[1].tolist()) <= set(B) - set(B[:2])

    def test_is_deterministic(self, name: str) -> None:
        users = [user(0, 1, 2), user(1, 11)]
        one = PEERS[name](**PARAMS[name]).fit(clusters()).rank(users, 3)
        two = PEERS[name](**PARAMS[name]).fit(clusters()).rank(users, 3)
        assert [a.tolist() for a in one] == [b.tolist() for b in two]


def tiny() -> tuple[Interactions, np.ndarray]:
    x = np.array([[1, 1, 0, 0], [1, 1, 1, 0], [0, 1, 1, 1], [0, 0, 1, 1], [1, 0, 0, 1]], dtype=np.float64)
    users, cols = np.nonzero(x)
    data = Interactions(users, cols + 1, np.full(len(users), 7), np.arange(len(users), dtype=float))
    return data, x


def test_ease_dense_is_the_closed_form() -> None:
    data, x = tiny()
    l2 = 3.0
    p = np.linalg.inv(x.T @ x + l2 * np.eye(4))
    b = -p / np.diag(p)
    np.fill_diagonal(b, 0.0)
    peer = EaseDensePeer(l2=l2).fit(data)
    np.testing.assert_allclose(peer.weights, b, rtol=1e-5, atol=1e-6)
    history = user(0, 1)
    scores = peer.scores([history], peer.histories([history]))
    np.testing.assert_allclose(scores[0], b[0], rtol=1e-5, atol=1e-6)


def test_rp3beta_is_the_two_step_walk_over_popularity() -> None:
    data, x = tiny()
    p_ui = x / x.sum(axis=1, keepdims=True)
    p_iu = x.T / x.T.sum(axis=1, keepdims=True)
    w = p_iu @ p_ui / x.sum(axis=0) ** 0.5
    np.fill_diagonal(w, 0.0)
    peer = Rp3BetaPeer(alpha=1.0, beta=0.5, K=10).fit(data)
    np.testing.assert_allclose(peer.weights.toarray(), w, rtol=1e-5, atol=1e-6)
    assert peer.rank([user(0, 1)], 1)[0].tolist() == [int(np.argmax(w[0])) + 1]
