"""Distance learning (FOAD) is proven by three kinds of evidence per module — the work done, the
tutor's assistance and the connection time (Code du travail D6313-3-1; TA Toulouse, 2 Nov. 2023) —
whatever the shape of the action's schedule."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

from hub.journeys.proofs import check

TODAY = dt.date(2026, 12, 1)
MIXED = {  # mornings in the room, FOAD afternoons
    "title": "Sécurité incendie", "start": "2026-11-23", "end": "2026-11-27",
    "pattern": {"am": {"start": "09:00", "end": "12:00"}, "pm": {"start": "13:00", "end": "17:00", "modality": "foad_asynchrone"}},
}
ASYNC = {  # an asynchronous module with planned hours only: no half-day at all
    "title": "Bureautique en ligne", "modality": "foad_asynchrone", "start": "2026-11-02", "end": "2026-11-27",
    "planned_hours": "12",
}


def event(i, type_, data, at="2026-11-24T15:00:00+01:00", action="SST-1"):
    return {"type": type_, "occurred_at": at, "source_id": f"{action}-{type_}-{i}", "action": action,
            "learner": {"ref": "u1", "email": "u1@example.fr", "name": "Zoé L'Hermite"}, "data": data}


def session(i, day, hours=2, action="SST-1"):
    start = dt.datetime.fromisoformat(f"{day}T14:00:00+01:00")
    end = start + dt.timedelta(hours=hours)
    return event(i, "lms.session", {"start": start.isoformat(), "end": end.isoformat(), "duration_seconds": hours * 3600},
                 at=end.isoformat(), action=action)


def started(action="SST-1", day="2026-11-23"):
    return [event(0, "enrolment.agreement_signed", {}, at=f"{day}T08:00:00+01:00", action=action),
            event(1, "enrolment.started", {"date": day}, at=f"{day}T08:30:00+01:00", action=action)]


def signed_mornings():
    return [event(10 + n, "attendance.signed", {"date": f"2026-11-{23 + n}", "half_day": "am", "trainer_cosigned": True},
                  at=f"2026-11-{23 + n}T09:05:00+01:00") for n in range(5)]


def sessions(action="SST-1", days=("2026-11-23", "2026-11-24", "2026-11-25")):
    return [session(20 + n, day, action=action) for n, day in enumerate(days)]


DOWNLOAD = event(30, "lms.resource_downloaded", {"resource": "res-1", "resource_name": "Support de cours"})
QUIZ = event(31, "lms.quiz_attempted", {"activity": "quiz-1", "score": 8, "max_score": 10, "passed": True})
TUTOR = event(32, "lms.tutor_interaction", {"kind": "message", "tutor": "Sophie Lambert", "summary": "question sur l'exercice"})
COMPLETED = event(33, "lms.activity_completed", {"activity": "mod-1", "estimated_minutes": 90})


async def foad_gaps(make_hub, items, actions=None, action="SST-1"):
    actions = actions or {"SST-1": MIXED}
    hub = await make_hub("actions:\n" + "".join(f"  {k}: {json.dumps(v)}\n" for k, v in actions.items()))
    await hub.append(items, source=None)
    reports = await hub.journey_reports(action=action)
    found = check(reports, hub.plugins.proof_rules(), today=TODAY)
    gaps = [gap for enrolment in found for _, gap in enrolment.gaps if gap.code.startswith("foad")]
    return reports, gaps


async def test_connection_logs_and_downloads_do_not_prove_distance_learning(make_hub):
    _, gaps = await foad_gaps(make_hub, started() + signed_mornings() + sessions() + [DOWNLOAD])
    assert sorted(g.code for g in gaps) == ["foad_no_tutor_interaction", "foad_no_work_trace"]
    work = next(g for g in gaps if g.code == "foad_no_work_trace")
    assert "download" in work.message  # it says why the download does not count


async def test_a_quiz_without_any_tutor_contact_is_not_enough(make_hub):
    _, gaps = await foad_gaps(make_hub, started() + signed_mornings() + sessions() + [QUIZ])
    assert [g.code for g in gaps] == ["foad_no_tutor_interaction"]
    (gap,) = gaps
    assert "tutor" in gap.message and "lms.tutor_interaction" in gap.to_close


async def test_a_tutor_message_closes_the_assistance_part_only(make_hub):
    _, gaps = await foad_gaps(make_hub, started() + signed_mornings() + sessions() + [TUTOR])
    assert [g.code for g in gaps] == ["foad_no_work_trace"]
    (gap,) = gaps
    assert "tutor" not in gap.to_close  # the tutor interaction is there: it is the work done that is missing
    assert "lms.activity_completed" in gap.to_close


async def test_all_three_kinds_of_evidence_leave_no_gap(make_hub):
    _, gaps = await foad_gaps(make_hub, started() + signed_mornings() + sessions() + [QUIZ, TUTOR])
    assert gaps == []


async def test_an_asynchronous_module_with_planned_hours_only_is_checked_and_capped(make_hub):
    items = started("FOAD-1", "2026-11-02") + sessions("FOAD-1", [f"2026-11-{d:02d}" for d in range(2, 10)])
    reports, gaps = await foad_gaps(make_hub, items, {"FOAD-1": ASYNC}, action="FOAD-1")
    assert sorted(g.code for g in gaps) == ["foad_no_tutor_interaction", "foad_no_work_trace"]
    (report,) = reports
    assert report.realised["foad_asynchrone"].value == Decimal("12.00")  # 8 × 2 h connected, capped at the 12 h planned
    assert "capped at the 12 planned FOAD hours" in report.realised["foad_asynchrone"].rule
    (module,) = report.foad_modules
    assert module.scheduled_hours == Decimal("12") and not module.half_days


async def test_the_rule_applies_to_what_happened_in_the_action_only(make_hub):
    """Evidence outside the module's dates (before its start) proves nothing about it."""
    early_quiz = dict(QUIZ, occurred_at="2026-10-01T10:00:00+02:00", source_id="early-quiz")
    _, gaps = await foad_gaps(make_hub, started() + signed_mornings() + sessions() + [early_quiz, TUTOR])
    assert [g.code for g in gaps] == ["foad_no_work_trace"]


