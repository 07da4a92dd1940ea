"""The contract kit (hub.testing) run on the three built-in connectors, against real local peers."""

from __future__ import annotations

import contextlib
import inspect
import json
import time
import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from pydantic import SecretStr

from connectors.file_drop import FileDrop
from connectors.ndjson_out import NdjsonOut
from connectors.webhook_out import SIGNATURE_HEADER, WebhookOut, sign, verify
from hub.connector import (
    Connector, ConnectorConfig, PullResult, PullSource, WebhookRequest, WebhookResult, WebhookSource,
)
from hub.errors import AuthError, PermanentError, RetryableError, WebhookRejected
from hub.events import EventTypeRegistry
from hub.testing import close_context, get_connector_test_class, make_context, sample_events

NDJSON = "\n".join(json.dumps(e) for e in [
    {"type": "lms.activity_completed", "occurred_at": "2026-03-02T09:00:00+01:00", "source_id": "act-1",
     "learner": {"ref": "u1", "email": "ada@example.org"}, "action": "S1", "data": {"activity": "quiz-1"}},
    {"type": "lms.activity_completed", "occurred_at": "2026-03-02T10:00:00+01:00", "source_id": "act-2",
     "learner": {"ref": "u2"}, "action": "S1", "data": {"activity": "quiz-1", "state": "pass"}},
    {"type": "lms.progress", "occurred_at": "2026-03-02T11:00:00+01:00",
     "learner": {"ref": "u1"}, "action": "S1", "data": {"percent": 40}},
]) + "\n{not json\n"
CSV = (
    "type,occurred_at,source_id,action,learner_ref,learner_email,data.date,data.half_day,data.modality\n"
    "attendance.signed,2026-03-02T12:30:00+01:00,em-1,S1,u1,ada@example.org,2026-03-02,am,presentiel\n"
    "attendance.signed,2026-03-02T17:30:00+01:00,em-2,S1,u1,ada@example.org,2026-03-02,pm,presentiel\n"
    "attendance.signed,2026-03-02T17:31:00+01:00,,S1,u2,,2026-03-02,pm,distanciel_synchrone\n"
)


def drop_folder(folder: Path) -> dict:
    """A drop folder with one NDJSON file (one line is broken) and one CSV file."""
    drop = folder / "drop"
    drop.mkdir()
    (drop / "01-lms.ndjson").write_text(NDJSON, encoding="utf-8")
    (drop / "02-emargements.csv").write_text(CSV, encoding="utf-8")
    return {"path": str(drop)}


TestFileDropContract = get_connector_test_class(
    FileDrop, {"path": "/nonexistent/drop", "settle_seconds": 0, "batch_size": 2}, pull_peer=drop_folder,
)

TestFileDropReadOnlyContract = get_connector_test_class(
    FileDrop, {"path": "/nonexistent/drop", "settle_seconds": 0, "batch_size": 2, "read_only": True},
    pull_peer=drop_folder,
)


# ---------------------------------------------------------------------------- webhook_out

SECRET = "whsec-contract-0123456789"


class Receiver:
    """A webhook receiver that checks Parcours-Signature with connectors.webhook_out.verify."""

    def __init__(self, status: int = 200):
        self.status = status
        self.received: list[dict] = []

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        if self.status != 200:
            headers = {"Retry-After": "7"} if self.status == 429 else {}
            return web.json_response({"error": "configured failure"}, status=self.status, headers=headers)
        if not verify(SECRET.encode(), body, request.headers.get(SIGNATURE_HEADER, "")):
            return web.json_response({"error": "bad signature"}, status=401)
        payload = orjson.loads(body)
        if request.headers.get("Parcours-Delivery") != payload["events"][0]["id"]:
            return web.json_response({"error": "bad delivery id"}, status=400)
        self.received.extend(payload["events"])
        return web.json_response({"ok": True})


@contextlib.asynccontextmanager
async def receiver(status: int = 200, received: list | None = None):
    peer = Receiver(status)
    if received is not None:
        peer.received = received
    app = web.Application()
    app.router.add_post("/hooks", peer.handle)
    server = TestServer(app)
    await server.start_server()
    try:
        yield {"url": str(server.make_url("/hooks")), "secret": SECRET}
    finally:
        await server.close()


TestWebhookOutContract = get_connector_test_class(
    WebhookOut, {"url": "https://receiver.invalid/hooks", "secret": SECRET, "timeout": "5s"},
    sink_peer=lambda folder: receiver(),
    failing_peer=lambda status, folder: receiver(status),
)


