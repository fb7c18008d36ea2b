"""The evaluation harness end to end on MovieLens (minutes of CPU: out of tests/unit, marked slow)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow


@pytest.mark.slow
def test_quick_run_on_movielens_meets_the_targets() -> None:
    from movierec.evaluation import run_evaluation

    report = run_evaluation(quick=True, protocols=("temporal",))
    result = report.result("temporal")
    default = result.row(report.default)
    assert result.row("seed").ndcg < result.row("popular").ndcg < default.ndcg
    assert default.ndcg >= 0.12
    assert result.best_peer and result.ratio >= 1.1
    assert default.coverage >= 0.06
    assert default.users > 600
    accuracy = result.rating_accuracy
    assert accuracy is not None and accuracy.rmse["model"] < min(accuracy.rmse["user mean"], accuracy.rmse["item mean"])
    assert report.explanations["named"] > 0.5
