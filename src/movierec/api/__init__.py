"""The HTTP API: a Flask app factory over the services built by the composition root."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from flask import Flask, Response, g, request
from werkzeug.middleware.proxy_fix import ProxyFix

from movierec.api.answers import ReadyAnswers
from movierec.api.errors import register_errorhandlers
from movierec.api.extension import EXTENSION
from movierec.api.metrics import STARTED, RequestMetrics, register_metrics, stamped
from movierec.log import access_log
from movierec.settings import Settings, load_settings
from movierec.wiring import Container, build_container

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

MAX_BODY_BYTES = 64 * 1024
# Set on every response: nothing in the API sets these itself, so they are appended without a lookup.
SECURITY_HEADERS = (
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "no-referrer"),
    ("Cache-Control", "no-store"),
)


class Api(Flask):
    """Flask, with ``ensure_sync`` (which Flask calls for every view and hook of every request, and which asks
    ``inspect`` each time whether the function is a coroutine) answered once per function: the same answer, without
    four ``inspect`` calls a request. Functions are only added at start-up, so the memo stays small."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._sync: dict[Callable[..., Any], Callable[..., Any]] = {}

    def ensure_sync(self, func: Callable[..., Any]) -> Callable[..., Any]:
        try:
            return self._sync[func]
        except KeyError:
            return self._sync.setdefault(func, super().ensure_sync(func))
        except TypeError:  # an unhashable callable: asked every time, as Flask does
            return super().ensure_sync(func)


def create_app(settings: Settings | None = None, container: Container | None = None) -> Flask:
    """Build the API. Nothing is created at import time; the container holds every client."""
    if container is None:
        container = build_container(settings or load_settings())
    app = Api("movierec")
    app.config.update(MAX_CONTENT_LENGTH=MAX_BODY_BYTES)
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions[EXTENSION] = container
    recorder = RequestMetrics()
    register_blueprints(app)
    register_errorhandlers(app)
    register_metrics(app, recorder)
    register_headers(app)
    # The WSGI layers, innermost first: answers held ready go out before Flask runs; the client's address; when the
    # request came in; the security headers of every response.
    wsgi: WSGIApplication = ReadyAnswers(app, container, recorder, app.wsgi_app)
    if container.settings.trusted_proxies:
        # Behind Nginx: take the client address from X-Forwarded-For, trusting only our own proxies.
        wsgi = ProxyFix(wsgi, x_for=container.settings.trusted_proxies, x_proto=container.settings.trusted_proxies)
    app.wsgi_app = SecurityHeaders(stamped(wsgi))  # type: ignore[method-assign]
    return app


def register_blueprints(app: Flask) -> None:
    from movierec.api.routes import accounts, movies, ratings, recommendations, steering, system

    for module in (accounts, movies, ratings, recommendations, steering, system):
        app.register_blueprint(module.bp)


def register_headers(app: Flask) -> None:
    @app.after_request
    def _access_log(response: Response) -> Response:
        if access_log.enabled:
            current = request._get_current_object()  # type: ignore[attr-defined]  # one context lookup, not four
            access_log.http(
                current.method,
                current.path,
                response.status_code,
                current.environ.get(STARTED),  # stamped as the request came in (api/metrics.py)
                g.get("user_id"),
                current.remote_addr,  # as seen after the trusted-proxy rule
            )
        return response


class SecurityHeaders:
    """WSGI middleware that appends ``SECURITY_HEADERS`` to every response (errors included), to the plain
    header list the server gets: cheaper than editing each response's ``Headers`` object."""

    def __init__(self, app: WSGIApplication) -> None:
        self.app = app

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            headers.extend(SECURITY_HEADERS)
            return start_response(status, headers, exc_info)

        return self.app(environ, start)
