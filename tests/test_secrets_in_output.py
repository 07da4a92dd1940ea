"""Credentials in a sink's URL (user-info or query) never reach a log line, a dead letter, the
admin API or the public /readyz: every URL an error carries goes through hub.redaction."""

from __future__ import annotations

import asyncio

import aiohttp

from hub.redaction import redact_text, redact_url
from hub.runtime.server import build_app
from tests.conftest import TOKEN, event

SECRETS = ("s3cret-pass", "q-token-123")


def test_a_url_loses_its_user_info_and_query_values():
    assert redact_url("https://bob:s3cret-pass@hooks.example.org:8443/in?token=q-token-123&x=1#f") == \
        "https://hooks.example.org:8443/in?token=****&x=****"
    assert redact_url("https://hooks.example.org/in") == "https://hooks.example.org/in"
    assert redact_url("sqlite:///var/hub.db") == "sqlite:///var/hub.db"
    assert redact_text("PermanentError: POST https://bob:s3cret-pass@h.example/p?sig=q-token-123: HTTP 404.") == \
        "PermanentError: POST https://h.example/p?sig=****: HTTP 404."
    assert redact_text("no URL here: ok") == "no URL here: ok"
    # ' ( ) are legal in a password and in a query value: they do not end the URL
    assert redact_text("cannot open postgresql://parcours:Ab(9x)Zq@db/x?key=ab'cd: refused") == \
        "cannot open postgresql://db/x?key=****: refused"
    assert redact_text("(see https://h.example/p?x=1).") == "(see https://h.example/p?x=****)."


async def test_credentials_in_a_sink_url_appear_nowhere(make_hub, sink_peer, aiohttp_server_factory, capsys):
    port = sink_peer.url.split(":")[2].split("/")[0]
    url = f"http://bob:{SECRETS[0]}@127.0.0.1:{port}/hook?token={SECRETS[1]}"
    hub = await make_hub(f"""
connectors:
  crm:
    kind: webhook_out
    url: "{url}"
    secret: ${{file:secrets/hook}}
routes:
  - {{name: to-crm, from: [api], to: crm}}
""")
    sink_peer.statuses = [404]
    await hub.append([event(1)], source=None)
    stats = await hub.dispatcher.deliver_due("crm")
    assert stats.dead == 1
    (letter,) = await hub.store.call(hub.store.dead_letters, sink="crm")
    assert "HTTP 404" in letter.error and "127.0.0.1" in letter.error
    server = await aiohttp_server_factory(build_app(hub))
    async with aiohttp.ClientSession(base_url=f"http://127.0.0.1:{server.port}") as client:
        async with client.get("/api/dlq", headers={"Authorization": f"Bearer {TOKEN}"}) as r:
            dlq = await r.text()
        async with client.get("/readyz") as r:
            public = await r.json()
        async with client.get("/readyz", headers={"Authorization": f"Bearer {TOKEN}"}) as r:
            private = await r.text()
    captured = capsys.readouterr()
    # the hub's lines (the receiving peer's own access log shows what it was sent: not the hub's)
    logged = [line for line in (captured.out + captured.err).splitlines() if '"POST /hook' not in line]
    for text in (letter.error, dlq, str(public), private, *logged):
        assert not any(secret in text for secret in SECRETS), text
    assert "HTTP 404" in dlq
    # the public answer has states only: no error text at all
    assert all(set(c) == {"ok"} for c in public["connectors"].values())
    assert all(set(s) <= {"paused_for_seconds"} for s in public["paused_sinks"].values())


async def test_a_sink_token_in_a_header_is_sent_and_never_logged(make_hub, sink_peer, workdir, capsys):
    (workdir / "secrets" / "crm-token").write_text("Bearer crm-token-0123456789\n")  # the whole header value
    hub = await make_hub(f"""
connectors:
  crm:
    kind: webhook_out
    url: "{sink_peer.url}"
    secret: ${{file:secrets/hook}}
    headers: {{Authorization: "${{file:secrets/crm-token}}"}}
routes:
  - {{name: to-crm, from: [api], to: crm}}
""")
    sink_peer.statuses = [500]
    await hub.append([event(1)], source=None)
    assert (await hub.dispatcher.deliver_due("crm")).retried == 1
    for _ in range(100):  # the retry comes after the (test-sized) backoff
        if (await hub.dispatcher.deliver_due("crm")).delivered:
            break
        await asyncio.sleep(0.02)
    assert sink_peer.headers[-1]["Authorization"] == "Bearer crm-token-0123456789"
    hub.log.info("delivery settings", headers={"Authorization": "Bearer crm-token-0123456789"})
    captured = capsys.readouterr()
    assert "crm-token-0123456789" not in captured.out + captured.err

