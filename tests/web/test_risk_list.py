"""The dropout-risk list on the manager's action page and the trainer's page: the latest
``risk.flagged`` of each enrolment in progress with its reasons and follow-up, read from the
journeys; only the actions of the account's scope."""

from __future__ import annotations

import re

from hub.web.accounts import Accounts
from hub.web.roles import Scopes
from tests.web.conftest import ACTION, PASSWORD
from tests.web.test_funder_scope import text

REASON = "aucune activité depuis 12 jours"


async def flag_nina(hub) -> str:
    """A learner still in progress on the demo's action, flagged by the hub; returns the flag's id."""
    nina = {"ref": "apprenant-99", "email": "nina.rolland@example.fr", "name": "Nina Rolland"}
    await hub.append([{"type": "enrolment.started", "occurred_at": "2026-10-05T09:00:00+02:00", "source_id": "start-99",
                       "learner": nina, "action": ACTION, "data": {"date": "2026-10-05"}}], source="demo")
    learner_id = await hub.store.call(hub.store.learner_by_key, "email:nina.rolland@example.fr")
    flags = await hub.append([{
        "type": "risk.flagged", "occurred_at": "2026-10-09T18:00:00+02:00", "source_id": f"risk:{learner_id}:test",
        "learner": {"ref": learner_id, "name": "Nina Rolland"}, "action": ACTION,
        "data": {"score": 0.875, "threshold": 0.5, "model": "v1-test", "as_of": "2026-10-09T18:00:00+02:00",
                 "reasons": [{"feature": "days_since_activity", "contribution": 1.2, "text": REASON},
                             {"feature": "recent_unsigned_share", "contribution": 0.8,
                              "text": "3 des 4 dernières demi-journées non signées"}]}}], source="hub")
    return flags.ids[0]


def risk_rows(body: str) -> list[str]:
    return [text(row) for row in re.findall(r"<tr data-risk-learner=[^>]*>(.*?)</tr>", body, re.S)]


async def test_the_manager_sees_the_flag_with_its_reasons_then_its_follow_up(site, people):
    flag = await flag_nina(site.hub)
    manager = people()
    await manager.sign_in("manager")
    page = await manager.get(f"/app/manager/actions/{ACTION}")
    assert page.status == 200 and "Risque de décrochage" in page.body
    (row,) = risk_rows(page.body)  # the demo's own enrolments have all ended: only Nina is in progress
    assert "Nina Rolland" in row and "87,5 %" in row and REASON in row and "pas encore de suivi" in row
    assert "3 des 4 dernières demi-journées non signées" in row and "2026-10-09" in row
    assert re.search(r'href="/app/manager/enrolments/[^"]+/ACT-2026-REACT-01">Nina Rolland</a>', page.body)
    follow = await site.hub.store.call(site.hub.store.get_event, flag)
    await site.hub.append([{"type": "alert.followed_up", "occurred_at": "2026-10-10T10:00:00+02:00",
                            "source_id": "follow-up:nina", "learner": follow["learner"], "action": ACTION,
                            "data": {"alert": flag, "action_taken": "appel, reprise lundi", "by": "Marc"}}], source="hub")
    (row,) = risk_rows((await manager.get(f"/app/manager/actions/{ACTION}")).body)
    assert "appel, reprise lundi" in row and "pas encore de suivi" not in row
    english = (await manager.get(f"/app/manager/actions/{ACTION}", headers={"Accept-Language": "en"})).body
    assert "Dropout risk" in english and "87.5 %" in english


async def test_no_flag_says_so(site, people):
    manager = people()
    await manager.sign_in("manager")
    page = await manager.get(f"/app/manager/actions/{ACTION}")
    assert risk_rows(page.body) == [] and "Aucun apprenant signalé à risque de décrochage." in text(page.body)


async def test_the_trainer_sees_the_flags_of_its_actions_only(site, people):
    await flag_nina(site.hub)
    trainer = people()
    await trainer.sign_in("trainer")
    page = await trainer.get("/app/trainer/today?date=2026-10-07")
    (row,) = risk_rows(page.body)
    assert "Nina Rolland" in row and REASON in row
    assert "/app/manager/enrolments/" not in page.body  # a trainer does not open the manager's pages
    await Accounts(site.hub.store, site.hub.append).add(
        "other@demo.example", "trainer", Scopes(actions=("ACT-2027-OTHER",)), password=PASSWORD, name="Other")
    account = await site.hub.store.call(site.hub.store.account_by_email, "other@demo.example")
    site.emails["other"], site.secrets["other"] = "other@demo.example", account["totp_secret"]
    other = people()
    await other.sign_in("other")
    page = await other.get("/app/trainer/today?date=2026-10-07")
    assert page.status == 200 and risk_rows(page.body) == [] and "Nina" not in page.body
