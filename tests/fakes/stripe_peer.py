"""A fake Stripe API: a real local aiohttp server answering ``GET /v1/events`` as Stripe documents it.

* Bearer authentication with one secret key; a wrong key gets Stripe's 401 error object.
* ``limit`` (1–100, default 10), ``created[gte|gt|lte|lt]``, ``types[]`` (or ``type``),
  ``starting_after``; events newest first; a list object ``{"object": "list", "url",
  "has_more", "data"}``.
* ``script``: statuses answered before the real answers (``(status, retry_after or None)``);
  ``fail_with``: a status answered to every request (with ``Retry-After`` on 429).

Events are shaped after the Stripe API reference (event object, Checkout Session, Invoice,
Charge, Refund); their ``created`` times are relative to the moment the records are built, so
that they fall inside the connector's look-back window.
"""

from __future__ import annotations

import contextlib
import copy
import time
from typing import Any, AsyncIterator

import orjson
from aiohttp import web
from aiohttp.test_utils import TestServer

API_KEY = "sk_test_51Fake0123456789abcdefPARCOURS"


def _event(evt_id: str, type_: str, created: int, obj: dict[str, Any], **extra: Any) -> dict[str, Any]:
    event = {
        "id": evt_id,
        "object": "event",
        "api_version": "2026-10-28.endive",
        "created": created,
        "data": {"object": obj},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": type_,
    }
    event["data"].update(extra.pop("data_extra", {}))
    event.update(extra)
    return event


def checkout_session(cs_id: str, *, amount: int = 150000, currency: str = "eur", payment_status: str = "paid",
                     email: str = "camille.dubois@example.fr", name: str = "Camille Dubois",
                     customer: str | None = "cus_PbWz3nNkqHxa1Q", metadata: dict | None = None,
                     mode: str = "payment", invoice: str | None = None) -> dict[str, Any]:
    return {
        "id": cs_id,
        "object": "checkout.session",
        "amount_subtotal": amount,
        "amount_total": amount,
        "client_reference_id": None,
        "currency": currency,
        "customer": customer,
        "customer_details": {"address": {"city": "Lyon", "country": "FR", "line1": "12 rue de la République",
                                         "line2": None, "postal_code": "69002", "state": None},
                             "email": email, "name": name, "phone": None, "tax_exempt": "none", "tax_ids": []},
        "customer_email": None,
        "expires_at": 1790000000,
        "invoice": invoice,
        "livemode": False,
        "metadata": metadata if metadata is not None else {},
        "mode": mode,
        "payment_intent": "pi_3PbWz4Lkdq0Qs0GF1Xk0xY2a",
        "payment_method_types": ["card", "sepa_debit"],
        "payment_status": payment_status,
        "status": "complete",
        "success_url": "https://formation.example.fr/merci",
        "url": None,
    }


def invoice(in_id: str, *, amount_paid: int = 90000, metadata: dict | None = None) -> dict[str, Any]:
    return {
        "id": in_id,
        "object": "invoice",
        "account_country": "FR",
        "amount_due": amount_paid,
        "amount_paid": amount_paid,
        "amount_remaining": 0,
        "billing_reason": "manual",
        "collection_method": "send_invoice",
        "currency": "eur",
        "customer": "cus_Qx7Ab2cDe3FgHi",
        "customer_email": "jean.martin@example.com",
        "customer_name": "Jean Martin",
        "livemode": False,
        "metadata": metadata if metadata is not None else {},
        "number": "F-2026-0042",
        "paid": True,
        "parent": None,
        "payments": {"object": "list", "data": [
            {"id": "inpay_1Qx7", "object": "invoice_payment", "amount_paid": amount_paid, "currency": "eur",
             "is_default": True, "payment": {"type": "payment_intent", "payment_intent": "pi_3Qx7Ab2Lkdq0Qs0G0aBcDeF1"},
             "status": "paid"}],
            "has_more": False, "url": f"/v1/invoice_payments?invoice={in_id}"},
        "status": "paid",
        "status_transitions": {"finalized_at": 1790000000, "paid_at": 1790003600},
        "total": amount_paid,
    }


