"""The token guard and the request-size limit, as pure ASGI middleware (they cover every route, mounted
static files included, whatever router added them).

A request is let through when it carries the server's token as ``Authorization: Bearer <token>`` or in the
``radnec_token`` cookie; anything else gets 401. ``GET /login?token=…`` checks the token, sets the cookie
(HttpOnly, SameSite=Strict, Path=/) and redirects (303) to ``next`` (a local path) or ``/``; ``/logout`` clears
it. Tokens are compared in constant time. A request body larger than the limit is refused with 413 before it
is read (by its Content-Length; a body without one — chunked — gets 411).
"""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import parse_qs

from starlette.datastructures import Headers
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

#: Name of the session cookie.
COOKIE = "radnec_token"


def _local_path(value: str | None) -> str:
    """``value`` if it is a path on this server (no scheme, no host, no ``//``), else ``/``."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value or any(ord(c) < 32 for c in value):
        return "/"
    return value


class TokenGuard:
    """401 for every request without the token; ``/login`` and ``/logout`` handled here."""

    def __init__(self, app: ASGIApp, *, token: str, secure_cookie: bool = False) -> None:
        if len(token) < 16:
            raise ValueError("the access token must have at least 16 characters")
        self.app, self.token, self.secure_cookie = app, token, secure_cookie

    def valid(self, candidate: str | None) -> bool:
        return bool(candidate) and secrets.compare_digest(str(candidate).encode(), self.token.encode())

    def presented(self, headers: Headers) -> str | None:
        auth = headers.get("authorization", "")
        if auth[:7].lower() == "bearer ":
            return auth[7:].strip()
        for part in headers.get("cookie", "").split(";"):
            name, _, value = part.strip().partition("=")
            if name == COOKIE:
                return value
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        headers = Headers(scope=scope)
        response: Response | None = None
        if scope["type"] == "http" and path == "/login":
            query: dict[str, Any] = parse_qs(scope.get("query_string", b"").decode("latin-1"))
            token = (query.get("token") or [None])[0]
            if self.valid(token):
                response = RedirectResponse(_local_path((query.get("next") or [None])[0]), status_code=303)
                response.set_cookie(COOKIE, self.token, httponly=True, samesite="strict", path="/", secure=self.secure_cookie)
            else:
                response = _unauthorised()
        elif not self.valid(self.presented(headers)):
            response = _unauthorised()
        elif scope["type"] == "http" and path == "/logout":
            response = RedirectResponse("/login", status_code=303)
            response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
        if response is not None:
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 4401})
                return
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _unauthorised() -> Response:
    return JSONResponse(
        {"detail": "not authorised: open the login link radnec serve printed (/login?token=…) or send "
         "'Authorization: Bearer <token>'"},
        status_code=401,
        headers={"WWW-Authenticate": "Bearer"},
    )


class BodyLimit:
    """413 for a request body over ``max_bytes`` (by Content-Length), 411 for a body without a length."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = Headers(scope=scope)
            length = headers.get("content-length")
            response: Response | None = None
            if length is None and "chunked" in headers.get("transfer-encoding", "").lower():
                response = JSONResponse({"detail": "a request body needs a Content-Length"}, status_code=411)
            elif length is not None:
                try:
                    n = int(length)
                except ValueError:
                    n = -1
                if n < 0:
                    response = JSONResponse({"detail": "invalid Content-Length"}, status_code=400)
                elif n > self.max_bytes:
                    response = JSONResponse(
                        {"detail": f"request body of {n / 2**20:.1f} MB is over the limit of {self.max_bytes / 2**20:.0f} MB "
                         "(radnec serve --max-upload-mb)"}, status_code=413)
            if response is not None:
                await response(scope, receive, send)
                return
            receive = _counting(receive, self.max_bytes)
        await self.app(scope, receive, send)


def _counting(receive: Receive, max_bytes: int) -> Receive:
    """A receive that ends the body (as a disconnect) once more than ``max_bytes`` arrived."""
    seen = 0

    async def wrapped() -> Any:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > max_bytes:
                return {"type": "http.disconnect"}
        return message

    return wrapped


__all__ = ["COOKIE", "BodyLimit", "TokenGuard"]
