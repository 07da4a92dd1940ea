"""The features of an enrolment as of a date, without look-ahead.

A projected journey state holds every fact of the enrolment with the time it occurred
(``at``). :func:`state_as_of` keeps the facts that occurred at or before ``as_of``; the journey
is then computed as it stood that day (:func:`hub.journeys.compute.compute` with ``today`` =
that day), and :func:`features_of` reads the features from it. Training on a finished
enrolment's past and scoring one in progress go through the same two functions, so the model
never sees at training time what it cannot see when it scores.

No protected attribute is a feature (see docs/risk.md, "Fairness"): not the learner's name,
e-mail, identifiers (NIR…), age, sex, address, nationality or disability — the journey does
not even hold most of them, and those it holds are never read here.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any, get_args

from hub.events import FunderKind
from hub.journeys.alerts import last_activity
from hub.journeys.compute import JourneyReport, compute

#: the numeric features, in the model's column order
NUMERIC = [
    "days_since_activity",     # days since the last trace (LMS activity or signed half-day)
    "recent_unsigned_share",   # share of the last 4 past scheduled half-days neither signed nor justified
    "attendance_drop",         # signed share before the last 4 half-days minus signed share in them (≥ 0)
    "attendance_gap",          # 1 - attendance rate to date (realised / scheduled hours due)
    "progress_gap",            # share of the schedule elapsed minus LMS progress (≥ 0; 0 when no progress is reported)
    "failed_assessments",      # assessments and quizzes not passed
    "last_assessment_failed",  # 1 when the latest assessment or quiz was not passed
    "no_tutor_contact",        # 1 when the schedule is under way and no tutor interaction is recorded
    "start_delay_days",        # days from registration to the start (to date, when not started)
    "not_started_days",        # days since the action began without the learner starting (0 once started)
    "payment_incidents",       # payments refunded or rejected
]
FUNDER_KINDS: list[str] = list(get_args(FunderKind))
MODALITIES = ["presentiel", "distanciel_synchrone", "foad_asynchrone", "mixte"]
COLUMNS = NUMERIC + [f"funder_kind={k}" for k in FUNDER_KINDS] + [f"modality={m}" for m in MODALITIES]
#: the groups whose contributions are told as reasons: each numeric feature, the funder kind, the modality
GROUPS: dict[str, list[int]] = {
    **{name: [COLUMNS.index(name)] for name in NUMERIC},
    "funder_kind": [i for i, c in enumerate(COLUMNS) if c.startswith("funder_kind=")],
    "modality": [i for i, c in enumerate(COLUMNS) if c.startswith("modality=")],
}
RECENT = 4  # half-days that make "recent" attendance
DAYS_CAP = 60  # longer silences say nothing more
DAY_OVER = dt.time(18, 0)  # a day's sessions are over: its snapshot is taken then


def instant(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


def _visible(facts: list[dict[str, Any]], as_of: dt.datetime) -> list[dict[str, Any]]:
    return [f for f in facts if instant(f["at"]) <= as_of]


def state_as_of(state: dict[str, Any], as_of: dt.datetime) -> dict[str, Any]:
    """A copy of the journey ``state`` holding only the facts that occurred at or before ``as_of``."""
    out = dict(state)
    out["timeline"] = {step: kept for step, facts in state.get("timeline", {}).items()
                       if (kept := _visible(facts, as_of))}
    out["funders"] = {name: fact for name, fact in state.get("funders", {}).items() if instant(fact["at"]) <= as_of}
    out["half_days"] = {}
    for key, slot in state.get("half_days", {}).items():
        kept = {"signatures": _visible(slot.get("signatures", []), as_of),
                "absences": _visible(slot.get("absences", []), as_of)}
        if kept["signatures"] or kept["absences"]:
            out["half_days"][key] = kept
    out["trainer_signatures"] = _visible(state.get("trainer_signatures", []), as_of)
    for name in {"sessions", "virtual", "activities", "quizzes", "traces", "tutor", "progress", "assessments",
                 "certifications", "payments", "documents", "alerts", "risk"}:
        out[name] = _visible(state.get(name, []), as_of)
    return out


@dataclass
class Snapshot:
    """One enrolment's features as of a date, with the raw figures the reasons are told with."""

    learner_id: str
    action_id: str
    learner_name: str | None
    as_of: dt.datetime
    status: str
    funder: str  # the funder's name ("none" when no funding is recorded): fairness metrics, never a feature
    funder_kind: str
    modality: str
    values: dict[str, float]
    facts: dict[str, Any] = field(default_factory=dict)
    report: JourneyReport | None = None

    def vector(self) -> list[float]:
        return [self.values[c] for c in COLUMNS]


def as_of_instant(day: dt.date, tz: dt.tzinfo) -> dt.datetime:
    """The instant a day's snapshot is taken: 18:00 local, after the day's sessions."""
    return dt.datetime.combine(day, DAY_OVER, tzinfo=tz)


def snapshot(state: dict[str, Any], config, as_of: dt.datetime) -> Snapshot:
    """The features of the enrolment of ``state`` as it stood at ``as_of`` (``config``: the hub's LoadedConfig)."""
    tz = config.timezone
    action = config.model.actions.get(state["action"])
    seen = state_as_of(state, as_of)
    report = compute(seen, action, config.rules_for(state["action"]), tz, today=held_until(as_of, tz))
    return features_of(report, seen, as_of, tz)


def held_until(as_of: dt.datetime, tz: dt.tzinfo) -> dt.date:
    """The first day whose half-days are not yet held at ``as_of``: from 18:00 (:data:`DAY_OVER`),
    the day's own half-days are over and count (signed or not); before, they are still to come."""
    local = as_of.astimezone(tz)
    return local.date() + dt.timedelta(days=1) if local.time() >= DAY_OVER else local.date()