# --------------------------------------------------------------------------- journey show --explain


def _cli(workdir, *args):
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "hub.cli", "journey", "show", *args, "--config", "hub.yaml"],
                          cwd=workdir, capture_output=True, text=True, timeout=120)


async def test_journey_show_explains_where_the_foad_hours_come_from(make_hub, workdir):
    """Per day, the connection time and what the daily cap kept; per module, the activity estimates;
    and their sum, which is the FOAD figure of the total."""
    action = dict(MIXED, rules={"foad_daily_cap": "1h30m", "foad_count_activity_estimates": True})
    long_day = session(40, "2026-11-26", hours=3)  # 3 h connected, 1.5 h counted
    items = started() + signed_mornings() + sessions() + [long_day, QUIZ, TUTOR, COMPLETED]
    hub = await make_hub("actions:\n  SST-1: " + json.dumps(action) + "\n")
    await hub.append(items, source=None)
    (report,) = await hub.journey_reports(action="SST-1")
    foad = report.realised["foad_asynchrone"].value
    assert foad == Decimal("7.50")  # 4 days × 1.5 h (capped) + 90 min estimated
    stored = {e["id"]: e["type"] for e in await hub.store.call(lambda: list(hub.store.iter_events()))}
    await hub.stop()

    result = _cli(workdir, "email:u1@example.fr", "--explain")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "FOAD asynchrone: 7.50 h" in out
    assert "FOAD part of Sécurité incendie, 20 h planned: 7.50 h" in out
    assert "2026-11-26  3.00 h connected, 1.50 h counted" in out
    assert "connection time, capped at 1.50 h a day: 6.00 h" in out
    assert "activity estimates: 1.50 h" in out and "mod-1  90 min" in out
    assert "sum: 6.00 h + 1.50 h = 7.50 h" in out
    assert "evidence: work 2, assistance 1, connection 4" in out
    # the FOAD half-days say where their hours are instead of a bare 0 h
    assert "counted per day and per module (FOAD modules below), not per half-day" in out

    result = _cli(workdir, "email:u1@example.fr", "--explain", "--json")
    assert result.returncode == 0, result.stderr
    (data,) = json.loads(result.stdout)
    (module,) = data["foad_modules"]
    days = module["connection"]["days"]
    assert [d["date"] for d in days] == ["2026-11-23", "2026-11-24", "2026-11-25", "2026-11-26"]
    assert days[-1]["connected_seconds"] == 10800 and days[-1]["counted_seconds"] == 5400
    counted = sum(d["counted_seconds"] for d in days) + module["activity_estimates"]["minutes"] * 60
    assert module["sum"]["seconds"] == counted and module["sum"]["hours"] == module["hours"] == "7.50"
    assert data["realised_hours"]["foad_asynchrone"]["value"] == "7.50"
    assert {stored[e] for d in days for e in d["events"]} == {"lms.session"}
    assert stored[module["activity_estimates"]["activities"][0]["event"]] == "lms.activity_completed"
    assert {stored[e] for e in module["evidence"]["work"]} == {"lms.quiz_attempted", "lms.activity_completed"}


