"""Figures of a journey, each with the events and the rule behind it.

Realised hours (heures réalisées), by modality of the scheduled half-day:

* présentiel: the scheduled hours of each half-day the learner signed (and, when
  ``presentiel_requires_trainer_cosignature``, that the trainer co-signed) — décret 2017-382:
  a signature per half-day, trainer included. The trainer co-signed when a learner signature
  says so (``trainer_cosigned``) or when the trainer's own signature of the half-day is in the
  ledger, whenever it arrived (see :mod:`hub.journeys.projection`);
* distanciel synchrone: a signed half-day counts like présentiel; otherwise the virtual-class
  presence inside the half-day, capped at its scheduled hours;
* FOAD asynchrone: per module (:mod:`hub.journeys.foad`), connection time (``lms.session``) per
  day, capped at ``foad_daily_cap``, plus, when ``foad_count_activity_estimates``, the estimated
  time of each completed activity — capped at the module's scheduled hours. Connection logs alone
  are not proof of FOAD (TA Toulouse, 2 Nov. 2023): each module also holds its work done, tutor
  interactions and connection times, which the proof rules check.

Nothing after the abandonment date counts. Superseded events are ignored.

Calendar: a signature dated on a public holiday of the action's calendar, or on a day the
schedule holds no session for, credits no hours and is listed (``off_schedule``, and the
``public_holiday`` status of an explicitly scheduled half-day on a public holiday that the
schedule does not confirm): :mod:`hub.journeys.proofs` turns each into a gap an admin resolves
(CAA Nantes, 20 April 2021: attendance sheets, one dated on a public holiday, rejected as proof).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from hub.journeys.actions import HalfDay, RealisationRules, TrainingAction
from hub.journeys.foad import FoadModule, hours, modules_of
from hub.journeys.foad import evaluate as evaluate_foad
from hub.journeys.foad import events_of as foad_events
STATUS_ORDER = ["registered", "terms_accepted", "agreement_signed", "funding_approved", "started", "completed", "abandoned"]


def _dt(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


@dataclass
class Figure:
    """A number with its explanation: the rule applied and the events it rests on."""

    value: Any
    rule: str
    events: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        value = str(self.value) if isinstance(self.value, Decimal) else self.value
        return {"value": value, "rule": self.rule, "events": self.events}


@dataclass
class HalfDayResult:
    half_day: HalfDay
    status: str  # signed | signed_without_trainer | absent_justified | absent | missing | upcoming | after_exit | remote
    hours: Decimal
    rule: str
    events: list[str]
    proof: str | None = None
    holiday: str | None = None  # the public holiday the half-day falls on (an explicit half-day, unconfirmed)


@dataclass
class JourneyReport:
    learner_id: str
    learner_name: str | None
    learner_email: str | None
    action_id: str
    action: TrainingAction | None
    status: str
    timeline: dict[str, dict[str, Any]]
    funders: dict[str, dict[str, Any]]
    half_days: list[HalfDayResult]
    realised: dict[str, Figure]
    planned_hours: Decimal
    attendance_rate: Figure
    progress: Figure | None
    assessments: list[dict[str, Any]]
    certifications: list[dict[str, Any]]
    foad_activities: list[dict[str, Any]]
    tutor_interactions: list[dict[str, Any]]
    exit_date: dt.date | None
    last_activity_at: dt.datetime | None = None
    learner_ids: dict[str, str] = field(default_factory=dict)  # identifiers the sources reported (nir, …)
    foad_modules: list[FoadModule] = field(default_factory=list)
    rules: RealisationRules | None = None  # the rules that computed these figures
    #: learner signatures dated on a day without a scheduled half-day (public holiday or no session)
    off_schedule: list[dict[str, Any]] = field(default_factory=list)

    @property
    def realised_hours(self) -> Decimal:
        return self.realised["total"].value

    def as_dict(self, explain: bool = False) -> dict[str, Any]:
        def fig(f: Figure | None):
            if f is None:
                return None
            return f.as_dict() if explain else (str(f.value) if isinstance(f.value, Decimal) else f.value)

        return {
            "learner": {"id": self.learner_id, "name": self.learner_name, "email": self.learner_email},
            "action": self.action_id,
            "status": self.status,
            "timeline": self.timeline,
            "funders": sorted(self.funders),
            "planned_hours": str(self.planned_hours),
            "realised_hours": {k: fig(v) for k, v in self.realised.items()},
            "attendance_rate": fig(self.attendance_rate),
            "progress": fig(self.progress),
            "half_days": [
                {"date": r.half_day.date.isoformat(), "half_day": r.half_day.half_day, "modality": r.half_day.modality,
                 "status": r.status, "hours": str(r.hours), **({"rule": r.rule, "events": r.events} if explain else {}),
                 **({"proof": r.proof} if r.proof else {}), **({"holiday": r.holiday} if r.holiday else {})}
                for r in self.half_days
            ],
            "off_schedule": self.off_schedule,
            "assessments": self.assessments,
            "certifications": self.certifications,
            "foad_activities": self.foad_activities,
            "tutor_interactions": self.tutor_interactions,
            "foad_modules": [m.as_dict(explain) for m in self.foad_modules],
        }


def _live(items: list[dict[str, Any]], superseded: set[str]) -> list[dict[str, Any]]:
    return [i for i in items if i["event"] not in superseded]


def _timeline(state: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The last live fact of each step of the enrolment (superseded events left out)."""
    superseded = set(state.get("superseded", []))
    timeline = {}
    for step in STATUS_ORDER:
        facts = _live(state["timeline"].get(step, []), superseded)
        if facts:
            timeline[step] = facts[-1]
    return timeline


