"""The learner's « Mes données » page on the demo data: what is shared with which funder and
employer, the consent toggles (each change a consent event, channel web, that ingest and routes
honour), and the documents issued to the learner, downloadable by that learner only."""

from __future__ import annotations

import hashlib

import pytest

from hub.web.accounts import Accounts
from hub.web.roles import Scopes
from tests.documents.conftest import HUB_EXTRA
from tests.web.conftest import ACTION, PASSWORD, THEO, Person, events_of
from tests.web.test_learner_journey import text

EMPLOYER = "\n  employer: {kind: ndjson_out, directory: out/employer}\n"
ROUTES = """
exports:
  opco-atlas: {kind: opco, profile: atlas, funders: [opco-atlas], outputs: [attendance_csv]}
routes:
  - {name: progress-to-employer, from: "*", when: {types: ["lms.*", "attendance.*"], consent: employer_progress}, to: employer}
"""


@pytest.fixture
async def persons():
    """``persons(site)``: a browser without JavaScript on a site made with make_site, closed afterwards."""
    opened = []

    def make(site) -> Person:
        opened.append(Person(site))
        return opened[-1]

    yield make
    for person in opened:
        await person.close()


async def issue_for(site, learner_id: str):
    from hub.documents.issue import issue_documents
    from hub.documents.keys import KeyRing
    from hub.documents.services import services_of
    from hub.documents.settings import keys_dir

    KeyRing(keys_dir(site.hub.config)).generate()
    run = await issue_documents(services_of(site.hub), learner_id=learner_id, allow_incomplete=True,
                                doc_type="certificat_realisation")
    (doc,) = [d for d in run.issued if d.learner_id == learner_id]
    return doc


async def test_the_page_says_what_goes_to_the_funder_and_the_employer(make_site, persons):
    site = await make_site(EMPLOYER + ROUTES)
    theo_id = await site.hub.store.call(site.hub.store.learner_by_key, f"email:{THEO}")
    await site.hub.append([{"type": "enrolment.agreement_signed", "occurred_at": "2026-09-01T10:00:00+02:00",
                            "source_id": "agreement-theo", "action": ACTION,
                            "learner": {"ref": "apprenant-04", "email": THEO},
                            "data": {"employer_name": "Atelier Lumière", "employer_siret": "44803334400012"}}],
                          source=None)
    theo = persons(site)
    await theo.sign_in("learner")
    page = await theo.get("/app/learner/data")
    assert page.status == 200
    body = text(page.body)
    assert "Financeur : opco-atlas" in body and "Export « opco-atlas » (opco) (attendance_csv)" in body
    assert "Employeur : Atelier Lumière (SIRET 44803334400012)" in body
    assert "Votre progression ne lui est pas transmise." in body  # employer_progress: refused by default
    assert 'href="/app/learner/data"' in (await theo.get("/app/")).body

    given = await theo.post("/app/learner/data/consents/employer_progress", {"choice": "give"},
                            token_from="/app/learner/data")
    assert given.status == 303 and given.headers["Location"] == "/app/learner/data?done=give#consent-employer_progress"
    (event,) = await events_of(site.hub, "consent.given")
    assert event["learner_id"] == theo_id and event["source"] == "hub"
    assert event["data"] == {"purpose": "employer_progress", "version": "1", "channel": "web",
                             "scope": "44803334400012", "by": site.emails["learner"]}
    after = text((await theo.get("/app/learner/data?done=give")).body)
    assert "Votre consentement est enregistré." in after and "Votre progression lui est transmise" in after
    assert "Transmission « progress-to-employer » vers employer" in after

    await site.hub.append([{"type": "lms.progress", "occurred_at": "2026-10-20T10:00:00+02:00", "source_id": "p-theo",
                            "action": ACTION, "learner": {"ref": "apprenant-04", "email": THEO},
                            "data": {"percent": "60"}}], source=None)
    counts = await site.hub.store.call(site.hub.store.outbox_counts)
    assert sum(n for (sink, _), n in counts.items() if sink == "employer") == 1  # the consent gates the route


