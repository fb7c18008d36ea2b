"""The evaluation harness end to end on MovieLens (minutes of CPU: out of tests/unit, marked slow)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow


def test_quick_run_on_movielens_meets_the_targets() -> None:
    from movierec.evaluation import run_evaluation

    report = run_evaluation(quick=True)
    default = report.row(report.default)
    assert report.row("seed").ndcg < report.row("popular").ndcg < default.ndcg
    assert default.ndcg >= 0.12
    assert report.default_vs_peer >= 1.1
    assert default.coverage >= 0.06
    assert default.users > 600
