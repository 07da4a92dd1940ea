"""The ``stripe`` connector: contract kit, signatures checked against the official library,
mapping, the catch-up pull against a fake Stripe API, and webhooks through the hub's HTTP server.

(No ``__init__.py`` in this folder on purpose: with one, pytest would put ``tests/connectors`` on
``sys.path`` and this folder, named ``stripe``, would hide the ``stripe`` library.)
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import time

import aiohttp
import orjson
import pytest
from stripe import SignatureVerificationError, Webhook, WebhookSignature

from connectors.stripe import (
    RefundFailed,
    SignatureError,
    Stripe,
    StripeConfig,
    amount_to_decimal,
    compute_signature,
    verify_signature,
)
from hub.connector import WebhookRequest
from hub.errors import AuthError, RateLimitedError, RetryableError, WebhookRejected
from hub.runtime.server import build_app
from hub.testing import close_context, get_connector_test_class, make_context
from tests.conftest import TOKEN
from tests.fakes.stripe_peer import (
    API_KEY,
    StripePeer,
    _event,
    charge,
    checkout_session,
    finalized_invoice,
    invoice,
    running,
    sample_events,
)

SECRET = "whsec_test_0123456789abcdefPARCOURS"
OLD_SECRET = "whsec_test_old_9876543210fedcbaPARCOURS"

WEBHOOK_EVENT = _event(
    "evt_1PbZ99Lkdq0Qs0GFwebhook01", "checkout.session.completed", int(time.time()) - 30,
    checkout_session("cs_test_z9PbZ99Lkdq0Qs0GFhook0",
                     metadata={"enrolment": "ENR-2026-0099", "action": "ACT-2026-REACT-01", "learner_ref": "apprenant-09"}),
)
WEBHOOK_BODY = json.dumps(WEBHOOK_EVENT, indent=2).encode()  # Stripe sends pretty-printed JSON



def signed(body: bytes, *, secret: str = SECRET, at: int | None = None) -> WebhookRequest:
    """A request as Stripe sends it, signed by the official library."""
    header = WebhookSignature.generate_signature_header(body.decode(), secret, timestamp=at)
    return WebhookRequest("POST", "/webhooks/contract", {"Stripe-Signature": header,
                                                         "Content-Type": "application/json; charset=utf-8"}, {}, body)


@contextlib.asynccontextmanager
async def stripe_api(folder=None, **kwargs):
    async with running(StripePeer(**kwargs)) as peer:
        yield {"api_base": peer.url}


CONTRACT_CONFIG = {"webhook_secrets": SECRET, "api_key": API_KEY, "api_base": "http://127.0.0.1:9", "page_size": 3,
                   "retry_backoff": "10ms"}  # in-call retry backoff in milliseconds (Retry-After is still honoured)

TestStripeContract = get_connector_test_class(
    Stripe, CONTRACT_CONFIG,
    pull_peer=lambda folder: stripe_api(),
    failing_peer=lambda status, folder: stripe_api(fail_with=status),
    webhook_body=WEBHOOK_BODY,
    sign_request=signed,
    stale_request=lambda body: signed(body, at=int(time.time()) - 3600),
    extra_event_types={"payment.refund_failed": RefundFailed},
)


def make(tmp_path, **overrides) -> Stripe:
    config = StripeConfig.model_validate({"kind": "stripe", **CONTRACT_CONFIG, **overrides})
    return Stripe("pay", config, make_context(tmp_path, "pay"))


# ---------------------------------------------------------------------------- signatures vs the library


def library_accepts(body: bytes, header: str, secret: str) -> bool:
    try:
        Webhook.construct_event(body, header, secret)
        return True
    except SignatureVerificationError:
        return False


def we_accept(body: bytes, header: str, secrets: list[str]) -> bool:
    try:
        verify_signature(body, header, secrets)
        return True
    except SignatureError:
        return False


def test_library_signed_header_verifies_and_our_header_is_the_librarys():
    now = int(time.time())
    header = WebhookSignature.generate_signature_header(WEBHOOK_BODY.decode(), SECRET, timestamp=now)
    assert verify_signature(WEBHOOK_BODY, header, [SECRET]) == now
    ours = f"t={now},v1={compute_signature(SECRET, now, WEBHOOK_BODY)}"
    assert ours == header
    event = Webhook.construct_event(WEBHOOK_BODY, ours, SECRET)
    assert event.id == WEBHOOK_EVENT["id"] and event.type == "checkout.session.completed"


def rotation_header(body: bytes, at: int) -> str:
    """During a roll, Stripe signs with the new and the old secret: two v1 values."""
    header = WebhookSignature.generate_signature_header(body.decode(), SECRET, timestamp=at)
    return header + ",v1=" + WebhookSignature._compute_signature(f"{at}.{body.decode()}", OLD_SECRET)


@pytest.mark.parametrize("case", ["valid", "rotation", "tampered", "old timestamp", "wrong secret", "future v0 only"])
def test_our_verdict_matches_the_official_library(case):
    now = int(time.time())
    body = WEBHOOK_BODY
    header = WebhookSignature.generate_signature_header(body.decode(), SECRET, timestamp=now)
    if case == "rotation":
        header = rotation_header(body, now)
    elif case == "tampered":
        body = body.replace(b"ENR-2026-0099", b"ENR-2026-0098")
    elif case == "old timestamp":
        header = WebhookSignature.generate_signature_header(body.decode(), SECRET, timestamp=now - 301)
    elif case == "wrong secret":
        header = WebhookSignature.generate_signature_header(body.decode(), "whsec_not_the_secret", timestamp=now)
    elif case == "future v0 only":
        header = header.replace("v1=", "v0=")
    expected = case in ("valid", "rotation")
    secrets = [SECRET] if case != "rotation" else [OLD_SECRET]  # rotation: the hub still has the old secret
    assert library_accepts(body, header, secrets[0]) is expected
    assert we_accept(body, header, secrets) is expected
    if case == "rotation":  # …and also once configured with the new one only, or both
        assert library_accepts(body, header, SECRET) and we_accept(body, header, [SECRET])
        assert we_accept(body, header, [SECRET, OLD_SECRET])


def test_signature_errors_say_why():
    now = int(time.time())
    with pytest.raises(SignatureError, match="missing"):
        verify_signature(WEBHOOK_BODY, None, [SECRET])
    with pytest.raises(SignatureError, match="malformed"):
        verify_signature(WEBHOOK_BODY, "v1=abc", [SECRET])
    with pytest.raises(SignatureError, match="no v1"):
        verify_signature(WEBHOOK_BODY, f"t={now},v0=abc", [SECRET])
    with pytest.raises(SignatureError, match="tolerance"):
        header = WebhookSignature.generate_signature_header(WEBHOOK_BODY.decode(), SECRET, timestamp=now - 3600)
        verify_signature(WEBHOOK_BODY, header, [SECRET])


async def test_rotation_secrets_from_one_reference(tmp_path):
    connector = make(tmp_path, webhook_secrets=f"{SECRET}, {OLD_SECRET}")
    header = rotation_header(WEBHOOK_BODY, int(time.time()))
    result = await connector.handle_webhook(WebhookRequest("POST", "/", {"stripe-signature": header}, {}, WEBHOOK_BODY))
    assert [e["source_id"] for e in result.events] == [WEBHOOK_EVENT["id"]]
    only_old = make(tmp_path, webhook_secrets=[OLD_SECRET])
    old_signed = signed(WEBHOOK_BODY, secret=OLD_SECRET)
    assert (await only_old.handle_webhook(old_signed)).events
    with pytest.raises(WebhookRejected) as raised:
        await make(tmp_path, webhook_secrets=[SECRET]).handle_webhook(old_signed)
    assert raised.value.status == 401


# ---------------------------------------------------------------------------- mapping


def test_checkout_session_maps_metadata_learner_action_and_amount(tmp_path):
    (item,) = make(tmp_path).map_record(WEBHOOK_EVENT)
    assert item["type"] == "payment.succeeded" and item["source_id"] == WEBHOOK_EVENT["id"]
    assert item["learner"] == {"ref": "apprenant-09", "email": "camille.dubois@example.fr", "name": "Camille Dubois",
                               "ids": {"stripe_customer": "cus_PbWz3nNkqHxa1Q"}}
    assert item["action"] == "ACT-2026-REACT-01"
    data = item["data"]
    assert (data["amount"], data["currency"], data["method"]) == ("1500.00", "EUR", "stripe_checkout")
    assert data["reference"] == "pi_3PbWz4Lkdq0Qs0GF1Xk0xY2a"  # refunds of this payment carry the same reference
    assert data["details"]["enrolment"] == "ENR-2026-0099"
    assert data["details"]["stripe_object"] == "cs_test_z9PbZ99Lkdq0Qs0GFhook0"
    assert item["occurred_at"].endswith("+00:00")


@pytest.mark.parametrize("minor,currency,expected", [
    (150000, "eur", "1500.00"), (99, "EUR", "0.99"), (0, "usd", "0.00"), (500, "jpy", "500"), (12345, "KRW", "12345"),
    (1230, "kwd", "1.230"), (100, "XOF", "100"),
])
def test_minor_units_to_decimal(minor, currency, expected):
    assert amount_to_decimal(minor, currency) == expected


def test_learner_falls_back_to_customer_then_email(tmp_path):
    connector = make(tmp_path)
    session = checkout_session("cs_test_1", metadata={})
    (item,) = connector.map_record(_event("evt_1", "checkout.session.completed", 1790000000, session))
    assert item["learner"]["ref"] == "cus_PbWz3nNkqHxa1Q" and "action" not in item
    guest = checkout_session("cs_test_2", customer=None, metadata={})
    (item,) = connector.map_record(_event("evt_2", "checkout.session.completed", 1790000000, guest))
    assert item["learner"] == {"ref": "camille.dubois@example.fr", "email": "camille.dubois@example.fr",
                               "name": "Camille Dubois"}


def test_custom_metadata_keys_and_client_reference_id(tmp_path):
    connector = make(tmp_path, metadata_keys={"learner": "stagiaire", "action": "session"})
    session = {**checkout_session("cs_test_3", metadata={"stagiaire": "S-17", "session": "SES-9"}),
               "client_reference_id": "ENR-77"}
    (item,) = connector.map_record(_event("evt_3", "checkout.session.completed", 1790000000, session))
    assert item["learner"]["ref"] == "S-17" and item["action"] == "SES-9"
    assert item["data"]["details"]["enrolment"] == "ENR-77"


def test_events_without_a_payment_fact_map_to_nothing(tmp_path):
    connector = make(tmp_path)
    unpaid = checkout_session("cs_u", payment_status="unpaid")
    setup = checkout_session("cs_s", mode="setup", payment_status="no_payment_required")
    subscription = checkout_session("cs_sub", mode="subscription", invoice="in_123")
    for obj in (unpaid, setup, subscription):
        assert connector.map_record(_event("evt_x", "checkout.session.completed", 1790000000, obj)) == []
    free = invoice("in_free", amount_paid=0)
    assert connector.map_record(_event("evt_y", "invoice.paid", 1790000000, free)) == []
    pi = {"id": "pi_1", "object": "payment_intent", "amount": 100, "amount_received": 100, "currency": "eur"}
    assert connector.map_record(_event("evt_z", "payment_intent.succeeded", 1790000000, pi)) == []  # not configured
    other = {"id": "cus_1", "object": "customer"}
    assert connector.map_record(_event("evt_w", "customer.created", 1790000000, other)) == []


def test_payment_intents_when_enabled(tmp_path):
    connector = make(tmp_path, types=["payment_intent.succeeded"])
    pi = {"id": "pi_1", "object": "payment_intent", "amount": 100000, "amount_received": 100000, "currency": "eur",
          "customer": "cus_9", "receipt_email": "a@example.org", "metadata": {"action": "ACT-1"}}
    (item,) = connector.map_record(_event("evt_pi", "payment_intent.succeeded", 1790000000, pi))
    assert item["data"]["amount"] == "1000.00" and item["data"]["reference"] == "pi_1"
    assert item["learner"] == {"ref": "cus_9", "email": "a@example.org", "ids": {"stripe_customer": "cus_9"}}
    # a session that also has an invoice is kept when invoice.paid is not listened to
    only_checkout = make(tmp_path, types=["checkout.session.completed"])
    with_invoice = checkout_session("cs_i", invoice="in_1")
    assert only_checkout.map_record(_event("evt_ci", "checkout.session.completed", 1790000000, with_invoice))


def test_invoice_uses_subscription_metadata_and_invoice_payment(tmp_path):
    inv = invoice("in_sub", metadata={})
    inv["parent"] = {"type": "subscription_details",
                     "subscription_details": {"metadata": {"action": "ACT-SUB", "learner_ref": "apprenant-33"},
                                              "subscription": "sub_1"}}
    item, settled = make(tmp_path).map_record(_event("evt_inv", "invoice.paid", 1790000000, inv))
    assert item["action"] == "ACT-SUB" and item["learner"]["ref"] == "apprenant-33"
    assert (settled["action"], settled["learner"]["ref"]) == ("ACT-SUB", "apprenant-33")
    assert item["data"]["reference"] == "pi_3Qx7Ab2Lkdq0Qs0G0aBcDeF1"
    assert item["data"]["details"]["invoice_number"] == "F-2026-0042"


def test_refund_amounts(tmp_path):
    connector = make(tmp_path)
    second = charge("ch_1", amount_refunded=80000)
    (delta,) = connector.map_record(_event("evt_r2", "charge.refunded", 1790000000, second,
                                           data_extra={"previous_attributes": {"amount_refunded": 50000}}))
    assert delta["type"] == "payment.refunded"
    assert (delta["data"]["amount"], delta["data"]["details"]["amount_basis"]) == ("300.00", "delta")
    assert delta["data"]["details"]["amount_refunded_total"] == "800.00"
    listed = {**second, "refunds": {"object": "list", "data": [
        {"id": "re_old", "amount": 50000, "created": 1, "reason": None},
        {"id": "re_new", "amount": 30000, "created": 2, "reason": "requested_by_customer"}]}}
    (latest,) = connector.map_record(_event("evt_r3", "charge.refunded", 1790000000, listed))
    assert (latest["data"]["amount"], latest["data"]["reason"]) == ("300.00", "requested_by_customer")
    (total,) = connector.map_record(_event("evt_r4", "charge.refunded", 1790000000, second))
    assert (total["data"]["amount"], total["data"]["details"]["amount_basis"]) == ("800.00", "total")


def test_refund_updates(tmp_path):
    from tests.fakes.stripe_peer import refund

    connector = make(tmp_path)
    (failed,) = connector.map_record(_event("evt_f", "charge.refund.updated", 1790000000, refund("re_1")))
    assert failed["type"] == "payment.refund_failed"
    assert failed["data"]["reason"] == "expired_or_canceled_card" and failed["data"]["amount"] == "500.00"
    ok = refund("re_2", status="succeeded")
    assert connector.map_record(_event("evt_s", "charge.refund.updated", 1790000000, ok)) == []


@pytest.mark.parametrize("broken", [
    "not an object", {"id": "evt_1"}, {"id": "evt_1", "type": "invoice.paid", "created": "yesterday", "data": {}},
    _event("evt_1", "invoice.paid", 1790000000, {**invoice("in_1"), "amount_paid": -5}),
    _event("evt_1", "invoice.paid", 1790000000, {**invoice("in_1"), "currency": "euro"}),
    _event("evt_1", "invoice.paid", 1790000000, {**invoice("in_1"), "metadata": ["x"]}),
])
def test_malformed_records_raise_value_error(tmp_path, broken):
    with pytest.raises(ValueError):
        make(tmp_path).map_record(broken)


def test_config_validation():
    with pytest.raises(ValueError, match="webhook_secrets"):
        StripeConfig.model_validate({"kind": "stripe"})
    with pytest.raises(ValueError, match="unsupported Stripe event types"):
        StripeConfig.model_validate({"kind": "stripe", "api_key": "sk", "types": ["charge.succeeded"]})
    with pytest.raises(ValueError, match="30d"):
        StripeConfig.model_validate({"kind": "stripe", "api_key": "sk", "lookback": "60d"})
    config = StripeConfig.model_validate({"kind": "stripe", "webhook_secrets": "whsec_a\nwhsec_b"})
    assert [s.get_secret_value() for s in config.webhook_secrets] == ["whsec_a", "whsec_b"]
    assert "whsec_a" not in repr(config)


def test_http_settings_defaults_and_the_former_max_attempts_key():
    config = StripeConfig.model_validate({"kind": "stripe", "api_key": "sk"})
    assert (config.timeout, config.retries, config.retry_backoff, config.retry_max_wait) == (
        dt.timedelta(seconds=20), 2, dt.timedelta(milliseconds=500), dt.timedelta(seconds=30))
    assert StripeConfig.model_validate({"kind": "stripe", "api_key": "sk", "max_attempts": 5}).retries == 4
    with pytest.raises(ValueError, match="give 'retries' only: 'max_attempts' is its former name"):
        StripeConfig.model_validate({"kind": "stripe", "api_key": "sk", "max_attempts": 5, "retries": 1})
    with pytest.raises(ValueError, match="greater than or equal to 0"):
        StripeConfig.model_validate({"kind": "stripe", "api_key": "sk", "max_attempts": 0})


# ---------------------------------------------------------------------------- webhook (connector level)


async def test_webhook_rejections(tmp_path):
    connector = make(tmp_path)
    cases = {
        "no header": (WebhookRequest("POST", "/", {}, {}, WEBHOOK_BODY), 401),
        "tampered": (WebhookRequest("POST", "/", signed(WEBHOOK_BODY).headers, {}, WEBHOOK_BODY + b"\n"), 401),
        "replayed": (signed(WEBHOOK_BODY, at=int(time.time()) - 600), 401),
        "not json": (signed(b"{not json"), 400),
        "not an event": (signed(b'{"id": "evt_1", "object": "event"}'), 400),
        "bad amount": (signed(orjson.dumps(_event("evt_b", "invoice.paid", 1790000000,
                                                  {**invoice("in_b"), "amount_paid": "9"}))), 400),
    }
    for name, (request, status) in cases.items():
        with pytest.raises(WebhookRejected) as raised:
            await connector.handle_webhook(request)
        assert raised.value.status == status, name
        assert SECRET not in str(raised.value)


async def test_webhook_of_an_unmapped_type_is_acknowledged(tmp_path):
    body = orjson.dumps(_event("evt_c", "customer.created", int(time.time()), {"id": "cus_1", "object": "customer"}))
    result = await make(tmp_path).handle_webhook(signed(body))
    assert result.events == [] and result.response["ignored"].startswith("event evt_c (customer.created)")


# ---------------------------------------------------------------------------- catch-up pull


async def sync(connector: Stripe, cursor=None):
    pages = []
    while True:
        page = await connector.pull(cursor)
        pages.append(page)
        cursor = json.loads(json.dumps(page.cursor))
        if not page.has_more:
            return pages, cursor


async def test_pull_lists_events_pages_and_rejects_malformed_records(tmp_path):
    async with running(StripePeer()) as peer:
        connector = make(tmp_path, api_base=peer.url, page_size=2)
        try:
            pages, cursor = await sync(connector)
        finally:
            await close_context(connector.context)
    events = [e for p in pages for e in p.events]
    rejects = [r for p in pages for r in p.rejects]
    assert [e["source_id"] for e in events] == [
        "evt_1PbX06Lkdq0Qs0GFreFail01", "evt_1PbX05Lkdq0Qs0GFchRefnd1", "evt_1PbX04Lkdq0Qs0GFcs2Async",
        "evt_1PbX02Lkdq0Qs0GFinv1Paid", "evt_1PbX02Lkdq0Qs0GFinv1Paid:invoice.paid", "evt_1PbWz5Lkdq0Qs0GFcs1Paid0"]
    assert [e["type"] for e in events] == ["payment.refund_failed", "payment.refunded", "payment.succeeded",
                                           "payment.succeeded", "invoice.paid", "payment.succeeded"]
    assert [e["data"]["amount"] for e in events] == ["500.00", "500.00", "1200.00", "900.00", "900.00", "1500.00"]
    (reject,) = rejects
    assert reject.stage == "map" and reject.source_id == "evt_1PbX03Lkdq0Qs0GFbadAmt00"
    assert reject.payload["data"]["object"]["amount_total"] == "150000"  # the original record, for replay
    assert "amount_total" in reject.error
    first = peer.requests[0]
    assert ("limit", "2") in first and any(k == "created[gte]" for k, _ in first)
    assert sorted(v for k, v in first if k == "types[]") == sorted(StripeConfig.model_fields["types"].default_factory())
    assert all(("starting_after" in dict(q)) for q in peer.requests[1:])
    newest = max(e["created"] for e in sample_events())
    assert cursor == {"since": cursor["since"], "seen": ["evt_1PbX05Lkdq0Qs0GFchRefnd1", "evt_1PbX06Lkdq0Qs0GFreFail01"]}
    assert abs(cursor["since"] - newest) <= 5


async def test_pull_resumes_after_downtime_without_repeats(tmp_path):
    peer = StripePeer()
    async with running(peer):
        connector = make(tmp_path, api_base=peer.url, page_size=3)
        try:
            _, cursor = await sync(connector)
            # while the hub was down, two more events happened, one in the cursor's own second
            since = cursor["since"]
            peer.events.append(_event("evt_late_same_second", "checkout.session.completed", since,
                                      checkout_session("cs_late_1")))
            peer.events.append(_event("evt_late_after", "invoice.paid", since + 100, invoice("in_late")))
            pages, cursor2 = await sync(connector, cursor)
            again, _ = await sync(connector, cursor2)
        finally:
            await close_context(connector.context)
    assert sorted(e["source_id"] for p in pages for e in p.events) == [
        "evt_late_after", "evt_late_after:invoice.paid", "evt_late_same_second"]
    assert [e for p in again for e in p.events] == []
    assert cursor2["since"] == since + 100


async def test_pull_restarts_a_pass_whose_paging_event_is_gone(tmp_path):
    async with running(StripePeer()) as peer:
        connector = make(tmp_path, api_base=peer.url, page_size=100)
        try:
            stale_cursor = {"since": 0, "seen": [], "page": {"after": "evt_expired_long_ago", "top": 1, "top_ids": []}}
            page = await connector.pull(stale_cursor)
        finally:
            await close_context(connector.context)
    assert len(page.events) == 6 and not page.has_more  # the paid invoice is a payment and an invoice.paid
    assert dict(peer.requests[0])["starting_after"] == "evt_expired_long_ago"
    assert "starting_after" not in dict(peer.requests[1])


async def test_pull_retries_429_and_5xx_honouring_retry_after(tmp_path):
    peer = StripePeer()
    peer.script = [(429, "1"), (503, None)]
    async with running(peer):
        connector = make(tmp_path, api_base=peer.url, page_size=100)
        try:
            started = time.monotonic()
            page = await connector.pull(None)
            elapsed = time.monotonic() - started
        finally:
            await close_context(connector.context)
    assert len(page.events) == 6 and len(peer.requests) == 3
    assert elapsed >= 1.0, "the 429's Retry-After: 1 was not waited for"


async def test_pull_gives_up_after_its_retries_and_on_long_retry_after(tmp_path):
    peer = StripePeer()
    async with running(peer):
        connector = make(tmp_path, api_base=peer.url, retries=1)
        try:
            peer.script = [(500, None)] * 2
            with pytest.raises(RetryableError):
                await connector.pull(None)
            assert len(peer.requests) == 2
            peer.script = [(429, "3600")]
            with pytest.raises(RateLimitedError) as raised:
                await connector.pull(None)
            assert raised.value.retry_after == 3600 and len(peer.requests) == 3  # not waited for in-call
        finally:
            await close_context(connector.context)


async def test_invalid_api_key_is_an_auth_error_and_check_says_so(tmp_path):
    async with running(StripePeer()) as peer:
        connector = make(tmp_path, api_base=peer.url, api_key="sk_test_revoked_0000000000")
        try:
            health = await connector.check()
            with pytest.raises(AuthError):
                await connector.pull(None)
            assert len(peer.requests) == 2, "an auth error is not retried in-call"
        finally:
            await close_context(connector.context)
    assert not health.ok
    assert "Stripe refused the API key" in health.message and "HTTP 401" in health.message
    assert "sk_test_revoked" not in health.message


async def test_check_unreachable_and_webhook_only(tmp_path):
    connector = make(tmp_path, api_base="http://127.0.0.1:9", retries=0)
    try:
        health = await connector.check()
    finally:
        await close_context(connector.context)
    assert not health.ok and "not reachable" in health.message
    webhook_only = make(tmp_path, api_key=None)
    assert (await webhook_only.check()).ok
    page = await webhook_only.pull({"since": 5, "seen": []})
    assert page.events == [] and page.cursor == {"since": 5, "seen": []} and not page.has_more


# ---------------------------------------------------------------------------- through the hub


HUB_CONFIG = """
connectors:
  stripe-main:
    kind: stripe
    webhook_secrets: "${file:secrets/stripe-webhook}"
    api_key: "${file:secrets/stripe-key}"
    api_base: "%s"
    page_size: 3
    retry_backoff: 10ms