def features_of(report: JourneyReport, seen: dict[str, Any], as_of: dt.datetime, tz: dt.tzinfo) -> Snapshot:
    """The features of a journey computed as of ``as_of`` from the state ``seen`` then."""
    today = as_of.astimezone(tz).date()
    action = report.action
    values: dict[str, float] = {c: 0.0 for c in COLUMNS}
    facts: dict[str, Any] = {}
    begun = action is not None and action.start <= today

    # attendance: the scheduled half-days already held, but the FOAD ones (counted per module)
    held = [r for r in report.half_days if r.status not in ("upcoming", "after_exit", "foad")
            and r.half_day.modality != "foad_asynchrone"]
    held.sort(key=lambda r: (r.half_day.date, r.half_day.half_day))
    recent, before = held[-RECENT:], held[:-RECENT]
    unsigned = sum(1 for r in recent if r.status in ("missing", "absent"))
    if recent:
        values["recent_unsigned_share"] = unsigned / len(recent)
        facts["recent_unsigned"], facts["recent_held"] = unsigned, len(recent)
    if recent and before:
        signed = ("signed", "signed_without_trainer", "remote", "absent_justified")
        share_before = sum(1 for r in before if r.status in signed) / len(before)
        share_recent = sum(1 for r in recent if r.status in signed) / len(recent)
        values["attendance_drop"] = max(0.0, share_before - share_recent)
        facts["share_before"], facts["share_recent"] = share_before, share_recent
    rate = report.attendance_rate.value
    if rate is not None:
        values["attendance_gap"] = max(0.0, 1 - float(rate) / 100)
        facts["attendance_rate"] = float(rate)

    # activity
    last = last_activity(report, tz)
    if last is not None and last > as_of:
        last = as_of  # a session reported with an end after the snapshot (still connected)
    if begun:
        since = last or dt.datetime.combine(action.start, dt.time(0), tzinfo=tz)
        days = max(0, min(DAYS_CAP, (as_of - since).days))
        values["days_since_activity"] = float(days)
        facts["days_since_activity"], facts["ever_active"] = days, last is not None

    # progress against the schedule
    schedule = report.half_days
    if schedule and begun:
        held = held_until(as_of, tz)
        elapsed = sum(1 for r in schedule if r.half_day.date < held) / len(schedule)
        facts["elapsed"] = elapsed
        if report.progress is not None:
            progress = float(report.progress.value) / 100
            values["progress_gap"] = max(0.0, elapsed - progress)
            facts["progress"] = progress

    # assessments and quizzes, in the order they occurred
    graded = sorted((a for a in report.assessments if a.get("passed") is not None), key=lambda a: instant(a["at"]))
    failed = [a for a in graded if a.get("passed") is False]
    values["failed_assessments"] = float(len(failed))
    facts["failed_assessments"] = len(failed)
    if graded and graded[-1].get("passed") is False:
        values["last_assessment_failed"] = 1.0
        latest = graded[-1]
        facts["last_failed"] = {"name": latest.get("assessment") or latest.get("activity_name") or latest.get("activity"),
                                "score": latest.get("score"), "max_score": latest.get("max_score")}

    # tutor contacts
    facts["tutor_contacts"] = len(report.tutor_interactions)
    if begun and not report.tutor_interactions and facts.get("elapsed", 0) >= 0.2:
        values["no_tutor_contact"] = 1.0

    # funnel: registration -> start, never started, payment incidents
    registered = report.timeline.get("registered")
    started_on = _started_on(report)
    if registered is not None:
        reg_day = instant(registered["at"]).astimezone(tz).date()
        end = started_on or today
        delay = max(0, (end - reg_day).days)
        values["start_delay_days"] = float(min(delay, 180))
        facts["start_delay_days"] = delay
    if begun and started_on is None and report.status not in ("completed", "abandoned"):
        late = (today - action.start).days
        values["not_started_days"] = float(min(late, DAYS_CAP))
        facts["not_started_days"] = late
    incidents = [p for p in seen.get("payments", []) if p.get("type") == "payment.refunded"]
    values["payment_incidents"] = float(len(incidents))
    facts["payment_incidents"] = len(incidents)

    funder, kind = _funder(report)
    modality = action.modality if action is not None else "presentiel"
    values[f"funder_kind={kind}"] = 1.0
    values[f"modality={modality}"] = 1.0
    for name in NUMERIC:  # a bad fact must not reach the model as a NaN
        if not math.isfinite(values[name]):
            values[name] = 0.0
    return Snapshot(report.learner_id, report.action_id, report.learner_name, as_of, report.status, funder, kind,
                    modality, values, facts, report)


def _started_on(report: JourneyReport) -> dt.date | None:
    """When the learner started: the start event's date, else the first signed half-day."""
    started = report.timeline.get("started")
    if started is not None:
        return dt.date.fromisoformat(started["date"]) if started.get("date") else instant(started["at"]).date()
    signed = [r.half_day.date for r in report.half_days if r.status in ("signed", "signed_without_trainer", "remote")]
    return min(signed) if signed else None


def _funder(report: JourneyReport) -> tuple[str, str]:
    """The enrolment's main funder (the first by name) and its kind; ("none", "self") when none is recorded."""
    if not report.funders:
        return "none", "self"
    name = sorted(report.funders)[0]
    kind = report.funders[name].get("funder_kind") or "other"
    return name, kind if kind in FUNDER_KINDS else "other"


__all__ = ["COLUMNS", "GROUPS", "NUMERIC", "Snapshot", "as_of_instant", "features_of", "snapshot",
           "state_as_of"]
