"""``stripe``: payments and refunds from Stripe, as ``payment.*`` events; invoices, as ``invoice.*``.

Two doors, one mapping:

* **webhook** — ``POST /webhooks/<name>`` receives Stripe's event notifications. The
  ``Stripe-Signature`` header (``t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">``, one
  ``v1`` per active endpoint secret while a secret is being rolled) is checked against every
  configured secret in constant time, and ``t`` must be within ``tolerance`` (300 s) of the
  hub's clock. The check is done here, without the ``stripe`` library.
* **catch-up pull** — ``GET /v1/events`` with ``created[gte]`` (the cursor), ``types[]`` and
  ``starting_after`` paging, so that events sent while the hub was down are not lost (Stripe
  keeps events for 30 days).

Both use the Stripe event id (``evt_…``) as ``source_id``: the hub de-duplicates the webhook and
the pull of the same event. See ``docs/connectors/stripe.md`` for the mapping tables.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import hmac
import time
import zoneinfo
from decimal import Decimal
from typing import Any, Callable, ClassVar, Mapping

import orjson
from pydantic import (
    AnyHttpUrl,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)

from hub.connector import (
    Connector,
    ConnectorConfig,
    Health,
    PullResult,
    PullSource,
    Reject,
    SecretList,
    WebhookRequest,
    WebhookResult,
    WebhookSource,
    probe,
)
from hub.durations import Duration
from hub.errors import PermanentError, WebhookRejected
from hub.events import EventData, FunderKind
from hub.hookspecs import hookimpl
from hub.timefmt import check_timezone

from hub.http import ANY_2XX, HttpClient, HttpSettings, Response

SIGNATURE_HEADER = "Stripe-Signature"

#: Stripe event types this connector maps (anything else is acknowledged and ignored)
SUPPORTED_TYPES = (
    "checkout.session.completed",
    "checkout.session.async_payment_succeeded",
    "payment_intent.succeeded",
    "invoice.finalized",
    "invoice.paid",
    "charge.refunded",
    "charge.refund.updated",
)
#: the default leaves out ``payment_intent.succeeded``: Checkout and invoices create PaymentIntents
#: too, so listening to it as well would count their payments twice
DEFAULT_TYPES = [t for t in SUPPORTED_TYPES if t != "payment_intent.succeeded"]

# https://docs.stripe.com/currencies — amounts are integers in the currency's minor unit
ZERO_DECIMAL = frozenset("BIF CLP DJF GNF JPY KMF KRW MGA PYG RWF UGX VND VUV XAF XOF XPF".split())
THREE_DECIMAL = frozenset("BHD JOD KWD OMR TND".split())


# --------------------------------------------------------------------------- signatures


class SignatureError(ValueError):
    """A ``Stripe-Signature`` header that does not verify (the message says why)."""


def compute_signature(secret: str, timestamp: int, body: bytes) -> str:
    """Hex HMAC-SHA256 of ``"<timestamp>." + body`` keyed with the endpoint secret (scheme ``v1``)."""
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def verify_signature(body: bytes, header: str | None, secrets: list[str], *, tolerance: float = 300,
                     now: float | None = None) -> int:
    """Check a ``Stripe-Signature`` header against ``body``; return its timestamp.

    Accepts the request when one ``v1`` signature matches one of ``secrets`` (several of each
    during a secret rotation) and the timestamp is within ``tolerance`` seconds of ``now``.
    Raises :class:`SignatureError` otherwise.
    """
    if not header:
        raise SignatureError(f"missing {SIGNATURE_HEADER} header")
    timestamps, signatures = [], []
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep:
            continue
        if key == "t":
            timestamps.append(value.strip())
        elif key == "v1":
            signatures.append(value.strip())
    if len(timestamps) != 1 or not timestamps[0].isdigit():
        raise SignatureError(f"malformed {SIGNATURE_HEADER} header: expected one t=<unix time>")
    if not signatures:
        raise SignatureError(f"no v1 signature in {SIGNATURE_HEADER}")
    timestamp = int(timestamps[0])
    matched = False
    for secret in secrets:
        expected = compute_signature(secret, timestamp, body).encode()
        for candidate in signatures:
            matched |= hmac.compare_digest(expected, candidate.encode())
    if not matched:
        raise SignatureError("no signature matches the body with the configured secrets")
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        raise SignatureError("signature timestamp outside the tolerance (an old or replayed request?)")
    return timestamp


# --------------------------------------------------------------------------- event type


class RefundFailed(EventData):
    """A refund counted by an earlier ``payment.refunded`` failed or was canceled."""

    amount: Decimal = Field(ge=0)
    currency: str = Field(min_length=3, max_length=3)
    reference: str | None = None
    reason: str | None = None


EVENT_TYPES: dict[str, type[EventData]] = {"payment.refund_failed": RefundFailed}


# --------------------------------------------------------------------------- config


class MetadataKeys(BaseModel):
    """Names of the Stripe ``metadata`` keys read on payments."""

    model_config = ConfigDict(extra="forbid")
    learner: str = Field(default="learner_ref", description="Key holding the learner's id (LearnerRef.ref)")
    action: str = Field(default="action", description="Key holding the training action (session) id")
    enrolment: str = Field(default="enrolment", description="Key holding the enrolment reference")
    payer_kind: str = Field(default="payer_kind", description="Invoice key holding who pays, as a funder kind "
                                                              "(opco, employer, self…)")
    payer_siret: str = Field(default="payer_siret", description="Invoice key holding the payer's SIRET")
    funder: str = Field(default="funder", description="Invoice key holding the funder name of the funding it bills")


class StripeConfig(ConnectorConfig, HttpSettings.with_defaults(
        timeout=dt.timedelta(seconds=20), retries=2, retry_backoff=dt.timedelta(milliseconds=500))):
    webhook_secrets: SecretList = Field(
        default_factory=list,
        description="Endpoint signing secrets (whsec_…): one ${env:…}/${file:…} reference holding one or more "
        "secrets separated by commas or spaces (two while a secret is being rolled)",
    )
    api_key: SecretStr | None = Field(
        default=None,
        description="Secret key (sk_…) or restricted key (rk_…) with read access to Events, for the catch-up pull "
        "and the health check; without it only webhooks are received",
    )
    api_base: AnyHttpUrl = Field(default="https://api.stripe.com", description="Stripe API base URL (tests point it at a fake)")
    types: list[str] = Field(default_factory=lambda: list(DEFAULT_TYPES),
                             description="Stripe event types to map (and to list in the catch-up pull)")
    metadata_keys: MetadataKeys = Field(default_factory=MetadataKeys, description="Stripe metadata keys read")
    default_payer_kind: FunderKind = Field(
        default="self", description="Who pays an invoice whose metadata does not say (payer_kind): individuals by default")
    invoice_timezone: str = Field(default="Europe/Paris", description="Time zone of the invoice dates (the Stripe "
                                                                      "account's): a date is the local day of the time")
    tolerance: Duration = Field(default=dt.timedelta(minutes=5),
                                description="Largest accepted age of a webhook signature timestamp")
    lookback: Duration = Field(default=dt.timedelta(days=30),
                               description="On the very first pull, how far back to list events (Stripe keeps 30 days)")
    page_size: int = Field(default=100, ge=1, le=100, description="Events per page of /v1/events")
    #: ``max_attempts`` (tries per API call) was the name of ``retries`` + 1
    former_http_keys: ClassVar[Mapping[str, str]] = {"max_attempts": "attempts"}

    @field_validator("types")
    @classmethod
    def _known_types(cls, value: list[str]) -> list[str]:
        unknown = [t for t in value if t not in SUPPORTED_TYPES]
        if unknown:
            raise ValueError(f"unsupported Stripe event types {unknown} (supported: {', '.join(SUPPORTED_TYPES)})")
        if not value:
            raise ValueError("give at least one event type")
        if len(value) > 20:
            raise ValueError("Stripe filters on at most 20 event types")
        return list(dict.fromkeys(value))

    @field_validator("invoice_timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return check_timezone(value)

    @field_validator("tolerance")
    @classmethod
    def _tolerance(cls, value: dt.timedelta) -> dt.timedelta:
        if not dt.timedelta(seconds=1) <= value <= dt.timedelta(hours=1):
            raise ValueError("tolerance must be between 1s and 1h (Stripe recommends 5m)")
        return value

    @field_validator("lookback")
    @classmethod
    def _lookback(cls, value: dt.timedelta) -> dt.timedelta:
        if not dt.timedelta(0) <= value <= dt.timedelta(days=30):
            raise ValueError("lookback must be between 0s and 30d (Stripe lists events of the last 30 days)")
        return value

    @model_validator(mode="after")
    def _something_to_do(self) -> "StripeConfig":
        if not self.webhook_secrets and self.api_key is None:
            raise ValueError("give webhook_secrets (to receive webhooks), api_key (for the catch-up pull), or both")
        return self


# --------------------------------------------------------------------------- the connector


class Stripe(Connector, WebhookSource, PullSource):
    """Stripe payments and refunds: signed webhooks plus a catch-up pull of /v1/events."""

    kind = "stripe"
    Config = StripeConfig
    emits = ("payment.succeeded", "payment.refunded", "payment.refund_failed", "invoice.issued", "invoice.paid")

    config: StripeConfig

    # ------------------------------------------------------------------ webhook
    async def handle_webhook(self, request: WebhookRequest) -> WebhookResult:
        secrets = [s.get_secret_value() for s in self.config.webhook_secrets]
        if not secrets:
            raise WebhookRejected(401, "this connector has no webhook_secrets configured")
        header = _header(request.headers, SIGNATURE_HEADER)
        try:
            verify_signature(request.body, header, secrets, tolerance=self.config.tolerance.total_seconds())
        except SignatureError as exc:
            raise WebhookRejected(401, f"invalid {SIGNATURE_HEADER}: {exc}") from None
        try:
            event = orjson.loads(request.body)
        except orjson.JSONDecodeError as exc:
            raise WebhookRejected(400, f"body is not JSON: {exc}") from None
        try:
            items = self.map_record(event)
        except ValueError as exc:
            raise WebhookRejected(400, f"unexpected Stripe event: {exc}") from None
        if not items:
            reason = f"event {event['id']} ({event['type']}) maps to no payment event"
            self.context.log.info("stripe event ignored", stripe_event=event["id"], stripe_type=event["type"])
            return WebhookResult([], response={"received": True, "ignored": reason})
        return WebhookResult(items)

    # ------------------------------------------------------------------ pull
    async def pull(self, cursor: Any) -> PullResult:
        """List ``/v1/events`` created since the cursor, newest first, a page at a time.

        Cursor: ``{"since": unix time, "seen": [ids created at that second already returned]}``,
        plus ``"page": {"after": id, "top": unix time, "top_ids": [...]}`` while a pass pages on.
        """
        if self.config.api_key is None:
            return PullResult([], cursor, has_more=False)
        state = dict(cursor or {})
        since = int(state.get("since", time.time() - self.config.lookback.total_seconds()))
        seen = set(state.get("seen") or [])
        page = state.get("page") or None
        params = [("limit", str(self.config.page_size)), ("created[gte]", str(since))]
        params += [("types[]", t) for t in self.config.types]
        if page:
            try:
                response = await self._get("/v1/events", params + [("starting_after", page["after"])])
            except PermanentError as exc:
                # the event to page from is gone (Stripe keeps 30 days): start the pass again
                self.context.log.warning("stripe paging restarted", error=str(exc))
                page, response = None, await self._get("/v1/events", params)
        else:
            response = await self._get("/v1/events", params)
        listing = _json(response, "GET /v1/events")
        records = listing.get("data") if isinstance(listing, dict) else None
        has_more = listing.get("has_more") if isinstance(listing, dict) else None
        if not isinstance(records, list) or not isinstance(has_more, bool):
            raise PermanentError("GET /v1/events: the answer is not a Stripe list object")
        top, top_ids = (page["top"], list(page["top_ids"])) if page else (None, [])
        events: list[dict[str, Any]] = []
        rejects: list[Reject] = []
        for record in records:
            rid = record.get("id") if isinstance(record, dict) else None
            created = record.get("created") if isinstance(record, dict) else None
            if isinstance(created, int) and not isinstance(created, bool) and isinstance(rid, str):
                if top is None or created > top:
                    top, top_ids = created, [rid]
                elif created == top:
                    top_ids.append(rid)
            if rid in seen:
                continue  # created in the cursor's second and already returned by the previous pass
            try:
                events.extend(self.map_record(record))
            except ValueError as exc:
                rejects.append(Reject("map", f"stripe event {rid!r}: {exc}", record,
                                      source_id=rid if isinstance(rid, str) else None))
        if has_more and records:
            last = records[-1].get("id") if isinstance(records[-1], dict) else None
            if not isinstance(last, str):
                raise PermanentError("GET /v1/events: the last record of a page has no id to page from")
            next_cursor = {"since": since, "seen": sorted(seen),
                           "page": {"after": last, "top": top, "top_ids": sorted(set(top_ids))}}
            return PullResult(events, next_cursor, has_more=True, rejects=rejects)
        if top is None or top < since:
            new_since, new_seen = since, seen
        elif top == since:
            new_since, new_seen = since, seen | set(top_ids)
        else:
            new_since, new_seen = top, set(top_ids)
        return PullResult(events, {"since": new_since, "seen": sorted(new_seen)}, has_more=False, rejects=rejects)

    # ------------------------------------------------------------------ health
    async def check(self) -> Health:
        if self.config.api_key is None:
            return Health(True, "webhook only: no api_key, so no catch-up pull")
        return await probe(
            self._get("/v1/events", [("limit", "1")], retries=0),
            refused="Stripe refused the API key ({error}): check api_key, a secret key (sk_…) or a restricted key "
                    "(rk_…) with read access to Events",
            unreachable="Stripe API not reachable: {error}")

    @functools.cached_property
    def http(self) -> HttpClient:
        assert self.config.api_key is not None
        key = self.config.api_key
        return self.config.client(lambda: self.context.http, base_url=str(self.config.api_base),
                                  auth_headers=lambda: {"Authorization": f"Bearer {key.get_secret_value()}"},
                                  log=self.context.log)

    async def _get(self, path: str, params: list[tuple[str, str]], *, retries: int | None = None) -> Response:
        return await self.http.request("GET", self.http.url(path), params=params, ok=ANY_2XX, retries=retries)

    # ------------------------------------------------------------------ mapping
    def map_record(self, record: Any) -> list[dict[str, Any]]:
        """Map one Stripe event object (webhook body or list item) to event inputs.

        Returns ``[]`` for events that carry no payment fact (a type not configured, an unpaid
        Checkout Session, a refund update that is not a failure…). Raises ``ValueError`` when
        the record is not a well-formed Stripe event of a mapped type.
        """
        event = _check_event(record)
        if event["type"] not in self.config.types:
            return []
        mapper = _MAPPERS[event["type"]]
        items = mapper(self, event, event["data"]["object"])
        return [items] if isinstance(items, dict) else list(items or [])

    def _envelope(self, event: Mapping[str, Any], type_: str, obj: Mapping[str, Any], data: dict[str, Any], *,
                  email: Any = None, name: Any = None, extra_metadata: Mapping[str, Any] | None = None,
                  enrolment: Any = None) -> dict[str, Any]:
        metadata = {**dict(extra_metadata or {}), **_metadata(obj)}
        keys = self.config.metadata_keys
        enrolment = metadata.get(keys.enrolment) or enrolment
        details = {k: v for k, v in {
            "stripe_object": obj.get("id"), "object_type": obj.get("object"), "enrolment": enrolment,
            "livemode": event.get("livemode"), **(data.pop("details", None) or {}),
        }.items() if v is not None}
        item: dict[str, Any] = {
            "type": type_,
            "occurred_at": dt.datetime.fromtimestamp(event["created"], dt.timezone.utc).isoformat(),
            "source_id": event["id"],
            "data": {**{k: v for k, v in data.items() if v is not None}, "details": details},
        }
        learner = self._learner(obj, metadata, email, name)
        if learner:
            item["learner"] = learner
        action = metadata.get(keys.action)
        if action:
            item["action"] = action
        return item

    def _learner(self, obj: Mapping[str, Any], metadata: Mapping[str, Any], email: Any, name: Any) -> dict | None:
        customer = obj.get("customer")
        customer_id = None
        if isinstance(customer, dict):  # an expanded Customer object
            customer_id = customer.get("id")
            email, name = email or customer.get("email"), name or customer.get("name")
        elif isinstance(customer, str):
            customer_id = customer
        email = email.strip() if isinstance(email, str) and email.strip() else None
        name = name.strip() if isinstance(name, str) and name.strip() else None
        ref = metadata.get(self.config.metadata_keys.learner) or customer_id or email
        if not ref:
            return None
        learner: dict[str, Any] = {"ref": str(ref)}
        if email:
            learner["email"] = email
        if name:
            learner["name"] = name
        if isinstance(customer_id, str) and customer_id:
            learner["ids"] = {"stripe_customer": customer_id}
        return learner

    def _checkout_session(self, event, obj) -> dict | None:
        if obj.get("mode") == "setup" or obj.get("payment_status") != "paid":
            return None  # nothing paid yet (delayed methods end with async_payment_succeeded)
        if (obj.get("mode") == "subscription" or obj.get("invoice")) and "invoice.paid" in self.config.types:
            return None  # the invoice.paid event of this session carries the payment
        currency = _currency(obj)
        customer = obj.get("customer_details") if isinstance(obj.get("customer_details"), dict) else {}
        email = customer.get("email") or obj.get("customer_email")
        data = {"amount": _amount(obj.get("amount_total"), currency, "amount_total"), "currency": currency,
                "payer": email or customer.get("name"), "reference": _id_of(obj.get("payment_intent")) or obj["id"],
                "method": "stripe_checkout",
                "details": {"payment_intent": _id_of(obj.get("payment_intent")), "invoice": _id_of(obj.get("invoice")),
                            "client_reference_id": obj.get("client_reference_id")}}
        return self._envelope(event, "payment.succeeded", obj, data, email=email, name=customer.get("name"),
                              enrolment=obj.get("client_reference_id"))

    def _payment_intent(self, event, obj) -> dict | None:
        if obj.get("invoice") and "invoice.paid" in self.config.types:
            return None  # paid through an invoice: invoice.paid carries it
        currency = _currency(obj)
        received = obj.get("amount_received", obj.get("amount"))
        email = obj.get("receipt_email")
        data = {"amount": _amount(received, currency, "amount_received"), "currency": currency, "payer": email,
                "reference": obj["id"], "method": "stripe_payment_intent",
                "details": {"latest_charge": _id_of(obj.get("latest_charge"))}}
        return self._envelope(event, "payment.succeeded", obj, data, email=email)

    def _invoice(self, event, obj) -> list[dict]:
        """``invoice.paid``: the payment (``payment.succeeded``, as before) and the invoice paid
        (``invoice.paid``, its id the Stripe event's with ``:invoice.paid``)."""
        currency = _currency(obj)
        if _minor(obj.get("amount_paid"), "amount_paid") == 0:
            return []  # nothing was paid (a free trial, a 100 % coupon)
        paid = _amount(obj.get("amount_paid"), currency, "amount_paid")
        payment_intent = _id_of(obj.get("payment_intent")) or _invoice_payment_intent(obj)
        email = obj.get("customer_email")
        data = {"amount": paid, "currency": currency, "payer": email or obj.get("customer_name"),
                "reference": payment_intent or obj["id"], "method": "stripe_invoice",
                "details": {"invoice_number": obj.get("number"), "payment_intent": payment_intent,
                            "subscription": _id_of(obj.get("subscription"))}}
        items = [self._envelope(event, "payment.succeeded", obj, data, email=email, name=obj.get("customer_name"),
                                extra_metadata=_subscription_metadata(obj))]
        transitions = obj.get("status_transitions") if isinstance(obj.get("status_transitions"), dict) else {}
        paid_at = _unix(transitions.get("paid_at"), "status_transitions.paid_at") or event["created"]
        settled = {"number": _invoice_number(obj), "paid_at": dt.datetime.fromtimestamp(paid_at, dt.timezone.utc).isoformat(),
                   "amount": paid, "currency": currency, "method": "stripe_invoice", "reference": payment_intent}
        item = self._envelope(event, "invoice.paid", obj, settled, email=email, name=obj.get("customer_name"),
                              extra_metadata=_subscription_metadata(obj))
        item["source_id"] = f"{event['id']}:invoice.paid"
        return [*items, item]

    def _invoice_finalized(self, event, obj) -> dict:
        """``invoice.finalized``: the invoice as issued (``invoice.issued``): its number, its date (the
        local day of ``effective_at``, else of its finalisation), who pays (metadata ``payer_kind``,
        ``payer_siret``, ``funder``), ``total_excluding_tax`` and ``total``."""
        currency = _currency(obj)
        metadata = {**_subscription_metadata(obj), **_metadata(obj)}
        keys = self.config.metadata_keys
        transitions = obj.get("status_transitions") if isinstance(obj.get("status_transitions"), dict) else {}
        issued = (_unix(obj.get("effective_at"), "effective_at")
                  or _unix(transitions.get("finalized_at"), "status_transitions.finalized_at") or event["created"])
        total = _amount(obj.get("total"), currency, "total")
        excluding = obj.get("total_excluding_tax")
        zone = zoneinfo.ZoneInfo(self.config.invoice_timezone)
        due = _unix(obj.get("due_date"), "due_date")
        data = {"number": _invoice_number(obj),
                "date": dt.datetime.fromtimestamp(issued, zone).date().isoformat(),
                "payer_kind": metadata.get(keys.payer_kind) or self.config.default_payer_kind,
                "payer_name": obj.get("customer_name") or None, "payer_siret": metadata.get(keys.payer_siret),
                "funder": metadata.get(keys.funder),
                "amount_ht": total if excluding is None else _amount(excluding, currency, "total_excluding_tax"),
                "amount_ttc": total, "currency": currency,
                "due_date": dt.datetime.fromtimestamp(due, zone).date().isoformat() if due else None,
                "details": {"hosted_invoice_url": obj.get("hosted_invoice_url"),
                            "subscription": _id_of(obj.get("subscription"))}}
        return self._envelope(event, "invoice.issued", obj, data, email=obj.get("customer_email"),
                              name=obj.get("customer_name"), extra_metadata=_subscription_metadata(obj))

    def _charge_refunded(self, event, obj) -> dict | None:
        currency = _currency(obj)
        total = _minor(obj.get("amount_refunded"), "amount_refunded")
        previous = event["data"].get("previous_attributes")
        refunds = (obj.get("refunds") or {}).get("data") if isinstance(obj.get("refunds"), dict) else None
        latest = max((r for r in refunds or [] if isinstance(r, dict) and isinstance(r.get("created"), int)),
                     key=lambda r: r["created"], default=None)
        if isinstance(previous, dict) and isinstance(previous.get("amount_refunded"), int):
            amount, basis = total - previous["amount_refunded"], "delta"
        elif latest is not None and isinstance(latest.get("amount"), int):
            amount, basis = latest["amount"], "latest_refund"
        else:
            amount, basis = total, "total"
        billing = obj.get("billing_details") if isinstance(obj.get("billing_details"), dict) else {}
        email = billing.get("email") or obj.get("receipt_email")
        data = {"amount": _amount(amount, currency, "refunded amount"), "currency": currency,
                "reference": _id_of(obj.get("payment_intent")) or obj["id"],
                "reason": latest.get("reason") if latest else None,
                "details": {"charge": obj["id"], "refund": latest.get("id") if latest else None,
                            "amount_refunded_total": _amount(total, currency, "amount_refunded"),
                            "amount_basis": basis}}
        return self._envelope(event, "payment.refunded", obj, data, email=email, name=billing.get("name"))

    def _refund_updated(self, event, obj) -> dict | None:
        if obj.get("status") not in ("failed", "canceled"):
            return None
        currency = _currency(obj)
        data = {"amount": _amount(obj.get("amount"), currency, "amount"), "currency": currency,
                "reference": _id_of(obj.get("payment_intent")) or _id_of(obj.get("charge")) or obj["id"],
                "reason": obj.get("failure_reason") or obj["status"],
                "details": {"refund": obj["id"], "charge": _id_of(obj.get("charge")), "status": obj["status"]}}
        return self._envelope(event, "payment.refund_failed", obj, data)


_MAPPERS: dict[str, Callable[[Stripe, dict, dict], dict | list[dict] | None]] = {
    "checkout.session.completed": Stripe._checkout_session,
    "checkout.session.async_payment_succeeded": Stripe._checkout_session,
    "payment_intent.succeeded": Stripe._payment_intent,
    "invoice.finalized": Stripe._invoice_finalized,
    "invoice.paid": Stripe._invoice,
    "charge.refunded": Stripe._charge_refunded,
    "charge.refund.updated": Stripe._refund_updated,
}


# --------------------------------------------------------------------------- helpers


def _header(headers: Mapping[str, str], name: str) -> str | None:
    wanted = name.lower()
    return next((v for k, v in headers.items() if k.lower() == wanted), None)


def _json(response, what: str) -> Any:
    try:
        return orjson.loads(response.body)
    except orjson.JSONDecodeError:
        raise PermanentError(f"{what}: the answer is not JSON") from None


def _check_event(record: Any) -> dict[str, Any]:
    if not isinstance(record, dict):
        raise ValueError("expected a JSON object")
    if record.get("object") not in (None, "event"):
        raise ValueError(f"object is {record.get('object')!r}, not 'event'")
    rid, type_, created = record.get("id"), record.get("type"), record.get("created")
    if not isinstance(rid, str) or not rid:
        raise ValueError("missing event id")
    if not isinstance(type_, str) or not type_:
        raise ValueError("missing event type")
    if not isinstance(created, int) or isinstance(created, bool) or created < 0:
        raise ValueError("created must be a unix time")
    data = record.get("data")
    if not isinstance(data, dict) or not isinstance(data.get("object"), dict):
        raise ValueError("missing data.object")
    if type_ in _MAPPERS and not isinstance(data["object"].get("id"), str):
        raise ValueError("data.object has no id")
    return record


def _metadata(obj: Mapping[str, Any]) -> dict[str, str]:
    metadata = obj.get("metadata")
    if metadata is None:
        return {}
    if not isinstance(metadata, dict):
        raise ValueError("metadata must be an object")
    return {str(k): str(v) for k, v in metadata.items() if v not in (None, "")}


def _subscription_metadata(invoice: Mapping[str, Any]) -> dict[str, Any]:
    for holder in (invoice.get("parent"), invoice):
        details = holder.get("subscription_details") if isinstance(holder, dict) else None
        if isinstance(details, dict) and isinstance(details.get("metadata"), dict):
            return details["metadata"]
    return {}


def _invoice_payment_intent(invoice: Mapping[str, Any]) -> str | None:
    payments = invoice.get("payments")
    for item in (payments.get("data") if isinstance(payments, dict) else None) or []:
        payment = item.get("payment") if isinstance(item, dict) else None
        if isinstance(payment, dict) and payment.get("payment_intent"):
            return _id_of(payment["payment_intent"])
    return None


def _invoice_number(invoice: Mapping[str, Any]) -> str:
    number = invoice.get("number")
    if not isinstance(number, str) or not number:
        raise ValueError("the invoice has no number (a finalized invoice has one)")
    return number


def _unix(value: Any, field: str) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{field} must be a unix time, got {value!r}")
    return value


def _id_of(value: Any) -> str | None:
    if isinstance(value, dict):
        value = value.get("id")
    return value if isinstance(value, str) and value else None


def _currency(obj: Mapping[str, Any]) -> str:
    currency = obj.get("currency")
    if not isinstance(currency, str) or len(currency) != 3 or not currency.isalpha():
        raise ValueError(f"currency must be a three-letter ISO code, got {currency!r}")
    return currency.upper()


def _minor(value: Any, field: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{field} must be a non-negative integer amount in minor units, got {value!r}")
    return value


def _amount(value: Any, currency: str, field: str) -> str:
    """Stripe's integer minor units as a decimal string: 150000 EUR -> "1500.00", 500 JPY -> "500"."""
    minor = _minor(value, field)
    exponent = 0 if currency in ZERO_DECIMAL else 3 if currency in THREE_DECIMAL else 2
    return str(Decimal(minor).scaleb(-exponent))


def amount_to_decimal(value: int, currency: str) -> str:
    """The minor-unit conversion used for every amount (``currency`` in any case)."""
    return _amount(value, currency.upper(), "amount")


@hookimpl
def register_connectors():
    return [Stripe]


@hookimpl
def register_event_types():
    return dict(EVENT_TYPES)


__all__ = ["Stripe", "StripeConfig", "RefundFailed", "compute_signature", "verify_signature", "SignatureError",
           "amount_to_decimal"]