def finalized_invoice(in_id: str, *, total: int = 108000, total_excluding_tax: int | None = 90000,
                      metadata: dict | None = None, finalized_at: int = 1790000000) -> dict[str, Any]:
    """An invoice as ``invoice.finalized`` carries it (API reference, the Invoice object): open, not
    paid yet, numbered, with its totals with and without tax and its status transitions."""
    return {
        **invoice(in_id, amount_paid=0, metadata=metadata),
        "amount_due": total, "amount_remaining": total, "paid": False, "payments": {"object": "list", "data": [],
                                                                                  "has_more": False,
                                                                                  "url": f"/v1/invoice_payments?invoice={in_id}"},
        "status": "open", "status_transitions": {"finalized_at": finalized_at, "marked_uncollectible_at": None,
                                                 "paid_at": None, "voided_at": None},
        "effective_at": finalized_at, "due_date": finalized_at + 30 * 86400,
        "subtotal": total_excluding_tax if total_excluding_tax is not None else total,
        "subtotal_excluding_tax": total_excluding_tax, "total": total, "total_excluding_tax": total_excluding_tax,
        "total_taxes": [] if total_excluding_tax is None else [
            {"amount": total - total_excluding_tax, "tax_behavior": "exclusive", "taxability_reason": "standard_rated",
             "taxable_amount": total_excluding_tax, "type": "tax_rate_details"}],
        "hosted_invoice_url": f"https://invoice.stripe.com/i/acct_fake/{in_id}", "customer_tax_ids": [],
    }


def charge(ch_id: str, *, amount: int = 150000, amount_refunded: int = 50000) -> dict[str, Any]:
    return {
        "id": ch_id,
        "object": "charge",
        "amount": amount,
        "amount_captured": amount,
        "amount_refunded": amount_refunded,
        "billing_details": {"address": {"city": None, "country": "FR", "line1": None, "line2": None,
                                        "postal_code": None, "state": None},
                            "email": "camille.dubois@example.fr", "name": "Camille Dubois", "phone": None},
        "captured": True,
        "currency": "eur",
        "customer": "cus_PbWz3nNkqHxa1Q",
        "livemode": False,
        "metadata": {"enrolment": "ENR-2026-0042", "action": "ACT-2026-REACT-01", "learner_ref": "apprenant-01"},
        "paid": True,
        "payment_intent": "pi_3PbWz4Lkdq0Qs0GF1Xk0xY2a",
        "receipt_email": None,
        "refunded": amount_refunded == amount,
        "status": "succeeded",
    }


def refund(re_id: str, *, status: str = "failed", amount: int = 50000) -> dict[str, Any]:
    return {
        "id": re_id,
        "object": "refund",
        "amount": amount,
        "balance_transaction": None,
        "charge": "ch_3PbWz4Lkdq0Qs0GF1a2b3c4d",
        "created": 1790100000,
        "currency": "eur",
        "failure_reason": "expired_or_canceled_card" if status == "failed" else None,
        "metadata": {},
        "payment_intent": "pi_3PbWz4Lkdq0Qs0GF1Xk0xY2a",
        "reason": "requested_by_customer",
        "receipt_number": None,
        "source_transfer_reversal": None,
        "status": status,
        "transfer_reversal": None,
    }


ENROLMENT_METADATA = {"enrolment": "ENR-2026-0042", "action": "ACT-2026-REACT-01", "learner_ref": "apprenant-01"}


