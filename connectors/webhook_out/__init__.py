"""``webhook_out``: POST batches of events as JSON to an HTTPS endpoint, signed.

Body: ``{"events": [TraceEvent, ...]}``. Headers:

* ``Parcours-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>``
  (the receiver recomputes it and refuses timestamps older than a few minutes);
* ``Parcours-Delivery``: the id of the first event of the batch, for the receiver's logs;
* ``Idempotency-Key``: the batch's key, the same every time the same events are sent again: the
  event's ``id`` for a batch of one, else ``sha256:`` and the hex SHA-256 of the events' ids
  joined by newlines, in order (see :func:`batch_key`).

Delivery is at least once: a retry after a lost answer sends the same events again. A receiver
de-duplicates on each event's ``id`` (its per-event idempotency key, stable forever) or, if it
takes a batch as a whole, on ``Idempotency-Key``. HTTP 2xx is
success, 429 and 5xx are retried (``Retry-After`` honoured), other 4xx are dead-lettered. The
hub's delivery schedule does the retrying; ``retries`` adds in-call retries (none by default).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import hmac
import time

import orjson
from pydantic import AnyHttpUrl, Field, SecretStr

from hub.connector import Connector, ConnectorConfig, EventSink
from hub.errors import ConnectorError, PermanentError
from hub.hookspecs import hookimpl
from hub.http import ANY_2XX, HttpClient, HttpSettings, Response
from hub.redaction import redact_url

SIGNATURE_HEADER = "Parcours-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"


def batch_key(event_ids: list[str]) -> str:
    """The ``Idempotency-Key`` of a batch: the event id for one event, else a digest of the ids in order."""
    if len(event_ids) == 1:
        return event_ids[0]
    return "sha256:" + hashlib.sha256("\n".join(event_ids).encode()).hexdigest()


def sign(secret: bytes, body: bytes, timestamp: int) -> str:
    digest = hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(secret: bytes, body: bytes, header: str, *, tolerance: float = 300, now: float | None = None) -> bool:
    """Check a ``Parcours-Signature`` header (for receivers written in Python)."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs((now or time.time()) - timestamp) > tolerance:
        return False
    expected = sign(secret, body, timestamp).split("v1=", 1)[1]
    return any(hmac.compare_digest(expected, v) for k, v in
               (p.split("=", 1) for p in header.split(",") if "=" in p) if k == "v1")


class WebhookOutConfig(ConnectorConfig, HttpSettings.with_defaults(timeout=dt.timedelta(seconds=15), retries=0)):
    url: AnyHttpUrl = Field(description="Receiver endpoint")
    secret: SecretStr = Field(description="Shared HMAC secret (${env:…} or ${file:…})")
    headers: dict[str, SecretStr] = Field(default_factory=dict, description=(
        "Extra request headers, e.g. the receiver's token (`Authorization: ${file:…}`, the file holding "
        "the whole value `Bearer …`): values are secrets, never logged; put credentials here or in `secret`, "
        "not in the URL"))


class WebhookOut(Connector, EventSink):
    """POST event batches as JSON with an HMAC-SHA256 signature header and timestamp."""

    kind = "webhook_out"
    Config = WebhookOutConfig

    @functools.cached_property
    def http(self) -> HttpClient:
        def redirect_error(error: ConnectorError, answer: Response, what: str) -> ConnectorError:
            if 300 <= answer.status < 400:
                return PermanentError(f"{what}: HTTP {answer.status} (redirect: check the URL)")
            return error

        return self.config.client(lambda: self.context.http, base_url=str(self.config.url),
                                  refine_error=redirect_error, log=self.context.log)

    async def deliver(self, events) -> None:
        body = orjson.dumps({"events": [e.model_dump(mode="json") for e in events]})
        secret = self.config.secret.get_secret_value().encode()
        headers = {
            "Accept": "*/*",
            **{name: value.get_secret_value() for name, value in self.config.headers.items()},
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(secret, body, int(time.time())),
            "Parcours-Delivery": events[0].id if events else "",
            IDEMPOTENCY_HEADER: batch_key([e.id for e in events]),
        }
        url = str(self.config.url)
        await self.http.request("POST", url, data=body, headers=headers, ok=ANY_2XX, what=f"POST {redact_url(url)}")


@hookimpl
def register_connectors():
    return [WebhookOut]
