"""The trainer's today page reads each enrolment's attendance stored beside its journey (table
journey_figures, hub.web.figured): the same as the computed journey gives (hub.web.today.attendance_of),
before and after a new signature, a co-signature, a change of configuration or of day; the page
shows what is stored, and computes again only what is missing or stale."""

from __future__ import annotations

import datetime as dt

from hub.journeys.actions import TrainingAction
from hub.journeys.stream import compute_states
from hub.web.figured import actions_attendance, basis_of
from hub.web.today import action_week, attendance_of
from tests.web.conftest import ACTION
from tests.web.test_trainer_today import cell, half_day

THEO = "Théo Garnier"


def _today(hub) -> dt.date:
    return dt.datetime.now(hub.config.timezone).date()


async def _stored(hub) -> dict[str, tuple[str | None, dict | None]]:
    return {r["learner_id"]: (r["basis"], r["attendance"])
            for r in await hub.store.call(hub.store.journey_attendance, [ACTION])}


async def _computed(hub, today: dt.date) -> dict[str, dict]:
    states = await hub.store.call(lambda: hub.store.journeys(action=ACTION))
    return {r.learner_id: attendance_of(r) for r in compute_states(states, hub.config, today)}


async def _theo(hub) -> str:
    return next(r.learner_id for r in await hub.journey_reports(action=ACTION) if r.learner_name == THEO)


async def _assert_stored_is_computed(hub, today: dt.date) -> dict[str, dict]:
    stored = await _stored(hub)
    computed = await _computed(hub, today)
    assert stored == {learner: (basis_of(hub.config, today), seen) for learner, seen in computed.items()}
    assert len(stored) >= 10
    return computed


async def _sign(hub, source_id: str, learner: tuple[str, str], date: str, **data) -> None:
    await hub.append([{
        "type": "attendance.signed", "occurred_at": f"{date}T12:35:00+02:00", "source_id": source_id,
        "learner": {"ref": learner[0], "email": learner[1]}, "action": ACTION,
        "data": {"date": date, "half_day": "am", "signer": "learner", **data}}], source="back-office")


async def _opened(site, people, day: str):
    """The trainer signed in, the today page of ``day`` asked once (the attendance stored)."""
    trainer = people()
    await trainer.sign_in("trainer")
    page = await trainer.get(f"/app/trainer/today?date={day}")
    assert page.status == 200
    return trainer, page


async def test_the_page_stores_the_computed_attendance_and_shows_the_same_week(site, people):
    hub = site.hub
    await hub.project()
    assert all(seen is None for _, seen in (await _stored(hub)).values())
    _, page = await _opened(site, people, "2026-10-07")
    computed = await _assert_stored_is_computed(hub, _today(hub))
    # the week built from the stored rows is the one built from the computed journeys
    action = hub.config.model.actions[ACTION]
    stored = [seen for _, seen in (await _stored(hub)).values()]
    for day in (dt.date(2026, 10, 7), dt.date(2026, 10, 12), dt.date(2026, 9, 1)):
        assert action_week(ACTION, action, stored, day) == action_week(ACTION, action, list(computed.values()), day)
    theo = await _theo(hub)
    assert computed[theo]["half_days"]["2026-10-07/am"] == "signed_without_trainer"
    assert cell(page.body, THEO, 4) == "signed_without_trainer"


async def test_the_page_shows_what_is_stored_and_computes_a_stale_row_again(site, people):
    hub = site.hub
    trainer, _ = await _opened(site, people, "2026-10-07")
    stored = await _stored(hub)
    theo = await _theo(hub)
    basis, seen = stored[theo]
    figures = {r["learner_id"]: r["figures"] for r in await hub.store.call(hub.store.journey_figures, ACTION)}
    changed = {**seen, "half_days": {**seen["half_days"], "2026-10-07/am": "absent_justified"}}
    await hub.store.call(hub.store.save_journey_figures, ACTION, {theo: (basis, figures[theo], changed)})
    weeks = await trainer.get("/app/trainer/today/weeks?date=2026-10-07")
    assert cell(weeks.body, THEO, 4) == "absent_justified"  # read, not computed
    await hub.store.call(hub.store.save_journey_figures, ACTION, {theo: ("2000-01-01 0", figures[theo], changed)})
    weeks = await trainer.get("/app/trainer/today/weeks?date=2026-10-07")
    assert cell(weeks.body, THEO, 4) == "signed_without_trainer"  # another basis: computed again, and stored
    assert (await _stored(hub))[theo] == (basis, seen)


