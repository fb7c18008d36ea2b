"""Recommendation strategies behind one protocol, and the registry the service layer picks from.

>>> model = build_default(interactions, catalogue)          # fit the default with its tuned config
>>> ids, scores = model.recommend(history, 20)               # history = the user's ratings right now
>>> because = model.explain(history, ids)                    # rated item id (or None) per recommendation
"""

from __future__ import annotations

from movierec.domain.recommenders.base import (
    Interactions,
    ItemCatalogue,
    Recommender,
    UserHistory,
)
from movierec.domain.recommenders.ease import EaseRecommender, EaseSeqConfig, EaseSeqRecommender
from movierec.domain.recommenders.simple import PopularRecommender, SeedRecommender

STRATEGIES: dict[str, type[Recommender]] = {
    SeedRecommender.name: SeedRecommender,
    PopularRecommender.name: PopularRecommender,
    EaseRecommender.name: EaseRecommender,
    EaseSeqRecommender.name: EaseSeqRecommender,
}
DEFAULT_STRATEGY: str = EaseSeqRecommender.name


def default_config() -> EaseSeqConfig:
    """The default strategy's tuned hyper-parameters (chosen on the validation split, see the docs)."""
    return EaseSeqRecommender.default_config()


def create(strategy: str = DEFAULT_STRATEGY) -> Recommender:
    """An unfitted recommender of the named strategy, with its default (tuned) configuration."""
    try:
        cls = STRATEGIES[strategy]
    except KeyError:
        raise ValueError(f"unknown strategy {strategy!r}; choose from {sorted(STRATEGIES)}") from None
    return cls()


def build_default(interactions: Interactions, items: ItemCatalogue) -> Recommender:
    """Fit the default strategy with its tuned configuration."""
    return EaseSeqRecommender(default_config()).fit(interactions, items)


def load(path: str, strategy: str = DEFAULT_STRATEGY) -> Recommender:
    """Load a model saved with ``save`` (the strategy must match the file's)."""
    return STRATEGIES[strategy].load(path)


__all__ = [
    "DEFAULT_STRATEGY",
    "STRATEGIES",
    "EaseRecommender",
    "EaseSeqConfig",
    "EaseSeqRecommender",
    "Interactions",
    "ItemCatalogue",
    "PopularRecommender",
    "Recommender",
    "SeedRecommender",
    "UserHistory",
    "build_default",
    "create",
    "default_config",
    "load",
]
