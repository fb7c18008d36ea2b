"""Data types, the ``Recommender`` protocol and the helpers every strategy shares.

Item ids are our movie ids: arbitrary positive int64, not dense. Every model keeps a sorted array of the ids
it knows (its *universe*: the catalogue plus anything rated in training) and maps ids to rows with
``searchsorted``.
"""

from __future__ import annotations

import io
import json
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Protocol, Self, runtime_checkable

import numpy as np

FORMAT_VERSION = 1

_EMPTY_IDS = np.zeros(0, dtype=np.int64)
_EMPTY_SCORES = np.zeros(0, dtype=np.float64)


def _as_ids(values: Any) -> np.ndarray:
    return np.asarray(values, dtype=np.int64).reshape(-1)


@dataclass(frozen=True, slots=True)
class Interactions:
    """Ratings as parallel arrays: one entry per (user, item) rating on the 1-10 scale, unix-second
    timestamps."""

    user_ids: np.ndarray
    item_ids: np.ndarray
    ratings: np.ndarray
    timestamps: np.ndarray

    def __post_init__(self) -> None:
        object.__setattr__(self, "user_ids", _as_ids(self.user_ids))
        object.__setattr__(self, "item_ids", _as_ids(self.item_ids))
        object.__setattr__(self, "ratings", np.asarray(self.ratings, dtype=np.int64).reshape(-1))
        object.__setattr__(self, "timestamps", np.asarray(self.timestamps, dtype=np.float64).reshape(-1))
        n = len(self.user_ids)
        if not len(self.item_ids) == len(self.ratings) == len(self.timestamps) == n:
            raise ValueError("interaction arrays must have the same length")
        if n and (self.ratings.min() < 1 or self.ratings.max() > 10):
            raise ValueError("ratings must be within 1-10")

    def __len__(self) -> int:
        return len(self.user_ids)

    def subset(self, mask: np.ndarray) -> Interactions:
        return Interactions(self.user_ids[mask], self.item_ids[mask], self.ratings[mask], self.timestamps[mask])

    def history_of(self, user_id: int) -> UserHistory:
        mask = self.user_ids == user_id
        return UserHistory(self.item_ids[mask], self.ratings[mask], self.timestamps[mask])


@dataclass(frozen=True, slots=True)
class UserHistory:
    """One user's own ratings (read at request time, so a new rating counts at once)."""

    item_ids: np.ndarray
    ratings: np.ndarray
    timestamps: np.ndarray

    def __post_init__(self) -> None:
        object.__setattr__(self, "item_ids", _as_ids(self.item_ids))
        object.__setattr__(self, "ratings", np.asarray(self.ratings, dtype=np.int64).reshape(-1))
        object.__setattr__(self, "timestamps", np.asarray(self.timestamps, dtype=np.float64).reshape(-1))
        if not len(self.item_ids) == len(self.ratings) == len(self.timestamps):
            raise ValueError("history arrays must have the same length")

    @classmethod
    def empty(cls) -> UserHistory:
        return cls(_EMPTY_IDS, _EMPTY_IDS, _EMPTY_SCORES)

    def __len__(self) -> int:
        return len(self.item_ids)

    def latest_per_item(self) -> UserHistory:
        """One entry per item (the most recent rating wins), ordered oldest first (ties by item id)."""
        if len(self) == 0 or (self._in_time_order(strict=True) and _each_once(self.item_ids)):
            return self  # already so (the store reads a history in this order, one rating per movie)
        order = np.lexsort((np.arange(len(self)), self.timestamps))
        newest_first = order[::-1]
        _, first = np.unique(self.item_ids[newest_first], return_index=True)
        keep = newest_first[first]
        keep = keep[np.lexsort((self.item_ids[keep], self.timestamps[keep]))]
        return UserHistory(self.item_ids[keep], self.ratings[keep], self.timestamps[keep])

    def recency_positions(self) -> np.ndarray:
        """0 for the most recent rating, 1 for the one before, ...; ties in time are broken by item id."""
        if self._in_time_order(strict=False):
            return np.arange(len(self) - 1, -1, -1, dtype=np.float64)
        order = np.lexsort((self.item_ids, self.timestamps))
        positions = np.empty(len(self), dtype=np.float64)
        positions[order] = np.arange(len(self) - 1, -1, -1, dtype=np.float64)
        return positions

    def _in_time_order(self, *, strict: bool) -> bool:
        """Oldest first, equal times by item id (``strict``: no item twice at one time): a sort would keep it."""
        if len(self) < 2:
            return True
        step = np.diff(self.timestamps)
        if not (step >= 0).all():  # a step back, or a NaN
            return False
        tied = step == 0
        if not tied.any():
            return True
        id_step = np.diff(self.item_ids)[tied]
        return bool((id_step > 0).all() if strict else (id_step >= 0).all())


