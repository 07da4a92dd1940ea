"""Shared fixtures: a hub on a temporary SQLite store, a programmable local HTTP sink."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import textwrap
from pathlib import Path

import orjson
import pytest
from aiohttp import web

from hub.runtime.app import Hub
from hub.connector import Connector, ConnectorConfig, WebhookRequest, WebhookResult, WebhookSource
from hub.errors import WebhookRejected
from hub.hookspecs import hookimpl
from hub.plugins import load_plugins
from pydantic import SecretStr
from tests.store.conftest import pg_schema_url, pg_server  # noqa: F401  (fixtures for each_store_url)

TOKEN = "test-admin-token-0123456789"


class SignedHookConfig(ConnectorConfig):
    secret: SecretStr


class SignedHook(Connector, WebhookSource):
    """Test webhook source: body is a list of event inputs, X-Sig is hex HMAC-SHA256 of the body."""

    kind = "test_signed_hook"
    Config = SignedHookConfig

    async def handle_webhook(self, request: WebhookRequest) -> WebhookResult:
        expected = hmac.new(self.config.secret.get_secret_value().encode(), request.body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, request.headers.get("X-Sig", "")):
            raise WebhookRejected(401, "invalid signature")
        try:
            items = orjson.loads(request.body)
        except orjson.JSONDecodeError:
            raise WebhookRejected(400, "body is not JSON") from None
        return WebhookResult(items if isinstance(items, list) else [items])


class TestPlugin:
    @hookimpl
    def register_connectors(self):
        return [SignedHook]


def sign(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@pytest.fixture(autouse=True)
def small_journey_chunks(monkeypatch):
    """Journeys are computed a few at a time in every test, so that the demo's dozen learners
    cross chunk boundaries (production computes them 100 at a time)."""
    from hub.journeys import stream

    monkeypatch.setattr(stream, "CHUNK", 5)


@pytest.fixture
def plugins():
    return load_plugins(env={}, extra=[("test-plugin", TestPlugin())])


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "token").write_text(TOKEN)
    (tmp_path / "secrets" / "hook").write_text("hook-secret-value-42")
    return tmp_path


def write_config(workdir: Path, body: str, name: str = "hub.yaml") -> Path:
    path = workdir / name
    path.write_text(textwrap.dedent(body))
    return path


BASE_HUB = """\
hub:
  data_dir: var
  store: {url: "sqlite:///var/hub.db"}
  http: {admin_token: "${file:secrets/token}", port: 0}
  delivery: {backoff_initial: 10ms, backoff_max: 50ms, pause_after_failures: 100, poll_interval: 50ms}
"""



@pytest.fixture(params=["sqlite", "postgresql"])
def each_store_url(request) -> str:
    """The store URL of a test that must behave alike on SQLite and on a fresh PostgreSQL schema."""
    return "sqlite:///var/hub.db" if request.param == "sqlite" else request.getfixturevalue("pg_schema_url")


@pytest.fixture
async def make_hub(workdir, plugins):
    hubs = []

    async def factory(extra: str, *, start: bool = True, store_url: str | None = None, hub_extra: str = "") -> Hub:
        """A hub on BASE_HUB plus ``extra`` (top-level YAML) and ``hub_extra`` (lines under ``hub:``)."""
        base = BASE_HUB if store_url is None else BASE_HUB.replace('url: "sqlite:///var/hub.db"', f'url: "{store_url}"')
        base += hub_extra
        path = write_config(workdir, base + textwrap.dedent(extra))
        hub = Hub.open(path, env={}, plugins=plugins)
        if start:
            await hub.start()
        hubs.append(hub)
        return hub

    yield factory
    for hub in hubs:
        await hub.stop()


class SinkPeer:
    """A local HTTP receiver whose answers can be scripted: a list of statuses, then 200."""

    def __init__(self):
        self.statuses: list[int] = []
        self.received: list[dict] = []
        self.headers: list[dict] = []
        self.retry_after: str | None = None

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        status = self.statuses.pop(0) if self.statuses else 200
        if status == 200:
            self.received.extend(orjson.loads(body)["events"])
            self.headers.append(dict(request.headers))
        headers = {"Retry-After": self.retry_after} if self.retry_after and status == 429 else {}
        return web.Response(status=status, text="ok" if status == 200 else "nope", headers=headers)

    @property
    def ids(self) -> list[str]:
        return [e["id"] for e in self.received]


@pytest.fixture
async def sink_peer(aiohttp_server_factory):
    peer = SinkPeer()
    app = web.Application()
    app.router.add_post("/hook", peer.handle)
    server = await aiohttp_server_factory(app)
    peer.url = f"http://127.0.0.1:{server.port}/hook"
    return peer


@pytest.fixture
async def aiohttp_server_factory():
    runners = []

    async def start(app: web.Application):
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        return _Started(runner.addresses[0][1])

    yield start
    for runner in runners:
        await runner.cleanup()


class _Started:
    def __init__(self, port: int):
        self.port = port


def event(i: int = 0, type_: str = "lms.progress", **over) -> dict:
    base = {"type": type_, "occurred_at": "2026-10-05T10:00:00+02:00", "source_id": f"evt-{i}",
            "learner": {"ref": f"u{i % 7}", "email": f"u{i % 7}@example.fr"}, "action": "ACT-1",
            "data": {"percent": str(i % 100)}}
    base.update(over)
    return base


async def wait_for(predicate, timeout: float = 5.0, interval: float = 0.02):
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        if predicate():
            return True
        await asyncio.sleep(interval)
    return predicate()