# --------------------------------------------------------------------------- a funder whose rule differs

FUNDER_RULE = {"requires": ["work", "assistance"], "source": "conditions FOAD du financeur X, art. 4"}


async def test_a_funder_rule_replaces_the_default_for_its_enrolments_only(make_hub):
    action = dict(MIXED, rules={"foad_proof": {"funders": {"opco-x*": FUNDER_RULE}}})
    funded = [event(5, "funding.approved", {"funder": "opco-x-nord", "funder_kind": "opco"})]
    # work and assistance, no connection log: enough for that funder
    _, gaps = await foad_gaps(make_hub, started() + funded + signed_mornings() + [QUIZ, TUTOR], {"SST-1": action})
    assert gaps == []


async def test_a_gap_under_a_funder_rule_cites_its_source(make_hub):
    action = dict(MIXED, rules={"foad_proof": {"funders": {"opco-x*": FUNDER_RULE}}})
    funded = [event(5, "funding.approved", {"funder": "opco-x-nord", "funder_kind": "opco"})]
    _, gaps = await foad_gaps(make_hub, started() + funded + signed_mornings() + [QUIZ], {"SST-1": action})
    (gap,) = gaps
    assert gap.code == "foad_no_tutor_interaction" and FUNDER_RULE["source"] in gap.message


async def test_a_co_funded_enrolment_meets_the_rule_of_each_funder(make_hub):
    action = dict(MIXED, rules={"foad_proof": {"funders": {"opco-x*": FUNDER_RULE}}})
    funded = [event(5, "funding.approved", {"funder": "opco-x-nord", "funder_kind": "opco"}),
              event(6, "funding.approved", {"funder": "region-ara", "funder_kind": "region"})]
    _, gaps = await foad_gaps(make_hub, started() + funded + signed_mornings() + [QUIZ, TUTOR], {"SST-1": action})
    assert [g.code for g in gaps] == ["foad_no_connection_trace"]  # the Région keeps the default rule


def test_a_funder_rule_needs_its_source():
    import pytest
    from pydantic import ValidationError

    from hub.journeys.actions import RealisationRules

    with pytest.raises(ValidationError) as raised:
        RealisationRules.model_validate({"foad_proof": {"funders": {"opco-x": {"requires": ["work"]}}}})
    assert "foad_proof.funders.opco-x.source" in str(raised.value).replace("\n", ".").replace(" ", "")


async def test_explicit_half_days_are_checked_the_same_way(make_hub):
    explicit = {"title": "Sécurité incendie", "start": "2026-11-23", "end": "2026-11-27", "half_days": [
        {"date": f"2026-11-{d}", "half_day": "pm", "start": "13:00", "end": "17:00", "modality": "foad_asynchrone",
         "module": "Module 2"} for d in (23, 24, 25)]}
    reports, gaps = await foad_gaps(make_hub, started() + sessions() + [DOWNLOAD, TUTOR], {"SST-1": explicit})
    assert [g.code for g in gaps] == ["foad_no_work_trace"]
    (module,) = reports[0].foad_modules
    assert module.scheduled_hours == Decimal("12") and len(module.half_days) == 3


async def test_a_module_not_yet_begun_owes_no_proof(make_hub):
    hub = await make_hub("actions:\n  FOAD-1: " + json.dumps(ASYNC) + "\n")
    await hub.append(started("FOAD-1", "2026-11-02"), source=None)
    reports = await hub.journey_reports(action="FOAD-1")
    assert check(reports, hub.plugins.proof_rules(), today=dt.date(2026, 11, 2)) == []  # it starts today
    (found,) = check(reports, hub.plugins.proof_rules(), today=dt.date(2026, 11, 3))
    assert sorted(g.code for _, g in found.gaps) == ["foad_no_connection_trace", "foad_no_tutor_interaction",
                                                    "foad_no_work_trace"]
