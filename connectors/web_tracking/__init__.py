"""``web_tracking``: record ``prospect.program_viewed`` from program pages, only with the visitor's consent.

The page's script (``connectors/web_tracking/snippet.js``) posts, once the visitor has accepted
audience measurement, ``{"program": "<slug>", "url": "<page URL>", "consent": true,
"visitor": "<random id kept in sessionStorage>"}`` to ``POST /webhooks/<name>`` with
``navigator.sendBeacon`` (a ``text/plain`` body: a "simple" cross-origin request, so the browser
sends no CORS preflight, which the hub's webhook route would not answer).

The connector checks the ``Origin`` header against ``allowed_origins``, limits requests per
client address, validates the body strictly (unknown fields are refused), and records nothing
unless ``consent`` is ``true``. A reload within the same minute gives the same source id (a
hash of the visitor id, the program and the minute), so the hub stores it once. No cookie is
read or set; the URL's query string and fragment are dropped unless ``keep_query`` is set.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
import time
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import orjson
from pydantic import Field, field_validator

from hub.connector import Connector, ConnectorConfig, WebhookRequest, WebhookResult, WebhookSource
from hub.durations import Duration
from hub.errors import WebhookRejected
from hub.hookspecs import hookimpl

PROGRAM = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
VISITOR = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
FIELDS = {"program", "url", "consent", "visitor"}
MAX_BODY = 4096


def _origin(value: str) -> str | None:
    """``scheme://host[:port]`` in lower case, or None when ``value`` is not an http(s) origin."""
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.username or parts.password:
        return None
    return f"{parts.scheme}://{parts.netloc}".lower()


class WebTrackingConfig(ConnectorConfig):
    allowed_origins: list[str] = Field(
        min_length=1, description="Sites allowed to post views, e.g. https://www.example-of.fr (scheme, host, port)")
    programs: list[str] | None = Field(
        default=None, description="Program slugs accepted (None: any slug of letters, digits, '.', '_', '-')")
    actions: dict[str, str] = Field(default_factory=dict, description="Program slug → training action id of the events")
    keep_query: bool = Field(default=False, description="Keep the page URL's query string (may hold personal data)")
    dedupe_window: Duration = Field(default=dt.timedelta(minutes=1),
                                    description="Views of one program by one visitor within this window count once")
    rate_limit_per_minute: int = Field(default=30, ge=0, description="Requests per client address and minute (0: no limit)")

    @field_validator("allowed_origins")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        out = []
        for item in value:
            origin = _origin(item)
            if origin is None or urlsplit(item.strip()).path not in ("", "/"):
                raise ValueError(f"{item!r}: give an origin such as https://www.example.fr (no path)")
            out.append(origin)
        return out

    @field_validator("programs")
    @classmethod
    def _programs(cls, value: list[str] | None) -> list[str] | None:
        for item in value or []:
            if not PROGRAM.match(item):
                raise ValueError(f"{item!r}: a program slug uses letters, digits, '.', '_' and '-' (100 at most)")
        return value


class WebTracking(Connector, WebhookSource):
    """Receive program-page views from the site's snippet; records only views with consent (RGPD)."""

    kind = "web_tracking"
    Config = WebTrackingConfig
    emits = ("prospect.program_viewed",)

    def __init__(self, name, config, context):
        super().__init__(name, config, context)
        self.config: WebTrackingConfig
        self._hits: dict[str, tuple[int, int]] = {}
        self._salt = secrets.token_bytes(16)  # for visitors without an id: addresses are never stored

    def _now(self) -> float:
        return time.time()

    def _rate_limited(self, remote: str | None, now: float) -> bool:
        limit = self.config.rate_limit_per_minute
        if not limit:
            return False
        minute = int(now // 60)
        key = remote or "?"
        start, count = self._hits.get(key, (minute, 0))
        if start != minute:
            start, count = minute, 0
        count += 1
        if len(self._hits) > 50_000:
            self._hits = {k: v for k, v in self._hits.items() if v[0] == minute}
        self._hits[key] = (start, count)
        return count > limit

    async def handle_webhook(self, request: WebhookRequest) -> WebhookResult:
        headers = {k.lower(): v for k, v in request.headers.items()}
        origin = _origin(headers.get("origin", "")) if headers.get("origin", "null") != "null" else None
        if origin is None or origin not in self.config.allowed_origins:
            raise WebhookRejected(403, "origin not allowed: add the site to allowed_origins")
        now = self._now()
        if self._rate_limited(request.remote, now):
            raise WebhookRejected(429, "too many requests from this address")
        if len(request.body) > MAX_BODY:
            raise WebhookRejected(413, f"body larger than {MAX_BODY} bytes")
        try:
            view = orjson.loads(request.body)
        except orjson.JSONDecodeError:
            raise WebhookRejected(400, "the body is not JSON") from None
        if not isinstance(view, dict):
            raise WebhookRejected(400, "expected a JSON object {program, url, consent, visitor}")
        unknown = sorted(set(view) - FIELDS)
        if unknown:
            raise WebhookRejected(400, f"unknown field(s) {', '.join(unknown)}: only program, url, consent, visitor")
        consent = view.get("consent")
        if not isinstance(consent, bool):
            raise WebhookRejected(400, "consent: expected true or false")
        if consent is not True:
            # never recorded, not even counted: the visitor refused or did not choose yet
            return WebhookResult([], response={"recorded": False, "reason": "no consent"})
        program = view.get("program")
        if not isinstance(program, str) or not PROGRAM.match(program):
            raise WebhookRejected(400, "program: expected a slug of letters, digits, '.', '_' or '-'")
        if self.config.programs is not None and program not in self.config.programs:
            raise WebhookRejected(400, "program: not a program of this site")
        url = self._clean_url(view.get("url"), origin)
        visitor = view.get("visitor")
        if visitor is not None and (not isinstance(visitor, str) or not VISITOR.match(visitor)):
            raise WebhookRejected(400, "visitor: expected 8 to 64 letters, digits, '-' or '_'")
        window = max(1, int(self.config.dedupe_window.total_seconds()))
        bucket = int(now // window)
        if visitor:
            who = hashlib.sha256(f"visitor:{visitor}".encode()).hexdigest()
        else:  # no sessionStorage: an address-based key, salted per process and never stored
            seed = f"{request.remote}|{headers.get('user-agent', '')}".encode()
            who = hashlib.sha256(self._salt + seed).hexdigest()
        key = hashlib.sha256(f"{who}|{program}|{bucket}".encode()).hexdigest()[:40]
        occurred = dt.datetime.fromtimestamp(now, dt.timezone.utc)
        event: dict[str, Any] = {
            "type": "prospect.program_viewed",
            "occurred_at": occurred.isoformat(),
            "source_id": f"view:{key}",
            "data": {"program": program, "url": url, "consent": True,
                     "details": {"session": who[:16], "origin": origin}},
        }
        if program in self.config.actions:
            event["action"] = self.config.actions[program]
        return WebhookResult([event], response={"recorded": True})

    def _clean_url(self, value: Any, origin: str) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str) or len(value) > 2000:
            raise WebhookRejected(400, "url: expected the page URL")
        parts = urlsplit(value)
        if _origin(value) != origin:
            raise WebhookRejected(400, "url: not a page of the posting site")
        if self.config.keep_query:
            return urlunsplit((parts.scheme, parts.netloc, parts.path, parts.query, ""))
        return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


@hookimpl
def register_connectors():
    return [WebTracking]


__all__ = ["WebTracking", "WebTrackingConfig"]
