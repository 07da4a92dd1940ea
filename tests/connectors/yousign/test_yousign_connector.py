"""The ``yousign`` connector: contract kit, signature checks, tagging, evidence downloads against a
fake Yousign API v3, failures, and webhooks through the hub's HTTP server.

(No ``__init__.py`` here, like tests/connectors/stripe: module names are kept unique instead.)
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import io
import time
import zipfile

import aiohttp
import orjson
import pytest

from connectors.yousign import TagRule, Yousign, YousignConfig, compute_signature, verify_signature
from hub.connector import WebhookRequest
from hub.errors import AuthError, RateLimitedError, RetryableError, WebhookRejected
from hub.runtime.server import build_app
from hub.testing import close_context, get_connector_test_class, make_context
from tests.conftest import TOKEN
from tests.fakes.yousign_peer import (
    ACTION,
    AGREEMENT,
    API_KEY,
    ATTENDANCE,
    LEARNER_1,
    STAFF,
    TERMS,
    TRAINER,
    UNTAGGED,
    YousignPeer,
    running,
    webhook,
)

SECRET = "ys_whsec_0123456789abcdefPARCOURS"
OTHER_SECRET = "ys_whsec_second_subscription_9876543210"

ATTENDANCE_BODY = orjson.dumps(webhook("signer.done", ATTENDANCE, LEARNER_1))



def signed(body: bytes, secret: str = SECRET) -> WebhookRequest:
    # computed here independently of the connector, as Yousign documents it
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return WebhookRequest("POST", "/webhooks/contract", {"X-Yousign-Signature-256": f"sha256={digest}",
                                                         "X-Yousign-Retry": "0", "Content-Type": "application/json",
                                                         "User-Agent": "Yousign Webhook Bot"}, {}, body)


def stale(body: bytes) -> WebhookRequest:
    payload = orjson.loads(body)
    payload["event_time"] = str(int(time.time()) - 30 * 86400)
    return signed(orjson.dumps(payload))


@contextlib.asynccontextmanager
async def yousign_api(**kwargs):
    async with running(YousignPeer(**kwargs)) as peer:
        yield {"api_base": peer.url}


CONFIG = {"api_key": API_KEY, "webhook_secrets": SECRET, "api_base": "http://127.0.0.1:9/v3", "staff_emails": STAFF,
          "retry_backoff": "10ms"}  # in-call retry backoff in milliseconds (Retry-After is still honoured)

TestYousignContract = get_connector_test_class(
    Yousign, CONFIG,
    webhook_peer=lambda folder: yousign_api(),
    webhook_body=ATTENDANCE_BODY,
    sign_request=signed,
    stale_request=stale,
)


@contextlib.asynccontextmanager
async def connector_on_peer(tmp_path, peer: YousignPeer | None = None, **overrides):
    peer = peer or YousignPeer()
    async with running(peer):
        config = YousignConfig.model_validate({"kind": "yousign", **CONFIG, "api_base": peer.url, **overrides})
        connector = Yousign("sign", config, make_context(tmp_path, "sign"))
        try:
            yield connector, peer
        finally:
            await close_context(connector.context)


# ---------------------------------------------------------------------------- signatures


def test_signature_scheme_and_rotation():
    body = ATTENDANCE_BODY
    header = compute_signature(SECRET, body)
    assert header == "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert verify_signature(body, header, [SECRET])
    assert verify_signature(body, header, [OTHER_SECRET, SECRET])
    assert not verify_signature(body + b" ", header, [SECRET])
    assert not verify_signature(body, header, [OTHER_SECRET])
    assert not verify_signature(body, header.removeprefix("sha256="), [SECRET])
    assert not verify_signature(body, None, [SECRET])


async def test_rejections_happen_before_any_api_call(tmp_path):
    async with connector_on_peer(tmp_path) as (connector, peer):
        cases = {
            "no signature": (WebhookRequest("POST", "/", {}, {}, ATTENDANCE_BODY), 401),
            "wrong secret": (signed(ATTENDANCE_BODY, "not-the-secret"), 401),
            "tampered": (WebhookRequest("POST", "/", signed(ATTENDANCE_BODY).headers, {},
                                        ATTENDANCE_BODY.replace(b"Camille", b"Camilla")), 401),
            "replayed a month later": (stale(ATTENDANCE_BODY), 401),
            "not json": (signed(b"{not json"), 400),
            "a list": (signed(b"[]"), 400),
            "no event_time": (signed(orjson.dumps({**orjson.loads(ATTENDANCE_BODY), "event_time": None})), 400),
            "no signer": (signed(orjson.dumps(webhook("signer.done", ATTENDANCE))), 400),
            "no request id": (signed(orjson.dumps({**orjson.loads(ATTENDANCE_BODY), "data": {"signer": {"id": "x"}}})),
                              400),
        }
        for name, (request, status) in cases.items():
            with pytest.raises(WebhookRejected) as raised:
                await connector.handle_webhook(request)
            assert raised.value.status == status, name
            assert SECRET not in str(raised.value) and API_KEY not in str(raised.value)
        assert peer.requests == []


# ---------------------------------------------------------------------------- mapping and evidence


async def test_attendance_signer_done_maps_and_stores_pdf_evidence(tmp_path):
    async with connector_on_peer(tmp_path) as (connector, peer):
        result = await connector.handle_webhook(signed(ATTENDANCE_BODY))
    (item,) = result.events
    assert item["type"] == "attendance.signed"
    assert item["source_id"] == f"signer:{ATTENDANCE['id']}:{LEARNER_1['id']}"
    assert item["action"] == ACTION
    assert item["learner"] == {"ref": "camille.dubois@example.fr", "email": "camille.dubois@example.fr",
                               "name": "Camille Dubois"}
    data = item["data"]
    assert (data["date"], data["half_day"], data["modality"], data["signer"]) == ("2026-10-05", "am", "presentiel",
                                                                                  "learner")
    assert data["signer_name"] == "Camille Dubois" and data["proof"] == "yousign electronic_signature (otp_email)"
    assert data["signed_at"] == item["occurred_at"]
    assert data["details"]["signature_request"] == ATTENDANCE["id"]
    documents, trail = item["evidence"]
    assert documents["media_type"] == "application/pdf" and documents["name"].endswith("-documents.pdf")
    assert trail["name"] == f"yousign-{ATTENDANCE['id']}-audit-trail-{LEARNER_1['id']}.pdf"
    for ref in (documents, trail):
        content = connector.context.blobs.get(ref["sha256"])
        assert content.startswith(b"%PDF-") and len(content) == ref["size"]
    paths = [p for p, _ in peer.requests]
    assert paths == [f"/v3/signature_requests/{ATTENDANCE['id']}",
                     f"/v3/signature_requests/{ATTENDANCE['id']}/documents/download",
                     f"/v3/signature_requests/{ATTENDANCE['id']}/signers/{LEARNER_1['id']}/audit_trails/download"]
    assert peer.requests[1][1] == {}  # the request is ongoing: the current version


async def test_trainer_signature_is_a_trainer_attendance(tmp_path):
    body = orjson.dumps(webhook("signer.done", ATTENDANCE, {"id": TRAINER["id"]}))  # no info: fetched
    async with connector_on_peer(tmp_path) as (connector, peer):
        (item,) = (await connector.handle_webhook(signed(body))).events
    assert item["data"]["signer"] == "trainer" and item["data"]["signer_name"] == "Marc Petit"
    assert "learner" not in item
    assert f"/v3/signature_requests/{ATTENDANCE['id']}/signers/{TRAINER['id']}" in [p for p, _ in peer.requests]


async def test_terms_accepted_with_completed_documents(tmp_path):
    body = orjson.dumps(webhook("signer.done", TERMS, LEARNER_1))
    async with connector_on_peer(tmp_path) as (connector, peer):
        (item,) = (await connector.handle_webhook(signed(body))).events
    assert item["type"] == "enrolment.terms_accepted"
    assert item["learner"]["ref"] == "apprenant-01" and item["learner"]["email"] == "camille.dubois@example.fr"
    assert item["data"]["document"] == "CGV 2026" and item["action"] == ACTION
    assert peer.requests[1] == (f"/v3/signature_requests/{TERMS['id']}/documents/download", {"version": "completed"})


async def test_agreement_on_request_done_with_zip_and_merged_audit_trail(tmp_path):
    body = orjson.dumps(webhook("signature_request.done", AGREEMENT))
    async with connector_on_peer(tmp_path) as (connector, peer):
        (item,) = (await connector.handle_webhook(signed(body))).events
        documents, trail = item["evidence"]
        archive = connector.context.blobs.get(documents["sha256"])
    assert item["type"] == "enrolment.agreement_signed"
    assert item["source_id"] == f"signature_request:{AGREEMENT['id']}"
    assert item["data"]["agreement_type"] == "convention"
    assert item["data"]["reference"] == "Convention de formation ENR-2026-0042"
    assert item["data"]["signed_by"] == "Jean Martin, Camille Dubois, Sophie Leroy"
    assert item["learner"] == {"ref": "apprenant-01"}  # two non-staff signers: the tag names the learner
    assert documents["media_type"] == "application/zip" and documents["name"].endswith(".zip")
    with zipfile.ZipFile(io.BytesIO(archive)) as opened:
        assert all(opened.read(n).startswith(b"%PDF-") for n in opened.namelist()) and len(opened.namelist()) == 2
    assert trail["media_type"] == "application/pdf"
    assert (f"/v3/signature_requests/{AGREEMENT['id']}/audit_trails/download", {"merge": "true"}) in peer.requests


@pytest.mark.parametrize("payload,reason", [
    (webhook("signer.done", UNTAGGED, TRAINER), "carries no tag"),
    (webhook("signer.done", AGREEMENT, LEARNER_1), "recorded on signature_request.done"),
    (webhook("signature_request.done", TERMS), "signer by signer"),
    (webhook("signer.done", TERMS, {**LEARNER_1, "info": {**LEARNER_1["info"], "email": "direction@of-exemple.fr"}}),
     "organisation's own signature"),
    (webhook("signature_request.activated", ATTENDANCE), "is not used"),
    (webhook("signer.done", ATTENDANCE, LEARNER_1, sandbox=True), "sandbox event"),
])
async def test_genuine_events_without_evidence_are_acknowledged(tmp_path, payload, reason):
    async with connector_on_peer(tmp_path) as (connector, peer):
        result = await connector.handle_webhook(signed(orjson.dumps(payload)))
    assert result.events == [] and reason in result.response["ignored"]
    assert not any("download" in p for p, _ in peer.requests)


def test_tag_rules():
    config = YousignConfig.model_validate({**CONFIG, "kind": "yousign", "tags": [
        {"kind": "attendance", "field": "name", "pattern": r"^Feuille (?P<date>\d{4}-\d{2}-\d{2}) (?P<half_day>am|pm)"
                                                           r" (?P<action>\S+)$", "modality": "distanciel_synchrone"},
        {"kind": "terms", "pattern": r"^CGV-(?P<document>v\d+)$"},
    ]})
    connector = Yousign("sign", config, None)
    tag = connector.tag_of({"name": "Feuille 2026-10-06 pm ACT-9", "external_id": "whatever"})
    assert tag.rule.kind == "attendance" and tag.groups == {"date": "2026-10-06", "half_day": "pm", "action": "ACT-9"}
    assert connector.tag_of({"name": "x", "external_id": "CGV-v3"}).groups == {"document": "v3"}
    assert connector.tag_of({"name": "x", "external_id": None}) is None
    with pytest.raises(ValueError, match="date"):
        TagRule.model_validate({"kind": "attendance", "pattern": "^em:(?P<action>.+)$"})
    with pytest.raises(ValueError, match="unknown named groups"):
        TagRule.model_validate({"kind": "terms", "pattern": "^(?P<who>.+)$"})
    with pytest.raises(ValueError, match="invalid pattern"):
        TagRule.model_validate({"kind": "terms", "pattern": "(unclosed"})
    default = Yousign("sign", YousignConfig.model_validate({**CONFIG, "kind": "yousign"}), None)
    assert default.tag_of(ATTENDANCE).groups == {"action": ACTION, "date": "2026-10-05", "half_day": "am"}
    assert default.tag_of(AGREEMENT).groups == {"agreement_type": "convention", "action": ACTION,
                                                "learner": "apprenant-01"}


def test_config():
    config = YousignConfig.model_validate({"kind": "yousign", "api_key": "k", "webhook_secrets": "sec-one, sec-two",
                                           "staff_emails": [" Direction@OF.fr "]})
    assert config.base_url == "https://api.yousign.app/v3" and config.staff_emails == ["direction@of.fr"]
    assert [s.get_secret_value() for s in config.webhook_secrets] == ["sec-one", "sec-two"]
    assert "sec-one" not in repr(config)
    sandbox = YousignConfig.model_validate({"kind": "yousign", "api_key": "k", "webhook_secrets": "a", "sandbox": True})
    assert sandbox.base_url == "https://api-sandbox.yousign.app/v3"
    with pytest.raises(ValueError, match="at least one webhook secret"):
        YousignConfig.model_validate({"kind": "yousign", "api_key": "k", "webhook_secrets": ""})


# ---------------------------------------------------------------------------- failures of the API


async def test_429_and_5xx_are_retried_honouring_retry_after(tmp_path):
    peer = YousignPeer()
    peer.script = [(429, "1"), (502, None)]
    async with connector_on_peer(tmp_path, peer) as (connector, _):
        started = time.monotonic()
        result = await connector.handle_webhook(signed(ATTENDANCE_BODY))
        elapsed = time.monotonic() - started
    assert len(result.events) == 1 and len(peer.requests) == 5
    assert elapsed >= 1.0


@pytest.mark.parametrize("status,error", [(503, RetryableError), (429, RateLimitedError), (401, AuthError)])
async def test_api_failures_raise_the_taxonomy_so_the_hub_answers_503(tmp_path, status, error):
    async with connector_on_peer(tmp_path, YousignPeer(fail_with=status), retries=1) as (connector, peer):
        with pytest.raises(error) as raised:
            await connector.handle_webhook(signed(ATTENDANCE_BODY))
    assert API_KEY not in str(raised.value)
    assert len(peer.requests) == (2 if status == 503 else 1)  # 429 asks for 120 s: left to Yousign's retry


async def test_check_and_an_invalid_key(tmp_path):
    async with connector_on_peer(tmp_path) as (connector, peer):
        assert (await connector.check()).ok and (await connector.check()).ok
        assert peer.requests == [("/v3/signature_requests", {"limit": "1"})], "the result is reused for a while"
        peer.api_key = "a-new-key-the-hub-does-not-have"
        connector._checked = None  # as after check_cache_ok seconds
        health = await connector.check()
        with pytest.raises(AuthError):
            await connector.handle_webhook(signed(ATTENDANCE_BODY))
    assert not health.ok and "Yousign refused the API key" in health.message and "production" in health.message
    assert API_KEY not in health.message


async def test_unreachable_api_is_unhealthy(tmp_path):
    config = YousignConfig.model_validate({"kind": "yousign", **CONFIG, "api_base": "http://127.0.0.1:9/v3"})
    connector = Yousign("sign", config, make_context(tmp_path, "sign"))
    try:
        health = await connector.check()
    finally:
        await close_context(connector.context)
    assert not health.ok and "not reachable" in health.message


# ---------------------------------------------------------------------------- through the hub


HUB_CONFIG = """
connectors:
  sign:
    kind: yousign
    api_key: "${file:secrets/yousign-key}"
    webhook_secrets: "${file:secrets/yousign-webhook}"
    api_base: "%s"
    staff_emails: [marc.petit@of-exemple.fr, direction@of-exemple.fr]
    retry_backoff: 10ms
