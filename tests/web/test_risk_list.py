"""The dropout-risk list on the manager's action page and the trainer's page: the latest
``risk.flagged`` of each enrolment in progress with its reasons and follow-up, read from the
journeys; only the actions of the account's scope."""

from __future__ import annotations

import re

from hub.risk.listing import flag_of, flagged, latest_flags
from hub.web.accounts import Accounts
from hub.web.roles import Scopes
from tests.web.conftest import ACTION, PASSWORD, THEO, events_of
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


async def _in_progress(hub, ref: str, name: str) -> str:
    person = {"ref": ref, "email": f"{ref}@example.fr", "name": name}
    await hub.append([{"type": "enrolment.started", "occurred_at": "2026-10-05T09:00:00+02:00", "source_id": f"start-{ref}",
                       "learner": person, "action": ACTION, "data": {"date": "2026-10-05"}}], source="demo")
    return await hub.store.call(hub.store.learner_by_key, f"email:{ref}@example.fr")


async def _flag(hub, learner_id: str, name: str, at: str, score: float, why: str) -> str:
    return (await hub.append([{
        "type": "risk.flagged", "occurred_at": at, "source_id": f"risk:{learner_id}:{why}",
        "learner": {"ref": learner_id, "name": name}, "action": ACTION,
        "data": {"score": score, "threshold": 0.5, "model": "rules", "as_of": at,
                 "reasons": [{"feature": why, "contribution": 1.0, "text": why}]}}], source="hub")).ids[0]


async def _follow(hub, flag: str, note: str, at: str) -> None:
    event = await hub.store.call(hub.store.get_event, flag)
    await hub.append([{"type": "alert.followed_up", "occurred_at": at, "source_id": f"follow-up:{flag}:{at}",
                       "learner": event["learner"], "action": ACTION,
                       "data": {"alert": flag, "action_taken": note, "by": "Marc"}}], source="hub")


async def _computed(hub) -> list[dict]:
    """What the list showed before its rows were stored: computed from every journey of the action."""
    await hub.project()
    return latest_flags(await hub.store.call(lambda: hub.store.journeys(action=ACTION)))


async def test_the_stored_rows_show_what_the_journeys_say_and_are_read_without_the_journeys(site):
    hub = site.hub
    theo = await hub.store.call(hub.store.learner_by_key, f"email:{THEO}")
    nina, lea, paul, zoe = [await _in_progress(hub, ref, name) for ref, name in (
        ("apprenant-91", "Nina Rolland"), ("apprenant-92", "Léa Martin"), ("apprenant-93", "Paul Henry"),
        ("apprenant-94", "Zoé Aubert"))]
    await _flag(hub, nina, "Nina Rolland", "2026-10-08T18:00:00+02:00", 0.6, "recent_unsigned_share")
    await _flag(hub, nina, "Nina Rolland", "2026-10-09T18:00:00+02:00", 0.875, "days_since_activity")  # the latest
    followed = await _flag(hub, lea, "Léa Martin", "2026-10-08T18:00:00+02:00", 0.6, "days_since_activity")
    await _follow(hub, followed, "appel", "2026-10-09T10:00:00+02:00")
    await _follow(hub, followed, "rendez-vous pris", "2026-10-10T10:00:00+02:00")  # the latest follow-up shows
    await _flag(hub, zoe, "Zoé Aubert", "2026-10-08T18:00:00+02:00", 0.6, "days_since_activity")  # same score as Léa
    await _flag(hub, paul, "Paul Henry", "2026-10-08T18:00:00+02:00", 0.9, "days_since_activity")
    await hub.append([{"type": "enrolment.abandoned", "occurred_at": "2026-10-12T11:00:00+02:00", "source_id": "abandon-93",
                       "learner": {"ref": "apprenant-93", "email": "apprenant-93@example.fr"}, "action": ACTION,
                       "data": {"date": "2026-10-09"}}], source="demo")  # ended: off the list
    await _flag(hub, theo, "Théo Garnier", "2026-10-09T18:00:00+02:00", 0.95, "days_since_activity")  # ended: off
    expected = await _computed(hub)
    assert [(r["learner_name"], r["score"]) for r in expected] == [
        ("Nina Rolland", 0.875), ("Léa Martin", 0.6), ("Zoé Aubert", 0.6)]
    assert expected[1]["followed_up"]["action_taken"] == "rendez-vous pris" and expected[0]["followed_up"] is None

    assert await flagged(hub, [ACTION]) == expected  # the first read computes and stores the rows
    stored = await hub.store.call(hub.store.journey_flags, ACTION)
    assert sorted(r["flag"]["learner_name"] for r in stored) == ["Léa Martin", "Nina Rolland", "Zoé Aubert"]
    reads = []
    for name in ("journeys", "load_journeys", "journeys_page", "refresh_journey_flags"):  # the second read: no state
        original = getattr(hub.store, name)
        setattr(hub.store, name, lambda *a, _o=original, _n=name, **k: reads.append((_n, *a)) or _o(*a, **k))
    try:
        assert await flagged(hub, [ACTION]) == expected
        assert reads == []
        # a follow-up recorded: the projection writes Nina's journey, her row is computed again (hers alone)
        await _follow(hub, expected[0]["event"], "message laissé", "2026-10-10T11:00:00+02:00")
        await hub.project()
        reads.clear()
        after = await flagged(hub, [ACTION])
        assert reads == [("refresh_journey_flags", ACTION, [nina], flag_of)]
    finally:
        for name in ("journeys", "load_journeys", "journeys_page", "refresh_journey_flags"):
            delattr(hub.store, name)
    assert after == await _computed(hub) and after[0]["followed_up"]["action_taken"] == "message laissé"


