"""The learner's badges in the web app: listed on « Mon parcours », each downloadable as its signed
credential; another learner's badge, or a revoked one, answers 404."""

from __future__ import annotations

import html
import re

from hub.badges.award import revoke_badge
from hub.badges.verify import verify_badge
from hub.documents.keys import KeyRing
from hub.documents.services import services_of
from hub.documents.settings import keys_dir
from tests.badges.conftest import BADGES
from tests.documents.conftest import HUB_EXTRA
from tests.web.conftest import Person

LINK = re.compile(r'href="/app/learner/badges/([0-9A-Z]{26})" download')


async def test_the_learner_downloads_its_own_badges_only(make_site):
    site = await make_site(hub_extra=HUB_EXTRA + BADGES)
    hub = site.hub
    KeyRing(keys_dir(hub.config)).generate()
    awarded = await hub.award_badges()
    theo = await hub.store.call(hub.store.learner_by_key, "email:theo.garnier@example.fr")
    mine = {a["id"] for a in awarded.awarded if a["learner"] == theo}
    others = {a["id"] for a in awarded.awarded} - mine
    assert mine and others

    learner = Person(site)
    await learner.sign_in("learner")  # Théo Garnier
    page = await learner.get("/app/learner/journey")
    assert "Mes badges" in page.body and "Composants React" in page.body
    assert set(LINK.findall(page.body)) == mine

    award_id = sorted(mine)[0]
    async with learner.http.get(f"/app/learner/badges/{award_id}") as response:
        assert response.status == 200 and response.content_type == "application/vc+jwt"
        assert response.headers["Content-Disposition"].startswith('attachment; filename="badge-')
        token = (await response.text()).strip()
    verdict = await verify_badge(services_of(hub), award_id, token, KeyRing(keys_dir(hub.config)).lookup())
    assert verdict.status == "valid" and verdict.recipient == "Théo Garnier"

    assert (await learner.get(f"/app/learner/badges/{sorted(others)[0]}")).status == 404  # not Théo's

    await revoke_badge(services_of(hub), award_id, "erreur de saisie", actor="test")
    page = await learner.get("/app/learner/journey")
    assert "révoqué par l'organisme" in html.unescape(page.body) and award_id not in LINK.findall(page.body)
    assert (await learner.get(f"/app/learner/badges/{award_id}")).status == 404
    await learner.close()