def _each_once(ids: np.ndarray) -> bool:
    ordered = np.sort(ids)
    return bool((ordered[1:] != ordered[:-1]).all())


@dataclass(frozen=True, slots=True)
class ItemCatalogue:
    """The movies a model may recommend: genres, vote average (0-10), vote count and year (NaN when
    unknown)."""

    item_ids: np.ndarray
    genres: tuple[tuple[str, ...], ...]
    vote_average: np.ndarray
    vote_count: np.ndarray
    year: np.ndarray

    def __post_init__(self) -> None:
        object.__setattr__(self, "item_ids", _as_ids(self.item_ids))
        object.__setattr__(self, "genres", tuple(tuple(str(g) for g in gs) for gs in self.genres))
        object.__setattr__(self, "vote_average", np.asarray(self.vote_average, dtype=np.float64).reshape(-1))
        object.__setattr__(self, "vote_count", np.asarray(self.vote_count, dtype=np.int64).reshape(-1))
        object.__setattr__(self, "year", np.asarray(self.year, dtype=np.float64).reshape(-1))
        n = len(self.item_ids)
        if not len(self.genres) == len(self.vote_average) == len(self.vote_count) == len(self.year) == n:
            raise ValueError("catalogue arrays must have the same length")
        if len(np.unique(self.item_ids)) != n:
            raise ValueError("catalogue item ids must be unique")

    def __len__(self) -> int:
        return len(self.item_ids)

    def subset(self, item_ids: np.ndarray) -> ItemCatalogue:
        """The entries whose id is in ``item_ids`` (in catalogue order)."""
        keep = np.isin(self.item_ids, _as_ids(item_ids))
        genres = tuple(g for g, k in zip(self.genres, keep.tolist(), strict=True) if k)
        return ItemCatalogue(
            self.item_ids[keep], genres, self.vote_average[keep], self.vote_count[keep], self.year[keep]
        )

    @classmethod
    def empty(cls) -> ItemCatalogue:
        return cls(_EMPTY_IDS, (), _EMPTY_SCORES, _EMPTY_IDS, _EMPTY_SCORES)


@dataclass(frozen=True, slots=True)
class Reason:
    """Why a movie is on a user's list, as the strategy that put it there sees it; ``text`` says it in words.

    ``rated``: the rated movie that contributed most to the score (``explain``), with the user's rating of it.
    ``genre``: the genre the strategy ranked within (the seed formula), ``genre_chosen`` when the user filtered by
    it rather than it being the genre they rate most. Neither: it is there for being popular.
    """

    rated: int | None = None
    rating: int | None = None
    genre: str | None = None
    genre_chosen: bool = False

    def text(self, title_of: Mapping[int, str], vote_count: int, vote_average: float) -> str:
        if self.rated is not None and self.rating is not None and self.rated in title_of:
            return f"because you rated {title_of[self.rated]} {self.rating}/10"
        if self.genre is not None:
            return f"top rated in {self.genre}, " + (
                "the genre you chose" if self.genre_chosen else "the genre you rate most"
            )
        if vote_count:
            return f"popular: {vote_count:,} votes, {vote_average:.1f}/10 on average"
        return "popular with people here"


def reasons_from_sources(history: UserHistory, sources: Sequence[int | None]) -> list[Reason]:
    """One ``Reason`` per item from ``explain``'s rated movie (or None), with the user's latest rating of it."""
    latest = history.latest_per_item()
    rating_of = dict(zip(latest.item_ids.tolist(), latest.ratings.tolist(), strict=True))
    return [
        Reason(rated=source, rating=rating_of.get(source)) if source is not None and source in rating_of else Reason()
        for source in sources
    ]


