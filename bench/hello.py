"""The framework's ceiling for the load bench: a Flask app with one JSON route and nothing behind it.

Served by gunicorn with the backends' worker settings (``gunicorn ... bench.hello:create_app()``).
"""

from __future__ import annotations

from flask import Flask


def create_app() -> Flask:
    app = Flask("movierec-bench-hello")

    @app.get("/hello")
    def hello() -> dict[str, str]:
        return {"status": "ok"}

    return app
