"""Which movies a new account is asked to rate first: well known (most rated) and varied (few of each genre)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from movierec.ui.client import Movie, shown_genres

ENOUGH = 10  # ratings after which the recommendations are the user's own
PICKS = 30
PER_GENRE = 3  # at most this many picks share a first genre, so thirty picks span many genres


def picks(popular: Sequence[Movie], want: int = PICKS, per_genre: int = PER_GENRE) -> list[Movie]:
    """``want`` movies from ``popular`` (most popular first): the most popular of each first genre, in turns.

    Movies beyond the per-genre cap fill the list only when the catalogue has too few genres to reach ``want``.
    """
    chosen: list[Movie] = []
    later: list[Movie] = []
    taken: Counter[str] = Counter()
    for movie in popular:
        genre = next(iter(shown_genres(movie.genres)), "")
        if taken[genre] < per_genre:
            taken[genre] += 1
            chosen.append(movie)
        else:
            later.append(movie)
        if len(chosen) >= want:
            return chosen
    return chosen + later[: want - len(chosen)]
