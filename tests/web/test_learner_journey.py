"""The learner's own journey page on the demo data: hours, half-days signed, what is still needed,
for the signed-in learner only."""

from __future__ import annotations

import html
import re

from hub.web.accounts import Accounts
from hub.web.i18n import number
from hub.web.roles import Scopes
from tests.web.conftest import ACTION, PASSWORD


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
