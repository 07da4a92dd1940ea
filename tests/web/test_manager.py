"""The manager's pages on the demo data: the actions of its scope with their figures, one action's
enrolments and proof gaps with what closes each (as ``parcours proofs check`` prints them), one
enrolment's ``--explain`` trail whose event ids open a read-only event view; and the scope: a
manager never reaches another action's pages, enrolments or events, guessed ids included."""

from __future__ import annotations

import datetime as dt
import re
import secrets
from decimal import Decimal
from urllib.parse import quote

import pytest

from hub.journeys.alerts import Alert, alert_items, alerts_of
from hub.web.accounts import Accounts
from hub.web.i18n import number
from hub.web.roles import Scopes
from tests.web import conftest as web_conftest
from tests.web.conftest import ACTION, PASSWORD
from tests.web.test_funder_scope import sign_in_as, text

OTHER = "ACT-2026-OTHER-02"  # a second action, configured but without the demo's learners


async def test_the_actions_list_shows_each_actions_figures(site, people):
    reports = await site.hub.journey_reports(action=ACTION)
    # two alerts as the hub raises them (the demo's enrolments have all ended), the second one followed up
    now = dt.datetime(2026, 10, 8, 9, tzinfo=dt.timezone.utc)
    raised = [Alert("attendance_below", f"{r.learner_name}: assiduité basse", "warning",
                    f"alert:attendance:{r.learner_id}:{ACTION}:2026-W41", r.learner_id, ACTION) for r in reports[:2]]
    ids = (await site.hub.append(alert_items(raised, {}, now), source="hub")).ids
    await site.hub.append([{"type": "alert.followed_up", "occurred_at": now.isoformat(), "source_id": "follow-up:test",
                            "learner": (await site.hub.store.call(site.hub.store.get_event, ids[1]))["learner"], "action": ACTION,
                            "data": {"alert": ids[1], "action_taken": "appel", "by": "test"}}], source="hub")
    gaps = await site.hub.proof_gaps(action=ACTION)
    states = await site.hub.store.call(lambda: site.hub.store.journeys(action=ACTION))
    open_alerts = sum(1 for s in states for a in alerts_of(s["alerts"]) if not a["followed_up"])
    manager = people()
    await manager.sign_in("manager")
    page = await manager.get("/app/manager/actions")
    assert page.status == 200
    row = re.search(rf'<tr data-action="{ACTION}">(.*?)</tr>', page.body, re.S)
    assert row, page.body[:500]
    cells = [text(c).strip() for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row[1], re.S)]
    realised = sum((r.realised_hours for r in reports), Decimal(0))
    planned = sum((r.planned_hours for r in reports), Decimal(0))
    completed = sum(1 for r in reports if r.status == "completed")
    abandoned = sum(1 for r in reports if r.status == "abandoned")
    assert cells[1] == str(len(reports))
    assert cells[2] == f"{completed} / {abandoned} / {len(reports) - completed - abandoned}"
    assert abandoned >= 1  # the demo has a dropout
    assert cells[3] == f"{number(realised, 'fr')} h / {number(planned, 'fr')} h"  # 729,58 h / 840,0 h
    assert cells[5] == str(sum(len(g.gaps) for g in gaps)) != "0"
    assert cells[6] == str(open_alerts) == "1"
    english = text((await manager.get("/app/manager/actions", headers={"Accept-Language": "en"})).body)
    assert "Training actions" in english and "Proof gaps" in english and f"{realised} h / {planned} h" in english


async def test_an_action_lists_its_enrolments_and_every_gap_with_what_closes_it(site, people):
    manager = people()
    await manager.sign_in("manager")
    page = await manager.get(f"/app/manager/actions/{ACTION}")
    assert page.status == 200
    body = text(page.body)
    reports = await site.hub.journey_reports(action=ACTION)
    assert set(re.findall(r'<tr data-learner="([^"]+)"', page.body)) == {r.learner_id for r in reports}
    found = await site.hub.proof_gaps(action=ACTION)
    assert found
    for enrolment in found:
        for _rule, gap in enrolment.gaps:
            assert f"[{gap.code}] {gap.message} → {gap.to_close}" in body, gap


