"""Answers held ready, sent before Flask runs.

A cached list of recommendations, a page of the latest movies that the catalogue holds in memory, or a search page
this process holds for the index's generation, is bytes that are ready to send: what Flask would add to them (its
request context, URL adapter, response object and hooks) costs more than the answer itself. An endpoint declares
``ready=`` (``api/binding.py``); ``ReadyAnswers``, the innermost WSGI layer, sends that answer itself when it is
ready, and passes every other request to Flask untouched.

For a GET whose path matches such an endpoint's rule, the layer does what the endpoint's binding would: it parses
the path ids and the query string with the same functions and model (the parsed query is remembered per query
string), checks the bearer token and reads the answer's cache slot in one round trip (``verify_along``), and asks
the endpoint's ``ready`` for the bytes. Anything else goes to Flask, which answers as it always did: another
method, a path no such rule matches, a bad parameter or token (Flask then answers the 400 or 401 with its usual
body), a miss (the token's check and the slot's entry are handed on in the environ, ``READ_AHEAD``, so they are
not read twice), or an error. So the layer only ever sends a 200 that the view would have sent, with the same
bytes and headers (the outer layers add the security headers to both), the same metrics and the same access log
line (tests/unit/test_ready_answers.py holds both paths to that).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flask import Flask
from pydantic import BaseModel
from werkzeug.wrappers import Request

from movierec.api.auth import bearer_token
from movierec.api.binding import READ_AHEAD, EndpointSpec, ReadAhead, parse_path_id, parse_query
from movierec.api.metrics import STARTED, RequestMetrics
from movierec.domain.errors import MovieRecError
from movierec.log import access_log, get_logger
from movierec.wiring import Container

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

log = get_logger(__name__)

QUERIES_KEPT = 1024  # parsed query strings remembered per route; past that the memo starts again
UNPARSED = object()  # the memo's answer for a query string not seen yet


@dataclass
class _Route:
    rule: str  # the URL rule, the metrics' route label (``/recommendations/<user_id>``)
    prefix: str  # the rule's text before its first variable part
    pattern: re.Pattern[str] | None  # None: the rule has no variable part
    spec: EndpointSpec
    queries: dict[str, BaseModel | None]  # query string -> the parsed query, None when it is refused

    def query(self, environ: WSGIEnvironment) -> BaseModel | None:
        """The request's query parsed by the endpoint's model, as the binding does; None when it is refused."""
        model = self.spec.query
        if model is None:
            return None
        raw = environ.get("QUERY_STRING", "")
        found = self.queries.get(raw, UNPARSED)
        if found is UNPARSED:
            try:
                found = parse_query(model, Request(environ).args)  # werkzeug's own parsing, as Flask's
            except MovieRecError:
                found = None
            if len(self.queries) >= QUERIES_KEPT:
                self.queries.clear()
            self.queries[raw] = found
        return found  # type: ignore[return-value]


def _routes(app: Flask) -> Iterable[_Route]:
    for rule in app.url_map.iter_rules():
        spec: EndpointSpec | None = getattr(app.view_functions.get(rule.endpoint), "endpoint_spec", None)
        if spec is None or spec.ready is None or "GET" not in (rule.methods or ()):
            continue
        parts = re.split(r"<(?:[^:<>]+:)?([^<>]+)>", rule.rule)  # static text and argument names, alternating
        names = parts[1::2]
        if any(name not in spec.path_params for name in names):
            raise ValueError(f"{rule.rule}: ready answers take only path ids declared in path_params")
        pattern = "".join(re.escape(part) if n % 2 == 0 else f"(?P<{part}>[^/]+)" for n, part in enumerate(parts))
        yield _Route(rule.rule, parts[0], re.compile(pattern) if names else None, spec, {})


class ReadyAnswers:
    """The WSGI layer in front of Flask (``inner``) that sends the answers of ``ready`` endpoints (module doc)."""

    def __init__(self, app: Flask, container: Container, recorder: RequestMetrics, inner: WSGIApplication) -> None:
        self.container = container
        self.recorder = recorder
        self.inner = inner
        routes = list(_routes(app))
        self._exact = {route.rule: route for route in routes if route.pattern is None}
        self._patterns = [route for route in routes if route.pattern is not None]

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") == "GET":
            path = environ.get("PATH_INFO", "")
            route, params = self._route(path)
            if route is not None:
                try:
                    ready = self._ready(route, params, environ)
                except Exception:  # a bug here must not cost the request: Flask answers it (and its errors)
                    log.exception("ready_answer.failed", path=path)
                    ready = None
                if ready is not None:
                    body, user_id = ready
                    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
                    started = environ.get(STARTED)
                    self.recorder.record("GET", route.rule, 200, started)
                    access_log.http("GET", path, 200, started, user_id, environ.get("REMOTE_ADDR"))
                    return [body]
        return self.inner(environ, start_response)

    def _route(self, path: str) -> tuple[_Route | None, dict[str, str]]:
        """The route answering ``path`` and the values of its path parameters, matched once; (None, {}) if none."""
        route = self._exact.get(path)
        if route is not None:
            return route, {}
        for route in self._patterns:
            if path.startswith(route.prefix) and route.pattern is not None:
                matched = route.pattern.fullmatch(path)
                if matched is not None:
                    return route, matched.groupdict()
        return None, {}

    def _ready(
        self, route: _Route, params: dict[str, str], environ: WSGIEnvironment
    ) -> tuple[bytes, int | None] | None:
        """The answer's bytes and the caller's user id when the answer is ready; None to let Flask answer."""
        spec = route.spec
        assert spec.ready is not None
        kwargs: dict[str, Any] = {}
        try:
            kwargs.update((name, parse_path_id(value, name)) for name, value in params.items())
        except MovieRecError:
            return None
        if spec.query is not None:
            query = route.query(environ)
            if query is None:
                return None
            kwargs["query"] = query
        if spec.answer_slot is None:
            body = spec.ready(self.container, **kwargs)
            return None if body is None else (body, None)
        try:
            token = bearer_token(environ.get("HTTP_AUTHORIZATION", ""))
            slot = spec.answer_slot(self.container, **kwargs)
            caller, entry = self.container.accounts.verify_along(token, slot)
        except MovieRecError:  # a bad token, or the database down on a token not seen yet: Flask answers it
            return None
        body = spec.ready(self.container, caller=caller, looked_up=entry, **kwargs)
        if body is None:
            environ[READ_AHEAD] = ReadAhead(slot, caller, entry)
            return None
        return body, caller.user_id
