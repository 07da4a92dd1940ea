"""GET /verify/{id} (HTML for a phone, JSON) and the public keys, through a real aiohttp server."""

from __future__ import annotations

import aiohttp
import pytest
from aiohttp import web

from hub.documents import payload as P
from hub.documents.http import add_routes
from hub.documents.issue import issue_documents, revoke_document
from hub.documents.keys import KeyRing, parse_keys_document
from hub.documents.services import services_of
from hub.documents.settings import keys_dir
from hub.ulid import new_ulid
from tests.documents.conftest import TODAY, learner_id


@pytest.fixture
async def served(demo_hub, aiohttp_server_factory):
    app = web.Application()
    add_routes(app, demo_hub)
    server = await aiohttp_server_factory(app)
    async with aiohttp.ClientSession(base_url=f"http://127.0.0.1:{server.port}") as client:
        yield demo_hub, client


async def issue(hub, name="Camille Dubois"):
    who = await learner_id(hub, name)
    return (await issue_documents(services_of(hub), learner_id=who, today=TODAY)).issued[0]


def path_of(url: str) -> str:
    return url[url.index("/verify/"):]


async def test_the_page_a_person_reads_after_scanning(served):
    hub, client = served
    doc = await issue(hub, "Chloé N'Diaye")
    async with client.get(path_of(doc.url), headers={"Accept": "text/html,application/xhtml+xml"}) as r:
        assert r.status == 200 and r.content_type == "text/html" and r.headers["Cache-Control"] == "no-store"
        page = await r.text()
    assert '<html lang="fr">' in page and 'name="viewport"' in page
    assert "Document authentique" in page
    assert "Chloé N&#x27;Diaye" in page  # escaped, accents intact
    for shown in ("Certificat de réalisation", "Développeur·se web — React et API", "73282932000074", "84691234569",
                  "5 octobre 2026", "16 octobre 2026", "action de formation", "Parcours Démo Formation SAS"):
        assert shown in page, shown
    assert "chloe.ndiaye@example.fr" not in page and "opco" not in page.lower()  # not on the document: not shown
    async with client.get(path_of(doc.url) + "&format=json") as r:
        assert r.status == 200
        body = await r.json()
    assert body["status"] == "valid" and body["document"] == doc.id and body["fields"]["learner"] == "Chloé N'Diaye"
    assert body["sha256"] == doc.sha256 and body["key_id"] == doc.key_id
    async with client.get(f"/verify/{doc.id}", headers={"Accept": "application/json"}) as r:  # no payload: the ledger's
        assert (await r.json())["status"] == "valid"


async def test_a_forged_qr_revocation_and_unknown_documents(served):
    hub, client = served
    doc = await issue(hub)
    doc_id, text = P.parse_url(doc.url)
    forged = text[:-5] + ("AAAAA" if not text.endswith("AAAAA") else "BBBBB")
    async with client.get(f"/verify/{doc_id}?p={forged}") as r:
        assert r.status == 200
        page = await r.text()
    assert "Document altéré" in page and "Camille Dubois" in page  # what was issued, to compare with
    await revoke_document(services_of(hub), doc.id, "erreur de saisie des heures")
    async with client.get(path_of(doc.url)) as r:
        page = await r.text()
    assert "Document révoqué le" in page and "erreur de saisie des heures" in page
    async with client.get(path_of(doc.url), params={"format": "json"}) as r:
        body = await r.json()
    assert body["status"] == "revoked" and body["revoked_reason"] == "erreur de saisie des heures"
    async with client.get(f"/verify/{new_ulid()}") as r:
        assert r.status == 404 and "Document inconnu" in await r.text()
    async with client.get("/verify/not-an-id?format=json") as r:
        assert r.status == 404 and (await r.json())["status"] == "unknown_document"


async def test_public_keys_document(served):
    hub, client = served
    ring = KeyRing(keys_dir(hub.config))
    ring.rotate()
    async with client.get("/.well-known/parcours-keys.json") as r:
        assert r.status == 200 and r.headers["Access-Control-Allow-Origin"] == "*"
        document = await r.json()
    assert document["issuer"] == "Parcours Démo Formation SAS"
    assert [k["status"] for k in document["keys"]] == ["retired", "active"]
    assert set(parse_keys_document(document)) == {k.kid for k in ring.public_keys()}
    assert "PRIVATE" not in (await r.text() if False else str(document))


async def test_a_document_replaced_after_a_rectification_says_so_on_the_public_page(served):
    from hub.rights.rectify import rectify_learner

    hub, client = served
    old = await issue(hub, "Chloé N'Diaye")
    result = await rectify_learner(services_of(hub), old.learner_id, "name", "Chloé N'Diaye-Martin",
                                   "nom d'usage (demande écrite du 2 décembre)", actor="dpo")
    (new,) = [d for d in result["reissued"] if "id" in d]
    async with client.get(path_of(old.url), headers={"Accept": "text/html"}) as r:
        page = await r.text()
    assert (f"Document authentique mais remplacé par le document n° {new['id']} "
            "(motif : rectification des données de l&#x27;apprenant)") in page
    assert "demande écrite" not in page, "the request's own words are not published"
    async with client.get(path_of(old.url), params={"format": "json"}) as r:
        body = await r.json()
    assert body["status"] == "superseded" and body["superseded_by"] == new["id"]
    assert body["superseded_reason"] == "rectification"
    async with client.get(path_of(new["url"]), params={"format": "json"}) as r:
        assert (await r.json())["status"] == "valid"
