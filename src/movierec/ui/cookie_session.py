"""The login cookie: an HttpOnly cookie that holds the API token, so a reload or a second tab stays logged in.

A Streamlit script cannot answer an HTTP request, so the cookie is set by a small route of the UI's own server
(``app.py`` mounts :func:`routes` beside Streamlit's). The script hands the session to the route through a one-time
code that lives here, in the UI process, for a minute: the page's JavaScript posts only that code (never the token,
never in a URL), and the route answers with ``Set-Cookie: ...; HttpOnly; SameSite=Strict``. The next page load
reads the cookie back from the WebSocket handshake (``st.context.cookies``). Both routes also require a custom
header, which a cross-site form or image cannot send, so another site can neither plant nor clear the cookie.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import threading
import time
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from movierec.ui.client import Session

COOKIE = "movierec_session"
PATH = "/_movierec/session"
HEADER = "X-Movierec-Session"
CODE_TTL = 60.0


@dataclass(frozen=True, slots=True)
class _Pending:
    value: str
    max_age: int
    deadline: float


_pending: dict[str, _Pending] = {}
_lock = threading.Lock()


def encode(session: Session) -> str:
    """The cookie's value: the session as URL-safe base64 of JSON (the API checks the token on every call)."""
    expires_at = int(time.time()) + session.expires_in
    raw = json.dumps({"u": session.user_id, "n": session.username, "t": session.access_token, "e": expires_at})
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode(value: str | None) -> Session | None:
    """The session in a cookie value, or None when it is missing, malformed or past its expiry."""
    if not value:
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))
        remaining = int(data["e"]) - int(time.time())
        session = Session(int(data["u"]), str(data["n"]), str(data["t"]), remaining)
    except (binascii.Error, ValueError, KeyError, TypeError, UnicodeDecodeError):
        return None
    return session if remaining > 0 else None


def issue(session: Session) -> str:
    """A one-time code the browser trades for the cookie within :data:`CODE_TTL` seconds."""
    code = secrets.token_urlsafe(24)
    now = time.monotonic()
    with _lock:
        for stale in [c for c, p in _pending.items() if p.deadline < now]:
            del _pending[stale]
        _pending[code] = _Pending(encode(session), max(session.expires_in, 1), now + CODE_TTL)
    return code


def pending(code: str) -> bool:
    """Whether the browser has yet to trade ``code`` (so the page should keep asking it to)."""
    with _lock:
        found = _pending.get(code)
        return found is not None and found.deadline >= time.monotonic()


def _take(code: str) -> _Pending | None:
    with _lock:
        found = _pending.pop(code, None)
    return found if found is not None and found.deadline >= time.monotonic() else None


async def _session_route(request: Request) -> Response:
    if request.headers.get(HEADER) != "1":
        return Response(status_code=403)
    secure = request.url.scheme == "https"
    if request.method == "DELETE":
        response = Response(status_code=204)
        response.delete_cookie(COOKIE, path="/", secure=secure, httponly=True, samesite="strict")
        return response
    found = _take((await request.body()).decode("ascii", errors="replace").strip())
    if found is None:
        return Response(status_code=404)
    response = Response(status_code=204)
    response.set_cookie(
        COOKIE, found.value, max_age=found.max_age, path="/", secure=secure, httponly=True, samesite="strict"
    )
    return response


def routes() -> list[BaseRoute]:
    return [Route(PATH, _session_route, methods=["POST", "DELETE"])]


def script(action: str, code: str = "", base_path: str = "") -> str:
    """The page's JavaScript that asks the route to set (``POST`` with the code) or clear (``DELETE``) the cookie."""
    url = json.dumps(f"/{base_path.strip('/')}{PATH}" if base_path.strip("/") else PATH)
    body = f", body: {json.dumps(code)}" if action == "POST" else ""
    return (
        f'<script>fetch({url}, {{method: "{action}", credentials: "same-origin", '
        f'headers: {{"{HEADER}": "1"}}{body}}});</script>'
    )
