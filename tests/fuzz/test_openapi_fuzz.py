"""Schemathesis against /openapi.json: for every endpoint, a few hundred generated requests (valid and invalid)
must never get a 5xx, and every response must match the schema documented for its status code."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from schemathesis import checks

from movierec.domain.accounts import password_problem
from movierec.settings import load_settings
from movierec.wiring import Container, build_container
from tests.conftest import FAST_HASHING, SAMPLE_MOVIES, Auth, create_app_for, index_everything

pytestmark = pytest.mark.slow

EXAMPLES_PER_MODE = 150  # valid and invalid requests: 300 per endpoint
# Query strings carry no types: an "object" or "null" mutation of a free-text parameter (q, genre) arrives as a
# string such as "{}", which is valid text to search for. For that operation the generator's idea of "invalid"
# cannot be rejected, so only the negative-rejection check is left out there (5xx and schema checks still run).
FREE_TEXT_QUERIES = {"GET /search"}
OPERATIONS = [
    "POST /register",
    "POST /login",
    "POST /logout",
    "POST /password",
    "POST /rate",
    "DELETE /rate/{movie_id}",
    "GET /recommendations/{user_id}",
    "GET /my-ratings/{user_id}",
    "GET /movies/latest",
    "GET /movies/{movie_id}",
    "GET /movies/{movie_id}/similar",
    "GET /search",
    "GET /genres",
    "GET /healthz",
    "POST /watchlist/{movie_id}",
    "DELETE /watchlist/{movie_id}",
    "GET /watchlist/{user_id}",
    "POST /not-interested/{movie_id}",
    "DELETE /not-interested/{movie_id}",
    "GET /not-interested/{user_id}",
]


def assume_a_guessable_password_is_not_valid(case: schemathesis.Case) -> None:
    """How guessable a password is (common, or the username) is a rule JSON Schema cannot state: a schema-valid
    registration or password change with such a password is not a valid request, so it is not generated."""
    body = case.body if isinstance(case.body, dict) else {}
    if case.operation.label == "POST /register" and isinstance(body.get("password"), str):
        assume(password_problem(body["password"], str(body.get("username", ""))) is None)
    if case.operation.label == "POST /password" and isinstance(body.get("new_password"), str):
        assume(password_problem(body["new_password"], "fuzzer") is None)


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Flask, dict[str, str], int]]:
    settings_ = load_settings(data_dir=tmp_path_factory.mktemp("fuzz"), login_attempts_per_minute=1000, **FAST_HASHING)
    container: Container = build_container(settings_, run_migrations=True)
    container.catalogue.upsert(SAMPLE_MOVIES)
    index_everything(container)
    app = create_app_for(container)
    user_id, headers = Auth(app.test_client()).user("fuzzer", "fuzzing password")
    yield app, headers, user_id
    container.close()


@pytest.fixture(scope="module")
def api_schema(target: tuple[Flask, dict[str, str], int]) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_wsgi("/openapi.json", target[0])


def test_every_operation_is_fuzzed(api_schema: schemathesis.BaseSchema) -> None:
    labels = {result.ok().label for result in api_schema.get_all_operations()}
    assert labels == set(OPERATIONS)


STATEFUL_EXAMPLES = 60
ALL_CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
    checks.response_headers_conformance,
    checks.negative_data_rejection,
    checks.positive_data_acceptance,
    checks.missing_required_header,
    checks.unsupported_method,
    checks.use_after_free,
    checks.ensure_resource_availability,
    checks.ignored_auth,
]
WITHOUT_INPUT = {"GET /genres", "GET /healthz"}  # nothing to make invalid
CASES = [(label, schemathesis.GenerationMode.POSITIVE) for label in OPERATIONS] + [
    (label, schemathesis.GenerationMode.NEGATIVE) for label in OPERATIONS if label not in WITHOUT_INPUT
]


@pytest.mark.parametrize(("label", "mode"), CASES)
def test_no_server_errors_and_responses_match_the_schema(
    api_schema: schemathesis.BaseSchema,
    target: tuple[Flask, dict[str, str], int],
    label: str,
    mode: schemathesis.GenerationMode,
) -> None:
    app, _, user_id = target
    accounts = app.extensions["movierec"].accounts
    operation = api_schema.find_operation_by_label(label)
    assert operation is not None

    @given(case=operation.as_strategy(generation_mode=mode), own_id=st.booleans())
    @settings(
        max_examples=EXAMPLES_PER_MODE,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: schemathesis.Case, own_id: bool) -> None:
        if mode is schemathesis.GenerationMode.POSITIVE:
            # Valid requests carry a valid token (a fresh one: a generated logout revokes only its own); half the
            # time they ask about the token's own user, so the protected endpoints are exercised past the 403.
            token = accounts.issue_token(user_id).access_token
            case.headers = {**(case.headers or {}), "Authorization": f"Bearer {token}"}
            if own_id and "user_id" in (case.path_parameters or {}):
                case.path_parameters["user_id"] = user_id
            assume_a_guessable_password_is_not_valid(case)
        # Invalid requests are sent as generated (a missing or malformed token is one of the mutations).
        excluded = [checks.negative_data_rejection] if label in FREE_TEXT_QUERIES else []
        case.call_and_validate(excluded_checks=excluded)

    run()


def test_all_checks_pass_on_generated_call_sequences(target: tuple[Flask, dict[str, str], int]) -> None:
    """The stateful phase: sequences of calls linked through their responses (register -> the new user's id in
    the paths that take one, a movie id from search -> its details and similar movies), every check on each step."""
    app, _, user_id = target
    container: Container = app.extensions["movierec"]
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app)

    @schema.auth(refresh_interval=None)
    class FreshToken:
        """A new token of the fuzzing user for every call: a generated logout revokes only its own token."""

        def get(self, case: schemathesis.Case, context: object) -> str:
            return container.accounts.issue_token(user_id).access_token

        def set(self, case: schemathesis.Case, data: str, context: object) -> None:
            case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}

    class Workflow(schema.as_state_machine()):  # type: ignore[misc]
        def before_call(self, case: schemathesis.Case) -> None:
            if case.meta is None or case.meta.generation.mode is schemathesis.GenerationMode.POSITIVE:
                assume_a_guessable_password_is_not_valid(case)

        def validate_response(self, response: object, case: schemathesis.Case, **kwargs: object) -> None:
            case.validate_response(response, checks=ALL_CHECKS)

    Workflow.run(
        settings=settings(
            max_examples=STATEFUL_EXAMPLES,
            stateful_step_count=6,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
    )