def _status(timeline: dict[str, dict[str, Any]]) -> str:
    return next((s for s in reversed(STATUS_ORDER) if s in timeline), "unknown")


def status_of(state: dict[str, Any]) -> str:
    """The enrolment's status, read from its projected state without computing the journey."""
    return _status(_timeline(state))


def compute(state: dict[str, Any], action: TrainingAction | None, rules: RealisationRules, tz: dt.tzinfo,
            today: dt.date | None = None) -> JourneyReport:
    today = today or dt.datetime.now(tz).date()
    superseded = set(state.get("superseded", [])) | {
        f["supersedes"] for f in state.get("trainer_signatures", []) if f.get("supersedes")}
    timeline = _timeline(state)
    status = _status(timeline)
    exit_date = None
    if "abandoned" in timeline:
        exit_date = dt.date.fromisoformat(timeline["abandoned"]["date"])
    elif "completed" in timeline and timeline["completed"].get("date"):
        exit_date = dt.date.fromisoformat(timeline["completed"]["date"])
    abandoned_on = exit_date if status == "abandoned" else None

    schedule = action.schedule() if action else []
    cosignatures = _trainer_signatures(state, superseded)
    results = [_on_holiday(_half_day(hd, state["half_days"].get(hd.key), state, superseded, rules, tz, today,
                                     abandoned_on, cosignatures.get(hd.key, [])), action)
               for hd in schedule]
    realised: dict[str, Figure] = {}
    for modality in ("presentiel", "distanciel_synchrone"):
        rows = [r for r in results if r.half_day.modality == modality]
        if rows:
            realised[modality] = Figure(sum((r.hours for r in rows), Decimal(0)),
                                        f"scheduled hours of the half-days that count ({modality})",
                                        [e for r in rows if r.hours for e in r.events])
    modules = _foad(state, superseded, rules, tz, action, schedule, abandoned_on)
    if modules:
        realised["foad_asynchrone"] = Figure(
            sum((m.value for m in modules), Decimal(0)), "; ".join(m.rule() for m in modules),
            [e for m in modules for e in foad_events(m)])
    total = sum((f.value for f in realised.values()), Decimal(0))
    realised["total"] = Figure(total, "sum of the modalities", sorted({e for f in realised.values() for e in f.events}))
    planned = action.total_planned_hours() if action else Decimal(0)
    due = sum((r.half_day.hours for r in results if r.status not in ("upcoming",)), Decimal(0))
    if abandoned_on:
        due = sum((r.half_day.hours for r in results if r.half_day.date <= abandoned_on), Decimal(0))
    rate_value = (total / due * 100).quantize(Decimal("0.1"), ROUND_HALF_UP) if due else None
    attendance = Figure(rate_value, "realised hours / scheduled hours to date" + (" (until the abandonment)" if abandoned_on else ""),
                        realised["total"].events)
    progress_facts = sorted(_live(state.get("progress", []), superseded), key=lambda f: f["at"])
    progress = Figure(Decimal(progress_facts[-1]["percent"]), "latest progress reported by the LMS",
                      [progress_facts[-1]["event"]]) if progress_facts else None
    return JourneyReport(
        learner_id=state["learner_id"], learner_name=state["learner"].get("name"),
        learner_email=state["learner"].get("email"), action_id=state["action"], action=action, status=status,
        timeline=timeline, funders={k: v for k, v in state.get("funders", {}).items() if v["event"] not in superseded},
        half_days=results, realised=realised, planned_hours=planned, attendance_rate=attendance, progress=progress,
        assessments=_live(state.get("assessments", []), superseded) + [q for q in _live(state.get("quizzes", []), superseded)],
        certifications=_live(state.get("certifications", []), superseded),
        foad_activities=_activities(state, superseded),
        tutor_interactions=_live(state.get("tutor", []), superseded),
        exit_date=exit_date,
        last_activity_at=_last_trace(state, superseded),
        learner_ids=dict(state["learner"].get("ids") or {}),
        foad_modules=modules,
        rules=rules,
        off_schedule=_off_schedule(state, schedule, superseded, action),
    )


