"""The learner's own journey page on the demo data: hours, half-days signed, what is still needed,
for the signed-in learner only."""

from __future__ import annotations

import hashlib
import html
import io
import json
import re
import zipfile

from hub.web.accounts import Accounts
from hub.web.i18n import number
from hub.web.roles import Scopes
from tests.web.conftest import ACTION, PASSWORD, events_of


def text(body: str) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body)))


async def test_the_learner_sees_its_hours_half_days_and_the_missing_co_signature(site, people):
    learner = people()
    await learner.sign_in("learner")
    page = await learner.get("/app/learner/journey")
    assert page.status == 200
    body = text(page.body)
    report = (await site.hub.journey_reports(learner_id=(await site.hub.store.call(
        site.hub.store.learner_by_key, "email:theo.garnier@example.fr"))))[0]
    assert f"{number(report.realised_hours, 'fr')} h sur {number(report.planned_hours, 'fr')} h prévues" in body
    assert "Le 2026-10-07 (matin) : votre signature est là, celle du formateur manque" in body
    signed = re.search(r"Demi-journées signées (\d+) sur (\d+) à ce jour", body)
    assert signed and signed[1] == signed[2] == "10"  # ten mornings, all signed by Théo (one not co-signed)
    assert f'data-action="{ACTION}"' in page.body


async def test_each_learner_sees_only_its_own_journey(site, people):
    hugo = await site.hub.store.call(site.hub.store.learner_by_key, "email:hugo.lefevre@example.fr")
    assert hugo, "the demo has Hugo Lefèvre"
    _, made = await Accounts(site.hub.store, site.hub.append).add(
        "hugo@demo.example", "learner", Scopes(learner=hugo), password=PASSWORD, name="Hugo")
    person = people()
    response = await person.post("/app/login", {"email": "hugo@demo.example", "password": PASSWORD, "next": "/app/"})
    assert response.status == 303 and made.totp_secret is None
    page = text((await person.get("/app/learner/journey")).body)
    assert "co-signature" not in page and "celle du formateur manque" not in page  # Théo's gap is not Hugo's
    theo = people()
    await theo.sign_in("learner")
    assert "celle du formateur manque" in text((await theo.get("/app/learner/journey")).body)


async def test_the_learner_downloads_its_own_data_and_the_download_is_recorded(site, people):
    theo_id = await site.hub.store.call(site.hub.store.learner_by_key, "email:theo.garnier@example.fr")
    theo = people()
    await theo.sign_in("learner")
    page = await theo.get("/app/learner/journey")
    assert "Télécharger mes données" in page.body and 'action="/app/learner/data-export"' in page.body
    token = await theo.token("/app/learner/journey")
    async with theo.http.post("/app/learner/data-export", data={"csrf_token": "forged"}, allow_redirects=False) as r:
        assert r.status == 403, "no download without the form's token"
    async with theo.http.post("/app/learner/data-export", data={"csrf_token": token}, allow_redirects=False) as r:
        assert r.status == 200 and r.headers["Content-Type"] == "application/zip"
        assert r.headers["Content-Disposition"].startswith('attachment; filename="mes-donnees-')
        body = await r.read()
    with zipfile.ZipFile(io.BytesIO(body)) as z:
        data = json.loads(z.read("data.json"))
        assert "donnees-personnelles.pdf" in z.namelist()
    assert data["learner"]["id"] == theo_id and data["learner"]["name"] == "Théo Garnier"
    assert [a["email"] for a in data["web_accounts"]] == [site.emails["learner"]]
    assert not {"password_hash", "totp_secret", "recovery_codes"} & set(data["web_accounts"][0])
    assert any(a["type"] == "access.sign_in" and a["data"]["outcome"] == "success" for a in data["access"])
    (recorded,) = await events_of(site.hub, "privacy.data_exported")
    assert recorded["learner_id"] == theo_id and recorded["data"]["channel"] == "web"
    assert recorded["data"]["by"] == data["web_accounts"][0]["id"]
    assert recorded["data"]["sha256"] == hashlib.sha256(body).hexdigest(), "the ledger names the very file handed over"
    assert not list((site.hub.config.data_dir / "learner-exports").iterdir()), "no copy is left on the server"
