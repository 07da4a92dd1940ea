"""The trainer's follow-up page on the demo data: the learners drifting away (an open alert, or one
the alert rules raise now) with their attendance trend and last trace; the alerts raised on them
with every follow-up; a follow-up recorded from the page as ``parcours alerts follow-up`` records
it, by the signed-in account; the same on the manager's action page; and the scope: an alert or an
action outside it answers 404 and records nothing."""

from __future__ import annotations

import datetime as dt
import re
import secrets
from urllib.parse import quote

import pytest

from hub.journeys.alerts import Alert, alert_items, alerts_of
from hub.web.accounts import Accounts
from hub.web.roles import Scopes
from tests.web import conftest as web_conftest
from tests.web.conftest import ACTION, PASSWORD, events_of
from tests.web.test_funder_scope import sign_in_as, text

OTHER = "ACT-2026-OTHER-02"  # a second action, the same schedule, without the demo's learners
RAISED_AT = dt.datetime(2026, 10, 12, 9, tzinfo=dt.timezone.utc)


async def raise_alert(hub, report, rule: str = "attendance_below") -> str:
    """An alert as the daemon raises it (hub.journeys.alerts.alert_items); its event id."""
    alert = Alert(rule, f"{report.learner_name}: assiduité de 40 % (seuil 80 %)", "warning",
                  f"alert:{rule}:{report.learner_id}:{report.action_id}:2026-W42", report.learner_id, report.action_id)
    return (await hub.append(alert_items([alert], {}, RAISED_AT), source="hub")).ids[0]


async def start_inès(hub) -> str:
    """A learner of the demo's action still in progress who signed the first two mornings only: the
    attendance rule raises an alert on her now (the action ended on 16 October 2026)."""
    learner = {"ref": "ines", "email": "ines.morel@example.fr", "name": "Inès Morel"}
    events = [{"type": "enrolment.started", "occurred_at": "2026-10-05T08:00:00+02:00", "source_id": "ines-start",
               "action": ACTION, "learner": learner, "data": {"date": "2026-10-05"}}]
    for day in ("2026-10-05", "2026-10-06"):
        events.append({"type": "attendance.signed", "occurred_at": f"{day}T09:05:00+02:00", "source_id": f"ines-{day}",
                       "action": ACTION, "learner": learner,
                       "data": {"date": day, "half_day": "am", "trainer_cosigned": True}})
    await hub.append(events, source=None)
    return next(r.learner_id for r in await hub.journey_reports(action=ACTION) if r.learner_name == "Inès Morel")


def drifting_rows(body: str) -> dict[str, str]:
    """learner id -> the text of its row in the drifting table."""
    return {m[1]: text(m[2]).strip() for m in re.finditer(r'<tr data-learner="([^"]+)">(.*?)</tr>',
                                                          body.split('class="drifting"', 1)[-1].split("</table>")[0], re.S)}


async def test_the_page_lists_the_drifting_learners_with_their_trend(site, people):
    reports = {r.learner_name: r for r in await site.hub.journey_reports(action=ACTION)}
    lucas = reports["Lucas Bernard"]  # abandoned: no rule fires on him now, but his alert is still open
    await raise_alert(site.hub, lucas)
    followed = await raise_alert(site.hub, reports["Théo Garnier"])
    await site.hub.append([{"type": "alert.followed_up", "occurred_at": RAISED_AT.isoformat(), "source_id": "fu-theo",
                            "learner": {"ref": reports["Théo Garnier"].learner_id}, "action": ACTION,
                            "data": {"alert": followed, "action_taken": "appel", "by": "test"}}], source="hub")
    ines = await start_inès(site.hub)
    trainer = people()
    await trainer.sign_in("trainer")
    page = await trainer.get("/app/trainer/alerts")
    assert page.status == 200, page.body[:300]
    rows = drifting_rows(page.body)
    # Lucas: an open alert; Inès: the attendance rule fires now; Théo: his alert is followed up
    assert set(rows) == {lucas.learner_id, ines}
    # Inès: 7 h of the 70 h held (her FOAD afternoons have no trace), none of her last six mornings
    assert "10,0 %" in rows[ines] and "0,0 % en baisse" in rows[ines] and "sur 6 demi-journées" in rows[ines]
    assert "Inès Morel: assiduité de 10.0 % (seuil 80 %)" in rows[ines]  # the rule's own message
    assert "il y a" in rows[ines] and "(06/10/2026)" in rows[ines]
    assert rows[lucas.learner_id].endswith("1")  # one open alert
    body = text(page.body)
    assert "Théo Garnier · attention · suivie" in body and "test : appel" in body
    assert "Lucas Bernard · attention · sans suivi" in body
    english = text((await trainer.get("/app/trainer/alerts", headers={"Accept-Language": "en"})).body)
    assert "Learners drifting away" in english and "0.0 % dropping" in english