def _on_holiday(result: HalfDayResult, action: TrainingAction | None) -> HalfDayResult:
    """An explicit half-day on a public holiday that the schedule does not confirm credits no hours."""
    hd = result.half_day
    name = action.unconfirmed_holidays.get(hd.key) if action else None
    if name is None or result.status in ("after_exit", "absent", "absent_justified"):
        return result
    return HalfDayResult(hd, "public_holiday", Decimal(0),
                         f"scheduled on a public holiday ({name}): no hours until the session is confirmed "
                         "(holiday_confirmed) or the signature corrected", result.events, result.proof, name)


def _off_schedule(state, schedule: list[HalfDay], superseded, action: TrainingAction | None) -> list[dict[str, Any]]:
    """The learner's signatures of half-days the schedule does not hold: a public holiday or no session."""
    scheduled = {hd.key for hd in schedule}
    found = []
    for key in sorted(state["half_days"]):
        if key in scheduled:
            continue
        signatures = [s for s in _live(state["half_days"][key].get("signatures", []), superseded)
                      if s.get("signer", "learner") == "learner"]
        if signatures:
            day, half_day = key.split("/")
            name = action.holiday(dt.date.fromisoformat(day)) if action else None
            found.append({"date": day, "half_day": half_day, "holiday": name,
                          "events": [s["event"] for s in signatures]})
    return found


def _last_trace(state, superseded) -> dt.datetime | None:
    """When the learner last did something on the LMS (sessions end at their ``end``)."""
    times = []
    for name in ("sessions", "virtual", "activities", "quizzes", "traces", "tutor", "progress"):
        for fact in _live(state.get(name, []), superseded):
            times.append(_dt(fact.get("end") or fact["at"]))
    return max(times) if times else None


def _trainer_signatures(state: dict[str, Any], superseded: set[str]) -> dict[str, list[dict[str, Any]]]:
    """The live trainer signatures of the whole action (no learner), by half-day key."""
    by_key: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for fact in _live(state.get("trainer_signatures", []), superseded):
        by_key[f"{fact['date']}/{fact['half_day']}"].append(fact)
    return by_key


