"""Journeys from the demo data set: realised hours by rule, explanations, incremental = rebuild."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from decimal import Decimal
from pathlib import Path

import pytest

from hub.journeys import catch_up, rebuild
from hub.journeys.actions import TrainingAction

ROOT = Path(__file__).resolve().parents[1]
DEMO_ACTION = "ACT-2026-REACT-01"


def demo_config(workdir: Path) -> str:
    shutil.copytree(ROOT / "config" / "demo-data", workdir / "demo-data", ignore=shutil.ignore_patterns("*.py"))
    action = (ROOT / "config" / "demo.yaml").read_text().split("\nactions:\n", 1)[1]
    return f"""
connectors:
  demo: {{kind: file_drop, path: demo-data, read_only: true, settle_seconds: 0}}
actions:
{action}
"""


async def demo_hub(make_hub, workdir, **rules):
    hub = await make_hub(demo_config(workdir))
    for name, value in rules.items():  # the hub.realisation rules under test
        setattr(hub.config.hub.realisation, name, value)
    assert (await hub.pull("demo")).appended == 543
    return hub


def by_name(reports):
    return {r.learner_name: r for r in reports}


def raw_events(type_: str, ref: str):
    out = []
    for line in (ROOT / "config/demo-data/03-lms.ndjson").read_text().splitlines():
        e = json.loads(line)
        if e["type"] == type_ and e["learner"]["ref"] == ref:
            out.append(e)
    return out


async def test_presentiel_hours_follow_signed_half_days(make_hub, workdir):
    hub = await demo_hub(make_hub, workdir)
    reports = by_name(await hub.journey_reports(action=DEMO_ACTION))
    assert len(reports) == 12
    theo = reports["Théo Garnier"]
    assert theo.realised["presentiel"].value == Decimal("35.0")  # 10 mornings of 3.5 h, all signed
    assert [r.status for r in theo.half_days if r.half_day.half_day == "am"].count("signed_without_trainer") == 1
    ines = reports["Inès Haddad"]
    assert ines.realised["presentiel"].value == Decimal("31.5")
    absent = [r for r in ines.half_days if r.status == "absent_justified"]
    assert [(r.half_day.date, r.half_day.half_day) for r in absent] == [(dt.date(2026, 10, 13), "am")]
    assert theo.status == "completed" and theo.funders.keys() == {"opco-atlas"}
    assert theo.planned_hours == Decimal("70.0")


async def test_trainer_cosignature_rule(make_hub, workdir):
    hub = await demo_hub(make_hub, workdir, presentiel_requires_trainer_cosignature=True)
    theo = by_name(await hub.journey_reports(action=DEMO_ACTION))["Théo Garnier"]
    assert theo.realised["presentiel"].value == Decimal("31.5")


async def test_dropout_counts_nothing_after_the_abandonment(make_hub, workdir):
    hub = await demo_hub(make_hub, workdir)
    lucas = by_name(await hub.journey_reports(action=DEMO_ACTION))["Lucas Bernard"]
    assert lucas.status == "abandoned" and lucas.exit_date == dt.date(2026, 10, 9)
    assert lucas.realised["presentiel"].value == Decimal("17.5")  # Monday to Friday of the first week
    assert {r.status for r in lucas.half_days if r.half_day.date > dt.date(2026, 10, 9)} == {"after_exit"}
    # FOAD: his connection time, computed here straight from the data file
    seconds = sum(e["data"]["duration_seconds"] for e in raw_events("lms.session", "apprenant-09"))
    assert lucas.realised["foad_asynchrone"].value == (Decimal(seconds) / 3600).quantize(Decimal("0.01"))
    assert lucas.attendance_rate.value == (lucas.realised_hours / Decimal("35") * 100).quantize(Decimal("0.1"))


async def test_foad_daily_cap_and_activity_estimates(make_hub, workdir):
    hub = await demo_hub(make_hub, workdir, foad_daily_cap=dt.timedelta(hours=1), foad_count_activity_estimates=True)
    camille = by_name(await hub.journey_reports(action=DEMO_ACTION))["Camille Dubois"]
    foad = camille.realised["foad_asynchrone"]
    # 10 days capped at 1 h + 5 completed modules estimated at 180 min = 25 h, under the 35 scheduled hours
    assert foad.value == Decimal("25.00")
    assert "estimated time of completed activities" in foad.rule
    completed = [a for a in camille.foad_activities if a.get("completed_at")]
    quizzes = [a for a in camille.foad_activities if a.get("attempts")]
    assert len(completed) == 5 and len(quizzes) == 5 and all(q["attempts"][0]["passed"] for q in quizzes)
    assert len(camille.tutor_interactions) == 2


async def test_explanations_point_at_real_events(make_hub, workdir):
    hub = await demo_hub(make_hub, workdir)
    ines = by_name(await hub.journey_reports(action=DEMO_ACTION))["Inès Haddad"]
    data = ines.as_dict(explain=True)
    events = data["realised_hours"]["presentiel"]["events"]
    assert len(events) == 9
    stored = [await hub.store.call(hub.store.get_event, e) for e in events]
    assert {s["type"] for s in stored} == {"attendance.signed"}
    assert all(s["learner"]["ref"] == "apprenant-05" for s in stored)


async def test_incremental_projection_equals_rebuild(make_hub, workdir):
    hub = await make_hub(demo_config(workdir))
    # ingest in several pulls with projection in between (incremental) ...
    hub.connectors["demo"].config.batch_size = 37
    while True:
        result = await hub.pull("demo")
        await hub.project()
        if not result.appended:
            break
    incremental = await hub.store.call(hub.store.journeys)
    await hub.store.call(rebuild, hub.store)
    rebuilt = await hub.store.call(hub.store.journeys)
    assert len(incremental) == 12 and incremental == rebuilt
    assert await hub.store.call(catch_up, hub.store) == 0


async def test_a_correction_supersedes_the_original(make_hub, workdir):
    hub = await demo_hub(make_hub, workdir)
    camille = by_name(await hub.journey_reports(action=DEMO_ACTION))["Camille Dubois"]
    signed = next(r for r in camille.half_days if r.half_day.key == "2026-10-06/am")
    wrong = signed.events[0]
    await hub.append([{
        "type": "attendance.absent", "occurred_at": "2026-10-20T10:00:00+02:00", "source_id": "fix-1",
        "learner": {"ref": "apprenant-01", "email": "camille.dubois@example.fr"}, "action": DEMO_ACTION,
        "supersedes": wrong, "data": {"date": "2026-10-06", "half_day": "am", "reason": "signature en double"},
    }], source=None)
    camille = by_name(await hub.journey_reports(action=DEMO_ACTION))["Camille Dubois"]
    fixed = next(r for r in camille.half_days if r.half_day.key == "2026-10-06/am")
    assert fixed.status == "absent" and camille.realised["presentiel"].value == Decimal("31.5")


def test_schedule_from_pattern_skips_weekends_and_excluded_days():
    action = TrainingAction.model_validate({
        "title": "x", "start": "2026-11-09", "end": "2026-11-13",
        "pattern": {"am": {"start": "09:00", "end": "12:00"}, "pm": {"start": "13:30", "end": "17:00", "modality": "distanciel_synchrone"}},
        "exclude_dates": ["2026-11-11"],
    })
    days = action.schedule()
    assert len(days) == 8 and dt.date(2026, 11, 11) not in {d.date for d in days}
    assert action.total_planned_hours() == Decimal("26")
    with pytest.raises(ValueError):
        TrainingAction.model_validate({"title": "x", "start": "2026-11-09", "end": "2026-11-13",
                                       "pattern": {"am": {"start": "12:00", "end": "09:00"}}})


async def test_stream_computes_page_by_page_and_fetches_in_the_order_asked(make_hub, workdir):
    from hub.journeys.stream import JourneyStream
    from hub.store import open_store

    hub = await demo_hub(make_hub, workdir)
    everyone = {r.learner_name: r for r in await hub.journey_reports(action=DEMO_ACTION)}
    reader = open_store(hub.config.hub.store.url, base_dir=workdir)
    try:
        opco = JourneyStream(reader, hub.config, chunk=5, keep=lambda s: "opco-atlas" in s["funders"],
                             select=lambda r: r.status == "completed")
        names = [r.learner_name for r in opco]
        assert len(names) == 6 and "Théo Garnier" in names and [r.learner_name for r in opco] == names  # twice
        assert {n: everyone[n].realised_hours for n in names} == {r.learner_name: r.realised_hours for r in opco}
        keys = [(everyone[n].learner_id, DEMO_ACTION) for n in ("Lucas Bernard", "Camille Dubois", "Léa Moreau")]
        fetched = JourneyStream(reader, hub.config, chunk=2).fetch([*keys, ("nobody", DEMO_ACTION)])
        assert [r.learner_name for r in fetched] == ["Lucas Bernard", "Camille Dubois", "Léa Moreau"]
        pages = [len(page) async for page in hub.journey_pages(chunk=5)]
        assert pages == [5, 5, 2]
    finally:
        reader.close()


async def test_the_funding_decision_that_occurred_last_wins_whatever_the_arrival_order(make_hub, workdir):
    hub = await demo_hub(make_hub, workdir)
    camille = {"ref": "apprenant-01", "email": "camille.dubois@example.fr", "name": "Camille Dubois"}
    decision = {"funder": "opco-atlas", "funder_kind": "opco", "amount": "2450.00", "hours": "70"}
    await hub.append([  # the amended decision arrives first, an older one after it
        {"type": "funding.approved", "occurred_at": "2026-09-20T10:00:00+02:00", "source_id": "amended",
         "learner": camille, "action": DEMO_ACTION, "data": {**decision, "details": {"dossier": "ATL-1"}}},
        {"type": "funding.approved", "occurred_at": "2026-09-01T10:00:00+02:00", "source_id": "older",
         "learner": camille, "action": DEMO_ACTION, "data": {**decision, "amount": "1.00"}}], source=None)
    report = by_name(await hub.journey_reports(action=DEMO_ACTION))["Camille Dubois"]
    assert report.funders["opco-atlas"]["details"] == {"dossier": "ATL-1"}
    assert report.funders["opco-atlas"]["amount"] == "2450.00"


async def test_status_read_from_the_state_is_the_computed_status(make_hub, workdir):
    """The alerts job skips ended enrolments before computing them: both must agree."""
    from hub.journeys.compute import status_of

    hub = await demo_hub(make_hub, workdir)
    lucas = by_name(await hub.journey_reports(action=DEMO_ACTION))["Lucas Bernard"]
    abandon = lucas.timeline["abandoned"]["event"]
    await hub.append([{  # the abandonment was recorded by mistake: he is in progress again
        "type": "admin.action", "occurred_at": "2026-10-13T09:00:00+02:00", "source_id": "undo-abandon",
        "learner": {"ref": "apprenant-09", "email": "lucas.bernard@example.fr"}, "action": DEMO_ACTION,
        "supersedes": abandon, "data": {"actor": "admin", "command": "void abandonment", "target": abandon}}],
        source=None)
    await hub.project()
    states = await hub.store.call(hub.store.journeys)
    reports = {(r.learner_id, r.action_id): r for r in await hub.journey_reports()}
    assert {status_of(s) for s in states} >= {"completed", "started"}
    for state in states:
        assert status_of(state) == reports[(state["learner_id"], state["action"])].status


def _cli(workdir: Path, *args: str):
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "hub.cli", "journey", *args, "--config", "hub.yaml"], cwd=workdir,
                          capture_output=True, text=True, timeout=120)


async def test_journey_list_has_a_header_and_whole_names(make_hub, workdir):
    hub = await demo_hub(make_hub, workdir)
    long_name = "Marie-Alexandrine de La Tour d'Auvergne-Lauraguais"  # 50 characters
    await hub.append([{"type": "enrolment.registered", "occurred_at": "2026-09-01T10:00:00+02:00",
                       "source_id": "reg-long", "learner": {"ref": "long", "name": long_name},
                       "action": DEMO_ACTION, "data": {"enrolment": "INS-9999"}}], source=None)
    await hub.stop()
    result = _cli(workdir, "list")
    assert result.returncode == 0, result.stderr
    header, *rows = result.stdout.splitlines()
    assert header.split() == ["ACTION", "LEARNER", "STATUS", "REALISED", "/", "PLANNED", "ATTENDANCE"]
    assert len(rows) == 13 and any(long_name in row for row in rows)
    status = header.index("STATUS")  # every row's status starts under the header's, after the longest name
    assert all(row[status - 2:status] == "  " and row[status] != " " for row in rows)
    assert status == len(DEMO_ACTION) + 2 + len(long_name) + 2


async def test_journey_show_finds_a_learner_by_part_of_the_name(make_hub, workdir):
    hub = await demo_hub(make_hub, workdir)
    await hub.stop()
    result = _cli(workdir, "show", "eloise martin")  # "Éloïse Martin-Durand": case and accents ignored
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"Éloïse Martin-Durand — {DEMO_ACTION}")
    result = _cli(workdir, "show", "email:ELOISE.martin-durand@example.fr")
    assert result.returncode == 0 and result.stdout.startswith("Éloïse Martin-Durand"), result.stderr
    result = _cli(workdir, "show", "nobody-like-this")
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.strip() == (
        "error: no enrolment for 'nobody-like-this'; name a learner by a hub learner id, email:<address>, "
        "src:<connector>:<ref>, or part of the learner's name (case and accents ignored)")
