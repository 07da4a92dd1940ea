"""The connector contract kit (hub.testing) on the xapi connector, against the fake LRS."""

from __future__ import annotations

import base64
import contextlib
import dataclasses
from pathlib import Path

import orjson

from connectors.xapi import Xapi
from hub.connector import WebhookRequest
from hub.testing import get_connector_test_class
from tests.fakes.xapi_lrs import FakeLrs
from tests.fakes.xapi_statements import ALL_SAMPLES, BBB_JOINED, BBB_LEFT, CMI5_SAMPLES

PUSH_USER, PUSH_PASSWORD = "moodle-logstore", "push-secret-0123"


def _lrs() -> FakeLrs:
    lrs = FakeLrs(max_limit=4)
    lrs.add(ALL_SAMPLES[:6], stored="2026-10-05T08:00:00.000Z")  # six statements share one `stored`
    lrs.add(ALL_SAMPLES[6:])
    return lrs


@contextlib.asynccontextmanager
async def lrs_peer(folder: Path):
    async with _lrs().running() as lrs:
        yield {"endpoint": lrs.url, "username": lrs.username, "password": lrs.password}


@contextlib.asynccontextmanager
async def failing_lrs(status: int, folder: Path):
    lrs = _lrs()
    lrs.always = status
    async with lrs.running():
        yield {"endpoint": lrs.url, "username": lrs.username, "password": lrs.password}


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def push(body: bytes) -> WebhookRequest:
    return WebhookRequest("POST", "/webhooks/contract", {"Authorization": basic(PUSH_USER, PUSH_PASSWORD),
                                                         "Content-Type": "application/json",
                                                         "X-Experience-API-Version": "1.0.0"}, {}, body)


def push_wrong_password(body: bytes) -> WebhookRequest:
    return dataclasses.replace(push(body), headers={"Authorization": basic(PUSH_USER, PUSH_PASSWORD + "x"),
                                                    "Content-Type": "application/json"})


CONFIG = {
    "endpoint": "http://127.0.0.1:9/xAPI/",
    "username": "hub-client",
    "password": "placeholder-password",
    "page_limit": 4,
    "push_username": PUSH_USER,
    "push_password": PUSH_PASSWORD,
    "retries": 1,
    "retry_backoff": "10ms",
    "retry_max_wait": "1s",
}

class TestXapiContract(get_connector_test_class(
    Xapi, CONFIG, pull_peer=lrs_peer, failing_peer=failing_lrs,
    webhook_body=orjson.dumps([*CMI5_SAMPLES, BBB_JOINED, BBB_LEFT]), sign_request=push,
    wrong_signature=push_wrong_password, malformed_body=b"{not json",
)):
    async def test_webhook_tampered_body(self, tmp_path: Path) -> None:
        """Overridden: HTTP Basic and bearer tokens authenticate the sender, not the body (xAPI
        senders do not sign bodies), so a changed body is not detectable. What is checked instead:
        a request whose credentials were tampered with is refused with 401."""
        body, sign = self._webhook_parts()
        request = sign(body)
        header = request.headers["Authorization"]
        tampered = dataclasses.replace(request, headers={**request.headers, "Authorization": header[:-2] + "xx"})
        await self._expect_rejected(tampered, (401,), "a request whose credentials were changed", tmp_path)
