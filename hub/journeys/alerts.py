"""Dropout prevention (Qualiopi indicator 12): alerts as events, and their follow-up.

Rules run on the journeys of enrolments in progress and raise ``alert.raised`` events (source
``hub``) that routes can send anywhere (a CRM task, a webhook). Each alert has a deterministic
``source_id``, so the same situation raises it once. A follow-up (``parcours alerts
follow-up``) is an ``alert.followed_up`` event referencing it: both stay in the ledger as the
evidence auditors ask for.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from hub.durations import Duration
from hub.journeys.compute import JourneyReport


class AlertsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    unsigned_after: Duration | None = Field(
        default=dt.timedelta(minutes=30),
        description="Alert when a learner has not signed a half-day this long after its start (None: off)")
    inactive_after: Duration | None = Field(
        default=dt.timedelta(days=7), description="Alert when a distance learner shows no activity for this long")
    attendance_below: float | None = Field(
        default=80.0, ge=0, le=100, description="Alert when the attendance rate to date falls below this percentage")
    lookback: Duration = Field(default=dt.timedelta(days=1), description="Unsigned half-days older than this are "
                               "left to `parcours proofs check`")
    check_every: Duration = Field(default=dt.timedelta(minutes=5))


@dataclass
class Alert:
    rule: str
    message: str
    severity: str
    source_id: str
    learner_id: str
    action: str


ACTIVE = {"started", "funding_approved", "agreement_signed"}


def evaluate(report: JourneyReport, cfg: AlertsConfig, now: dt.datetime, tz: dt.tzinfo) -> list[Alert]:
    """The alerts one enrolment in progress deserves at ``now``."""
    if report.status not in ACTIVE or report.action is None:
        return []
    out: list[Alert] = []
    base = f"{report.learner_id}:{report.action_id}"
    who = report.learner_name or report.learner_id
    if cfg.unsigned_after is not None:
        for r in report.half_days:
            if r.half_day.modality == "foad_asynchrone" or r.status not in ("missing", "upcoming"):
                continue
            start = r.half_day.starts_at(tz)
            if start + cfg.unsigned_after <= now <= start + cfg.lookback:
                label = "matin" if r.half_day.half_day == "am" else "après-midi"
                out.append(Alert("unsigned_half_day",
                                 f"{who} n'a pas émargé ({r.half_day.date.isoformat()} {label}, début {r.half_day.start})",
                                 "warning", f"alert:unsigned:{base}:{r.half_day.key}", report.learner_id, report.action_id))
    has_distance = any(r.half_day.modality != "presentiel" for r in report.half_days) or report.action.modality != "presentiel"
    if cfg.inactive_after is not None and has_distance and report.action.start <= now.astimezone(tz).date() <= report.action.end:
        last = last_activity(report, tz)
        since = last or dt.datetime.combine(report.action.start, dt.time(0), tzinfo=tz)
        if now - since >= cfg.inactive_after:
            days = (now - since).days
            out.append(Alert("inactive", f"{who}: aucune activité à distance depuis {days} jours", "warning",
                             f"alert:inactive:{base}:{since.date().isoformat()}", report.learner_id, report.action_id))
    rate = report.attendance_rate.value
    if cfg.attendance_below is not None and rate is not None and float(rate) < cfg.attendance_below:
        week = now.astimezone(tz).isocalendar()
        out.append(Alert("attendance_below", f"{who}: assiduité de {rate} % (seuil {cfg.attendance_below:g} %)",
                         "critical" if float(rate) < cfg.attendance_below / 2 else "warning",
                         f"alert:attendance:{base}:{week.year}-W{week.week:02d}", report.learner_id, report.action_id))
    return out


def last_activity(report: JourneyReport, tz: dt.tzinfo) -> dt.datetime | None:
    """The last trace of the learner: LMS activity or the end of a signed half-day (its times are
    the action's local times, in ``tz``)."""
    times = [report.last_activity_at] if report.last_activity_at else []
    for r in report.half_days:
        if r.status in ("signed", "signed_without_trainer", "remote"):
            times.append(r.half_day.ends_at(tz))
    return max(times) if times else None


def alert_items(alerts: list[Alert], learners: dict[str, dict[str, Any]], now: dt.datetime) -> list[dict[str, Any]]:
    """Event inputs for new alerts (the learner reference is the hub's own id)."""
    return [{
        "type": "alert.raised", "occurred_at": now.isoformat(), "source_id": a.source_id, "action": a.action,
        "learner": {"ref": a.learner_id, **({"name": learners[a.learner_id]["name"]} if learners.get(a.learner_id, {}).get("name") else {})},
        "data": {"rule": a.rule, "message": a.message, "severity": a.severity, "details": {"learner_id": a.learner_id}},
    } for a in alerts]


def alerts_of(facts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Raised alerts of one journey (its projected ``alerts`` facts), each with its follow-ups in
    ledger order (``follow_ups``) and the latest of them (``followed_up``, None: still open)."""
    follow: dict[str, list[dict[str, Any]]] = {}
    for f in facts:
        if f.get("type") == "alert.followed_up":
            follow.setdefault(f["alert"], []).append(f)
    return [{**f, "follow_ups": follow.get(f["event"], []), "followed_up": (follow.get(f["event"]) or [None])[-1]}
            for f in facts if f.get("type") == "alert.raised"]


def follow_up_item(alert: dict[str, Any], note: str, by: str, now: dt.datetime) -> dict[str, Any]:
    """The event input recording the follow-up of ``alert`` (an ``alert.raised`` event, as the
    store returns it): what was done (``note``) and by whom, about the alert's learner and action.
    Each follow-up is a new event (its ``source_id`` names the alert and the instant): an alert may
    be followed up several times."""
    return {"type": "alert.followed_up", "occurred_at": now.isoformat(),
            "source_id": f"follow-up:{alert['id']}:{now.timestamp()}",
            "learner": alert["learner"], "action": alert["action"],
            "data": {"alert": alert["id"], "action_taken": note, "by": by}}
