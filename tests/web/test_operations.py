"""The operations pages: funder exports with their versions and files (admin: all; a manager: the
exports whose learners are all in its actions), dead letters with their replay (admin alone, the
replay recorded by the signed-in account), and the connectors' health with its backlog."""

from __future__ import annotations

import asyncio
import re

import pytest

from hub.formats import Period
from hub.delivery.connector_health import SharedChecks
from tests.conftest import event
from tests.web.conftest import ACTION, Person
from tests.web.test_funder_scope import text

EXPORTS = f"""
exports:
  opco-atlas:
    kind: opco
    profile: atlas
    funders: [opco-atlas]
    outputs: [attendance_csv]
  atlas-react:
    kind: opco
    profile: atlas
    funders: [opco-atlas]
    actions: [{ACTION}]
    outputs: [attendance_csv]
"""


@pytest.fixture
async def signed_in():
    """``await signed_in(site, role)``: a person of ``role`` signed in to ``site``, closed after the test."""
    opened = []

    async def sign_in(site, role: str) -> Person:
        person = Person(site)
        opened.append(person)
        assert (await person.sign_in(role)).status == 303
        return person

    yield sign_in
    for person in opened:
        await person.close()


def sink(url: str) -> str:
    """A webhook sink (indented under the demo's ``connectors:``) fed by the events of the API."""
    return f"""  crm:
    kind: webhook_out
    url: {url}
    secret: ${{file:secrets/hook}}
routes:
  - {{name: to-crm, from: [api], to: crm}}"""


async def test_exports_show_each_version_and_download_within_scope(make_site, signed_in):
    site = await make_site(EXPORTS)
    october = Period.parse("2026-10")
    first = await site.hub.export("opco-atlas", october, allow_incomplete=True)
    second = await site.hub.export("opco-atlas", october, allow_incomplete=True, force=True)
    assert (first.version, second.version) == (1, 2) and first.missing
    react = await site.hub.export("atlas-react", october, allow_incomplete=True)
    admin, manager = await signed_in(site, "admin"), await signed_in(site, "manager")

    page = await admin.get("/app/manager/exports")
    assert page.status == 200
    assert re.findall(r'data-export="([^"]+)"', page.body) == ["opco-atlas", "atlas-react"]
    section = page.body.split('data-export="opco-atlas"')[1].split('data-export="atlas-react"')[0]
    rows = re.findall(r'data-period="([^"]+)" data-version="(\d+)">(.*?)</tr>', section, re.S)
    assert [(p, v) for p, v, _ in rows] == [("2026-10", "2"), ("2026-10", "1")]
    assert "en vigueur" in text(rows[0][2]) and "remplacée" in text(rows[1][2]) and "incomplète (forcée)" in text(rows[0][2])
    missing = first.missing[0]
    assert f"{missing.learner} : {missing.field}" in text(rows[1][2])
    csv = next(name for name in first.files if name.endswith(".csv"))
    link = f"/app/manager/exports/opco-atlas/2026-10/v1/{csv}"
    assert f'href="{link}"' in rows[1][2]
    download = await admin.get(link)
    assert download.status == 200 and "attachment" in download.headers["Content-Disposition"]
    assert download.body.encode() == (first.folder / csv).read_bytes()
    actions = [e["data"] for e in await site.hub.store.call(lambda: list(site.hub.store.iter_events(types=["admin.action"])))]
    assert {"actor": "claire@demo.example", "command": "export download", "target": f"opco-atlas/2026-10/v1/{csv}"} in actions

    # the manager of ACT-2026-REACT-01 sees the export restricted to its action, not the one of every action
    page = await manager.get("/app/manager/exports")
    assert re.findall(r'data-export="([^"]+)"', page.body) == ["atlas-react"]
    assert (await manager.get(f"/app/manager/exports/atlas-react/2026-10/v{react.version}/{csv}")).status == 200
    assert (await manager.get(link)).status == 404  # out of scope: as if it did not exist
    # only what a manifest lists is served: no other name, no other folder
    for wrong in ("/app/manager/exports/opco-atlas/2026-10/v1/nothing.csv", "/app/manager/exports/opco-atlas/2026-10/v9/" + csv,
                  "/app/manager/exports/opco-atlas/2026-10/v1/..%2F..%2Fv2%2F" + csv, "/app/manager/exports/nope/2026-10/v1/" + csv,
                  "/app/manager/exports/opco-atlas/..%2F..%2F/v1/" + csv):
        assert (await admin.get(wrong)).status == 404, wrong


