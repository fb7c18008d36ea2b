"""Serving paths of the EASE family: what ``recommend`` reads is reused by ``explain``, ``reasons`` and
``predict_ratings`` of the same history, and the answers are the same whether it was remembered or not."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from movierec.domain.recommenders import EaseRecommender, EaseSeqRecommender, Interactions, ItemCatalogue, UserHistory
from movierec.domain.recommenders import ease as ease_module


def _data(rng: np.random.Generator, users: int = 300, items: int = 400) -> tuple[Interactions, ItemCatalogue]:
    user_ids, item_ids, ratings, times = [], [], [], []
    popularity = 1.0 / np.arange(1, items + 1) ** 0.8
    popularity /= popularity.sum()
    for user in range(1, users + 1):
        rated = rng.choice(items, size=int(rng.integers(5, 60)), replace=False, p=popularity) + 1
        user_ids += [user] * len(rated)
        item_ids += rated.tolist()
        ratings += rng.integers(1, 11, size=len(rated)).tolist()
        times += (1_600_000_000 + np.sort(rng.integers(0, 10_000_000, size=len(rated)))).tolist()
    ids = np.arange(1, items + 11)  # ten movies nobody rated
    genres = tuple(("Drama",) if i % 2 else ("Comedy",) for i in ids.tolist())
    catalogue = ItemCatalogue(ids, genres, np.full(len(ids), 7.0), np.arange(len(ids)) * 3, np.full(len(ids), 2000.0))
    return Interactions(np.array(user_ids), np.array(item_ids), np.array(ratings), np.array(times)), catalogue


def _history(rng: np.random.Generator, size: int, items: int = 410) -> UserHistory:
    ids = rng.choice(np.arange(1, items + 20), size=size, replace=False)  # some the model never saw
    times = np.sort(rng.integers(1_700_000_000, 1_700_000_000 + size * 10, size=size)).astype(np.float64)
    order = np.lexsort((ids, times))
    return UserHistory(ids[order], rng.integers(1, 11, size=size)[order], times[order])


@pytest.fixture(scope="module", params=[EaseSeqRecommender, EaseRecommender])
def fitted(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    model = request.param().fit(*_data(np.random.default_rng(5)))
    path = tmp_path_factory.mktemp("models") / f"{model.name}.npz"
    model.save(path)
    return path


def _load(path: Path) -> EaseSeqRecommender:
    cls = EaseRecommender if path.stem == EaseRecommender.name else EaseSeqRecommender
    return cls.load(path)


def test_explanations_and_predictions_are_the_same_with_or_without_the_scoring_remembered(fitted: Path) -> None:
    rng = np.random.default_rng(11)
    warm, cold = _load(fitted), _load(fitted)
    for size in (0, 1, 3, 20, 120):
        user = _history(rng, size)
        ids, scores = warm.recommend(user, 20)
        assert len(ids) == 20
        explained, reasons, predicted = (
            warm.explain(user, ids),
            warm.reasons(user, ids),
            warm.predict_ratings(user, ids),
        )
        # a model that never scored this history computes them from scratch
        assert cold.explain(user, ids) == explained
        assert _load(fitted).reasons(user, ids) == reasons
        np.testing.assert_array_equal(_load(fitted).predict_ratings(user, ids), predicted)
        if size >= 20:  # a personal list is explained by the movies rated, with the user's rating of each
            assert any(r.rated is not None for r in reasons)
        latest = dict(zip(user.item_ids.tolist(), user.ratings.tolist(), strict=True))
        for reason, source in zip(reasons, explained, strict=True):
            assert reason.rated == source
            assert reason.rating == (None if source is None else latest[source])
        np.testing.assert_array_equal(warm.recommend(user, 20)[1], scores)  # remembering changes no score


def test_an_unordered_history_with_repeats_is_served_like_its_latest_ratings(fitted: Path) -> None:
    rng = np.random.default_rng(3)
    model = _load(fitted)
    user = _history(rng, 40)
    shuffled = rng.permutation(len(user))
    older = UserHistory(user.item_ids[:5], np.full(5, 1), user.timestamps[:5] - 1_000.0)  # superseded ratings
    messy = UserHistory(
        np.concatenate([user.item_ids[shuffled], older.item_ids]),
        np.concatenate([user.ratings[shuffled], older.ratings]),
        np.concatenate([user.timestamps[shuffled], older.timestamps]),
    )
    ids, scores = model.recommend(user, 15)
    messy_ids, messy_scores = _load(fitted).recommend(messy, 15)
    assert messy_ids.tolist() == ids.tolist()
    np.testing.assert_allclose(messy_scores, scores, rtol=1e-12)
    assert _load(fitted).reasons(messy, ids) == model.reasons(user, ids)
    np.testing.assert_allclose(_load(fitted).predict_ratings(messy, ids), model.predict_ratings(user, ids))


def test_remembered_scorings_are_bounded(fitted: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = _load(fitted)
    rng = np.random.default_rng(8)
    for _ in range(ease_module._RECENT_SCORINGS + 5):
        model.recommend(_history(rng, 30), 5)
    assert len(model._recent) == ease_module._RECENT_SCORINGS
    monkeypatch.setattr(ease_module, "_RECENT_LINKS", 1)  # every scoring is over the links budget
    model.recommend(_history(rng, 30), 5)
    assert len(model._recent) == 1  # the latest is always kept: its explain follows


def _reference_latest(history: UserHistory) -> list[tuple[int, int, float]]:
    """The latest rating of each item (the later entry among equal times), oldest first, ties by item id."""
    latest: dict[int, tuple[float, int, int]] = {}
    for index, (item, rating, at) in enumerate(
        zip(history.item_ids.tolist(), history.ratings.tolist(), history.timestamps.tolist(), strict=True)
    ):
        if item not in latest or (at, index) >= latest[item][:2]:
            latest[item] = (at, index, rating)
    return sorted(((item, rating, at) for item, (at, _, rating) in latest.items()), key=lambda e: (e[2], e[0]))


@pytest.mark.parametrize("seed", range(40))
def test_latest_per_item_and_recency_whatever_the_order(seed: int) -> None:
    rng = np.random.default_rng(seed)
    size = int(rng.integers(0, 30))
    ids = rng.integers(1, 12, size=size)  # repeats
    times = rng.integers(0, 6, size=size).astype(np.float64)  # ties
    if seed % 3 == 0:  # the store's order: by time then id (still with repeats for some seeds)
        order = np.lexsort((ids, times))
        ids, times = ids[order], times[order]
    if seed % 6 == 0:  # and each item once
        ids, first = np.unique(ids, return_index=True)
        times = times[first]
        order = np.lexsort((ids, times))
        ids, times = ids[order], times[order]
    history = UserHistory(ids, rng.integers(1, 11, size=len(ids)), times)
    latest = history.latest_per_item()
    got = list(zip(latest.item_ids.tolist(), latest.ratings.tolist(), latest.timestamps.tolist(), strict=True))
    assert got == _reference_latest(history)
    ranked = sorted(range(len(history)), key=lambda i: (history.timestamps[i], history.item_ids[i], i), reverse=True)
    expected = np.empty(len(history))
    expected[ranked] = np.arange(len(history))
    np.testing.assert_array_equal(history.recency_positions(), expected)


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"pop_weight": 0.0},
        {"pop_half_life": 1_000.0},
        {"rating_centre": None},
        {"seq_weight": 0.0},
        {"pop_recent_half_life": None},
        {"pop_recent_half_life": 7.0, "pop_span_days": 3.0, "pop_half_life": 1_000.0, "pop_at_latest_rating": True},
    ],
)
def test_ranking_only_the_contenders_gives_the_catalogue_wide_ranking(
    overrides: dict[str, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    data = _data(np.random.default_rng(2))
    model = EaseSeqRecommender(neighbours=8, **overrides).fit(*data)  # type: ignore[arg-type]
    rng = np.random.default_rng(4)
    users = [_history(rng, size) for size in (0, 1, 2, 5, 12, 40)]
    # the same users rating in the middle of the training period: the recent prior counts only the spans before
    users += [UserHistory(u.item_ids, u.ratings, u.timestamps - 95_000_000.0) for u in users[1:]]
    for n in (1, 7, 20, 100, 1_000):  # 1,000: more than the catalogue
        for user in users:
            monkeypatch.setattr(ease_module, "_SPARSE_SELECTION", 0.0)  # every movie ranked
            want_ids, want_scores = model.recommend(user, n)
            monkeypatch.setattr(ease_module, "_SPARSE_SELECTION", float("inf"))  # only the contenders
            got_ids, got_scores = model.recommend(user, n)
            assert got_ids.tolist() == want_ids.tolist()
            np.testing.assert_array_equal(got_scores, want_scores)
            assert not np.isin(got_ids, user.item_ids).any()


def _dense_reference(
    model: EaseSeqRecommender, user: UserHistory, ids: np.ndarray
) -> tuple[list[int | None], np.ndarray]:
    """``explain`` and ``predict_ratings`` from the whole matrices made dense, term by term as documented."""
    cfg, table = model.config, model.table
    assert model._ease is not None and model._seq is not None
    latest = user.latest_per_item()
    rows, known = table.rows_of(latest.item_ids)
    positions = latest.recency_positions()[known]
    ratings = latest.ratings[known].astype(np.float64)
    w_long = np.ones(len(rows)) if cfg.rating_centre is None else ratings - cfg.rating_centre
    w_ease = w_long * ease_module._decay(positions, cfg.ease_user_half_life)
    w_seq = w_long * ease_module._decay(positions, cfg.seq_user_half_life)
    ease, seq = model._ease.toarray().astype(np.float64)[rows], model._seq.toarray().astype(np.float64)[rows]
    targets, target_known = table.rows_of(ids)
    contribution = np.zeros((len(rows), len(targets)))
    for weight, part, user_weight in (
        (cfg.ease_weight, ease, w_ease),
        (cfg.long_weight, ease, w_long),
        (cfg.seq_weight, seq, w_seq),
    ):
        norm = np.abs(part.T @ user_weight).max() if len(rows) else 0.0
        if weight > 0 and norm > 0:
            contribution += weight / norm * user_weight[:, None] * part[:, targets]
    explained: list[int | None] = [None] * len(ids)
    for slot, column in zip(np.flatnonzero(target_known).tolist(), contribution.T, strict=True):
        if len(rows) and column.max() > 0:
            explained[slot] = int(table.ids[rows[int(column.argmax())]])
    mu, item_offset = model._baseline()
    offsets = np.zeros(len(latest))
    offsets[known] = item_offset[rows]
    all_ratings = latest.ratings.astype(np.float64)
    user_offset = (all_ratings - mu - offsets).sum() / (len(latest) + ease_module.USER_SHRINK) if len(latest) else 0.0
    predicted = np.full(len(ids), mu + user_offset)
    predicted[target_known] += item_offset[targets]
    if len(rows):
        links = ease[:, targets]
        residual = ratings - mu - user_offset - item_offset[rows]
        weight = np.abs(links).sum(axis=0) + ease_module.NEIGHBOUR_SHRINK
        predicted[target_known] += (links * residual[:, None]).sum(axis=0) / weight
    return explained, np.clip(predicted, 1.0, 10.0)


def test_explanations_and_predictions_read_from_the_links_equal_the_dense_computation(fitted: Path) -> None:
    """They read only the links between the rated movies and the items (one pass over the rated rows): the same
    sources and ratings as the rated x items block of the whole matrices, including repeated and unknown items."""
    rng = np.random.default_rng(17)
    model = _load(fitted)
    for size in (1, 4, 25, 150):
        user = _history(rng, size)
        ids, _ = model.recommend(user, 40)
        asked = np.concatenate([ids, ids[:3], [10_000]])  # some twice, one the model never saw
        explained, predicted = _dense_reference(model, user, asked)
        assert model.explain(user, asked) == explained
        assert any(source is not None for source in explained)
        np.testing.assert_allclose(model.predict_ratings(user, asked), predicted, rtol=0, atol=1e-9)
