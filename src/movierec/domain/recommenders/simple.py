"""Non-personalised and rule-based strategies: ``popular`` and the original app's ``seed`` formula."""

from __future__ import annotations

import os
from typing import ClassVar, Self

import numpy as np

from movierec.domain.recommenders.base import (
    Interactions,
    ItemCatalogue,
    ItemTable,
    Reason,
    UserHistory,
    genre_similar,
    load_arrays,
    save_arrays,
    top_n,
)


class _TableModel:
    """Shared plumbing for models whose whole state is the item table."""

    name: ClassVar[str] = ""

    def __init__(self) -> None:
        self._table: ItemTable | None = None

    @property
    def table(self) -> ItemTable:
        if self._table is None:
            raise RuntimeError(f"the {self.name!r} recommender is not fitted")
        return self._table

    def fit(self, interactions: Interactions, items: ItemCatalogue) -> Self:
        self._table = ItemTable.build(interactions, items)
        return self

    def explain(self, history: UserHistory, item_ids: np.ndarray) -> list[int | None]:
        return [None] * len(np.asarray(item_ids).reshape(-1))

    def reasons(self, history: UserHistory, item_ids: np.ndarray, genre: str | None = None) -> list[Reason]:
        """Popularity: no rated movie stands behind a table model's list."""
        return [Reason() for _ in np.asarray(item_ids).reshape(-1)]

    def similar_items(self, item_id: int, n: int) -> tuple[np.ndarray, np.ndarray]:
        return genre_similar(self.table, item_id, n)

    def save(self, path: str | os.PathLike[str]) -> None:
        save_arrays(path, self.name, {}, self.table.to_arrays())

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Self:
        _, arrays = load_arrays(path, cls.name)
        model = cls()
        model._table = ItemTable.from_arrays(arrays)
        return model

    def _seen_rows(self, history: UserHistory, exclude_seen: bool) -> np.ndarray | None:
        if not exclude_seen or len(history) == 0:
            return None
        return self.table.rows_of(history.item_ids)[0]

    def _most_rated(
        self, n: int, seen: np.ndarray | None, candidates: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The ``popular`` list: most rated in the training data first, ``top_n``'s ties after that."""
        table = self.table
        return top_n(table, table.rating_count.astype(np.float64), n, exclude_rows=seen, candidates=candidates)


class PopularRecommender(_TableModel):
    """Most rated in the training data; ties by catalogue vote count, vote average, then id."""

    name: ClassVar[str] = "popular"

    def recommend(
        self,
        history: UserHistory,
        n: int,
        *,
        exclude_seen: bool = True,
        candidates: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        return self._most_rated(n, self._seen_rows(history, exclude_seen), candidates)


class SeedRecommender(_TableModel):
    """The original app's formula, kept exactly.

    Favourite genre = the genre of most of the user's rated movies (ties alphabetical). Among that genre's
    movies the user has not rated, rank by ``0.7 * avg_user_rating + 0.3 * vote_average`` (the average of all
    users' training ratings on the 1-10 scale, 0 when unrated); ties by vote count (desc), then id. Users
    without ratings (or whose rated movies have no genres) get the ``popular`` list. When ``candidates`` are
    given, candidates of the favourite genre come first and the other candidates follow by the same formula,
    so a filter never empties the list.
    """

    name: ClassVar[str] = "seed"

    def __init__(self) -> None:
        super().__init__()
        self._seed_rank: np.ndarray | None = None

    def reasons(self, history: UserHistory, item_ids: np.ndarray, genre: str | None = None) -> list[Reason]:
        """Top rated in the genre the formula ranked within (the one filtered by, else the one the user rates
        most) for the items of that genre; popularity for the rest (the fallback that fills the list)."""
        within = genre or self.favourite_genre(history)
        table = self.table
        rows, known = table.rows_of(np.asarray(item_ids, dtype=np.int64).reshape(-1))
        genres = iter([table.genres[row] for row in rows.tolist()])
        found = []
        for is_known in known.tolist():
            item_genres = next(genres) if is_known else ()
            in_genre = within is not None and within in item_genres
            found.append(Reason(genre=within, genre_chosen=genre is not None) if in_genre else Reason())
        return found

    def favourite_genre(self, history: UserHistory) -> str | None:
        table = self.table
        rows = table.rows_of(np.unique(history.item_ids))[0]
        counts: dict[str, int] = {}
        for row in rows.tolist():
            for genre in table.genres[row]:
                counts[genre] = counts.get(genre, 0) + 1
        if not counts:
            return None
        return min(counts, key=lambda g: (-counts[g], g))

    def _tiebreak(self) -> np.ndarray:
        if self._seed_rank is None:
            table = self.table
            order = np.lexsort((table.ids, -table.vote_count))
            rank = np.empty(len(table), dtype=np.int64)
            rank[order] = np.arange(len(table))
            self._seed_rank = rank
        return self._seed_rank

    def formula_scores(self) -> np.ndarray:
        table = self.table
        return 0.7 * table.rating_mean + 0.3 * table.vote_average

    def recommend(
        self,
        history: UserHistory,
        n: int,
        *,
        exclude_seen: bool = True,
        candidates: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        table = self.table
        genre = self.favourite_genre(history) if len(history) else None
        seen = self._seen_rows(history, exclude_seen)
        if genre is None:
            return self._most_rated(n, seen, candidates)
        scores = self.formula_scores()
        in_genre = np.zeros(len(table), dtype=bool)
        in_genre[table.genre_rows(genre)] = True
        tiebreak = self._tiebreak()
        if candidates is None:
            return top_n(table, scores, n, exclude_rows=seen, allowed=in_genre, tiebreak=tiebreak)
        candidates = np.asarray(candidates, dtype=np.int64).reshape(-1)
        known = candidates[table.rows_of(candidates)[1]]
        ids, out = top_n(table, scores, n, exclude_rows=seen, candidates=known, allowed=in_genre, tiebreak=tiebreak)
        if len(ids) >= n:
            return ids, out
        rest = candidates[~np.isin(candidates, ids)]
        more_ids, more = top_n(table, scores, n - len(ids), exclude_rows=seen, candidates=rest, tiebreak=tiebreak)
        if len(out) and len(more):
            more = more - (more.max() - out.min()) - 1.0  # keep the favourite genre's candidates on top
        return np.concatenate([ids, more_ids]), np.concatenate([out, more])
