"""`movierec bench --quick --embedded-only` end to end: every section of results.json is there, with numbers.

No timing is asserted: the numbers only have to exist, be finite and count what they claim to count.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
STRATEGIES = ("seed", "popular", "ease", "ease_seq")


def number(value: Any) -> float:
    assert isinstance(value, int | float) and not isinstance(value, bool), f"not a number: {value!r}"
    assert math.isfinite(value), f"not finite: {value!r}"
    return float(value)


def latencies(summary: dict[str, Any]) -> None:
    for key in ("p50_ms", "p95_ms", "p99_ms", "mean_ms", "max_ms"):
        assert number(summary[key]) > 0, (key, summary)
    assert summary["p50_ms"] <= summary["p95_ms"] <= summary["p99_ms"] <= summary["max_ms"], summary
    assert number(summary["n"]) >= 1


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], str]:
    out = tmp_path_factory.mktemp("bench")
    done = subprocess.run(
        [sys.executable, "-m", "movierec", "bench", "--quick", "--embedded-only", "--output-dir", str(out)],
        cwd=REPO,
        env={**os.environ, "MOVIEREC_DATA_DIR": str(out / "unused-data-dir")},
        capture_output=True,
        text=True,
        timeout=480,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    return json.loads((out / "results.json").read_text()), (out / "RESULTS.md").read_text()


def test_the_run_describes_itself(quick_run: tuple[dict[str, Any], str]) -> None:
    results, _ = quick_run
    assert results["command"] == "movierec bench --quick --embedded-only"
    assert results["quick"] is True and results["embedded_only"] is True
    assert number(results["machine"]["cores"]) >= 1 and number(results["machine"]["memory_gib"]) > 0
    assert results["versions"]["libraries"]["flask"]
    assert all(len(values) == 3 for values in results["load_average"].values())
    assert results["skipped"] == ["full stack (--embedded-only)"]


def test_ingest_counts_every_movie_of_both_catalogues(quick_run: tuple[dict[str, Any], str]) -> None:
    results, _ = quick_run
    expected = {"movielens": 9061, "imdb": 58788}
    for source, movies in expected.items():
        result = results["ingest"]["embedded"][source]
        pipeline = result["pipeline"]
        assert pipeline["movies"] == movies
        assert pipeline["indexed"] == movies and pipeline["complete"] is True
        assert number(pipeline["seed_seconds"]) <= number(pipeline["searchable_seconds"])
        assert number(pipeline["movies_per_s"]) > 0
        assert result["raw_search"]["movies"] == movies and result["raw_database"]["movies"] == movies
        assert number(result["raw_search"]["movies_per_s"]) > 0 and number(result["raw_database"]["movies_per_s"]) > 0
        assert number(result["pipeline_over_raw_search"]) > 0 and number(result["pipeline_over_raw_database"]) > 0
    assert number(results["ingest"]["embedded"]["imdb"]["pipeline"]["time_to_searchable"]["10000"]) > 0


def test_search_measures_every_way_over_the_whole_imdb_catalogue(quick_run: tuple[dict[str, Any], str]) -> None:
    results, _ = quick_run
    search = results["search"]["embedded"]
    assert search["engine"] == "embedded" and search["movies"] == 58788 and search["queries"] == 200
    for way in ("api", "adapter"):
        latencies(search[way])
        assert search[way]["n"] == 200 and number(search[way]["queries_per_s"]) > 0
    assert set(search["by_kind"]) == {"exact title", "typo", "prefix", "genre words", "genre filter"}
    for ratio in search["api_over_adapter"].values():
        number(ratio)


def test_recommendations_cover_every_strategy_cached_and_not(quick_run: tuple[dict[str, Any], str]) -> None:
    results, _ = quick_run
    recommendations = results["recommendations"]["embedded"]
    assert recommendations["prepare"]["ratings"] > 90_000 and recommendations["users"] == 20
    assert recommendations["cache"] == "memory" and recommendations["database"] == "sqlite"
    for strategy in STRATEGIES:
        for kind in ("uncached", "cached", "service", "new_uncached", "new_cached", "all_cached"):
            latencies(recommendations[strategy][kind])
        assert recommendations[strategy]["cached"]["n"] == 60
        assert recommendations[strategy]["all_cached"]["n"] == 60 + recommendations[strategy]["new_cached"]["n"]


def test_the_embedded_server_is_loaded_beside_the_minimal_app(quick_run: tuple[dict[str, Any], str]) -> None:
    results, markdown = quick_run
    load = results["load_embedded"]
    endpoints = {run["endpoint"] for run in load["runs"]}
    assert {"/recommendations (cached)", "/recommendations (uncached)", "/my-ratings", "/movies/latest"} <= endpoints
    assert "/hello (minimal Flask app)" in endpoints
    for run in load["runs"]:
        assert number(run["requests"]) > 0 and number(run["requests_per_s"]) > 0, run
        assert run["errors"] == 0, run
    assert {entry["endpoint"] for entry in load["over_minimal_app"]} == endpoints - {"/hello (minimal Flask app)"}
    for entry in load["over_minimal_app"]:
        assert number(entry["over_minimal_app"]) > 0
    # The one-route app runs before and after each connection count's endpoints; a ratio takes the mean of the two.
    hello = [run for run in load["runs"] if run["endpoint"] == "/hello (minimal Flask app)"]
    counts = {run["connections"] for run in load["runs"]}
    assert sorted((run["connections"], run["round"]) for run in hello) == sorted(
        (count, when) for count in counts for when in ("after", "before")
    )
    for entry in load["over_minimal_app"]:
        rates = [run["requests_per_s"] for run in hello if run["connections"] == entry["connections"]]
        assert entry["minimal_app_requests_per_s"] == round(sum(rates) / len(rates), 1)
    assert "## Load: embedded server" in markdown


def test_targets_and_the_report(quick_run: tuple[dict[str, Any], str]) -> None:
    results, markdown = quick_run
    names = [target["target"] for target in results["targets"]]
    assert any("cached recommendations p99" in name for name in names)
    assert any("search through the API p95" in name for name in names)
    for target in results["targets"]:
        number(target["measured"])
        assert isinstance(target["met"], bool) and target["margin"].startswith(("met by", "missed by"))
    for heading in ("## Targets", "## Ingest", "## Search", "## Recommendations inside the API", "## Memory"):
        assert heading in markdown
    assert "movierec bench --quick --embedded-only" in markdown