"""


@pytest.fixture
async def served(make_hub, aiohttp_server_factory, workdir):
    (workdir / "secrets" / "stripe-webhook").write_text(f"{SECRET}\n{OLD_SECRET}\n")
    (workdir / "secrets" / "stripe-key").write_text(API_KEY + "\n")
    async with running(StripePeer()) as peer:
        hub = await make_hub(HUB_CONFIG % peer.url)
        server = await aiohttp_server_factory(build_app(hub))
        async with aiohttp.ClientSession(base_url=f"http://127.0.0.1:{server.port}") as client:
            yield hub, client, peer


async def stored(hub) -> int:
    return await hub.store.call(hub.store.count_events)


async def post(client, body: bytes, header: str | None):
    headers = {"Content-Type": "application/json"}
    if header is not None:
        headers["Stripe-Signature"] = header
    async with client.post("/webhooks/stripe-main", data=body, headers=headers) as response:
        return response.status, await response.json()


async def test_hub_refuses_bad_signatures_and_bodies_and_stores_nothing(served):
    hub, client, _ = served
    now = int(time.time())
    wrong = WebhookSignature.generate_signature_header(WEBHOOK_BODY.decode(), "whsec_forged", timestamp=now)
    replayed = WebhookSignature.generate_signature_header(WEBHOOK_BODY.decode(), SECRET, timestamp=now - 3600)
    tampered = WEBHOOK_BODY.replace(b"150000", b"15000")
    good_header = WebhookSignature.generate_signature_header(WEBHOOK_BODY.decode(), SECRET, timestamp=now)
    for body, header in [(WEBHOOK_BODY, None), (WEBHOOK_BODY, wrong), (WEBHOOK_BODY, replayed), (tampered, good_header)]:
        status, answer = await post(client, body, header)
        assert status == 401, answer
    malformed = b'{"id": "evt_1", "object": "event", "type": "invoice.paid"'
    status, answer = await post(client, malformed, WebhookSignature.generate_signature_header(malformed.decode(), SECRET))
    assert status == 400 and "not JSON" in answer["error"]
    assert await stored(hub) == 0
    assert not list((hub.blobs.root).rglob("*")) or all(p.is_dir() for p in hub.blobs.root.rglob("*"))


async def test_hub_ingests_signed_webhook_once_and_the_pull_dedupes_it(served):
    hub, client, peer = served
    header = rotation_header(WEBHOOK_BODY, int(time.time()))
    status, first = await post(client, WEBHOOK_BODY, header)
    assert status == 200 and len(first["ids"]) == 1
    status, again = await post(client, WEBHOOK_BODY, header)  # Stripe retries a delivery
    assert status == 200 and again["ids"] == first["ids"]
    row = await hub.store.call(hub.store.get_event, first["ids"][0])
    assert row["type"] == "payment.succeeded" and row["source_id"] == WEBHOOK_EVENT["id"]
    assert row["learner"]["ids"] == {"stripe_customer": "cus_PbWz3nNkqHxa1Q"}
    (evidence,) = row["evidence"]
    assert hub.blobs.get(evidence["sha256"]) == WEBHOOK_BODY
    # the same event is also in the events list after downtime: the catch-up pull does not duplicate it
    peer.events.append(WEBHOOK_EVENT)
    summary = await hub.pull("stripe-main")
    assert summary.ok, summary.error
    assert (summary.appended, summary.duplicates, summary.rejected) == (6, 1, 1)
    assert await stored(hub) == 7
    again = await hub.pull("stripe-main")
    assert (again.appended, again.duplicates) == (0, 0)


async def test_hub_readiness_reports_a_revoked_key(served):
    hub, client, peer = served
    peer.api_key = "sk_test_rotated_elsewhere"
    async with client.get("/readyz") as response:  # public: the state only
        assert (await response.json())["connectors"]["stripe-main"] == {"ok": False}
    async with client.get("/readyz", headers={"Authorization": f"Bearer {TOKEN}"}) as response:
        ready = await response.json()
    assert ready["status"] == "degraded"
    assert "Stripe refused the API key" in ready["connectors"]["stripe-main"]["message"]


# ---------------------------------------------------------------------------- invoices


def test_a_finalized_invoice_is_an_invoice_issued(tmp_path):
    from hub.events import EventTypeRegistry

    metadata = {"learner_ref": "apprenant-05", "action": "ACT-2026-REACT-01", "payer_kind": "employer",
                "payer_siret": "81204567800016"}
    # 23:30 UTC on 31 October is 1 November in Paris (CET): the invoice is dated in the account's time zone
    at = int(dt.datetime(2026, 10, 31, 23, 30, tzinfo=dt.timezone.utc).timestamp())
    event = _event("evt_1PbX07Lkdq0Qs0GFinvFinal", "invoice.finalized", at,
                   finalized_invoice("in_1Qx8", metadata=metadata, finalized_at=at))
    (item,) = make(tmp_path).map_record(event)
    assert item["type"] == "invoice.issued" and item["source_id"] == "evt_1PbX07Lkdq0Qs0GFinvFinal"
    assert (item["learner"]["ref"], item["action"]) == ("apprenant-05", "ACT-2026-REACT-01")
    data = item["data"]
    assert {k: data[k] for k in ("number", "date", "payer_kind", "payer_name", "payer_siret", "amount_ht", "amount_ttc",
                                 "currency", "due_date")} == {
        "number": "F-2026-0042", "date": "2026-11-01", "payer_kind": "employer", "payer_name": "Jean Martin",
        "payer_siret": "81204567800016", "amount_ht": "900.00", "amount_ttc": "1080.00", "currency": "EUR",
        "due_date": "2026-12-01"}
    (valid,) = EventTypeRegistry().validate_batch([item])
    assert valid["data"].amount_ht == 900
    # no metadata: an individual pays; no tax computed: HT is the total
    (plain,) = make(tmp_path).map_record(_event("evt_p", "invoice.finalized", at,
                                                finalized_invoice("in_p", total_excluding_tax=None)))
    assert (plain["data"]["payer_kind"], plain["data"]["amount_ht"], plain["data"]["amount_ttc"]) == ("self", "1080.00",
                                                                                                       "1080.00")
    unnumbered = {**finalized_invoice("in_n"), "number": None}
    with pytest.raises(ValueError, match="no number"):
        make(tmp_path).map_record(_event("evt_n", "invoice.finalized", at, unnumbered))


def test_a_paid_invoice_is_a_payment_and_an_invoice_paid(tmp_path):
    from hub.events import EventTypeRegistry

    payment, settled = make(tmp_path).map_record(_event("evt_paid", "invoice.paid", 1790003700, invoice("in_1Qx7")))
    assert payment["type"] == "payment.succeeded" and payment["source_id"] == "evt_paid"
    assert settled["type"] == "invoice.paid" and settled["source_id"] == "evt_paid:invoice.paid"
    assert {k: settled["data"][k] for k in ("number", "paid_at", "amount", "reference")} == {
        "number": "F-2026-0042", "paid_at": "2026-09-21T15:13:20+00:00", "amount": "900.00",
        "reference": "pi_3Qx7Ab2Lkdq0Qs0G0aBcDeF1"}
    EventTypeRegistry().validate_batch([payment, settled])


async def test_hub_stores_a_signed_invoice_finalized_as_invoice_issued(served):
    hub, client, _ = served
    metadata = {"learner_ref": "apprenant-05", "action": "ACT-2026-REACT-01", "payer_kind": "opco",
                "funder": "opco-atlas", "payer_siret": "44101234500018"}  # a wrong check digit
    bad = json.dumps(_event("evt_inv_bad", "invoice.finalized", int(time.time()) - 30,
                            finalized_invoice("in_bad", metadata=metadata))).encode()
    status, answer = await post(client, bad, rotation_header(bad, int(time.time())))
    assert status == 400 and "data.payer_siret" in json.dumps(answer)
    metadata["payer_siret"] = "44101234500019"
    body = json.dumps(_event("evt_inv_ok", "invoice.finalized", int(time.time()) - 30,
                             finalized_invoice("in_ok", metadata=metadata))).encode()
    status, answer = await post(client, body, rotation_header(body, int(time.time())))
    assert status == 200, answer
    row = await hub.store.call(hub.store.get_event, answer["ids"][0])
    assert row["type"] == "invoice.issued" and row["data"]["payer_kind"] == "opco"
    assert (row["data"]["number"], row["data"]["amount_ht"], row["data"]["funder"]) == ("F-2026-0042", "900.00",
                                                                                        "opco-atlas")
