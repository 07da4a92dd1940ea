"""The admin's and manager's page of audit links: make a link with the form (its address shown
once, and it opens the sample), see it listed, revoke it; a manager sees and revokes only the links
of its own actions; each change an admin.action event by the signed-in account."""

from __future__ import annotations

import re

import pyotp

from hub.web.accounts import Accounts
from hub.web.roles import Scopes
from tests.web.conftest import ACTION, PASSWORD, Person, events_of


async def test_an_admin_makes_a_link_with_the_form_sees_it_and_revokes_it(site, people):
    admin = people()
    await admin.sign_in("admin")
    made = await admin.post("/app/audit-links", {"action": ACTION, "sample": "3", "seed": "5", "expires": "7d",
                                                 "label": "Certificateur Qualiopi"})
    assert made.status == 201, made.body[:300]
    url = re.search(r'id="made-url" type="text" readonly value="([^"]+)"', made.body)[1]
    token = url.rsplit("/", 1)[1]
    assert url == f"{site.url}/app/audit/{token}" and "Graine du tirage : 5" in made.body

    auditor = people()
    opened = await auditor.get(f"/app/audit/{token}")
    assert opened.status == 200 and len(re.findall(r'<tr data-learner="', opened.body)) == 3

    listing = await admin.get("/app/audit-links")
    assert listing.status == 200 and "Certificateur Qualiopi" in listing.body and token not in listing.body
    (link_id,) = re.findall(r'<tr data-link="([^"]+)"', listing.body)
    assert (await admin.post(f"/app/audit-links/{link_id}/revoke", {}, token_from="/app/audit-links")).status == 303
    assert 'data-state="revoked"' in (await admin.get("/app/audit-links")).body
    assert (await auditor.get(f"/app/audit/{token}")).status == 410
    done = [(e["data"]["command"], e["data"]["actor"]) for e in await events_of(site.hub, "admin.action")
            if e["data"]["command"].startswith("audit-link")]
    assert done == [("audit-link create", site.emails["admin"]), ("audit-link revoke", site.emails["admin"])]


async def test_bad_form_input_is_said_in_french_and_makes_nothing(site, people):
    manager = people()
    await manager.sign_in("manager")
    for fields, message in (({"action": "ACT-OTHER", "sample": "3"}, "action de formation de votre périmètre"),
                            ({"action": ACTION, "sample": "0"}, "entre 1 et 1000"),
                            ({"action": ACTION, "sample": "3", "seed": "-1"}, "entier positif"),
                            ({"action": ACTION, "sample": "3", "expires": "365d"}, "durée de validité")):
        page = await manager.post("/app/audit-links", {"expires": "7d", **fields})
        assert page.status == 400 and message in page.body and 'role="alert"' in page.body, fields
    assert await site.hub.store.call(site.hub.store.audit_links) == []


async def test_a_manager_sees_and_revokes_only_the_links_of_its_actions(site, people):
    admin = people()
    await admin.sign_in("admin")
    assert (await admin.post("/app/audit-links", {"action": ACTION, "sample": "2", "expires": "1d"})).status == 201
    (link_id,) = re.findall(r'<tr data-link="([^"]+)"', (await admin.get("/app/audit-links")).body)
    _, made = await Accounts(site.hub.store, site.hub.append).add(
        "other@demo.example", "manager", Scopes(actions=("ACT-OTHER",)), password=PASSWORD, with_totp=True, actor="test")
    other = Person(site)
    try:
        first = await other.post("/app/login", {"email": "other@demo.example", "password": PASSWORD})
        assert first.status == 303
        await other.post("/app/login/code", {"code": pyotp.TOTP(made.totp_secret).now(), "next": "/app/"})
        page = await other.get("/app/audit-links")
        assert page.status == 200 and link_id not in page.body, page.body[page.body.find(link_id) - 300:page.body.find(link_id) + 50]
        assert "Aucun lien d&#39;audit pour vos actions" in page.body
        refused = await other.post(f"/app/audit-links/{link_id}/revoke", {}, token_from="/app/audit-links")
        assert refused.status == 404
    finally:
        await other.close()
    assert 'data-state="active"' in (await admin.get("/app/audit-links")).body
