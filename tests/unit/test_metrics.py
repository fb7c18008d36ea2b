"""Top-k metrics against values computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from movierec.domain.evaluation import catalogue_coverage, hit_rate_at_k, ndcg_at_k, recall_at_k

RANKED = np.array([5, 1, 7, 3])
RELEVANT = np.array([1, 3, 9])


def test_ndcg_by_hand() -> None:
    # hits at ranks 2 and 4; the ideal list has 3 hits at ranks 1-3
    dcg = 1 / math.log2(3) + 1 / math.log2(5)
    ideal = 1 + 1 / math.log2(3) + 1 / math.log2(4)
    assert ndcg_at_k(RANKED, RELEVANT, 10) == pytest.approx(dcg / ideal)
    assert ndcg_at_k(RANKED, RELEVANT, 10) == pytest.approx(0.498189, abs=1e-6)


def test_ndcg_cuts_at_k_and_ideal_uses_min_k_relevant() -> None:
    # k = 3: only the hit at rank 2 counts; the ideal DCG covers min(3, 3) = 3 positions
    assert ndcg_at_k(RANKED, RELEVANT, 3) == pytest.approx((1 / math.log2(3)) / (1 + 1 / math.log2(3) + 0.5))
    # k = 2 with 3 relevant: the ideal DCG covers only 2 positions
    assert ndcg_at_k(np.array([1, 3]), RELEVANT, 2) == pytest.approx(1.0)


def test_ndcg_extremes() -> None:
    assert ndcg_at_k(np.array([1, 3, 9]), RELEVANT) == pytest.approx(1.0)
    assert ndcg_at_k(np.array([2, 4, 6]), RELEVANT) == 0.0
    assert ndcg_at_k(np.array([], dtype=np.int64), RELEVANT) == 0.0
    assert ndcg_at_k(RANKED, np.array([], dtype=np.int64)) == 0.0


def test_recall_by_hand() -> None:
    assert recall_at_k(RANKED, RELEVANT, 10) == pytest.approx(2 / 3)
    assert recall_at_k(RANKED, RELEVANT, 3) == pytest.approx(1 / 3)


def test_recall_denominator_is_min_k_relevant() -> None:
    relevant = np.arange(100, 112)  # 12 relevant items
    assert recall_at_k(np.arange(100, 110), relevant, 10) == pytest.approx(1.0)
    assert recall_at_k(np.arange(105, 115), relevant, 10) == pytest.approx(7 / 10)


def test_hit_rate() -> None:
    assert hit_rate_at_k(RANKED, RELEVANT, 10) == 1.0
    assert hit_rate_at_k(RANKED, RELEVANT, 1) == 0.0
    assert hit_rate_at_k(RANKED, RELEVANT, 2) == 1.0


def test_coverage_counts_distinct_items_in_top_k() -> None:
    lists = [np.array([1, 2, 8]), np.array([2, 3, 9])]
    assert catalogue_coverage(lists, 10, k=2) == pytest.approx(3 / 10)  # {1, 2, 3}
    assert catalogue_coverage(lists, 10, k=10) == pytest.approx(5 / 10)
    assert catalogue_coverage([], 10) == 0.0
    assert catalogue_coverage(lists, 0) == 0.0
