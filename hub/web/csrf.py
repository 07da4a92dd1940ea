"""CSRF protection: every form carries a token, every unsafe method must send it back.

Signed in, the token is the session's (kept server-side). Before sign-in (the sign-in form
itself), it is a random value in a signed cookie of its own (double submit): a page of another
site can neither read the cookie nor forge its signature.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from aiohttp import web

FIELD = "csrf_token"
HEADER = "X-CSRF-Token"
COOKIE = "parcours_csrf"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _mac(secret: bytes, value: str) -> str:
    return hmac.new(secret, b"csrf:" + value.encode(), hashlib.sha256).hexdigest()


def new_anonymous_token(secret: bytes) -> str:
    value = secrets.token_urlsafe(24)
    return f"{value}.{_mac(secret, value)}"


def anonymous_token_ok(secret: bytes, token: str | None) -> bool:
    if not token or token.count(".") != 1:
        return False
    value, mac = token.split(".")
    return hmac.compare_digest(mac, _mac(secret, value))


async def sent_token(request: web.Request) -> str | None:
    """The token a request sends: the X-CSRF-Token header (htmx) or the form field."""
    if HEADER in request.headers:
        return request.headers[HEADER]
    if request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.post()
        value = form.get(FIELD)
        return value if isinstance(value, str) else None
    return None


def tokens_match(expected: str | None, sent: str | None) -> bool:
    return bool(expected) and bool(sent) and hmac.compare_digest(expected.encode(), sent.encode())
