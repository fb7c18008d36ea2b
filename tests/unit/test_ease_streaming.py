"""The EASE-family fit in bounded memory: block-streamed counts equal the dense computation, known answers on
tiny matrices, the top-k cut and the pruning threshold, and one prepared fit shared by two models."""

from __future__ import annotations

import numpy as np
import pytest

from movierec.domain.recommenders import ease
from movierec.domain.recommenders.base import Interactions, ItemCatalogue
from movierec.domain.recommenders.ease import (
    EaseRecommender,
    EaseSeqConfig,
    EaseSeqRecommender,
    FitData,
    _Sequence,
    _sequential_top_k,
    _top_k_segments,
)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(7)


def catalogue(ids: np.ndarray) -> ItemCatalogue:
    n = len(ids)
    return ItemCatalogue(ids, tuple(() for _ in range(n)), np.zeros(n), np.zeros(n, dtype=np.int64), np.full(n, np.nan))


def random_ratings(rng: np.random.Generator, users: int = 40, items: int = 30) -> Interactions:
    user_ids, item_ids, ratings, times = [], [], [], []
    for user in range(users):
        rated = rng.choice(items, size=int(rng.integers(1, items)), replace=False)
        for item in rated:
            user_ids.append(user + 100)
            item_ids.append(int(item) * 3 + 1)  # sparse, non-dense ids
            ratings.append(int(rng.integers(1, 11)))
            times.append(float(rng.integers(0, 50)))  # many ties in time: the item id breaks them
    return Interactions(np.array(user_ids), np.array(item_ids), np.array(ratings), np.array(times))


def dense_sequential(interactions: Interactions, table_ids: np.ndarray, cfg: EaseSeqConfig) -> np.ndarray:
    """The definition, one user at a time: ``i`` votes for each ``j`` rated within the next window."""
    n = len(table_ids)
    counts = np.zeros((n, n))
    for user in np.unique(interactions.user_ids):
        mine = interactions.user_ids == user
        items, ratings, times = interactions.item_ids[mine], interactions.ratings[mine], interactions.timestamps[mine]
        order = np.lexsort((items, times))
        rows = np.searchsorted(table_ids, items[order])
        liked = ratings[order] >= 8
        for i in range(len(rows)):
            for j in range(i + 1, min(i + cfg.seq_window, len(rows) - 1) + 1):
                weight = 0.5 ** ((j - i - 1) / cfg.seq_half_life)
                counts[rows[i], rows[j]] += weight if liked[j] else weight * cfg.seq_disliked_weight
    return counts


def reference_top_k(dense: np.ndarray, k: int) -> np.ndarray:
    """Each row's k largest magnitudes, ties to the lower column, written the slow obvious way."""
    out = np.zeros_like(dense)
    for r, row in enumerate(dense):
        cols = np.flatnonzero(row).tolist()
        cols.sort(key=lambda c: (-abs(row[c]), c))
        out[r, cols[:k]] = row[cols[:k]]
    return out