@runtime_checkable
class Recommender(Protocol):
    """What the service layer calls. ``recommend`` scores from the history passed in, never a stored user
    index."""

    name: ClassVar[str]

    def fit(self, interactions: Interactions, items: ItemCatalogue) -> Self: ...

    def recommend(
        self,
        history: UserHistory,
        n: int,
        *,
        exclude_seen: bool = True,
        candidates: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]: ...

    def explain(self, history: UserHistory, item_ids: np.ndarray) -> list[int | None]: ...

    def reasons(self, history: UserHistory, item_ids: np.ndarray, genre: str | None = None) -> list[Reason]:
        """Why each of ``item_ids`` is on the list; ``genre``: the genre the user filtered by, if any."""
        ...

    def similar_items(self, item_id: int, n: int) -> tuple[np.ndarray, np.ndarray]: ...

    def save(self, path: str | os.PathLike[str]) -> None: ...

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Self: ...


# ------------------------------------------------------------
# Shared machinery
# ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ItemTable:
    """The model's universe: sorted ids plus the per-item facts the fallbacks need (aligned with ``ids``)."""

    ids: np.ndarray
    genres: tuple[tuple[str, ...], ...]
    vote_average: np.ndarray
    vote_count: np.ndarray
    year: np.ndarray
    rating_count: np.ndarray  # training ratings per item
    rating_mean: np.ndarray  # mean training rating (1-10), 0 when unrated
    fallback_rank: np.ndarray  # 0 = best: most rated, then vote count, vote average, id

    @classmethod
    def build(cls, interactions: Interactions, items: ItemCatalogue) -> ItemTable:
        ids = np.union1d(items.item_ids, interactions.item_ids).astype(np.int64)
        n = len(ids)
        pos = np.searchsorted(ids, items.item_ids)
        genres: list[tuple[str, ...]] = [()] * n
        for p, g in zip(pos.tolist(), items.genres, strict=True):
            genres[p] = g
        vote_average = np.zeros(n)
        vote_count = np.zeros(n, dtype=np.int64)
        year = np.full(n, np.nan)
        vote_average[pos] = items.vote_average
        vote_count[pos] = items.vote_count
        year[pos] = items.year
        rows = np.searchsorted(ids, interactions.item_ids)
        count = np.bincount(rows, minlength=n).astype(np.int64)
        total = np.bincount(rows, weights=interactions.ratings.astype(np.float64), minlength=n)
        mean = np.divide(total, count, out=np.zeros(n), where=count > 0)
        order = np.lexsort((ids, -vote_average, -vote_count, -count))
        rank = np.empty(n, dtype=np.int64)
        rank[order] = np.arange(n)
        return cls(ids, tuple(genres), vote_average, vote_count, year, count, mean, rank)

    def __len__(self) -> int:
        return len(self.ids)

    def rows_of(self, item_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Rows of the ids the table knows, and a mask over ``item_ids`` saying which were known."""
        item_ids = _as_ids(item_ids)
        if len(self.ids) == 0:
            return _EMPTY_IDS, np.zeros(len(item_ids), dtype=bool)
        rows = np.searchsorted(self.ids, item_ids)
        rows_clipped = np.minimum(rows, len(self.ids) - 1)
        known = self.ids[rows_clipped] == item_ids
        return rows_clipped[known], known

    def genre_rows(self, genre: str) -> np.ndarray:
        return np.array([i for i, gs in enumerate(self.genres) if genre in gs], dtype=np.int64)

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {
            "item_ids": self.ids,
            "item_genres": np.array(["|".join(g) for g in self.genres], dtype=np.str_),
            "item_vote_average": self.vote_average,
            "item_vote_count": self.vote_count,
            "item_year": self.year,
            "item_rating_count": self.rating_count,
            "item_rating_mean": self.rating_mean,
            "item_fallback_rank": self.fallback_rank,
        }

    @classmethod
    def from_arrays(cls, data: dict[str, np.ndarray]) -> ItemTable:
        # One tuple per distinct genre list, shared by every movie that has it (a few hundred for 60k movies).
        shared: dict[str, tuple[str, ...]] = {}
        genres = tuple(
            shared.setdefault(s, tuple(sys.intern(g) for g in s.split("|")) if s else ())
            for s in data["item_genres"].tolist()
        )
        return cls(
            data["item_ids"].astype(np.int64),
            genres,
            data["item_vote_average"].astype(np.float64),
            data["item_vote_count"].astype(np.int64),
            data["item_year"].astype(np.float64),
            data["item_rating_count"].astype(np.int64),
            data["item_rating_mean"].astype(np.float64),
            data["item_fallback_rank"].astype(np.int64),
        )


def top_n(
    table: ItemTable,
    scores: np.ndarray,
    n: int,
    *,
    exclude_rows: np.ndarray | None = None,
    candidates: np.ndarray | None = None,
    allowed: np.ndarray | None = None,
    tiebreak: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The ``n`` best items by score, honouring exclusions and a candidate list.

    ``scores`` has one finite value per row of ``table``; ``allowed`` (bool per row) removes rows outright;
    ties go to the lower ``tiebreak`` (default ``table.fallback_rank``: most rated, then vote count, vote
    average, id). Candidate ids the table does not know are still returned, after every known one, in the
    order given.
    """
    tiebreak = table.fallback_rank if tiebreak is None else tiebreak
    if n <= 0:
        return _EMPTY_IDS, _EMPTY_SCORES
    usable = np.ones(len(table), dtype=bool) if allowed is None else allowed.copy()
    unknown = _EMPTY_IDS
    if candidates is not None:
        candidates = _as_ids(candidates)
        rows, known = table.rows_of(candidates)
        mask = np.zeros(len(table), dtype=bool)
        mask[rows] = True
        usable &= mask
        unknown = candidates[~known]
        if len(unknown):
            unknown = unknown[np.sort(np.unique(unknown, return_index=True)[1])]
    if exclude_rows is not None and len(exclude_rows):
        usable[exclude_rows] = False
    rows = np.flatnonzero(usable)
    if len(rows) > n:
        part = scores[rows]
        kth = np.partition(part, len(part) - n)[len(part) - n]
        rows = rows[part >= kth]  # keep every tie at the boundary; the sort below resolves them
    order = np.lexsort((tiebreak[rows], -scores[rows]))[:n]
    rows = rows[order]
    ids, out = table.ids[rows], scores[rows].astype(np.float64)
    if len(ids) < n and len(unknown):
        extra = unknown[: n - len(ids)]
        floor = (float(out[-1]) if len(out) else 0.0) - 1.0
        ids = np.concatenate([ids, extra])
        out = np.concatenate([out, floor - np.arange(len(extra), dtype=np.float64)])
    return ids, out


def genre_similar(table: ItemTable, item_id: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Movies sharing the most genres with ``item_id`` (Jaccard), ties by popularity; empty when unknown."""
    rows, known = table.rows_of(np.array([item_id]))
    if not known.all() or n <= 0:
        return _EMPTY_IDS, _EMPTY_SCORES
    row = int(rows[0])
    target = set(table.genres[row])
    if not target:
        return _EMPTY_IDS, _EMPTY_SCORES
    scores = np.array(
        [len(target & set(g)) / len(target | set(g)) if g else 0.0 for g in table.genres], dtype=np.float64
    )
    allowed = scores > 0
    return top_n(table, scores, n, exclude_rows=np.array([row]), allowed=allowed)


def encode_json(value: Any) -> np.ndarray:
    return np.frombuffer(json.dumps(value, sort_keys=True).encode(), dtype=np.uint8)


def decode_json(array: np.ndarray) -> Any:
    return json.loads(array.astype(np.uint8).tobytes().decode())


def save_arrays(path: str | os.PathLike[str], name: str, config: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
    """Write a model as a plain ``.npz`` (no pickles): a JSON header plus numeric and unicode arrays."""
    header = {"strategy": name, "format": FORMAT_VERSION, "config": config}
    buffer = io.BytesIO()
    np.savez(buffer, header=encode_json(header), **arrays)  # type: ignore[arg-type]  # numpy's stub lacks **arrays
    Path(path).write_bytes(buffer.getvalue())


def load_arrays(path: str | os.PathLike[str], name: str) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    with np.load(path, allow_pickle=False) as data:
        arrays = {key: data[key] for key in data.files}
    header = decode_json(arrays.pop("header"))
    if header.get("strategy") != name:
        raise ValueError(f"{path} holds a {header.get('strategy')!r} model, not {name!r}")
    if header.get("format") != FORMAT_VERSION:
        raise ValueError(f"unsupported model format {header.get('format')!r}")
    return header["config"], arrays
