"""The drift figures shown beside the dropout alerts (hub.journeys.drift): the attendance of the
last half-days held against the rate to date, the last trace and the days since, and the alerts
the rules raise now."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from zoneinfo import ZoneInfo

from hub.journeys.alerts import AlertsConfig
from hub.journeys.drift import RECENT_HALF_DAYS, drift

PARIS = ZoneInfo("Europe/Paris")
ACTION = {"title": "Sécurité incendie", "start": "2026-11-23", "end": "2026-11-27",
          "pattern": {"am": {"start": "09:00", "end": "12:00"}, "pm": {"start": "13:00", "end": "17:00"}}}


def event(i, type_, data, at="2026-11-20T10:00:00+01:00"):
    return {"type": type_, "occurred_at": at, "source_id": f"e{i}", "action": "SST-1",
            "learner": {"ref": "u1", "email": "u1@example.fr", "name": "Zoé L'Hermite"}, "data": data}


async def hub_signed(make_hub, half_days):
    hub = await make_hub("actions:\n  SST-1: " + json.dumps(ACTION) + "\n")
    events = [event(0, "enrolment.started", {"date": "2026-11-23"})]
    events += [event(i + 1, "attendance.signed", {"date": d, "half_day": h, "trainer_cosigned": True}, f"{d}T12:00:00+01:00")
               for i, (d, h) in enumerate(half_days)]
    await hub.append(events, source=None)
    return hub


async def test_the_last_half_days_held_against_the_rate_to_date(make_hub):
    # signed Monday and Tuesday (7 h a day), nothing on Wednesday and Thursday
    hub = await hub_signed(make_hub, [("2026-11-23", "am"), ("2026-11-23", "pm"), ("2026-11-24", "am"), ("2026-11-24", "pm")])
    now = dt.datetime(2026, 11, 27, 8, 0, tzinfo=PARIS)  # Friday, before the morning starts
    (report,) = await hub.journey_reports(action="SST-1", today=now.date())
    found = drift(report, AlertsConfig(), now, PARIS)
    assert RECENT_HALF_DAYS == 6
    # the six half-days held before Friday 08:00: Tuesday to Thursday; Tuesday's 7 h of 21 h
    assert [(r.half_day.date.isoformat(), r.half_day.half_day) for r in found.recent] == [
        (f"2026-11-{d}", h) for d in (24, 25, 26) for h in ("am", "pm")]
    assert found.recent_rate == Decimal("33.3") and found.rate == Decimal("50.0") and found.dropping
    # the last trace: Tuesday afternoon's end (17:00 in Paris), two whole days and 15 hours before
    assert found.last_activity == dt.datetime(2026, 11, 24, 16, 0, tzinfo=dt.timezone.utc)
    assert found.days_inactive == 2
    # what the rules raise now: Thursday unsigned (within the lookback of a day), 50 % < 80 %
    assert [(a.rule, a.source_id.rsplit(":", 1)[-1]) for a in found.firing] == [
        ("unsigned_half_day", "2026-11-26/am"), ("unsigned_half_day", "2026-11-26/pm"), ("attendance_below", "2026-W48")]
    # the same learner on Wednesday at 08:00: every half-day held was signed, nothing is dropping
    wednesday = dt.datetime(2026, 11, 25, 8, 0, tzinfo=PARIS)
    (report,) = await hub.journey_reports(action="SST-1", today=wednesday.date())
    early = drift(report, AlertsConfig(), wednesday, PARIS)
    assert early.recent_rate == early.rate == Decimal("100.0") and not early.dropping and early.firing == []


async def test_no_half_day_held_yet_has_no_trend(make_hub):
    hub = await hub_signed(make_hub, [])
    now = dt.datetime(2026, 11, 23, 8, 30, tzinfo=PARIS)
    (report,) = await hub.journey_reports(action="SST-1", today=now.date())
    found = drift(report, AlertsConfig(), now, PARIS)
    assert found.recent == [] and found.recent_rate is None and not found.dropping
    assert found.last_activity is None and found.days_inactive is None