async def test_the_admin_replays_a_dead_letter_from_its_page(make_site, signed_in, sink_peer):
    site = await make_site(sink(sink_peer.url))
    sink_peer.statuses = [400]
    (event_id,) = (await site.hub.append([event(1)], source=None)).ids
    assert (await site.hub.dispatcher.deliver_due("crm")).dead == 1
    (letter,) = await site.hub.store.call(site.hub.store.dead_letters, sink="crm")
    admin, manager = await signed_in(site, "admin"), await signed_in(site, "manager")
    assert (await manager.get("/app/manager/dead-letters")).status == 403
    assert (await manager.get(f"/app/manager/dead-letters/{letter.id}")).status == 403

    page = await admin.get("/app/manager/dead-letters")
    row = re.search(rf'<tr data-letter="{letter.id}">(.*?)</tr>', page.body, re.S)
    assert row, page.body[:800]
    cells = [text(c).strip() for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row[1], re.S)]
    assert cells[:3] == [letter.id, "envoi", "vers crm"] and "HTTP 400" in cells[3] and cells[6] == "1"
    detail = await admin.get(f"/app/manager/dead-letters/{letter.id}")
    assert detail.status == 200 and f'href="/app/manager/events/{event_id}"' in detail.body
    assert (await admin.get("/app/manager/dead-letters/o:999999")).status == 404
    assert (await admin.get("/app/manager/dead-letters/x:1")).status == 404

    # the sink is fixed (it answers 200 now): replay from the page, as `parcours dlq replay --id` does
    assert (await manager.post(f"/app/manager/dead-letters/{letter.id}/replay", {}, token_from="/app/")).status == 403
    assert sink_peer.ids == []
    done = await admin.post(f"/app/manager/dead-letters/{letter.id}/replay", {}, token_from=f"/app/manager/dead-letters/{letter.id}")
    assert done.status == 200, done.body[:500]
    assert "1 envoi(s) remis en file" in text(done.body) and "crm : 1 envoyé(s)" in text(done.body)
    assert sink_peer.ids == [event_id]
    assert await site.hub.store.call(site.hub.store.dead_letters) == []
    replays = [e["data"] for e in await site.hub.store.call(lambda: list(site.hub.store.iter_events(types=["admin.action"])))
               if e["data"]["command"] == "dlq replay"]
    assert len(replays) == 1 and replays[0]["actor"] == "claire@demo.example" and f"ids={letter.id}" in replays[0]["target"]
    assert "Aucune lettre morte" in text((await admin.get("/app/manager/dead-letters")).body)
    # replayed: it is no longer a dead letter, and a second POST finds nothing to replay
    assert (await admin.post(f"/app/manager/dead-letters/{letter.id}/replay", {}, token_from="/app/")).status == 404
    # without the form's token, nothing happens
    async with admin.http.post(f"/app/manager/dead-letters/{letter.id}/replay", data={}, allow_redirects=False) as r:
        assert r.status == 403


async def test_a_dead_letter_whose_personal_data_was_erased_shows_it_and_offers_no_replay(make_site, signed_in):
    from hub.store.base import RejectRow

    site = await make_site("")
    store = site.hub.store
    await store.call(store.ingest, [], None, rejects=[RejectRow("crm", "map", "no action", '{"email":"[erased]"}')])
    (letter,) = await store.call(store.dead_letters)
    store.conn.execute("UPDATE rejects SET erased_at = 1796601600, erased_by = 'REC' WHERE id = ?", (int(letter.id[2:]),))
    admin = await signed_in(site, "admin")
    detail = await admin.get(f"/app/manager/dead-letters/{letter.id}")
    assert detail.status == 200 and 'id="letter-erased"' in detail.body and 'id="replay"' not in detail.body
    assert "ont été effacées le 2026-12-07" in text(detail.body)


