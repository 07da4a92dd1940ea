"""The auditor's link (docs/web-app.md#the-auditors-link), opened without an account, as an
auditor does: the sample drawn once at creation, its journeys, events and documents, the audit
pack of exactly that scope (checked by docs/verify_audit_pack.py), every use an
``access.audit_viewed`` event without the token; expired, revoked and unknown links answer with a
page that shows nothing, and no address reaches a learner outside the link's scope."""

from __future__ import annotations

import datetime as dt
import io
import json
import random
import re
import zipfile

import pytest

from hub.audit.links import AuditLinkError, create_link, hash_token, revoke_link
from hub.audit.selection import Selection
from hub.ulid import new_ulid
from tests.test_audit_pack import verify
from tests.web.conftest import ACTION, Person, events_of

WEEK = dt.timedelta(days=7)


async def make_link(site, **kw) -> tuple:
    selection = kw.pop("selection", None) or Selection(ACTION, sample=3, seed=7)
    return await create_link(site.hub, selection, kw.pop("lifetime", WEEK), label="Qualiopi", actor="test", **kw)


async def action_learners(hub) -> list[str]:
    await hub.project()
    return sorted(await hub.store.call(hub.store.journey_learners, ACTION))


async def test_the_link_shows_exactly_its_sample_drawn_as_the_audit_pack_draws_it(site, people):
    link, token = await make_link(site)
    population = await action_learners(site.hub)
    assert list(link.learners) == sorted(random.Random(7).sample(population, 3)), "the audit pack's draw, from its seed"
    again, _ = await make_link(site)
    assert again.learners == link.learners and again.id != link.id, "the same seed draws the same sample"
    stored = await site.hub.store.call(site.hub.store.audit_link, link.id)
    assert stored["token_hash"] == hash_token(token) and token not in json.dumps(stored), "kept hashed only"
    assert len(token) >= 43  # 256 bits, URL-safe base64

    auditor = people()  # no account, no session: the link is the credential
    page = await auditor.get(f"/app/audit/{token}")
    assert page.status == 200, page.body[:300]
    shown = set(re.findall(r'<tr data-learner="([^"]+)"', page.body))
    assert shown == set(link.learners)
    assert "Télécharger le dossier" in page.body and f"/app/audit/{token}/pack" in page.body
    others = set(population) - set(link.learners)
    assert not any(f"/learners/{other}" in page.body for other in others)

    one = link.learners[0]
    detail = await auditor.get(f"/app/audit/{token}/learners/{one}")
    assert detail.status == 200 and 'id="events"' in detail.body
    own = [e for e in await site.hub.store.call(site.hub.store.events_of_learners, [one], until_seq=10**9)
           if e["action"] in (ACTION, None)]
    assert own and all(e["id"] in detail.body for e in own), "every event of the learner about the action"

    viewed = await events_of(site.hub, "access.audit_viewed")
    assert [(e["data"]["what"], e["data"].get("learner")) for e in viewed] == [("index", None), ("learner", one)]
    assert all(e["data"]["link"] == link.id and e["data"]["action"] == ACTION for e in viewed)
    assert token not in json.dumps(viewed, default=str)
    made = [e["data"] for e in await events_of(site.hub, "admin.action") if e["data"]["command"] == "audit-link create"]
    assert [m["target"] for m in made] == [link.id, again.id] and token not in json.dumps(made)


async def test_documents_link_to_their_public_verify_page(make_site):
    from hub.documents.issue import issue_documents
    from hub.documents.keys import KeyRing
    from hub.documents.services import services_of
    from hub.documents.settings import keys_dir
    from tests.documents.conftest import HUB_EXTRA

    site = await make_site(hub_extra=HUB_EXTRA)  # documents need the organisation's identity
    link, token = await make_link(site)
    KeyRing(keys_dir(site.hub.config)).generate()
    one = link.learners[0]
    run = await issue_documents(services_of(site.hub), learner_id=one, allow_incomplete=True,
                                doc_type="certificat_realisation")
    issued = [d for d in run.issued if d.learner_id == one]
    assert issued, run
    auditor = Person(site)
    try:
        for path in (f"/app/audit/{token}", f"/app/audit/{token}/learners/{one}"):
            page = await auditor.get(path)
            assert f'href="/verify/{issued[0].id}"' in page.body and "Certificat de réalisation" in page.body
        assert (await auditor.get(f"/verify/{issued[0].id}")).status == 200
    finally:
        await auditor.close()


