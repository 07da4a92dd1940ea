"""Schedules skip French public holidays (the action's or the organisation's calendar), and an
attendance dated on a public holiday or on a day without a session is a proof gap, with no hours
credited, not a silently counted or silently ignored signature."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest

from hub.config import parse_config
from hub.errors import ConfigError
from hub.journeys.actions import TrainingAction
from hub.journeys.proofs import DEFAULT_RULES, check
from hub.plugins import load_plugins

D = dt.date
PATTERN = {"am": {"start": "09:00", "end": "12:00"}, "pm": {"start": "13:00", "end": "17:00"}}
NEW_YEAR = {"title": "Bureautique", "start": "2026-12-28", "end": "2027-01-08", "pattern": PATTERN}


def days(action: TrainingAction) -> set[dt.date]:
    return {hd.date for hd in action.schedule()}


def test_a_weekly_pattern_skips_public_holidays():
    action = TrainingAction.model_validate(NEW_YEAR)
    assert D(2027, 1, 1) not in days(action) and D(2026, 12, 31) in days(action)
    assert len(days(action)) == 9 and action.total_planned_hours() == Decimal(63)


def test_the_local_calendar_of_the_action():
    """Good Friday (26 March 2027) and 26 December are public holidays in Alsace-Moselle only;
    27 May in Guadeloupe (abolition of slavery)."""
    easter = {"title": "x", "start": "2027-03-22", "end": "2027-03-31", "pattern": PATTERN}
    assert D(2027, 3, 26) in days(TrainingAction.model_validate(easter))
    for calendar in ("alsace_moselle", "67", "68", "57"):
        assert D(2027, 3, 26) not in days(TrainingAction.model_validate({**easter, "calendar": calendar}))
    may = {"title": "x", "start": "2027-05-24", "end": "2027-05-28", "pattern": PATTERN}
    assert D(2027, 5, 27) in days(TrainingAction.model_validate(may))
    assert D(2027, 5, 27) not in days(TrainingAction.model_validate({**may, "calendar": "971"}))


def test_the_organisation_calendar_applies_to_actions_without_their_own():
    classes = load_plugins(env={}).connector_classes()
    easter = {"title": "x", "start": "2027-03-22", "end": "2027-03-31", "pattern": PATTERN}
    text = ("hub: {calendar: '57'}\nactions:\n  A: " + json.dumps(easter) + "\n  B: "
            + json.dumps({**easter, "calendar": "metropole"}) + "\n")
    cfg = parse_config(text, classes, env={})
    assert D(2027, 3, 26) not in days(cfg.model.actions["A"]) and D(2027, 3, 26) in days(cfg.model.actions["B"])


def test_an_unknown_calendar_names_its_yaml_path():
    classes = load_plugins(env={}).connector_classes()
    text = "hub:\n  calendar: bretagne\nactions:\n  A: " + json.dumps({**NEW_YEAR, "calendar": "987"}) + "\n"
    with pytest.raises(ConfigError) as err:
        parse_config(text, classes, filename="hub.yaml", env={})
    problems = err.value.problems
    assert any(p.startswith("hub.yaml:2: hub.calendar: ") and "unknown calendar 'bretagne'" in p for p in problems)
    assert any(p.startswith("hub.yaml:4: actions.A.calendar: ") and "unknown calendar '987'" in p for p in problems)
    assert all("metropole, alsace_moselle" in p for p in problems)


def signed(i: int, day: str, half_day: str = "am", **data) -> dict:
    return {"type": "attendance.signed", "occurred_at": f"{day}T09:05:00+01:00", "source_id": f"sig-{i}",
            "learner": {"ref": "u1", "email": "u1@example.fr", "name": "Zoé Martin"}, "action": "BUR-1",
            "data": {"date": day, "half_day": half_day, "trainer_cosigned": True, **data}}


def gaps_of(reports, today=D(2027, 1, 20)) -> list[tuple[str, str | None, str | None, str]]:
    return [(g.code, g.date, g.half_day, g.message) for found in check(reports, DEFAULT_RULES, today=today)
            for _rule, g in found.gaps]


async def test_a_signature_on_a_public_holiday_or_without_a_session_is_a_gap_with_no_hours(make_hub):
    hub = await make_hub("actions:\n  BUR-1: " + json.dumps(NEW_YEAR) + "\n")
    await hub.append([signed(1, "2026-12-31"), signed(2, "2027-01-01"), signed(3, "2027-01-02", "pm"),
                      {"type": "enrolment.completed", "occurred_at": "2027-01-08T17:00:00+01:00", "source_id": "done",
                       "learner": {"ref": "u1", "email": "u1@example.fr"}, "action": "BUR-1",
                       "data": {"date": "2027-01-08"}}], source=None)
    (report,) = await hub.journey_reports(action="BUR-1")
    assert report.realised_hours == Decimal(3)  # the morning of 31 December only
    assert [(o["date"], o["half_day"], o["holiday"]) for o in report.off_schedule] == [
        ("2027-01-01", "am", "Jour de l'an"), ("2027-01-02", "pm", None)]
    found = {code: (date, half_day, message) for code, date, half_day, message in gaps_of([report])}
    date, half_day, message = found["attendance_on_public_holiday"]
    assert (date, half_day) == ("2027-01-01", "am")
    assert message == "2027-01-01 matin : émargement daté d'un jour férié (Jour de l'an), aucune heure n'est comptée"
    date, half_day, message = found["attendance_without_session"]
    assert (date, half_day) == ("2027-01-02", "pm")
    assert message == "2027-01-02 après-midi : émargement sans séance prévue au planning, aucune heure n'est comptée"
    assert report.as_dict()["off_schedule"][0]["events"]


async def test_an_explicit_half_day_on_a_public_holiday_is_kept_but_flagged_until_confirmed(make_hub):
    action = {"title": "Bureautique", "start": "2027-05-03", "end": "2027-05-14", "pattern": PATTERN,
              "half_days": [{"date": "2027-05-08", "half_day": "am", "start": "09:00", "end": "12:00"}]}
    hub = await make_hub("actions:\n  BUR-1: " + json.dumps(action) + "\n")
    await hub.append([signed(1, "2027-05-08")], source=None)
    (report,) = await hub.journey_reports(action="BUR-1")
    victory = next(r for r in report.half_days if r.half_day.date == D(2027, 5, 8))
    assert (victory.status, victory.hours, victory.holiday) == ("public_holiday", Decimal(0), "Fête de la Victoire")
    assert report.realised_hours == 0
    codes = [(code, date) for code, date, _h, _m in gaps_of([report], today=D(2027, 5, 10))]
    assert ("attendance_on_public_holiday", "2027-05-08") in codes
    # the session did take place on 8 May: the admin confirms it in the schedule
    hub.config.model.actions["BUR-1"] = TrainingAction.model_validate(
        {**action, "half_days": [{**action["half_days"][0], "holiday_confirmed": True}]})
    (report,) = await hub.journey_reports(action="BUR-1")
    victory = next(r for r in report.half_days if r.half_day.date == D(2027, 5, 8))
    assert (victory.status, victory.hours) == ("signed", Decimal(3)) and report.realised_hours == 3
    assert "attendance_on_public_holiday" not in [c for c, *_ in gaps_of([report], today=D(2027, 5, 10))]


def test_parcours_check_flags_an_explicit_half_day_on_a_public_holiday():
    from hub.config import schedule_warnings

    classes = load_plugins(env={}).connector_classes()
    action = {"title": "x", "start": "2027-05-03", "end": "2027-05-14", "calendar": "971",
              "half_days": [{"date": "2027-05-07", "half_day": "am", "start": "09:00", "end": "12:00"},
                            {"date": "2027-05-08", "half_day": "am", "start": "09:00", "end": "12:00"},
                            {"date": "2027-05-27", "half_day": "pm", "start": "13:00", "end": "17:00"},
                            {"date": "2027-05-13", "half_day": "am", "start": "09:00", "end": "12:00",
                             "holiday_confirmed": True}]}
    text = "actions:\n  BUR-1:\n" + "".join(f"    {k}: {json.dumps(v)}\n" for k, v in action.items())
    cfg = parse_config(text, classes, filename="hub.yaml", env={})
    assert schedule_warnings(cfg) == [
        "hub.yaml:7: actions.BUR-1.half_days[1]: 2027-05-08 is a public holiday (Fête de la Victoire) in the "
        "action's calendar (guadeloupe): its signatures credit no hours until it is confirmed (holiday_confirmed: true)",
        "hub.yaml:7: actions.BUR-1.half_days[2]: 2027-05-27 is a public holiday (Abolition de l'esclavage) in the "
        "action's calendar (guadeloupe): its signatures credit no hours until it is confirmed (holiday_confirmed: true)"]