async def test_the_trainer_records_a_follow_up_from_the_page(site, people):
    lucas = next(r for r in await site.hub.journey_reports(action=ACTION) if r.learner_name == "Lucas Bernard")
    alert_id = await raise_alert(site.hub, lucas)
    trainer = people()
    await trainer.sign_in("trainer")
    note = "Appel le 13/10 : reprise prévue lundi, rendez-vous avec la référente handicap"
    done = await trainer.post(f"/app/trainer/alerts/{alert_id}/follow-up",
                              {"note": f"  {note} ", "next": f"/app/trainer/alerts?action={ACTION}"},
                              token_from="/app/trainer/alerts")
    assert done.status == 303 and done.headers["Location"] == f"/app/trainer/alerts?action={ACTION}#alert-{alert_id}"
    (event,) = await events_of(site.hub, "alert.followed_up")
    alert = await site.hub.store.call(site.hub.store.get_event, alert_id)
    # exactly what `parcours alerts follow-up` records, by the signed-in account
    assert event["source"] == "hub" and event["action"] == ACTION and event["learner_id"] == alert["learner_id"]
    assert event["data"] == {"alert": alert_id, "action_taken": note, "by": site.emails["trainer"]}
    assert event["source_id"].startswith(f"follow-up:{alert_id}:")
    page = await trainer.get(f"/app/trainer/alerts?action={ACTION}")
    section = text(page.body.split(f'id="alert-{alert_id}"', 1)[1].split("</article>")[0])
    assert f"{site.emails['trainer']} : {note}" in section and "suivie" in section
    assert lucas.learner_id not in drifting_rows(page.body)  # followed up, and no rule fires on him now
    # a second follow-up is kept beside the first, in order
    await trainer.post(f"/app/trainer/alerts/{alert_id}/follow-up", {"note": "Retour en formation confirmé"},
                       token_from="/app/trainer/alerts")
    page = await trainer.get("/app/trainer/alerts")
    items = re.findall(r"<li data-follow-up=[^>]*>(.*?)</li>",
                       page.body.split(f'id="alert-{alert_id}"', 1)[1].split("</article>")[0], re.S)
    assert [text(i).split(" : ", 1)[1] for i in items] == [note, "Retour en formation confirmé"]
    await site.hub.project()
    (state,) = [s for s in await site.hub.store.call(lambda: site.hub.store.journeys(action=ACTION))
                if s["learner_id"] == lucas.learner_id]
    (listed,) = alerts_of(state["alerts"])  # as `parcours alerts list` reads it
    assert listed["followed_up"]["action_taken"] == "Retour en formation confirmé" and len(listed["follow_ups"]) == 2


@pytest.mark.parametrize("note, message", [("   ", "Décrivez le suivi effectué"), ("x" * 1001, "1000 caractères")])
async def test_a_follow_up_without_a_note_or_too_long_is_refused_and_nothing_is_recorded(site, people, note, message):
    lucas = next(r for r in await site.hub.journey_reports(action=ACTION) if r.learner_name == "Lucas Bernard")
    alert_id = await raise_alert(site.hub, lucas)
    trainer = people()
    await trainer.sign_in("trainer")
    refused = await trainer.post(f"/app/trainer/alerts/{alert_id}/follow-up", {"note": note},
                                 token_from="/app/trainer/alerts")
    assert refused.status == 400 and message in text(refused.body)
    assert await events_of(site.hub, "alert.followed_up") == []


async def test_the_manager_follows_up_from_the_action_page(site, people):
    lucas = next(r for r in await site.hub.journey_reports(action=ACTION) if r.learner_name == "Lucas Bernard")
    alert_id = await raise_alert(site.hub, lucas)
    manager = people()
    await manager.sign_in("manager")
    page = await manager.get(f"/app/manager/actions/{ACTION}")
    assert lucas.learner_id in drifting_rows(page.body)
    assert f'action="/app/trainer/alerts/{alert_id}/follow-up"' in page.body
    back = f"/app/manager/actions/{ACTION}"
    done = await manager.post(f"/app/trainer/alerts/{alert_id}/follow-up", {"note": "Entretien", "next": back},
                              token_from=back)
    assert done.status == 303 and done.headers["Location"] == f"{back}#alert-{alert_id}"
    (event,) = await events_of(site.hub, "alert.followed_up")
    assert event["data"]["by"] == site.emails["manager"]
    # `next` never leads outside the web app
    away = await manager.post(f"/app/trainer/alerts/{alert_id}/follow-up",
                              {"note": "Relance", "next": "https://evil.example/"}, token_from=back)
    assert away.headers["Location"] == f"/app/trainer/alerts?action={ACTION}#alert-{alert_id}"


@pytest.fixture
async def other_trainer(make_site, monkeypatch):
    """The demo site with a second training action, and a trainer of that action only."""
    plain = web_conftest.demo_config

    def with_other(workdir, extra=""):
        text_ = plain(workdir, extra)
        return text_ + text_.split("\nactions:\n", 1)[1].replace(ACTION, OTHER, 1)

    monkeypatch.setattr(web_conftest, "demo_config", with_other)
    site = await make_site()
    _, made = await Accounts(site.hub.store, site.hub.append).add(
        "other@demo.example", "trainer", Scopes(actions=(OTHER,)), password=PASSWORD, name="Other Trainer",
        with_totp=True, actor="test")
    return site, made.totp_secret


async def test_a_trainer_never_reaches_another_actions_alerts(other_trainer):
    site, secret = other_trainer
    lucas = next(r for r in await site.hub.journey_reports(action=ACTION) if r.learner_name == "Lucas Bernard")
    alert_id = await raise_alert(site.hub, lucas)
    attendance = (await events_of(site.hub, "attendance.signed"))[0]["id"]
    other = await sign_in_as(site, "other@demo.example", secret)
    try:
        own = await other.get("/app/trainer/alerts")
        assert own.status == 200 and OTHER in own.body and "Lucas Bernard" not in own.body
        for action in (ACTION, "ACT-2026-NOPE-99", "*", "..", "' OR 1=1 --"):
            assert (await other.get(f"/app/trainer/alerts?action={quote(action, safe='')}")).status == 404, action
        for guess in (alert_id, attendance, "01" + secrets.token_hex(12).upper(), "*", "..", "' OR 1=1 --"):
            refused = await other.post(f"/app/trainer/alerts/{quote(guess, safe='')}/follow-up", {"note": "vu"},
                                       token_from="/app/trainer/alerts")
            assert refused.status == 404 and "Lucas" not in refused.body, guess
        assert await events_of(site.hub, "alert.followed_up") == []
    finally:
        await other.close()