class TestStreamedCounts:
    @pytest.mark.parametrize("dense_from", [1, 10**9])  # always the sparse sum; always the dense one
    @pytest.mark.parametrize(("cells", "pairs"), [(10**9, 10**9), (60, 25), (1, 1)])
    def test_blocks_equal_the_dense_computation(
        self, rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch, cells: int, pairs: int, dense_from: int
    ) -> None:
        monkeypatch.setattr(ease, "BLOCK_CELLS", cells)
        monkeypatch.setattr(ease, "BLOCK_PAIRS", pairs)
        monkeypatch.setattr(ease, "DENSE_FROM", dense_from)
        interactions = random_ratings(rng)
        cfg = EaseSeqConfig(seq_window=5, seq_half_life=2.0)
        data = FitData.build(interactions, catalogue(np.unique(interactions.item_ids)))
        sequence = _Sequence(data, cfg)
        blocks = list(sequence.blocks())
        assert blocks[0][0] == 0 and blocks[-1][1] == len(data.table)
        assert all(a[1] == b[0] for a, b in zip(blocks, blocks[1:], strict=False))
        if cells == 1:
            assert len(blocks) == len(data.table)  # one row per block
        streamed = np.vstack([sequence.counts(start, stop).toarray() for start, stop in blocks])
        expected = dense_sequential(interactions, data.table.ids, cfg)
        np.testing.assert_allclose(streamed, expected, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(sequence.col_sum, expected.sum(axis=0), rtol=1e-12)

    def test_known_answer_on_three_ratings(self) -> None:
        # one user rates 1, 2, 3 in that order; 3 is disliked; window 2, half-life 1
        interactions = Interactions(np.array([1, 1, 1]), np.array([1, 2, 3]), np.array([9, 8, 2]), np.array([0, 1, 2]))
        cfg = EaseSeqConfig(seq_window=2, seq_half_life=1.0, seq_disliked_weight=0.25)
        data = FitData.build(interactions, catalogue(np.array([1, 2, 3, 4])))
        sequence = _Sequence(data, cfg)
        counts = np.vstack([sequence.counts(a, b).toarray() for a, b in sequence.blocks()])
        expected = np.array(
            [
                [0, 1.0, 0.5 * 0.25, 0],  # 1 -> 2 at distance 1, 1 -> 3 at distance 2 (disliked)
                [0, 0, 0.25, 0],  # 2 -> 3 at distance 1 (disliked)
                [0, 0, 0, 0],
                [0, 0, 0, 0],  # never rated
            ]
        )
        np.testing.assert_array_equal(counts, expected)

    def test_a_user_boundary_is_never_crossed(self) -> None:
        interactions = Interactions(np.array([1, 2]), np.array([1, 2]), np.array([9, 9]), np.array([0, 1]))
        data = FitData.build(interactions, catalogue(np.array([1, 2])))
        sequence = _Sequence(data, EaseSeqConfig())
        assert not np.vstack([sequence.counts(a, b).toarray() for a, b in sequence.blocks()]).any()


class TestPruning:
    def test_normalised_and_pruned_matrix_equals_the_dense_one(
        self, rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(ease, "BLOCK_CELLS", 90)
        interactions = random_ratings(rng)
        cfg = EaseSeqConfig(seq_window=6, neighbours=4)
        data = FitData.build(interactions, catalogue(np.unique(interactions.item_ids)))
        counts = dense_sequential(interactions, data.table.ids, cfg)
        row = (counts.sum(axis=1) + 1.0) ** -cfg.seq_row_exponent
        col = (counts.sum(axis=0) + 1.0) ** -cfg.seq_pop_exponent
        expected = reference_top_k(row[:, None] * counts * col[None, :], cfg.neighbours)
        got = _sequential_top_k(data, cfg)
        assert got.dtype == np.float32 and got.indices.dtype == np.int32
        assert np.diff(got.indptr).max() == cfg.neighbours
        np.testing.assert_allclose(got.toarray(), expected, rtol=1e-6)

    def test_ties_at_the_cut_go_to_the_lower_column(self) -> None:
        rows = np.array([0, 0, 0, 0, 1, 1])
        cols = np.array([1, 2, 3, 4, 0, 2])
        values = np.array([0.5, -2.0, 0.5, 0.5, 1.0, 1.0])
        kept = _top_k_segments(rows, cols, values, 2, 0.0)
        assert kept[0].tolist() == [0, 0, 1, 1]
        assert kept[1].tolist() == [1, 2, 0, 2]

    def test_threshold_drops_weak_links_of_each_row(self) -> None:
        rows = np.array([0, 0, 0, 1, 1])
        cols = np.array([1, 2, 3, 0, 2])
        values = np.array([1.0, -0.09, 0.2, 0.01, 0.0009])
        kept = _top_k_segments(rows, cols, values, 10, 0.1)
        assert kept[1].tolist() == [1, 3, 0]  # 0.09 < 0.1 x 1.0; row 1 keeps its own strongest only

    def test_threshold_bounds_the_fitted_model(self, rng: np.random.Generator) -> None:
        interactions = random_ratings(rng, users=80)
        items = catalogue(np.unique(interactions.item_ids))
        full = EaseSeqRecommender().fit(interactions, items)
        pruned = EaseSeqRecommender(prune_below=0.5).fit(interactions, items)
        assert 0 < pruned._seq.nnz < full._seq.nnz  # type: ignore[union-attr]
        assert 0 < pruned._ease.nnz < full._ease.nnz  # type: ignore[union-attr]
        assert pruned.nbytes < full.nbytes


class TestSharedFit:
    def test_two_models_share_one_gram_and_fit_as_if_alone(self, rng: np.random.Generator) -> None:
        interactions = random_ratings(rng)
        items = catalogue(np.unique(interactions.item_ids))
        data = FitData.build(interactions, items)
        shared = [EaseRecommender().fit_data(data), EaseSeqRecommender().fit_data(data)]
        assert len(data.grams) == 1
        alone = [EaseRecommender().fit(interactions, items), EaseSeqRecommender().fit(interactions, items)]
        for one, other in zip(shared, alone, strict=True):
            for a, b in ((one._ease, other._ease), (one._seq, other._seq)):
                assert (a != b).nnz == 0  # type: ignore[operator]

    def test_gram_counts_users_per_item_pair(self) -> None:
        # users 1 and 2 rate items 10 and 20; user 2 also 30
        interactions = Interactions(
            np.array([1, 1, 2, 2, 2]), np.array([10, 20, 10, 20, 30]), np.full(5, 8), np.arange(5.0)
        )
        data = FitData.build(interactions, catalogue(np.array([10, 20, 30])))
        np.testing.assert_array_equal(data.gram(np.array([0, 1, 2])), [[2, 2, 1], [2, 2, 1], [1, 1, 1]])
        assert data.gram(np.array([0, 1, 2])).dtype == np.float32

    def test_ease_weights_match_the_closed_form(self, rng: np.random.Generator) -> None:
        x = (rng.random((30, 6)) < 0.4).astype(np.float64)
        gram = x.T @ x
        p = np.linalg.inv(gram + 5.0 * np.eye(6))
        expected = -p / np.diag(p)[None, :]
        np.fill_diagonal(expected, 0.0)
        np.testing.assert_allclose(ease._ease_weights(gram.copy(), 5.0), expected, rtol=1e-4, atol=1e-6)