async def test_the_learner_withdraws_and_gives_the_funnel_consent_and_collection_follows(site, people):
    theo = people()
    await theo.sign_in("learner")
    body = (await theo.get("/app/learner/data")).body
    assert 'id="withdraw-funnel_tracking"' in body and "Refuser ce traitement" in body  # in force by default
    withdrawn = await theo.post("/app/learner/data/consents/funnel_tracking", {"choice": "withdraw"},
                                token_from="/app/learner/data")
    assert withdrawn.status == 303
    (event,) = await events_of(site.hub, "consent.withdrawn")
    assert event["data"]["channel"] == "web" and event["data"]["purpose"] == "funnel_tracking"
    page = text((await theo.get("/app/learner/data?done=withdraw")).body)
    assert "Votre retrait est enregistré" in page and "Consentement retiré le" in page

    view = {"type": "prospect.contact_created", "occurred_at": "2026-10-21T10:00:00+02:00", "source_id": "again",
            "learner": {"ref": "apprenant-04", "email": THEO}, "data": {"email": THEO}}
    assert (await site.hub.append([view], source=None)).withheld == {0: "funnel_tracking:withdrawn"}
    assert (await theo.post("/app/learner/data/consents/funnel_tracking", {"choice": "give"},
                            token_from="/app/learner/data")).status == 303
    assert (await site.hub.append([view], source=None)).appended == 1
    assert "Consentement donné le" in (page := text((await theo.get("/app/learner/data")).body))
    assert "Retirer mon consentement : Suivi du parcours commercial" in page


async def test_a_bad_choice_an_unknown_or_disallowed_purpose_and_a_missing_token_record_nothing(make_site, persons):
    site = await make_site(hub_extra="""
  consents:
    purposes:
      funnel_tracking: {label: Suivi, text: Texte., default: given, collects: ["prospect.*"]}
      newsletter: {label: Lettre, text: Texte., allowed: false}
""")
    theo = persons(site)
    await theo.sign_in("learner")
    page = text((await theo.get("/app/learner/data")).body)
    assert "Suivi" in page and "Lettre" not in page  # a purpose the organisation does not allow has no toggle
    assert (await theo.post("/app/learner/data/consents/funnel_tracking", {"choice": "maybe"},
                            token_from="/app/learner/data")).status == 400
    assert (await theo.post("/app/learner/data/consents/newsletter", {"choice": "give"},
                            token_from="/app/learner/data")).status == 404
    assert (await theo.post("/app/learner/data/consents/employer_progress", {"choice": "give"},
                            token_from="/app/learner/data")).status == 404  # not configured here
    async with theo.http.post("/app/learner/data/consents/funnel_tracking", data={"choice": "withdraw"},
                              allow_redirects=False) as r:
        assert r.status == 403  # no CSRF token
    assert await events_of(site.hub, "consent.given") == [] and await events_of(site.hub, "consent.withdrawn") == []


async def test_the_learner_downloads_its_own_document_and_no_one_elses(make_site, persons):
    site = await make_site(hub_extra=HUB_EXTRA)  # documents need the organisation's identity
    theo_id = await site.hub.store.call(site.hub.store.learner_by_key, f"email:{THEO}")
    doc = await issue_for(site, theo_id)
    theo = persons(site)
    await theo.sign_in("learner")
    page = (await theo.get("/app/learner/data")).body
    assert f'href="/app/learner/documents/{doc.id}"' in page and "Certificat de réalisation" in text(page)
    async with theo.http.get(f"/app/learner/documents/{doc.id}", allow_redirects=False) as r:
        assert r.status == 200 and r.content_type == "application/pdf"
        assert "attachment" in r.headers["Content-Disposition"]
        pdf = await r.read()
    assert hashlib.sha256(pdf).hexdigest() == doc.sha256
    (event,) = await events_of(site.hub, "access.document_downloaded")
    assert event["data"]["document"] == doc.id and event["data"]["document_type"] == "certificat_realisation"
    assert event["learner_id"] == theo_id and "pdf" not in str(event["data"]).lower()

    hugo = await site.hub.store.call(site.hub.store.learner_by_key, "email:hugo.lefevre@example.fr")
    await Accounts(site.hub.store, site.hub.append).add("hugo@demo.example", "learner", Scopes(learner=hugo),
                                                         password=PASSWORD, name="Hugo")
    other = persons(site)
    assert (await other.post("/app/login", {"email": "hugo@demo.example", "password": PASSWORD})).status == 303
    theirs = await other.get(f"/app/learner/documents/{doc.id}")
    unknown = await other.get("/app/learner/documents/01NOSUCHDOCUMENT0000000000")
    assert theirs.status == unknown.status == 404 and theirs.body == unknown.body  # the same answer
    assert doc.id not in (await other.get("/app/learner/data")).body
    assert len(await events_of(site.hub, "access.document_downloaded")) == 1