async def test_the_connectors_page_shows_health_and_backlog(make_site, signed_in, sink_peer):
    site = await make_site(sink(sink_peer.url))
    await site.hub.append([event(1), event(2)], source=None)  # two rows pending for crm, not yet delivered
    manager = await signed_in(site, "manager")
    page = await manager.get("/app/manager/connectors")
    assert page.status == 200 and 'hx-trigger="every 5s"' in page.body
    demo = re.search(r'<tr data-connector="demo">(.*?)</tr>', page.body, re.S)
    crm = re.search(r'<tr data-connector="crm">(.*?)</tr>', page.body, re.S)
    assert demo and crm, page.body[:800]
    demo_cells = [text(c).strip() for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", demo[1], re.S)]
    state = next(s for s in await site.hub.store.call(site.hub.store.all_source_states) if s.name == "demo")
    assert demo_cells[1].startswith("en service") and re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", demo_cells[2])
    for reason, n in (state.skipped or {}).get("reasons", {}).items():
        assert f"{reason} : {n}" in demo_cells[4]
    assert 'data-backlog="2"' in crm[1] and "2 en attente, 0 en échec" in text(crm[1])
    assert "voir les lettres mortes" not in page.body  # the manager cannot open them
    assert '<svg' in page.body and "crm: 2" in page.body  # the backlog chart says its figures in words
    # the refresh: the same figures, without the page around them; and they move with the store
    await site.hub.dispatcher.deliver_due("crm")
    fragment = await manager.get("/app/manager/connectors", headers={"HX-Request": "true"})
    assert fragment.status == 200 and "<html" not in fragment.body
    assert 'data-backlog="0"' in re.search(r'<tr data-connector="crm">(.*?)</tr>', fragment.body, re.S)[1]
    assert "0 en attente, 0 en échec, 2 envoyé(s)" in text(fragment.body)


async def test_the_connectors_checks_are_shared_by_the_pages_refreshing_at_once():
    class Hub:
        calls = 0

        async def check_connectors(self):
            Hub.calls += 1
            await asyncio.sleep(0.05)  # a remote system answering
            return {"demo": {"ok": True, "message": f"check {Hub.calls}"}}

    checks = SharedChecks(Hub(), ttl=0.3)
    first = await asyncio.gather(*(checks() for _ in range(5)))
    assert Hub.calls == 1 and all(c == {"demo": {"ok": True, "message": "check 1"}} for c in first)
    assert (await checks())["demo"]["message"] == "check 1"
    await asyncio.sleep(0.3)
    assert (await checks())["demo"]["message"] == "check 2" and Hub.calls == 2


async def test_the_operations_pages_in_english(make_site, signed_in, sink_peer):
    site = await make_site(sink(sink_peer.url) + "\n" + EXPORTS.strip("\n"))
    sink_peer.statuses = [400]
    await site.hub.append([event(1)], source=None)
    await site.hub.dispatcher.deliver_due("crm")
    (letter,) = await site.hub.store.call(site.hub.store.dead_letters)
    admin = await signed_in(site, "admin")
    english = {"Accept-Language": "en"}
    connectors = text((await admin.get("/app/manager/connectors", headers=english)).body)
    assert "Connectors' health" in connectors and "working" in connectors and "0 pending, 1 dead, 0 delivered" in connectors
    letters = text((await admin.get("/app/manager/dead-letters", headers=english)).body)
    assert "Dead letters" in letters and "to crm" in letters and "delivery" in letters
    one = text((await admin.get(f"/app/manager/dead-letters/{letter.id}", headers=english)).body)
    assert "Replay" in one and "queued again for this connector" in one
    exports = text((await admin.get("/app/manager/exports", headers=english)).body)
    assert "Funder exports" in exports and "Actions: all" in exports and "Actions: ACT-2026-REACT-01" in exports


async def test_the_home_page_and_the_navigation_link_the_pages_the_role_opens(site, signed_in):
    for role, shown, hidden in (("admin", {"/app/manager/exports", "/app/manager/connectors", "/app/manager/dead-letters"}, set()),
                                ("manager", {"/app/manager/exports", "/app/manager/connectors"}, {"/app/manager/dead-letters"})):
        person = await signed_in(site, role)
        home = await person.get("/app/")
        links = set(re.findall(r'href="(/app/manager/[a-z-]+)"', home.body))
        assert shown <= links and not hidden & links, (role, links)
        for link in links:
            assert (await person.get(link)).status == 200, (role, link)