def sample_events(now: float | None = None) -> list[dict[str, Any]]:
    """Events of the last day, oldest first (the server answers newest first).

    Mapped by the default configuration: 5 events (2 payments by Checkout, 1 invoice, 1
    refund, 1 failed refund); ignored: an unpaid session; served only when asked:
    ``payment_intent.succeeded``; one malformed record (amount_total is not an integer).
    """
    base = int(now if now is not None else time.time()) - 86400
    return [
        _event("evt_1PbWz5Lkdq0Qs0GFcs1Paid0", "checkout.session.completed", base + 60,
               checkout_session("cs_test_a1PbWz5Lkdq0Qs0GFpaid", metadata=ENROLMENT_METADATA)),
        _event("evt_1PbWz6Lkdq0Qs0GFpi1Succ0", "payment_intent.succeeded", base + 60,
               {"id": "pi_3PbWz4Lkdq0Qs0GF1Xk0xY2a", "object": "payment_intent", "amount": 150000,
                "amount_received": 150000, "currency": "eur", "customer": "cus_PbWz3nNkqHxa1Q",
                "latest_charge": "ch_3PbWz4Lkdq0Qs0GF1a2b3c4d", "metadata": {}, "receipt_email": None,
                "status": "succeeded"}),
        _event("evt_1PbX01Lkdq0Qs0GFcs2Unpd0", "checkout.session.completed", base + 600,
               checkout_session("cs_test_b2PbX01Lkdq0Qs0GFsepa", amount=120000, payment_status="unpaid",
                                email="lea.bernard@example.fr", name="Léa Bernard", customer=None,
                                metadata={"enrolment": "ENR-2026-0043", "action": "ACT-2026-REACT-01"})),
        _event("evt_1PbX02Lkdq0Qs0GFinv1Paid", "invoice.paid", base + 1200,
               invoice("in_1Qx7Ab2cDe3FgHiJkLmN", metadata={"action": "ACT-2026-REACT-02", "enrolment": "ENR-2026-0050"})),
        _event("evt_1PbX03Lkdq0Qs0GFbadAmt00", "checkout.session.completed", base + 1800,
               {**checkout_session("cs_test_c3PbX03Lkdq0Qs0GFbad0"), "amount_total": "150000"}),
        _event("evt_1PbX04Lkdq0Qs0GFcs2Async", "checkout.session.async_payment_succeeded", base + 3600,
               checkout_session("cs_test_b2PbX01Lkdq0Qs0GFsepa", amount=120000, email="lea.bernard@example.fr",
                                name="Léa Bernard", customer=None,
                                metadata={"enrolment": "ENR-2026-0043", "action": "ACT-2026-REACT-01"})),
        _event("evt_1PbX05Lkdq0Qs0GFchRefnd1", "charge.refunded", base + 7200,
               charge("ch_3PbWz4Lkdq0Qs0GF1a2b3c4d", amount_refunded=50000),
               data_extra={"previous_attributes": {"amount_refunded": 0}}),
        _event("evt_1PbX06Lkdq0Qs0GFreFail01", "charge.refund.updated", base + 7200,
               refund("re_3PbWz4Lkdq0Qs0GF0refund1", status="failed")),
    ]


class StripePeer:
    """The fake API. ``url`` is its base URL once started."""

    def __init__(self, events: list[dict[str, Any]] | None = None, *, api_key: str = API_KEY,
                 fail_with: int | None = None):
        self.events = copy.deepcopy(events if events is not None else sample_events())
        self.api_key = api_key
        self.fail_with = fail_with
        self.script: list[tuple[int, str | None]] = []
        self.requests: list[list[tuple[str, str]]] = []
        self.url = ""

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/v1/events", self.list_events)
        return app

    @staticmethod
    def _error(status: int, message: str, type_: str = "invalid_request_error", headers=None) -> web.Response:
        return web.Response(status=status, content_type="application/json", headers=headers or {},
                            body=orjson.dumps({"error": {"message": message, "type": type_}}))

    async def list_events(self, request: web.Request) -> web.Response:
        self.requests.append(list(request.query.items()))
        if self.fail_with is not None:
            headers = {"Retry-After": "120"} if self.fail_with == 429 else {}
            return self._error(self.fail_with, "configured failure", "api_error", headers)
        if self.script:
            status, retry_after = self.script.pop(0)
            return self._error(status, "scripted failure", "api_error",
                               {"Retry-After": retry_after} if retry_after else {})
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return self._error(401, "Invalid API Key provided: sk_test_****")
        query = request.query
        try:
            limit = int(query.get("limit", "10"))
        except ValueError:
            return self._error(400, "Invalid integer: limit")
        if not 1 <= limit <= 100:
            return self._error(400, "limit must be between 1 and 100")
        types = query.getall("types[]", []) or ([query["type"]] if "type" in query else [])
        rows = sorted(enumerate(self.events), key=lambda p: (p[1]["created"], p[0]), reverse=True)
        selected = []
        for _, event in rows:
            created = event.get("created")
            if types and event.get("type") not in types:
                continue
            if isinstance(created, int):
                if "created[gte]" in query and created < int(query["created[gte]"]):
                    continue
                if "created[gt]" in query and created <= int(query["created[gt]"]):
                    continue
                if "created[lte]" in query and created > int(query["created[lte]"]):
                    continue
                if "created[lt]" in query and created >= int(query["created[lt]"]):
                    continue
            selected.append(event)
        after = query.get("starting_after")
        if after is not None:
            ids = [e["id"] for e in selected]
            if after not in ids:
                return self._error(400, f"No such event: '{after}'")
            selected = selected[ids.index(after) + 1:]
        page = selected[:limit]
        return web.json_response({"object": "list", "url": "/v1/events", "has_more": len(selected) > limit,
                                  "data": page})


@contextlib.asynccontextmanager
async def running(peer: StripePeer) -> AsyncIterator[StripePeer]:
    server = TestServer(peer.app())
    await server.start_server()
    peer.url = str(server.make_url("")).rstrip("/")
    try:
        yield peer
    finally:
        await server.close()
