"""Website tracking: consent-only program views, in isolation, through the hub and from the JS snippet."""

from __future__ import annotations

import json
import shutil
import subprocess
import textwrap
from pathlib import Path

import aiohttp
import orjson
import pytest

from connectors.web_tracking import WebTracking
from hub.connector import WebhookRequest
from hub.errors import WebhookRejected
from hub.runtime.server import build_app
from hub.testing import get_connector_test_class, make_context

SITE = "https://www.of-demo.example.fr"
CONFIG = {"allowed_origins": [SITE], "programs": ["developpeur-web-react-api", "data-analyst"],
          "actions": {"developpeur-web-react-api": "ACT-2026-REACT-01"}}
VIEW = {"program": "developpeur-web-react-api", "url": f"{SITE}/formations/developpeur-web-react-api?utm_source=x#top",
        "consent": True, "visitor": "0f1e2d3c4b5a69788796a5b4c3d2e1f0"}


def beacon(body: bytes, *, origin: str | None = SITE, remote: str = "203.0.113.7") -> WebhookRequest:
    """What navigator.sendBeacon sends: a text/plain POST with the page's Origin."""
    headers = {"Content-Type": "text/plain;charset=UTF-8", "User-Agent": "Mozilla/5.0 (test)"}
    if origin is not None:
        headers["Origin"] = origin
    return WebhookRequest("POST", "/webhooks/site-views", headers, {}, body, remote)


class TestWebTrackingContract(get_connector_test_class(
    WebTracking, CONFIG, webhook_body=orjson.dumps(VIEW), sign_request=beacon,
)):
    def test_webhook_tampered_body(self, tmp_path):
        """Not applicable: browsers cannot sign what they send; the Origin check, strict validation
        and the consent rule protect this endpoint instead (see the tests below)."""


def connector(tmp_path, **overrides) -> WebTracking:
    config = WebTracking.Config.model_validate({"kind": "web_tracking", **CONFIG, **overrides})
    return WebTracking("site-views", config, make_context(tmp_path, "site-views"))


async def test_a_consented_view_is_recorded_without_query_string(tmp_path):
    result = await connector(tmp_path).handle_webhook(beacon(orjson.dumps(VIEW)))
    (event,) = result.events
    assert result.response == {"recorded": True}
    assert event["type"] == "prospect.program_viewed" and event["action"] == "ACT-2026-REACT-01"
    assert event["data"]["url"] == f"{SITE}/formations/developpeur-web-react-api"
    assert event["data"]["consent"] is True and "learner" not in event
    assert VIEW["visitor"] not in json.dumps(event)  # only a hash of the session id


async def test_without_consent_nothing_is_recorded(tmp_path):
    result = await connector(tmp_path).handle_webhook(beacon(orjson.dumps({**VIEW, "consent": False})))
    assert result.events == [] and result.response == {"recorded": False, "reason": "no consent"}


@pytest.mark.parametrize("body", [
    b"{not json", b"[]", orjson.dumps({**VIEW, "consent": "true"}), orjson.dumps({k: v for k, v in VIEW.items() if k != "consent"}),
    orjson.dumps({**VIEW, "email": "camille@example.fr"}), orjson.dumps({**VIEW, "program": "../etc"}),
    orjson.dumps({**VIEW, "program": "unknown-program"}), orjson.dumps({**VIEW, "url": "https://evil.example/x"}),
    orjson.dumps({**VIEW, "visitor": "x"}),
])
async def test_malformed_bodies_are_refused_with_400(tmp_path, body):
    with pytest.raises(WebhookRejected) as raised:
        await connector(tmp_path).handle_webhook(beacon(body))
    assert raised.value.status == 400


@pytest.mark.parametrize("origin", [None, "null", "https://evil.example", "http://www.of-demo.example.fr"])
async def test_other_origins_are_refused(tmp_path, origin):
    with pytest.raises(WebhookRejected) as raised:
        await connector(tmp_path).handle_webhook(beacon(orjson.dumps(VIEW), origin=origin))
    assert raised.value.status == 403


async def test_a_reload_in_the_same_minute_has_the_same_source_id(tmp_path):
    tracker = connector(tmp_path)
    clock = [1_800_000_000.0]
    tracker._now = lambda: clock[0]
    first = (await tracker.handle_webhook(beacon(orjson.dumps(VIEW)))).events[0]["source_id"]
    clock[0] += 20
    reload = (await tracker.handle_webhook(beacon(orjson.dumps(VIEW)))).events[0]["source_id"]
    other = (await tracker.handle_webhook(beacon(orjson.dumps({**VIEW, "visitor": "a" * 32})))).events[0]["source_id"]
    clock[0] += 60
    later = (await tracker.handle_webhook(beacon(orjson.dumps(VIEW)))).events[0]["source_id"]
    assert first == reload and len({first, other, later}) == 3
    # without sessionStorage: the address and browser make the key, salted and never stored
    anon = {k: v for k, v in VIEW.items() if k != "visitor"}
    a = (await tracker.handle_webhook(beacon(orjson.dumps(anon)))).events[0]
    b = (await tracker.handle_webhook(beacon(orjson.dumps(anon)))).events[0]
    assert a["source_id"] == b["source_id"] and "203.0.113.7" not in json.dumps(a)


