"""The framework's ceiling for the load bench: a Flask app with one JSON route and nothing behind it.

Served by gunicorn with the backends' worker settings (``gunicorn ... bench.hello:create_app()``), and by waitress
with ``movierec serve``'s settings (``python -m bench.hello PORT THREADS``).
"""

from __future__ import annotations

from flask import Flask


def create_app() -> Flask:
    app = Flask("movierec-bench-hello")

    @app.get("/hello")
    def hello() -> dict[str, str]:
        return {"status": "ok"}

    return app


if __name__ == "__main__":
    import sys

    from movierec.cli import serve_wsgi

    serve_wsgi(create_app(), "127.0.0.1", int(sys.argv[1]), int(sys.argv[2]))