async def test_webhook_out_receiver_gets_signed_events(parcours_context, parcours_sample_events):
    """Uses the fixtures of the shipped pytest plugin (hub.pytest_plugin)."""
    received: list = []
    events = parcours_sample_events(3, source="moodle")
    async with receiver(received=received) as overrides:
        config = WebhookOut.Config.model_validate({"kind": "webhook_out", **overrides})
        await WebhookOut("out", config, parcours_context).deliver(events)
    assert [e["id"] for e in received] == [e.id for e in events]
    assert received[0]["data"] == events[0].data


async def test_webhook_out_wrong_secret_is_refused_as_auth_error(tmp_path):
    async with receiver() as overrides:
        config = WebhookOut.Config.model_validate({"kind": "webhook_out", **overrides, "secret": "not-the-secret"})
        context = make_context(tmp_path, "out")
        try:
            with pytest.raises(AuthError):
                await WebhookOut("out", config, context).deliver(sample_events(1))
        finally:
            await close_context(context)


async def test_webhook_out_unreachable_peer_is_retryable(tmp_path):
    config = WebhookOut.Config.model_validate(
        {"kind": "webhook_out", "url": "http://127.0.0.1:9/hooks", "secret": SECRET, "timeout": "2s"})
    context = make_context(tmp_path, "out")
    try:
        with pytest.raises(RetryableError):
            await WebhookOut("out", config, context).deliver(sample_events(1))
    finally:
        await close_context(context)


# ---------------------------------------------------------------------------- ndjson_out


TestNdjsonOutContract = get_connector_test_class(
    NdjsonOut, {"directory": "/nonexistent/out"},
    sink_peer=lambda folder: {"directory": str(folder / "out")},
)


async def test_ndjson_out_appends_and_rotates(tmp_path):
    config = NdjsonOut.Config.model_validate(
        {"kind": "ndjson_out", "directory": str(tmp_path / "out"), "rotate_bytes": 1024, "fsync": False})
    sink = NdjsonOut("out", config, make_context(tmp_path, "out"))  # no HTTP: no session to close
    batches = [sample_events(3), sample_events(3)]
    for batch in batches:
        await sink.deliver(batch)
    files = sorted((tmp_path / "out").glob("*.ndjson"))
    lines = [json.loads(line) for f in files for line in f.read_text().splitlines()]
    assert sorted(e["id"] for e in lines) == sorted(e.id for b in batches for e in b)
    assert len(files) >= 2, "passing rotate_bytes starts a new file"


# ---------------------------------------------------------------------------- a webhook source
# No built-in connector receives webhooks yet: this small one (the receiving side of
# webhook_out's signature scheme) exercises the kit's webhook tests.


class SignedWebhookInConfig(ConnectorConfig):
    secret: SecretStr
    tolerance_seconds: float = 300


