"""What steering costs per recommendation: a plain ``recommend(n=20)`` beside the same call steered by 20
not-interested movies (a bigger candidate pool, ``similar_items`` of each, and ``steer``), side by side in one run.

    python -m bench.steering              # MovieLens: 100,004 ratings, 9,066 movies
    python -m bench.steering --synthetic  # 10,000 synthetic movies

Each timed user turns down 20 movies drawn from their own plain top 40, the hardest case (every one of them would
have been recommended). Also counts how many of the plain top 20 were turned down, or were among the 50 nearest
neighbours of a turned-down movie, and left the steered top 20.
"""

from __future__ import annotations

import sys
import time

from bench.recommender_serving import data_from_arguments, percentile_ms, sample_users
from movierec.domain.recommenders import UserHistory, build_default
from movierec.domain.recommenders.steering import MAX_SIGNALS, NEIGHBOURS, pool_size, steer

N = 20
TURNED_DOWN = 20


def main() -> int:
    args, rng, interactions, catalogue = data_from_arguments(
        __doc__.splitlines()[0], "how many users' histories to time"
    )
    model = build_default(interactions, catalogue)
    chosen = sample_users(rng, interactions, args.users)
    model.recommend(UserHistory.empty(), N)  # warm up
    plain_ms: list[float] = []
    steered_ms: list[float] = []
    left = kept = 0
    for user in chosen.tolist():
        history = interactions.history_of(int(user))
        top40, _ = model.recommend(history, 2 * N)
        banned = rng.choice(top40, size=min(TURNED_DOWN, len(top40)), replace=False).tolist()
        start = time.perf_counter()
        plain, _ = model.recommend(history, N)
        plain_ms.append(time.perf_counter() - start)
        start = time.perf_counter()
        ids, scores = model.recommend(history, pool_size(N, len(banned)))
        neighbours = [model.similar_items(int(m), NEIGHBOURS) for m in banned[:MAX_SIGNALS]]
        steered, _ = steer(ids, scores, banned, neighbours, N)
        steered_ms.append(time.perf_counter() - start)
        near = set(banned) | {int(i) for similar, _ in neighbours for i in similar.tolist()}
        gone = set(plain.tolist()) - set(steered.tolist())
        left += len(gone & near)
        kept += len(set(plain.tolist()) & set(steered.tolist()))
        assert not set(banned) & set(steered.tolist())
    p95_plain, p95_steered = percentile_ms(plain_ms, 95), percentile_ms(steered_ms, 95)
    print(f"timed users: {len(chosen)}, {TURNED_DOWN} turned-down movies each (from their own top {2 * N})")
    print(f"plain recommend(n={N})     p50 {percentile_ms(plain_ms, 50):6.2f} ms   p95 {p95_plain:6.2f} ms")
    print(f"steered recommend(n={N})   p50 {percentile_ms(steered_ms, 50):6.2f} ms   p95 {p95_steered:6.2f} ms")
    print(f"steered / plain p95: {p95_steered / p95_plain:.1f}x")
    print(f"plain top-{N} movies that left (turned down or near one): {left / len(chosen):.1f} per user")
    print(f"plain top-{N} movies still in the steered top {N}: {kept / len(chosen):.1f} per user")
    return 0


if __name__ == "__main__":
    sys.exit(main())
