from __future__ import annotations

import pytest

from movierec.search.port import fold, index_words, max_edits, words


def test_fold_strips_case_accents_and_apostrophes() -> None:
    assert fold("Amélie") == "amelie"
    assert fold("Schindler's") == "schindlers"
    assert fold("Schindler\u2019s", keep_apostrophes=True) == "schindler's"


def test_words() -> None:
    assert words("Terminator 2: Judgment Day") == ["terminator", "2", "judgment", "day"]
    assert words("  ***  ") == []
    assert words('title:(a OR b) AND "c"') == ["title", "a", "or", "b", "and", "c"]


def test_index_words_add_apostrophe_parts() -> None:
    assert index_words("Le fabuleux destin d'Amélie") == ["le", "fabuleux", "destin", "damelie", "d", "amelie"]


@pytest.mark.parametrize(("word", "edits"), [("it", 0), ("toy", 1), ("heat", 1), ("story", 1), ("matirx", 2)])
def test_typo_budget_matches_elasticsearch_auto(word: str, edits: int) -> None:
    assert max_edits(word) == edits