class SignedWebhookIn(Connector, WebhookSource):
    """Receive ``{"events": [...]}`` bodies signed with a Parcours-Signature header."""

    kind = "signed_webhook_in"
    Config = SignedWebhookInConfig
    verify_signatures = True

    async def handle_webhook(self, request: WebhookRequest) -> WebhookResult:
        headers = {k.lower(): v for k, v in request.headers.items()}
        secret = self.config.secret.get_secret_value().encode()
        if self.verify_signatures and not verify(secret, request.body, headers.get(SIGNATURE_HEADER.lower(), ""),
                                                 tolerance=self.config.tolerance_seconds):
            raise WebhookRejected(401, "missing, wrong or expired Parcours-Signature")
        try:
            events = orjson.loads(request.body)["events"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            raise WebhookRejected(400, 'expected a JSON body {"events": [...]}') from None
        if not isinstance(events, list):
            raise WebhookRejected(400, "events must be a list")
        return WebhookResult(events)


IN_SECRET = "in-secret-0123456789"
WEBHOOK_BODY = orjson.dumps({"events": [
    {"type": "lms.session", "occurred_at": "2026-03-02T09:00:00+01:00", "source_id": "sess-1",
     "learner": {"ref": "u1"}, "data": {"start": "2026-03-02T09:00:00+01:00", "end": "2026-03-02T10:00:00+01:00",
                                        "duration_seconds": 3600}},
    {"type": "enrolment.started", "occurred_at": "2026-03-02T08:00:00+01:00", "source_id": "start-1",
     "learner": {"ref": "u1"}},
]})


def signed(body: bytes, *, at: float | None = None) -> WebhookRequest:
    header = sign(IN_SECRET.encode(), body, int(time.time() if at is None else at))
    return WebhookRequest("POST", "/webhooks/in", {SIGNATURE_HEADER: header, "Content-Type": "application/json"}, {}, body)


WEBHOOK_KIT = dict(webhook_body=WEBHOOK_BODY, sign_request=signed,
                   stale_request=lambda body: signed(body, at=time.time() - 3600))

TestSignedWebhookInContract = get_connector_test_class(SignedWebhookIn, {"secret": IN_SECRET}, **WEBHOOK_KIT)


# ---------------------------------------------------------------------------- the kit catches broken connectors


async def kit_failure(test_class: type, test_name: str, tmp_path: Path, **kwargs: Any) -> str:
    """Run one contract test by hand and return why it failed (it must fail)."""
    method = getattr(test_class(), test_name)
    if "tmp_path" in inspect.signature(method).parameters:
        kwargs["tmp_path"] = tmp_path
    with pytest.raises((AssertionError, pytest.fail.Exception)) as raised:
        result = method(**kwargs)
        if inspect.isawaitable(result):
            await result
    return str(raised.value)


class TrustingWebhookIn(SignedWebhookIn):
    """Accepts any signature."""

    verify_signatures = False


async def test_kit_fails_a_webhook_source_that_does_not_verify_signatures(tmp_path):
    kit = get_connector_test_class(TrustingWebhookIn, {"secret": IN_SECRET}, **WEBHOOK_KIT)
    assert "was accepted" in await kit_failure(kit, "test_webhook_tampered_body", tmp_path / "1")
    assert "was accepted" in await kit_failure(kit, "test_webhook_wrong_signature", tmp_path / "2")
    assert "was accepted" in await kit_failure(kit, "test_webhook_stale_request", tmp_path / "3")


class UnstableIdsFileDrop(FileDrop):
    """Gives every record a new random id."""

    def map_record(self, record):
        return [{**item, "source_id": str(uuid.uuid4())} for item in super().map_record(record)]


async def test_kit_fails_unstable_source_ids(tmp_path):
    kit = get_connector_test_class(UnstableIdsFileDrop, {"path": "/x", "settle_seconds": 0, "read_only": True},
                                   pull_peer=drop_folder)
    assert "unstable ids" in await kit_failure(kit, "test_pull_repull_returns_same_source_ids", tmp_path)


class LyingEmitsFileDrop(FileDrop):
    """Declares one event type but emits others."""

    emits = ("lms.session",)


async def test_kit_fails_events_outside_emits(tmp_path):
    kit = get_connector_test_class(LyingEmitsFileDrop, {"path": "/x", "settle_seconds": 0}, pull_peer=drop_folder)
    assert "not declared in emits" in await kit_failure(kit, "test_pull_first_page", tmp_path)


class StuckSource(Connector, PullSource):
    """Always says there is more, with the same cursor."""

    kind = "stuck"

    async def pull(self, cursor):
        return PullResult([], {"page": 1}, has_more=True)


async def test_kit_fails_a_source_that_would_loop_forever(tmp_path):
    kit = get_connector_test_class(StuckSource, {})
    assert "did not change" in await kit_failure(kit, "test_pull_full_sync_pages_progress", tmp_path)


class SwallowingWebhookOut(WebhookOut):
    """Turns every failure into a permanent one."""

    async def deliver(self, events):
        try:
            await super().deliver(events)
        except Exception as exc:
            raise PermanentError(str(exc)) from None


async def test_kit_fails_wrong_error_classification(tmp_path):
    kit = get_connector_test_class(SwallowingWebhookOut, {"url": "https://x.invalid/", "secret": SECRET},
                                   failing_peer=lambda status, folder: receiver(status))
    message = await kit_failure(kit, "test_sink_error_classification", tmp_path, failing_status=503)
    assert "must raise RetryableError, got PermanentError" in message


class PlainTokenConfig(ConnectorConfig):
    api_token: str


class PlainTokenWebhookIn(SignedWebhookIn):
    """Keeps its token in clear."""

    Config = PlainTokenConfig


class LoggingWebhookIn(SignedWebhookIn):
    """Logs its secret."""

    async def check(self):
        self.context.log.info("checking", secret=self.config.secret.get_secret_value())
        return await super().check()


async def test_kit_fails_plain_or_logged_secrets(tmp_path):
    kit = get_connector_test_class(PlainTokenWebhookIn, {"api_token": "tok-0123456789"})
    assert "must be typed SecretStr" in await kit_failure(kit, "test_secrets_are_secret", tmp_path)
    kit = get_connector_test_class(LoggingWebhookIn, {"secret": IN_SECRET})
    assert "logged a secret" in await kit_failure(kit, "test_check_returns_health", tmp_path)


def test_sample_events_are_valid_trace_events():
    registry = EventTypeRegistry()
    events = sample_events(6, source="s")
    assert len({e.id for e in events}) == 6 and {e.source for e in events} == {"s"}
    for event in events:
        registry.data_model(event.type).model_validate(event.data)
    registry.validate_batch([e.model_dump(mode="json", exclude={"id", "received_at", "source"}) for e in events])
