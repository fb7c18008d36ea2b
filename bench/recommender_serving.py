"""Serving costs of the default recommender: fit time, model size and ``recommend`` latency.

    python bench/recommender_serving.py               # MovieLens: 100,004 ratings, 9,066 movies
    python bench/recommender_serving.py --synthetic   # 10,000 movies, 1,500 users, ~200k Zipf-popular ratings

Latency is measured per call, single-threaded, over real user histories (all of a user's ratings, up to
2,391 of them), with and without a genre candidate filter, plus ``explain`` and ``predict_ratings`` on the top 20.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from movierec.domain.recommenders import (
    DEFAULT_STRATEGY,
    STRATEGIES,
    Interactions,
    ItemCatalogue,
    UserHistory,
    build_default,
)


def movielens() -> tuple[Interactions, ItemCatalogue]:
    from movierec.evaluation import movielens_data

    return movielens_data()


def synthetic(rng: np.random.Generator, movies: int = 10_000, users: int = 1_500) -> tuple[Interactions, ItemCatalogue]:
    """Zipf-popular movies in 20 taste groups; each user rates 20-400 movies, mostly from two groups."""
    genres_pool = ["Action", "Comedy", "Drama", "Romance", "Thriller", "Horror", "Animation", "Documentary"]
    group = rng.integers(0, 20, movies)
    popularity = 1.0 / np.arange(1, movies + 1) ** 0.8
    rng.shuffle(popularity)
    u, i, r, t = [], [], [], []
    for user in range(users):
        count = int(rng.integers(20, 400))
        liked = rng.choice(20, 2, replace=False)
        weight = popularity * np.where(np.isin(group, liked), 8.0, 1.0)
        items = rng.choice(movies, size=count, replace=False, p=weight / weight.sum())
        u += [user] * count
        i += items.tolist()
        r += np.where(np.isin(group[items], liked), rng.integers(7, 11, count), rng.integers(1, 8, count)).tolist()
        t += (1.3e9 + np.sort(rng.random(count)) * 3e7).tolist()
    ids = np.arange(1, movies + 1, dtype=np.int64) * 7  # sparse, non-dense ids like real ones
    catalogue = ItemCatalogue(
        ids,
        tuple((genres_pool[g % 8], genres_pool[(g * 3 + 1) % 8]) for g in group),
        rng.uniform(3, 9, movies),
        rng.integers(0, 10_000, movies),
        rng.integers(1950, 2020, movies).astype(np.float64),
    )
    interactions = Interactions(np.array(u), ids[np.array(i)], np.array(r), np.array(t))
    return interactions, catalogue


def data_from_arguments(
    description: str, users_help: str
) -> tuple[argparse.Namespace, np.random.Generator, Interactions, ItemCatalogue]:
    """The command line these serving benchmarks share (``--synthetic``, ``--users``), the seeded generator and the
    ratings it asks for: MovieLens, or 10,000 synthetic movies drawn from that generator."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--synthetic", action="store_true", help="10,000 synthetic movies instead of MovieLens")
    parser.add_argument("--users", type=int, default=300, help=users_help)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    interactions, catalogue = synthetic(rng) if args.synthetic else movielens()
    return args, rng, interactions, catalogue


def sample_users(rng: np.random.Generator, interactions: Interactions, count: int) -> np.ndarray:
    """``count`` distinct users of ``interactions`` (all of them when there are fewer), drawn from ``rng``."""
    users = np.unique(interactions.user_ids)
    chosen: np.ndarray = rng.choice(users, size=min(count, len(users)), replace=False)
    return chosen


def percentile_ms(samples: list[float], q: float) -> float:
    return float(np.percentile(np.array(samples) * 1000.0, q))


def main() -> int:
    args, rng, interactions, catalogue = data_from_arguments(
        __doc__.splitlines()[0], "how many users' histories to time"
    )
    n_movies = len(np.union1d(catalogue.item_ids, interactions.item_ids))
    print(f"data: {len(interactions):,} ratings, {len(np.unique(interactions.user_ids)):,} users, {n_movies:,} movies")

    start = time.perf_counter()
    model = build_default(interactions, catalogue)
    fit_seconds = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.npz"
        model.save(path)
        file_mb = path.stat().st_size / 1e6
        start = time.perf_counter()
        model = STRATEGIES[DEFAULT_STRATEGY].load(path)
        load_seconds = time.perf_counter() - start
    nbytes = getattr(model, "nbytes", 0)

    chosen = sample_users(rng, interactions, args.users)
    histories = [interactions.history_of(int(u)) for u in chosen]
    sizes = [len(h) for h in histories]
    drama = catalogue.item_ids[np.array(["Drama" in g for g in catalogue.genres])]
    timings: dict[str, list[float]] = {
        "recommend(n=20)": [],
        "recommend(n=20, genre filter)": [],
        "explain(20)": [],
        "predict_ratings(20)": [],
        "recommend(n=20), long_weight=0": [],
    }
    # the same fitted model without the long-term part (the default before it existed), timed in the same loop
    without_long_term = model.reconfigured(long_weight=0.0)  # type: ignore[attr-defined]
    model.recommend(UserHistory.empty(), 20)  # warm up
    for history in histories:
        start = time.perf_counter()
        ids, _ = model.recommend(history, 20)
        timings["recommend(n=20)"].append(time.perf_counter() - start)
        start = time.perf_counter()
        model.recommend(history, 20, candidates=drama)
        timings["recommend(n=20, genre filter)"].append(time.perf_counter() - start)
        start = time.perf_counter()
        model.explain(history, ids)
        timings["explain(20)"].append(time.perf_counter() - start)
        start = time.perf_counter()
        model.predict_ratings(history, ids)  # type: ignore[attr-defined]
        timings["predict_ratings(20)"].append(time.perf_counter() - start)
        start = time.perf_counter()
        without_long_term.recommend(history, 20)
        timings["recommend(n=20), long_weight=0"].append(time.perf_counter() - start)

    print(f"fit: {fit_seconds:.1f} s; load: {load_seconds * 1000:.0f} ms")
    print(f"model arrays in memory: {nbytes / 1e6:.1f} MB; saved file: {file_mb:.1f} MB")
    print(f"peak RSS of this process (fit included): {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3:.0f} MB")
    print(f"timed users: {len(histories)} (history sizes: median {int(np.median(sizes))}, max {max(sizes)})")
    for label, samples in timings.items():
        print(
            f"{label:<32} p50 {percentile_ms(samples, 50):6.2f} ms   p95 {percentile_ms(samples, 95):6.2f} ms"
            f"   max {max(samples) * 1000:6.2f} ms"
        )
    p95 = percentile_ms(timings["recommend(n=20)"], 95) / percentile_ms(timings["recommend(n=20), long_weight=0"], 95)
    print(f"recommend p95, default / without the long-term part: {p95:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