async def test_the_daemon_job_stores_the_rows(site):
    hub = site.hub
    await flag_nina(hub)
    await hub.project_and_figure()  # what the daemon's journeys job runs
    stored = await hub.store.call(hub.store.journey_flags, ACTION)
    assert [r["flag"]["learner_name"] for r in stored] == ["Nina Rolland"]  # the others: stored without a flag


async def test_the_manager_records_the_follow_up_of_a_flag_from_the_action_page(site, people):
    hub = site.hub
    flag = await flag_nina(hub)
    manager = people()
    await manager.sign_in("manager")
    page = f"/app/manager/actions/{ACTION}"
    body = (await manager.get(page)).body
    assert f'action="/app/manager/risk/{flag}/follow-up"' in body and "Enregistrer un suivi" in body
    post = f"/app/manager/risk/{flag}/follow-up"
    # an empty note, then one too long: the page again (400) with the message by the flag's form, nothing recorded
    empty = await manager.post(post, {"note": "  ", "next": page}, token_from=page)
    assert empty.status == 400 and "Décrivez le suivi effectué avant de l'enregistrer." in text(empty.body)
    assert re.search(rf'<details class="risk-follow-up" open>\s*<summary id="risk-open-{flag}">Enregistrer un suivi</summary>\s*'
                     rf'<form method="post" action="{post}"', empty.body)
    long = await manager.post(post, {"note": "x" * 1001, "next": page}, token_from=page,
                              headers={"Accept-Language": "en"})
    assert long.status == 400 and "A follow-up fits in 1000 characters." in text(long.body)
    assert await events_of(hub, "alert.followed_up") == []
    # recorded: an alert.followed_up of the flag, by the signed-in account; back to the flag on the page
    done = await manager.post(post, {"note": "appel, reprise lundi", "next": page}, token_from=page)
    assert done.status == 303 and done.headers["Location"] == f"{page}#risk-{flag}"
    (event,) = await events_of(hub, "alert.followed_up")
    assert event["data"] == {"alert": flag, "action_taken": "appel, reprise lundi", "by": "marc@demo.example"}
    assert event["action"] == ACTION and event["source"] == "hub"
    (row,) = risk_rows((await manager.get(page)).body)
    assert "appel, reprise lundi" in row and "pas encore de suivi" not in row
    # a page outside the web app is no place to go back to: the action's page instead
    again = await manager.post(post, {"note": "message laissé", "next": "https://evil.example/"}, token_from=page)
    assert again.status == 303 and again.headers["Location"] == f"{page}#risk-{flag}"


async def test_a_flag_outside_the_scope_or_not_a_flag_answers_404(site, people):
    hub = site.hub
    flag = await flag_nina(hub)
    await Accounts(hub.store, hub.append).add(
        "other@demo.example", "manager", Scopes(actions=("ACT-2027-OTHER",)), password=PASSWORD, name="Other")
    account = await hub.store.call(hub.store.account_by_email, "other@demo.example")
    site.emails["other"], site.secrets["other"] = "other@demo.example", account["totp_secret"]
    other = people()
    await other.sign_in("other")
    refused = await other.post(f"/app/manager/risk/{flag}/follow-up", {"note": "appel"}, token_from="/app/")
    assert refused.status == 404
    manager = people()
    await manager.sign_in("manager")
    started = (await events_of(hub, "enrolment.started"))[0]["id"]  # an event of the action, not a flag
    assert (await manager.post(f"/app/manager/risk/{started}/follow-up", {"note": "appel"}, token_from="/app/")).status == 404
    trainer = people()
    await trainer.sign_in("trainer")  # the trainer of the action: not the manager's form
    assert (await trainer.post(f"/app/manager/risk/{flag}/follow-up", {"note": "appel"}, token_from="/app/")).status == 403
    assert await events_of(hub, "alert.followed_up") == []
