"""Request binding: ``@endpoint(...)`` parses and validates the JSON body, the query string and the path ids into
models, authenticates the caller, passes them all to the view and serialises the returned model.

It records each endpoint's ``EndpointSpec`` on the view, from which ``api/openapi.py`` builds ``/openapi.json``:
the same pydantic models validate requests and document them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import wraps
from typing import Any

from flask import Response, g, request
from pydantic import BaseModel, ValidationError
from werkzeug.datastructures import MultiDict

from movierec.api.auth import authenticate
from movierec.api.errors import InvalidId, InvalidJson, RequestError, UnsupportedMediaType, ValidationFailed
from movierec.api.extension import container
from movierec.cache.port import Entry, Slot
from movierec.domain.ids import parse_id
from movierec.domain.text import text_problem
from movierec.services.accounts import Caller

READ_AHEAD = "movierec.read_ahead"  # the environ key of a ReadAhead


@dataclass(frozen=True, slots=True)
class ReadAhead:
    """What the ready-answers layer (``api/answers.py``) read for a request it then passed on to Flask (the answer
    was not ready): the slot, the token's caller and the slot's entry, so that the view does not read them again."""

    slot: Slot
    caller: Caller
    entry: Entry | None


@dataclass(frozen=True)
class EndpointSpec:
    summary: str
    tags: tuple[str, ...]
    response: type[BaseModel] | None  # None: no body (204)
    status: int = 200
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    auth: bool = False
    errors: tuple[int, ...] = ()
    description: str = ""
    path_params: dict[str, str] = field(default_factory=dict)  # name -> description (positive integers)
    auth_optional: bool = False  # a token may be sent (and is then checked); the view gets ``caller`` or None
    answer_slot: Callable[..., Slot] | None = None  # the cache slot of the answer, read with the token's check
    ready: Callable[..., bytes | None] | None = None  # the answer's bytes when it is held ready (api/answers.py)


def _details(error: ValidationError) -> list[dict[str, Any]]:
    return [
        {
            "field": ".".join(str(part) for part in item["loc"]) or "(body)",
            "message": item["msg"].removeprefix("Value error, "),
        }
        for item in error.errors(include_url=False, include_context=False, include_input=False)
    ]


def _summary(details: list[dict[str, Any]]) -> str:
    return "; ".join(f"{d['field']}: {d['message']}" for d in details)


def _text_problems(payload: object) -> Iterator[tuple[str, str]]:
    """(field, problem) for every string in ``payload`` (keys too) that is not valid Unicode text."""
    stack: list[tuple[str, object]] = [("", payload)]
    while stack:  # iterative: JSON nesting is bounded by the parser, but no recursion limit is needed here
        path, value = stack.pop()
        if isinstance(value, str):
            problem = text_problem(value)
            if problem:
                yield path or "(body)", problem
        elif isinstance(value, dict):
            for key, item in value.items():
                child = f"{path}.{key}" if path else str(key)
                problem = text_problem(key)
                if problem:
                    yield child.encode("utf-8", "backslashreplace").decode("ascii"), f"field name {problem}"
                    continue
                stack.append((child, item))
        elif isinstance(value, list):
            stack.extend((f"{path}.{index}" if path else str(index), item) for index, item in enumerate(value))


def parse_body(model: type[BaseModel]) -> BaseModel:
    if request.mimetype != "application/json":
        given = request.mimetype or "none"
        raise UnsupportedMediaType(f"send the body as Content-Type: application/json (not {given})")
    raw = request.get_data(cache=True)
    if not raw:
        raise InvalidJson("the request body must be a JSON object")
    try:
        payload = json.loads(raw)
    except (ValueError, RecursionError):  # bad JSON, bad UTF-8, an integer past Python's int-string limit
        raise InvalidJson("the request body is not valid JSON") from None
    if not isinstance(payload, dict):
        raise InvalidJson("the request body must be a JSON object")
    details = [{"field": field, "message": problem} for field, problem in _text_problems(payload)]
    if details:
        raise ValidationFailed(_summary(details), details=details)
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        details = _details(exc)
        raise ValidationFailed(_summary(details), details=details) from None


def parse_query(model: type[BaseModel], args: MultiDict[str, str] | None = None) -> BaseModel:
    """The query string (``args``, else the request's) as ``model``: unknown or repeated parameters are a 400."""
    if args is None:
        args = request.args
    values: dict[str, Any] = {}
    for name in args:
        given = args.getlist(name)
        if name not in model.model_fields:
            raise ValidationFailed(f"unknown query parameter {name!r}")
        if len(given) > 1:
            raise ValidationFailed(f"{name}: give it once")
        values[name] = given[0]
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        details = _details(exc)
        raise ValidationFailed(_summary(details), details=details) from None


def parse_path_id(value: str, name: str) -> int:
    """A path id: a positive integer that fits a database integer."""
    parsed = parse_id(value)
    if parsed is None:
        raise InvalidId(f"{name} must be a positive integer")
    return parsed


def json_response(body: str | bytes, status: int = 200) -> Response:
    """A JSON response from ready bytes (pydantic's serialiser or the cache): no re-encoding."""
    return Response(body, status=status, mimetype="application/json")


def _caller_and_entry(slot: Slot | None) -> tuple[Caller, Entry | None]:
    """``authenticate(slot)``, or what the ready-answers layer read of them for this request: not read twice."""
    read: ReadAhead | None = request.environ.get(READ_AHEAD)
    if read is not None and slot is not None and read.slot == slot:
        return read.caller, read.entry
    return authenticate(slot)


def _check(spec: EndpointSpec) -> None:
    if spec.answer_slot is not None and (not spec.auth or spec.body is not None):
        raise ValueError("answer_slot needs auth=True and no body")
    needs_slot = spec.auth and spec.answer_slot is None
    if spec.ready is not None and (spec.body is not None or spec.auth_optional or needs_slot or spec.status != 200):
        raise ValueError("ready needs a GET answered 200 without a body, and answer_slot when it needs a token")


def endpoint(
    *,
    summary: str,
    tags: tuple[str, ...],
    response: type[BaseModel] | None,
    status: int = 200,
    body: type[BaseModel] | None = None,
    query: type[BaseModel] | None = None,
    auth: bool = False,
    errors: tuple[int, ...] = (),
    description: str = "",
    path_params: dict[str, str] | None = None,
    answer_slot: Callable[..., Slot] | None = None,
    auth_optional: bool = False,
    ready: Callable[..., bytes | None] | None = None,
) -> Callable[[Callable[..., BaseModel | Response | None]], Callable[..., Response]]:
    """Declare an endpoint. ``answer_slot`` (authenticated GETs without a body): given the container and the parsed
    path ids and query, the cache slot that holds the answer, read together with the token check. ``auth_optional``:
    a token is checked when one is sent (the view gets ``caller=None`` without one). ``ready`` (GETs without a body):
    given the container and the view's arguments (``looked_up`` included), the bytes of a 200 the view would send
    when they are held ready, else None; ``api/answers.py`` sends those before Flask runs."""
    spec = EndpointSpec(
        summary,
        tags,
        response,
        status,
        body,
        query,
        auth,
        errors,
        description,
        path_params or {},
        auth_optional,
        answer_slot,
        ready,
    )
    _check(spec)

    def decorate(view: Callable[..., BaseModel | Response | None]) -> Callable[..., Response]:
        @wraps(view)
        def wrapper(**path: str) -> Response:
            if answer_slot is not None:
                return answer_from_slot(path)
            kwargs: dict[str, Any] = {}
            if auth:
                kwargs["caller"] = caller = authenticate()[0]
                g.user_id = caller.user_id  # for the access log
            elif auth_optional:
                optional = authenticate()[0] if "Authorization" in request.headers else None
                kwargs["caller"] = optional
                if optional is not None:
                    g.user_id = optional.user_id
            kwargs.update((name, parse_path_id(path[name], name)) for name in spec.path_params)
            if body is not None:
                kwargs["body"] = parse_body(body)
            if query is not None:
                kwargs["query"] = parse_query(query)
            return respond(view(**kwargs))

        def answer_from_slot(path: dict[str, str]) -> Response:
            """An authenticated GET whose answer may be cached: the cache slot the parameters name is read in
            the same round trip as the token's check and passed to the view as ``looked_up``. Errors keep their
            order: a bad token is a 401 before any bad parameter is a 400."""
            assert answer_slot is not None
            kwargs: dict[str, Any] = {}
            problem: RequestError | None = None
            try:
                kwargs.update((name, parse_path_id(path[name], name)) for name in spec.path_params)
                if query is not None:
                    kwargs["query"] = parse_query(query)
            except RequestError as error:
                problem = error
            kwargs["caller"], looked_up = _caller_and_entry(None if problem else answer_slot(container(), **kwargs))
            g.user_id = kwargs["caller"].user_id  # for the access log
            if problem is not None:
                raise problem
            return respond(view(**kwargs, looked_up=looked_up))

        def respond(result: BaseModel | Response | None) -> Response:
            if result is None:
                return Response(status=status)
            if isinstance(result, Response):  # already rendered (a cached answer)
                return result
            return json_response(result.model_dump_json(), status)

        wrapper.endpoint_spec = spec  # type: ignore[attr-defined]
        return wrapper

    return decorate