async def test_the_enrolment_shows_the_explain_trail_and_each_event_opens(site, people):
    theo = next(r for r in await site.hub.journey_reports(action=ACTION) if r.learner_name == "Théo Garnier")
    manager = people()
    await manager.sign_in("manager")
    page = await manager.get(f"/app/manager/enrolments/{theo.learner_id}/{ACTION}")
    assert page.status == 200
    rows = re.findall(r'<tr data-half-day="([^"]+)">(.*?)</tr>', page.body, re.S)
    assert [key for key, _ in rows] == [f"{r.half_day.date.isoformat()}/{r.half_day.half_day}" for r in theo.half_days]
    for (_key, row), result in zip(rows, theo.half_days):
        assert result.rule in text(row)
        assert re.findall(r'href="/app/manager/events/([^"]+)"', row) == list(result.events)
    linked = sorted({e for r in theo.half_days for e in r.events})
    assert linked, "Théo's half-days rest on events"
    assert "celle du formateur" in text(page.body) or "no_trainer_signature" in page.body  # his gap of 7 October
    event = await site.hub.store.call(site.hub.store.get_event, linked[0])
    view = await manager.get(f"/app/manager/events/{linked[0]}")
    assert view.status == 200
    assert event["type"] in text(view.body) and event["source"] in text(view.body)
    if theo.foad_modules:
        assert all(f'data-module="{m.name}"' in page.body for m in theo.foad_modules)


@pytest.fixture
async def two_actions(make_site, monkeypatch):
    """The demo site with a second training action (the same schedule), and a manager of it only."""
    plain = web_conftest.demo_config

    def with_other(workdir, extra=""):
        text_ = plain(workdir, extra)
        block = text_.split("\nactions:\n", 1)[1]
        return text_ + block.replace(ACTION, OTHER, 1)

    monkeypatch.setattr(web_conftest, "demo_config", with_other)
    site = await make_site()
    _, made = await Accounts(site.hub.store, site.hub.append).add(
        "other@demo.example", "manager", Scopes(actions=(OTHER,)), password=PASSWORD, name="Other Manager",
        with_totp=True, actor="test")
    return site, made.totp_secret


async def test_a_manager_never_reaches_another_actions_pages_or_events(two_actions):
    site, secret = two_actions
    assert OTHER in site.hub.config.model.actions
    other = await sign_in_as(site, "other@demo.example", secret)
    try:
        reports = await site.hub.journey_reports(action=ACTION)
        events = sorted({e for r in reports for h in r.half_days for e in h.events})[:5]
        names = {r.learner_name for r in reports}
        own = await other.get(f"/app/manager/actions/{OTHER}")
        assert own.status == 200
        listing = await other.get("/app/manager/actions")
        assert ACTION not in listing.body and OTHER in listing.body
        guesses = [f"/app/manager/actions/{quote(a, safe='')}" for a in
                   (ACTION, "ACT-2026-NOPE-99", "*", "..", "' OR 1=1 --", "%00")]
        guesses += [f"/app/manager/enrolments/{quote(r.learner_id, safe='')}/{quote(a, safe='')}"
                    for r in reports[:3] for a in (ACTION, OTHER, "*")]
        guesses += [f"/app/manager/enrolments/{quote(g, safe='')}/{ACTION}"
                    for g in ("01" + secrets.token_hex(12).upper(), "email:theo.garnier@example.fr", "*", "..")]
        guesses += [f"/app/manager/events/{quote(e, safe='')}" for e in
                    (*events, "01" + secrets.token_hex(12).upper(), "*", "' OR 1=1 --", "..")]
        wrong = []
        for path in guesses:
            page = await other.get(path)
            if page.status != 404:
                wrong.append(f"{path}: {page.status}")
            if any(n and n in text(page.body) for n in names):
                wrong.append(f"{path}: shows a learner of {ACTION}")
        assert not wrong, "\n".join(wrong)
        # and the reverse: the demo's manager (ACT-2026-REACT-01) does not open the other action
        manager = web_conftest.Person(site)
        try:
            await manager.sign_in("manager")
            assert (await manager.get(f"/app/manager/actions/{OTHER}")).status == 404
            assert (await manager.get(f"/app/manager/events/{events[0]}")).status == 200
        finally:
            await manager.close()
    finally:
        await other.close()


async def test_the_admin_opens_every_enrolment_of_the_demo(site, people):
    """Every enrolment (completed, abandoned, with FOAD modules) renders, for an admin too."""
    admin = people()
    await admin.sign_in("admin")
    assert ACTION in (await admin.get("/app/manager/actions")).body
    reports = await site.hub.journey_reports(action=ACTION)
    assert any(r.foad_modules for r in reports) and any(r.status == "abandoned" for r in reports)
    for r in reports:
        page = await admin.get(f"/app/manager/enrolments/{quote(r.learner_id, safe='')}/{ACTION}")
        assert page.status == 200, (r.learner_name, page.body[:300])
        assert all(f'data-module="{m.name}"' in page.body for m in r.foad_modules)