async def test_the_pack_downloaded_holds_exactly_the_scope_and_verifies(site, people, tmp_path):
    await site.hub.seal()
    link, token = await make_link(site)
    auditor = people()
    async with auditor.http.get(f"/app/audit/{token}/pack", allow_redirects=False) as r:
        assert r.status == 200 and r.headers["Content-Type"] == "application/zip"
        assert "attachment" in r.headers["Content-Disposition"] and token not in r.headers["Content-Disposition"]
        body = await r.read()
    pack = tmp_path / "pack.zip"
    pack.write_bytes(body)
    with zipfile.ZipFile(io.BytesIO(body)) as z:
        manifest = json.loads(z.read("manifest.json"))
    assert [x["id"] for x in manifest["learners"]] == list(link.learners)
    assert manifest["selection"] == {"mode": "learners", "action": ACTION, "learners": list(link.learners)}
    run = verify(pack)
    assert run.returncode == 0, run.stdout + run.stderr
    assert not list((site.hub.config.data_dir / "audit-packs").iterdir()), "no temporary file left"
    assert [e["data"]["what"] for e in await events_of(site.hub, "access.audit_viewed")] == ["pack"]


async def test_expired_revoked_and_unknown_links_answer_with_a_french_page_and_no_data(site, people):
    expired, old = await make_link(site, lifetime=dt.timedelta(seconds=1), now=0)
    revoked, gone = await make_link(site)
    await revoke_link(site.hub.store, site.hub.append, revoked.id, actor="test")
    with pytest.raises(AuditLinkError, match="revoked already"):
        await revoke_link(site.hub.store, site.hub.append, revoked.id, actor="test")
    auditor = people()
    for token, status, title in ((old, 410, "Lien expiré"), (gone, 410, "Lien révoqué"),
                                 ("x" * 43, 404, "Lien introuvable"), ("y" * 500, 404, "Lien introuvable")):
        learner = (expired if token == old else revoked).learners[0]
        for path in ("", f"/learners/{learner}", "/pack"):
            page = await auditor.get(f"/app/audit/{token}{path}")
            assert page.status == status and title in page.body, (token[:5], path, page.status, page.body[:200])
            assert 'lang="fr"' in page.body and "data-learner" not in page.body and 'id="events"' not in page.body
            assert page.headers["Content-Type"].startswith("text/html")
    assert await events_of(site.hub, "access.audit_viewed") == [], "a refused link reads nothing"
    english = people()  # a first visit can switch the page to English (the form's token comes with it)
    switched = await english.post("/app/language", {"lang": "en", "next": f"/app/audit/{gone}"},
                                  token_from=f"/app/audit/{gone}")
    assert switched.status == 303
    assert "Link revoked" in (await english.get(f"/app/audit/{gone}")).body
    revokes = [e["data"] for e in await events_of(site.hub, "admin.action") if e["data"]["command"] == "audit-link revoke"]
    assert [r["target"] for r in revokes] == [revoked.id]


async def test_a_link_never_reaches_a_learner_outside_its_scope_whatever_is_typed(site, people):
    population = await action_learners(site.hub)
    mine, token = await make_link(site, selection=Selection(ACTION, learners=tuple(population[:2])))
    theirs, _ = await make_link(site, selection=Selection(ACTION, learners=tuple(population[2:4])))
    outside = [p for p in population if p not in mine.learners]
    names = {r.learner_id: r.learner_name for r in await site.hub.journey_reports(action=ACTION)}
    hidden = [names[lid] for lid in outside]
    assert all(hidden)
    guesses = [*outside, *theirs.learners, new_ulid(), "email:theo.garnier@example.fr", "*", "..", "%2e%2e",
               "' OR '1'='1", "0", mine.learners[0] + "x", mine.learners[0].lower()]
    auditor = people()
    for guess in guesses:
        for path in (f"/app/audit/{token}/learners/{guess}", f"/app/audit/{token}/learners/{guess}?after=-1"):
            page = await auditor.get(path)
            assert page.status == 404, (guess, page.status, page.body[:200])  # ".." never reaches the route: 404 too
            assert "data-learner" not in page.body and not any(name in page.body for name in hidden), guess
    index = await auditor.get(f"/app/audit/{token}")
    assert not any(name in index.body for name in hidden) and not any(lid in index.body for lid in outside)
    assert "Apprenant introuvable" in (await auditor.get(f"/app/audit/{token}/learners/{outside[0]}")).body
    # a learner of the scope opens: the scope, not the route, decides
    assert (await auditor.get(f"/app/audit/{token}/learners/{mine.learners[1]}")).status == 200


async def test_a_link_needs_a_sample_or_learners_and_a_bounded_lifetime(site):
    with pytest.raises(AuditLinkError, match="90 days"):
        await make_link(site, lifetime=dt.timedelta(days=91))
    with pytest.raises(AuditLinkError, match="sample"):
        await make_link(site, selection=Selection(ACTION, funder="opco-atlas", period="2026"))
    from hub.audit.selection import SelectionError
    with pytest.raises(SelectionError, match="not enrolled"):
        await make_link(site, selection=Selection(ACTION, learners=(new_ulid(),)))
    assert await site.hub.store.call(site.hub.store.audit_links) == []