async def test_a_new_signature_and_a_co_signature_show_at_once_and_are_stored(site, people):
    hub = site.hub
    trainer, _ = await _opened(site, people, "2026-10-13")
    before = await _stored(hub)
    reports = {r.learner_name: r.learner_id for r in await hub.journey_reports(action=ACTION)}
    ines, theo = reports["Inès Haddad"], reports[THEO]
    assert before[ines][1]["half_days"]["2026-10-13/am"] == "absent_justified"
    # the sheet Inès signed on the 13th after all, co-signed: her morning becomes signed
    await _sign(hub, "ines-13", ("apprenant-05", "ines.haddad@example.fr"), "2026-10-13", trainer_cosigned=True)
    weeks = await trainer.get("/app/trainer/today/weeks?date=2026-10-13")
    assert "Ont signé (11) :" in half_day(weeks.body, "2026-10-13/am") and "Inès Haddad" in half_day(weeks.body, "2026-10-13/am")
    signed = await _assert_stored_is_computed(hub, _today(hub))
    assert signed[ines]["half_days"]["2026-10-13/am"] == "signed"
    assert {k: v for k, v in (await _stored(hub)).items() if k != ines} == {k: v for k, v in before.items() if k != ines}
    # the trainer's co-signature of Théo's morning of the 7th: signed, on the page and in the store
    await _sign(hub, "cosign-theo", ("apprenant-04", "theo.garnier@example.fr"), "2026-10-07", trainer_cosigned=True)
    weeks = await trainer.get("/app/trainer/today/weeks?date=2026-10-07")
    assert "co-signature du formateur manquante" not in half_day(weeks.body, "2026-10-07/am")
    assert cell(weeks.body, THEO, 4) == "signed"
    cosigned = await _assert_stored_is_computed(hub, _today(hub))
    assert before[theo][1]["half_days"]["2026-10-07/am"] == "signed_without_trainer"
    assert cosigned[theo]["half_days"]["2026-10-07/am"] == "signed"


async def test_a_change_of_configuration_computes_the_attendance_again(site, people):
    hub = site.hub
    trainer, _ = await _opened(site, people, "2026-10-07")
    old_basis = basis_of(hub.config, _today(hub))
    assert {basis for basis, _ in (await _stored(hub)).values()} == {old_basis}
    actions = hub.config.model.actions  # the 7th no longer scheduled (a day the group did not meet)
    data = actions[ACTION].model_dump()
    actions[ACTION] = TrainingAction.model_validate({**data, "exclude_dates": [dt.date(2026, 10, 7)]})
    assert basis_of(hub.config, _today(hub)) != old_basis
    weeks = await trainer.get("/app/trainer/today/weeks?date=2026-10-07")
    assert 'data-half-day="2026-10-07/am"' not in weeks.body
    computed = await _assert_stored_is_computed(hub, _today(hub))
    assert all("2026-10-07/am" not in seen["half_days"] for seen in computed.values())


async def test_a_change_of_day_computes_the_attendance_again(site):
    hub = site.hub
    await hub.project()
    before, after = dt.date(2026, 10, 6), dt.date(2026, 11, 2)  # during the action, then after its end
    early = await actions_attendance(hub, [ACTION], before)
    await _assert_stored_is_computed(hub, before)
    late = await actions_attendance(hub, [ACTION], after)
    await _assert_stored_is_computed(hub, after)
    statuses = {s for seen in early[ACTION] for s in seen["half_days"].values()}
    assert "upcoming" in statuses  # the 7th onwards, seen on the 6th
    assert all(s != "upcoming" for seen in late[ACTION] for s in seen["half_days"].values())
    assert sorted(a["learner_id"] for a in early[ACTION]) == sorted(a["learner_id"] for a in late[ACTION])


async def test_the_daemon_job_stores_every_actions_attendance(site):
    hub = site.hub
    await hub.project_and_figure()  # what the daemon's journeys job runs
    await _assert_stored_is_computed(hub, _today(hub))
