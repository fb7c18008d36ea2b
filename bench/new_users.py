"""What the "recently popular" prior costs a new user's ``recommend``, beside the plain rating count.

    python -m bench.new_users                # MovieLens: 100,004 ratings, 9,066 movies
    python -m bench.new_users --synthetic    # 10,000 synthetic movies (bench/recommender_serving.py's data)

Fits the default once, then times ``recommend(n=20)`` for the first 1, 3 and 5 ratings of real users, with the
recent prior (the default) and with ``pop_recent_half_life=None`` (the plain rating count) in the same loop. Twice:
"now" (as served: the prior counts every training rating, one prior for everybody) and "then" (as ``movierec eval``
counts it, ``pop_at_latest_rating``: at the user's own latest rating, one prior per span of time, 16 kept). Each
call is the fastest of 5 repeats (a shared machine inflates single calls). Prints p50 / p95 of each, the p95 ratio
and the memory the prior's spans take in the model. (The repeats hit the prior cache: "then" shows a cache hit.)
"""

from __future__ import annotations

import sys
import time

import numpy as np

from bench.recommender_serving import data_from_arguments, percentile_ms, sample_users
from movierec.domain.recommenders import UserHistory, build_default

REPEATS = 5


def main() -> int:
    args, rng, interactions, catalogue = data_from_arguments(
        __doc__.splitlines()[0], "how many users' first ratings to time"
    )
    model = build_default(interactions, catalogue)
    plain = model.reconfigured(pop_recent_half_life=None)  # type: ignore[attr-defined]
    spans = model._spans  # type: ignore[attr-defined]
    print(
        f"data: {len(interactions):,} ratings; model arrays {model.nbytes / 1e6:.1f} MB, of which the prior's spans "  # type: ignore[attr-defined]
        f"{spans.nbytes / 1e6:.2f} MB ({spans.n_spans} spans, {len(spans.counts):,} cells)"
    )
    chosen = sample_users(rng, interactions, args.users)
    model.recommend(UserHistory.empty(), 20)  # warm up
    for when in ("now", "then"):
        for shown in (1, 3, 5):
            histories = []
            for user in chosen:
                full = interactions.history_of(int(user))
                order = np.lexsort((full.item_ids, full.timestamps))[:shown]
                histories.append(UserHistory(full.item_ids[order], full.ratings[order], full.timestamps[order]))
            recent = model if when == "now" else model.reconfigured(pop_at_latest_rating=True)  # type: ignore[attr-defined]
            timed: dict[str, list[float]] = {"recent prior": [], "rating count": []}
            for history in histories:
                for label, variant in (("recent prior", recent), ("rating count", plain)):
                    fastest = float("inf")
                    for _ in range(REPEATS):  # the fastest of a few: the machine's other jobs inflate single calls
                        start = time.perf_counter()
                        variant.recommend(history, 20)
                        fastest = min(fastest, time.perf_counter() - start)
                    timed[label].append(fastest)
            line = ", ".join(
                f"{label} p50 {percentile_ms(s, 50):.2f} / p95 {percentile_ms(s, 95):.2f} ms"
                for label, s in timed.items()
            )
            ratio = percentile_ms(timed["recent prior"], 95) / percentile_ms(timed["rating count"], 95)
            print(f"{when}, {shown} rating(s) shown, {len(histories)} users: {line}; p95 ratio {ratio:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
