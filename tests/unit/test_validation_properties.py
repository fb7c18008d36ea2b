"""Property tests: the validation of ratings and registrations accepts exactly what the rules say."""

from __future__ import annotations

import re
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from movierec.api.schemas import Credentials, RateRequest
from movierec.domain.accounts import USERNAME_PATTERN
from movierec.domain.ratings import rating_problem

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3),
    max_leaves=5,
)


def is_rating(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return isinstance(value, int) and 1 <= value <= 10


@given(JSON_VALUES)
def test_rating_accepted_exactly_when_an_integer_from_1_to_10(value: Any) -> None:
    try:
        parsed = RateRequest.model_validate({"movie_id": 1, "rating": value})
    except ValidationError:
        assert not is_rating(value)
    else:
        assert is_rating(value) and parsed.rating == int(value) and isinstance(parsed.rating, int)


@given(st.integers(min_value=-1000, max_value=1000))
def test_domain_rule_on_integers(value: int) -> None:
    assert (rating_problem(value) is None) == (1 <= value <= 10)


@given(JSON_VALUES)
def test_movie_id_accepted_exactly_when_a_positive_database_integer(value: Any) -> None:
    try:
        parsed = RateRequest.model_validate({"movie_id": value, "rating": 5})
    except ValidationError:
        ok = not isinstance(value, bool) and isinstance(value, int | float) and float(value).is_integer()
        assert not (ok and 1 <= value <= 2_147_483_647)
    else:
        assert parsed.movie_id == value and not isinstance(value, bool)


USERNAME = re.compile(USERNAME_PATTERN)


@given(st.text(max_size=40), st.text(max_size=40))
def test_registration_accepts_exactly_valid_usernames_and_passwords(username: str, password: str) -> None:
    valid = bool(USERNAME.fullmatch(username)) and 8 <= len(password) <= 256
    try:
        Credentials.model_validate({"username": username, "password": password})
    except ValidationError:
        assert not valid
    else:
        assert valid


@given(st.from_regex(USERNAME_PATTERN, fullmatch=True), st.text(min_size=8, max_size=64))
def test_every_valid_registration_is_accepted(username: str, password: str) -> None:
    assert Credentials.model_validate({"username": username, "password": password}).username == username


@given(JSON_VALUES, JSON_VALUES)
def test_non_string_credentials_are_refused(username: Any, password: Any) -> None:
    if isinstance(username, str) and isinstance(password, str):
        return
    try:
        Credentials.model_validate({"username": username, "password": password})
    except ValidationError:
        return
    raise AssertionError("non-string credentials accepted")
