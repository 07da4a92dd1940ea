"""The manager's list of actions reads stored per-enrolment figures (hub.web.figured): the first
request stores them, equal to the ones the action's page computes; the list then reads them, not
the journeys; writing a journey deletes its figures, and a figure of another day or configuration
is computed again."""

from __future__ import annotations

import datetime as dt
import re

from hub.journeys.alerts import Alert, alert_items
from hub.web.figured import basis_of, figures_of
from hub.web.managed import enrolments_of
from tests.web.conftest import ACTION
from tests.web.test_funder_scope import text


def _today(hub) -> dt.date:
    return dt.datetime.now(hub.config.timezone).date()


def _row(body: str) -> list[str]:
    row = re.search(rf'<tr data-action="{ACTION}">(.*?)</tr>', body, re.S)
    assert row, body[:500]
    return [text(c).strip() for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row[1], re.S)]


async def _stored(hub) -> dict[str, tuple[str | None, dict | None]]:
    return {r["learner_id"]: (r["basis"], r["figures"]) for r in await hub.store.call(hub.store.journey_figures, ACTION)}


async def test_the_list_stores_the_figures_the_action_page_computes_and_reads_them_back(site, people):
    hub = site.hub
    manager = people()
    await manager.sign_in("manager")
    assert all(f is None for _, f in (await _stored(hub)).values())
    first = await manager.get("/app/manager/actions")
    assert first.status == 200
    stored = await _stored(hub)
    today = _today(hub)
    states = await hub.store.call(lambda: hub.store.journeys(action=ACTION))
    computed = {e.report.learner_id: figures_of(e) for e in enrolments_of(hub, states, today)}
    assert stored == {learner: (basis_of(hub.config, today), f) for learner, f in computed.items()}
    assert len(stored) >= 3
    # the list reads what is stored: a figure changed in the store (same basis) shows on the page
    learner = sorted(stored)[0]
    attendance = {r["learner_id"]: r["attendance"] for r in await hub.store.call(hub.store.journey_attendance, [ACTION])}
    await hub.store.call(hub.store.save_journey_figures, ACTION,
                         {learner: (stored[learner][0], {**stored[learner][1], "gaps": 1000}, attendance[learner])})
    gaps = sum(f["gaps"] for _, f in stored.values())
    assert _row((await manager.get("/app/manager/actions")).body)[5] == str(gaps + 1000 - stored[learner][1]["gaps"])
    # ...but one of another basis (yesterday, another configuration) is computed again
    await hub.store.call(hub.store.save_journey_figures, ACTION,
                         {learner: ("2000-01-01 0", {**stored[learner][1], "gaps": 1000}, attendance[learner])})
    assert _row((await manager.get("/app/manager/actions")).body)[5] == str(gaps)
    assert (await _stored(hub))[learner] == stored[learner]


async def test_writing_a_journey_deletes_its_figures_and_the_list_counts_the_new_fact(site, people):
    hub = site.hub
    manager = people()
    await manager.sign_in("manager")
    before = _row((await manager.get("/app/manager/actions")).body)
    stored = await _stored(hub)
    learner = sorted(stored)[0]
    state = (await hub.store.call(hub.store.load_journeys, [(learner, ACTION)]))[(learner, ACTION)]
    await hub.store.call(hub.store.save_journeys, {(learner, ACTION): state}, 0)
    after_write = await _stored(hub)
    assert after_write[learner] == (None, None)
    assert {k: v for k, v in after_write.items() if k != learner} == {k: v for k, v in stored.items() if k != learner}
    # an alert raised on that journey: projected, its figures computed again, the list counts it
    now = dt.datetime.now(dt.timezone.utc)
    raised = Alert("attendance_below", "assiduité basse", "warning", f"alert:figures-test:{learner}", learner, ACTION)
    await hub.append(alert_items([raised], {}, now), source="hub")
    after = _row((await manager.get("/app/manager/actions")).body)
    assert int(after[6]) == int(before[6]) + 1
    assert (await _stored(hub))[learner][1]["open_alerts"] == stored[learner][1]["open_alerts"] + 1


async def test_the_daemon_job_refreshes_every_actions_figures(site):
    hub = site.hub
    await hub.project_and_figure()  # what the daemon's journeys job runs
    assert next(j for j in hub.scheduled_jobs() if j.name == "journeys").run == hub.project_and_figure
    stored = await _stored(hub)
    assert stored and all(basis == basis_of(hub.config, _today(hub)) for basis, _ in stored.values())