"""


@pytest.fixture
async def served(make_hub, aiohttp_server_factory, workdir):
    (workdir / "secrets" / "yousign-key").write_text(API_KEY + "\n")
    (workdir / "secrets" / "yousign-webhook").write_text(f"{SECRET},{OTHER_SECRET}\n")
    async with running(YousignPeer()) as peer:
        hub = await make_hub(HUB_CONFIG % peer.url)
        server = await aiohttp_server_factory(build_app(hub))
        async with aiohttp.ClientSession(base_url=f"http://127.0.0.1:{server.port}") as client:
            yield hub, client, peer


async def post(client, request: WebhookRequest):
    async with client.post("/webhooks/sign", data=request.body, headers=dict(request.headers)) as response:
        return response.status, await response.json()


async def test_hub_stores_event_with_documents_audit_trail_and_body(served):
    hub, client, peer = served
    status, answer = await post(client, signed(ATTENDANCE_BODY))
    assert status == 200, answer
    row = await hub.store.call(hub.store.get_event, answer["ids"][0])
    assert row["type"] == "attendance.signed" and row["source"] == "sign"
    names = [e.get("name") for e in row["evidence"]]
    assert names[0].endswith("-documents.pdf") and "audit-trail" in names[1] and names[2] == "webhook-sign"
    assert hub.blobs.get(row["evidence"][2]["sha256"]) == ATTENDANCE_BODY
    assert all(hub.blobs.exists(e["sha256"]) for e in row["evidence"])
    # Yousign retries the same event (and a second subscription sends it with its own secret): no duplicate
    status, again = await post(client, signed(ATTENDANCE_BODY, OTHER_SECRET))
    assert status == 200 and again["ids"] == answer["ids"]
    other = orjson.dumps(webhook("signer.done", ATTENDANCE, LEARNER_1, event_id="another-subscription-event"))
    status, third = await post(client, signed(other))
    assert status == 200 and third["ids"] == answer["ids"]
    assert await hub.store.call(hub.store.count_events) == 1


async def test_hub_refuses_forged_replayed_and_malformed_requests_and_stores_nothing(served):
    hub, client, peer = served
    forged = signed(ATTENDANCE_BODY, "forged-secret")
    replayed = stale(ATTENDANCE_BODY)
    tampered = WebhookRequest("POST", "/", signed(ATTENDANCE_BODY).headers, {}, ATTENDANCE_BODY + b" ")
    for request in (forged, replayed, tampered):
        status, answer = await post(client, request)
        assert status == 401, answer
    status, answer = await post(client, signed(b'{"event_id": "x", "event_name": "signer.done"'))
    assert status == 400 and "not JSON" in answer["error"]
    assert await hub.store.call(hub.store.count_events) == 0
    assert peer.requests == []
    assert not [p for p in hub.blobs.root.rglob("*") if p.is_file()]


async def test_hub_answers_503_when_yousign_fails_so_yousign_retries(served):
    hub, client, peer = served
    peer.fail_with = 503
    status, answer = await post(client, signed(ATTENDANCE_BODY))
    assert status == 503 and "HTTP 503" in answer["error"]
    assert await hub.store.call(hub.store.count_events) == 0
    peer.fail_with = None
    status, answer = await post(client, signed(ATTENDANCE_BODY))
    assert status == 200


async def test_hub_readiness_with_a_revoked_key(served):
    hub, client, peer = served
    peer.api_key = "revoked"
    async with client.get("/readyz") as response:  # public: the state only
        assert (await response.json())["connectors"]["sign"] == {"ok": False}
    async with client.get("/readyz", headers={"Authorization": f"Bearer {TOKEN}"}) as response:
        ready = await response.json()
    assert ready["status"] == "degraded"
    assert "Yousign refused the API key" in ready["connectors"]["sign"]["message"]

