"""Server-side sessions behind a signed cookie.

The cookie holds a random token and its HMAC-SHA256 under the session secret; the store keeps
the session under the token's SHA-256 (a copy of the database gives no usable cookie), with its
account, stage (``code``: the password was right, the second factor is awaited; ``full``), CSRF
token, expiry and revocation. Revoking a session (sign-out, a new password, a disabled account)
takes effect at the next request.

A sign-in link sent by e-mail (hub.web.sign_in_links) is kept the same way, at stage ``link``: its
256-bit token is in the link only, the store has its SHA-256; taking it revokes it (once: the
store's conditional update), and it expires. A new password or a disabled account revokes the
account's links with its sessions. A link is never a session: :meth:`Sessions.current` ignores it.

The cookie is ``HttpOnly``, ``SameSite=Lax``, ``Path=/app/`` and ``Secure``, except on a plain
``http://127.0.0.1`` request from 127.0.0.1 (a developer's machine; a browser keeps no Secure
cookie there): behind a TLS-terminating proxy on the same host, the Host header names the public
address, and the cookie stays Secure.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import time
from pathlib import Path
from typing import Any

from aiohttp import web

COOKIE = "parcours_session"
CODE_STAGE_SECONDS = 300  # time allowed to type the second factor
TOUCH_EVERY = 60  # last_seen_at is written at most once a minute per session
LOOPBACK = "127.0.0.1"
SESSION_STAGES = ("code", "full")
LINK_STAGE = "link"


def load_secret(configured: str | None, data_dir: Path) -> bytes:
    """The configured secret, or the one generated once in ``<data_dir>/web/session-secret`` (0600)."""
    if configured:
        return configured.encode()
    path = data_dir / "web" / "session-secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_urlsafe(48))
    return path.read_text(encoding="utf-8").strip().encode()


def _sign(secret: bytes, token: str) -> str:
    return base64.urlsafe_b64encode(hmac.new(secret, token.encode(), hashlib.sha256).digest()).decode().rstrip("=")


def session_id(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_of_cookie(secret: bytes, value: str | None) -> str | None:
    """The token of a well-signed cookie value, else None."""
    if not value or value.count(".") != 1 or len(value) > 200:
        return None
    token, signature = value.split(".")
    return token if hmac.compare_digest(signature, _sign(secret, token)) else None


def secure_cookie(request: web.Request) -> bool:
    """False only for plain HTTP to 127.0.0.1 from 127.0.0.1 (see the module's docstring)."""
    host = request.host.rsplit(":", 1)[0] if request.host else ""
    return not (request.scheme == "http" and host == LOOPBACK and request.remote == LOOPBACK)


def set_cookie(response: web.StreamResponse, request: web.Request, name: str, value: str, *,
               max_age: int | None = None, http_only: bool = True) -> None:
    response.set_cookie(name, value, max_age=max_age, path="/app/", secure=secure_cookie(request),
                        httponly=http_only, samesite="Lax")


class Sessions:
    def __init__(self, store, secret: bytes, *, lifetime: float, idle: float):
        self.store, self.secret, self.lifetime, self.idle = store, secret, lifetime, idle

    async def open(self, account_id: str, stage: str, remote: str | None) -> tuple[str, dict[str, Any]]:
        """A new session; the cookie value that carries it and its row."""
        token = secrets.token_urlsafe(32)
        now = time.time()
        row = {"id": session_id(token), "account_id": account_id, "stage": stage, "csrf": secrets.token_urlsafe(32),
               "created_at": now, "last_seen_at": now,
               "expires_at": now + (CODE_STAGE_SECONDS if stage == "code" else self.lifetime), "remote": remote}
        await self.store.call(self.store.add_web_session, row)
        return f"{token}.{_sign(self.secret, token)}", row

    async def current(self, request: web.Request) -> dict[str, Any] | None:
        """The live session of the request's cookie (not revoked, not expired, not idle), or None."""
        token = token_of_cookie(self.secret, request.cookies.get(COOKIE))
        if token is None:
            return None
        row = await self.store.call(self.store.web_session, session_id(token))
        now = time.time()
        if row is None or row["revoked_at"] is not None or row["expires_at"] <= now or row["stage"] not in SESSION_STAGES:
            return None
        if row["stage"] == "full" and row["last_seen_at"] + self.idle <= now:
            await self.revoke(row["id"])
            return None
        if row["last_seen_at"] + TOUCH_EVERY <= now:
            await self.store.call(self.store.update_web_session, row["id"], last_seen_at=now)
        return row

    async def open_link(self, account_id: str, lifetime: float) -> str:
        """A new sign-in link's token (256 bits) for the account, valid ``lifetime`` seconds."""
        token = secrets.token_urlsafe(32)
        now = time.time()
        await self.store.call(self.store.add_web_session, {
            "id": session_id(token), "account_id": account_id, "stage": LINK_STAGE, "csrf": "-", "created_at": now,
            "last_seen_at": now, "expires_at": now + lifetime, "remote": None})
        return token

    async def link(self, token: str) -> dict[str, Any] | None:
        """The live link of ``token`` (not taken, not expired), or None."""
        if not token or len(token) > 100:
            return None
        row = await self.store.call(self.store.web_session, session_id(token))
        if row is None or row["stage"] != LINK_STAGE or row["revoked_at"] is not None or row["expires_at"] <= time.time():
            return None
        return row

    async def take_link(self, token: str) -> str | None:
        """Use the link of ``token`` up: its account id, or None when it is unknown, expired or taken
        already (of two requests at once, one only gets it)."""
        row = await self.link(token)
        if row is None or not await self.store.call(self.store.update_web_session, row["id"], revoked_at=time.time()):
            return None
        return row["account_id"]

    async def revoke(self, sid: str) -> None:
        await self.store.call(self.store.update_web_session, sid, revoked_at=time.time())
