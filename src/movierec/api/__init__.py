"""The HTTP API: a Flask app factory over the services built by the composition root."""

from __future__ import annotations

import time

from flask import Flask, Response, g, request
from werkzeug.middleware.proxy_fix import ProxyFix

from movierec.api.errors import register_errorhandlers
from movierec.api.extension import EXTENSION
from movierec.api.metrics import register_metrics
from movierec.log import get_logger
from movierec.settings import Settings, load_settings
from movierec.wiring import Container, build_container

MAX_BODY_BYTES = 64 * 1024
access_log = get_logger("movierec.access")


def create_app(settings: Settings | None = None, container: Container | None = None) -> Flask:
    """Build the API. Nothing is created at import time; the container holds every client."""
    if container is None:
        container = build_container(settings or load_settings())
    app = Flask("movierec")
    app.config.update(MAX_CONTENT_LENGTH=MAX_BODY_BYTES, JSON_SORT_KEYS=False)
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions[EXTENSION] = container
    if container.settings.trusted_proxies:
        # Behind Nginx: take the client address from X-Forwarded-For, trusting only our own proxies.
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=container.settings.trusted_proxies, x_proto=container.settings.trusted_proxies
        )
    register_blueprints(app)
    register_errorhandlers(app)
    register_metrics(app)
    register_headers(app)
    return app


def register_blueprints(app: Flask) -> None:
    from movierec.api.routes import accounts, movies, ratings, recommendations, system

    for module in (accounts, movies, ratings, recommendations, system):
        app.register_blueprint(module.bp)


def register_headers(app: Flask) -> None:
    @app.before_request
    def _start_timer() -> None:
        g.started = time.perf_counter()

    @app.after_request
    def _security_headers(response: Response) -> Response:
        started = g.get("started")
        access_log.info(
            "request",
            method=request.method,
            path=request.path,
            status=response.status_code,
            ms=round((time.perf_counter() - started) * 1000, 1) if started else None,
            user_id=g.get("user_id"),
            address=request.remote_addr,  # as seen after the trusted-proxy rule
        )
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        response.headers.setdefault("Cache-Control", "no-store")
        return response