async def test_requests_are_rate_limited_per_address(tmp_path):
    tracker = connector(tmp_path, rate_limit_per_minute=3)
    for _ in range(3):
        await tracker.handle_webhook(beacon(orjson.dumps(VIEW)))
    with pytest.raises(WebhookRejected) as raised:
        await tracker.handle_webhook(beacon(orjson.dumps(VIEW)))
    assert raised.value.status == 429
    await tracker.handle_webhook(beacon(orjson.dumps(VIEW), remote="198.51.100.1"))  # another visitor


def test_config_wants_origins_not_urls():
    with pytest.raises(ValueError):
        WebTracking.Config.model_validate({"kind": "web_tracking", "allowed_origins": [f"{SITE}/formations"]})
    with pytest.raises(ValueError):
        WebTracking.Config.model_validate({"kind": "web_tracking", "allowed_origins": []})


# ---------------------------------------------------------------------------- through the hub

HUB_CONFIG = f"""
connectors:
  site-views:
    kind: web_tracking
    allowed_origins: ["{SITE}"]
    programs: [developpeur-web-react-api]
"""


async def test_through_the_hub_nothing_is_stored_without_consent(make_hub, aiohttp_server_factory):
    hub = await make_hub(HUB_CONFIG)
    server = await aiohttp_server_factory(build_app(hub))
    headers = {"Origin": SITE, "Content-Type": "text/plain;charset=UTF-8"}

    async def count() -> int:
        return await hub.store.call(hub.store.count_events)

    async with aiohttp.ClientSession(base_url=f"http://127.0.0.1:{server.port}") as client:
        async with client.post("/webhooks/site-views", data=orjson.dumps({**VIEW, "consent": False}),
                               headers=headers) as r:
            assert r.status == 200 and (await r.json()) == {"recorded": False, "reason": "no consent"}
        async with client.post("/webhooks/site-views", data=b"{oops", headers=headers) as r:
            assert r.status == 400
        assert await count() == 0
        for _ in range(2):  # a reload
            async with client.post("/webhooks/site-views", data=orjson.dumps(VIEW), headers=headers) as r:
                assert r.status == 200 and (await r.json()) == {"recorded": True}
        assert await count() == 1


# ---------------------------------------------------------------------------- the snippet

SNIPPET = Path(__file__).resolve().parents[3] / "connectors" / "web_tracking" / "snippet.js"
HARNESS = textwrap.dedent("""
    const vm = require("vm"), fs = require("fs");
    const sent = [], store = new Map();
    const listeners = {};
    const window = {
      crypto: require("crypto").webcrypto,
      sessionStorage: { getItem: k => store.has(k) ? store.get(k) : null, setItem: (k, v) => store.set(k, String(v)),
                        removeItem: k => store.delete(k) },
    };
    const document = {
      currentScript: { getAttribute: n => ({"data-endpoint": "https://hub.example/webhooks/site-views",
                                            "data-program": "developpeur-web-react-api"})[n] },
      addEventListener: (name, fn) => { listeners[name] = fn; },
    };
    Object.defineProperty(document, "cookie", { get() { throw new Error("cookie read"); },
                                                set() { throw new Error("cookie written"); } });
    const context = { window, document, navigator: { sendBeacon: (url, body) => { sent.push([url, body]); return true; } },
                      location: { origin: "https://www.of-demo.example.fr", pathname: "/formations/react" },
                      fetch: () => { throw new Error("fetch used"); }, JSON, Uint8Array, Array };
    vm.createContext(context);
    vm.runInContext(fs.readFileSync(process.argv[2], "utf8"), context);
    const before = { sent: sent.length, stored: store.size };
    window.parcoursTrack.consent();
    window.parcoursTrack.consent();  // twice: one view per page load
    console.log(JSON.stringify({ before, sent, stored: store.size }));
""")


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_snippet_sends_one_beacon_only_after_consent_and_uses_no_cookie(tmp_path):
    harness = tmp_path / "harness.js"
    harness.write_text(HARNESS)
    out = subprocess.run(["node", str(harness), str(SNIPPET)], capture_output=True, text=True, timeout=30, check=True)
    result = json.loads(out.stdout)
    assert result["before"] == {"sent": 0, "stored": 0}  # nothing sent, nothing stored before consent
    assert result["stored"] == 1 and len(result["sent"]) == 1
    url, body = result["sent"][0]
    view = json.loads(body)
    assert url == "https://hub.example/webhooks/site-views"
    assert view["consent"] is True and view["program"] == "developpeur-web-react-api"
    assert view["url"] == "https://www.of-demo.example.fr/formations/react"
    assert len(view["visitor"]) == 32


def test_docs_page_lists_every_key():
    """docs/connectors/web_tracking.md documents every key of the config model, nested ones included."""
    from pathlib import Path

    from pydantic import BaseModel

    from hub.connector import ConnectorConfig

    page = (Path(__file__).resolve().parents[3] / "docs" / "connectors" / "web_tracking.md").read_text(encoding="utf-8")

    def keys(model):
        for name, info in model.model_fields.items():
            if model is WebTracking.Config and name in ConnectorConfig.model_fields:
                continue
            yield info.alias or name
            annotation = info.annotation
            if isinstance(annotation, type) and issubclass(annotation, BaseModel):
                yield from keys(annotation)

    missing = [key for key in keys(WebTracking.Config) if f"`{key}`" not in page]
    assert not missing, f"keys not documented in docs/connectors/web_tracking.md: {missing}"
