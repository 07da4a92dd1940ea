"""The HubSpot connector inside a running hub: the LMS → hub → CRM route and webhooks over HTTP."""

from __future__ import annotations

import json
import time

import aiohttp
import orjson
import pytest

from hub.runtime.server import build_app
from tests.connectors.hubspot.test_hubspot import SECRET, TOKEN, T0, webhook_body
from tests.fakes.hubspot_fake import FakeHubSpot, running, sign_webhook


def lms_file(folder) -> None:
    """What the Moodle side (here a dropped NDJSON file) reports for two learners and one unknown."""
    rows = []
    for email, ref, percent in (("camille.dubois@example.fr", "apprenant-01", 40),
                                ("chloe.ndiaye@example.fr", "apprenant-02", 75),
                                ("inconnu@example.fr", "apprenant-99", 10)):
        learner = {"ref": ref, "email": email}
        rows += [
            {"type": "enrolment.started", "occurred_at": "2026-10-05T09:00:00+02:00", "source_id": f"start-{ref}",
             "learner": learner, "action": "ACT-2026-REACT-01", "data": {"date": "2026-10-05"}},
            {"type": "attendance.signed", "occurred_at": "2026-10-05T09:04:00+02:00", "source_id": f"sig-{ref}",
             "learner": learner, "action": "ACT-2026-REACT-01",
             "data": {"date": "2026-10-05", "half_day": "am", "trainer_cosigned": True}},
            {"type": "lms.progress", "occurred_at": "2026-10-06T18:00:00+02:00", "source_id": f"prog-{ref}",
             "learner": learner, "action": "ACT-2026-REACT-01", "data": {"percent": percent}},
        ]
    (folder / "drop").mkdir()
    (folder / "drop" / "lms.ndjson").write_text("\n".join(json.dumps(r) for r in rows) + "\n")


def config(fake_url: str) -> str:
    return f"""
connectors:
  moodle-files: {{kind: file_drop, path: drop, settle_seconds: 0, read_only: true}}
  crm:
    kind: hubspot
    base_url: "{fake_url}"
    token: "${{file:secrets/hubspot-token}}"
    client_secret: "${{file:secrets/hubspot-client-secret}}"
    webhook_url: "https://hub.example.org/webhooks/crm"
    objects: [contacts]
    retries: 0
routes:
  - name: progress-to-crm
    from: moodle-files
    when: {{types: ["lms.progress", "attendance.*", "enrolment.*"]}}
    to: crm
"""


@pytest.fixture
def secrets(workdir):
    (workdir / "secrets" / "hubspot-token").write_text(TOKEN)
    (workdir / "secrets" / "hubspot-client-secret").write_text(SECRET)
    return workdir


async def test_lms_to_hub_to_crm_route(make_hub, secrets):
    lms_file(secrets)
    fake = FakeHubSpot(token=TOKEN)
    camille = fake.add_contact("camille.dubois@example.fr", "Camille", "Dubois", created_ms=T0)
    chloe = fake.add_contact("chloe.ndiaye@example.fr", "Chloé", "N'Diaye", created_ms=T0)
    async with running(fake):
        hub = await make_hub(config(fake.url))
        await hub.pull("moodle-files")
        stats = await hub.dispatcher.deliver_due("crm")
        letters = await hub.store.call(hub.store.dead_letters, sink="crm")
    props = fake.objects["contacts"]
    assert props[camille]["properties"]["parcours_progress"] == "40"
    assert props[chloe]["properties"]["parcours_progress"] == "75"
    assert props[chloe]["properties"]["parcours_status"] == "started"
    assert props[chloe]["properties"]["parcours_last_attendance"] == "2026-10-05 am signed"
    # the unknown learner's three events, and only them, are dead letters the admin can replay
    assert stats.delivered == 6 and stats.dead == 3
    assert len(letters) == 3 and all("apprenant-99" in (letter.error or "") for letter in letters)


@pytest.fixture
async def served(make_hub, secrets, aiohttp_server_factory):
    fake = FakeHubSpot(token=TOKEN)
    fake.add_contact("learner0@example.org", "Camille", "Dubois", created_ms=T0)
    fake.add_contact("learner1@example.org", "Chloé", "N'Diaye", created_ms=T0)
    fake.add_contact("x@example.org", created_ms=T0)
    fake.add_contact("y@example.org", created_ms=T0)
    fake.add_deal("React", "closedwon", ["501", "502"], created_ms=T0)
    async with running(fake):
        hub = await make_hub(config(fake.url))
        server = await aiohttp_server_factory(build_app(hub))
        async with aiohttp.ClientSession(base_url=f"http://127.0.0.1:{server.port}") as client:
            yield hub, client


async def post(client, body: bytes, headers: dict) -> tuple[int, dict]:
    async with client.post("/webhooks/crm", data=body, headers=headers) as response:
        return response.status, await response.json()


async def stored(hub) -> int:
    return await hub.store.call(hub.store.count_events)


async def test_webhooks_over_http(served):
    hub, client = served
    url = "https://hub.example.org/webhooks/crm"
    body = webhook_body()
    now = int(time.time() * 1000)
    # a wrong signature, then a captured request replayed six minutes later: 401, nothing stored
    status, _ = await post(client, body, sign_webhook("wrong-secret", "POST", url, body))
    assert status == 401
    status, answer = await post(client, body, sign_webhook(SECRET, "POST", url, body, now - 6 * 60 * 1000))
    assert status == 401 and "tolerance" in answer["error"]
    # a signed but malformed body: 400, nothing stored
    bad = b'[{"objectId": 501}]'
    status, _ = await post(client, bad, sign_webhook(SECRET, "POST", url, bad))
    assert status == 400
    assert await stored(hub) == 0
    # the genuine request, twice (HubSpot retries): stored once, with the body as evidence
    status, answer = await post(client, body, sign_webhook(SECRET, "POST", url, body))
    assert status == 200 and answer == {"received": 3, "events": 3}
    status, _ = await post(client, body, sign_webhook(SECRET, "POST", url, body))
    assert status == 200
    assert await stored(hub) == 3


async def test_fake_can_seed_the_demo_contacts(tmp_path):
    import pathlib

    demo = pathlib.Path(__file__).resolve().parents[3] / "config" / "demo-data" / "01-funnel.ndjson"
    if not demo.exists():
        pytest.skip("demo data not present")
    fake = FakeHubSpot()
    assert fake.seed_from_ndjson(demo) >= 10
    assert fake.contact("camille.dubois@example.fr") is not None
    assert orjson.dumps(fake.objects)