def _half_day(hd: HalfDay, slot: dict | None, state, superseded, rules: RealisationRules, tz, today, abandoned_on,
              action_cosignatures: list[dict[str, Any]]) -> HalfDayResult:
    facts = _live((slot or {}).get("signatures", []), superseded)
    signatures = [s for s in facts if s.get("signer", "learner") == "learner"]
    trainers = [s for s in facts if s.get("signer") == "trainer"] + action_cosignatures
    absences = _live((slot or {}).get("absences", []), superseded)
    if abandoned_on and hd.date > abandoned_on:
        return HalfDayResult(hd, "after_exit", Decimal(0), f"after the abandonment on {abandoned_on}", [])
    if signatures:
        signed = signatures[-1]
        cosigned = bool(trainers) or any(s.get("trainer_cosigned") for s in signatures)
        events = [s["event"] for s in signatures] + [t["event"] for t in trainers]
        if rules.presentiel_requires_trainer_cosignature and not cosigned:
            return HalfDayResult(hd, "signed_without_trainer", Decimal(0),
                                 "signed by the learner, not co-signed by the trainer (required by the rules)",
                                 events, signed.get("proof"))
        status = "signed" if cosigned else "signed_without_trainer"
        by = (", co-signed by the trainer's own signature of the half-day" if trainers
              else ", co-signed by the trainer" if cosigned else "")
        return HalfDayResult(hd, status, hd.hours, f"signed half-day: {hd.hours} scheduled hours{by}",
                             events, signed.get("proof"))
    if hd.modality == "distanciel_synchrone":
        window = (hd.starts_at(tz), hd.ends_at(tz))
        seconds, events = 0.0, []
        for v in _live(state.get("virtual", []), superseded):
            joined, left = _dt(v.get("joined_at")), _dt(v.get("left_at"))
            if joined and left:
                overlap = (min(left, window[1]) - max(joined, window[0])).total_seconds()
            else:
                at = _dt(v["at"])
                overlap = v["duration_seconds"] if window[0] <= at <= window[1] + dt.timedelta(hours=1) else 0
            if overlap > 0:
                seconds += overlap
                events.append(v["event"])
        if seconds and seconds >= rules.synchronous_min_presence.total_seconds():
            counted = min(hours(seconds), hd.hours)
            return HalfDayResult(hd, "remote", counted, f"virtual-class presence in the half-day: {hours(seconds)} h, "
                                 f"capped at {hd.hours} h", events)
    if absences:
        absence = absences[-1]
        status = "absent_justified" if absence.get("justified") else "absent"
        return HalfDayResult(hd, status, Decimal(0), "absence recorded", [a["event"] for a in absences], absence.get("reason"))
    if hd.date >= today:
        return HalfDayResult(hd, "upcoming", Decimal(0), "not yet held", [])
    if hd.modality == "foad_asynchrone":
        return HalfDayResult(hd, "foad", Decimal(0), "FOAD: counted per day and per module (FOAD modules below), "
                             "not per half-day", [])
    return HalfDayResult(hd, "missing", Decimal(0), "no signature and no recorded absence", [])


def _foad(state, superseded, rules: RealisationRules, tz, action: TrainingAction | None, schedule,
          abandoned_on) -> list[FoadModule]:
    """The action's FOAD modules, each with its hours and evidence from the enrolment's live facts."""
    def facts(name: str) -> list[dict[str, Any]]:
        return _live(state.get(name, []), superseded)

    return [evaluate_foad(m, facts, tz)
            for m in modules_of(action, schedule, rules, abandoned_on)]


def _activities(state, superseded) -> list[dict[str, Any]]:
    """Per activity: completion, traces, quiz results — the FOAD proof bundle beside connection time."""
    by: dict[str, dict[str, Any]] = {}
    for a in _live(state.get("activities", []), superseded):
        entry = by.setdefault(a["activity"], {"activity": a["activity"], "name": a.get("activity_name"), "events": []})
        entry.update(completed_at=a["at"], state=a.get("state"), estimated_minutes=a.get("estimated_minutes"))
        entry["events"].append(a["event"])
    for q in _live(state.get("quizzes", []), superseded):
        entry = by.setdefault(q["activity"], {"activity": q["activity"], "name": q.get("activity_name"), "events": []})
        entry.setdefault("attempts", []).append({"score": q.get("score"), "max_score": q.get("max_score"),
                                                 "passed": q.get("passed"), "at": q["at"]})
        entry["events"].append(q["event"])
    for t in _live(state.get("traces", []), superseded):
        key = t.get("resource") or t.get("media")
        entry = by.setdefault(key, {"activity": key, "name": t.get("resource_name") or t.get("media_name"), "events": []})
        entry["traces"] = entry.get("traces", 0) + 1
        entry["events"].append(t["event"])
    return [by[k] for k in sorted(by)]
