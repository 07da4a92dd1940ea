"""Which badges an enrolment has earned: its computed journey against the configured milestones.

Pure functions of a :class:`~hub.journeys.compute.JourneyReport`: nothing is read or written here.
Each milestone reached is an :class:`Earned` with an *occurrence* — what makes it this award and
no other — so that the award's ``source_id`` (badge, learner, occurrence) is the same every time the
job runs, and the ledger keeps one ``badge.awarded`` per learner, badge and occurrence:

* ``module_completed``: the action (one award per module and action);
* ``attendance_streak``: the action (awarded once, for the first streak that reaches the count);
* ``certification``: the action and the certification (its code, else its name).
"""

from __future__ import annotations

import datetime as dt
import fnmatch
from dataclasses import dataclass, field

from hub.badges.settings import BadgeConfig
from hub.journeys.compute import JourneyReport

#: the half-day statuses a learner's signature gives (with or without the trainer's co-signature)
SIGNED = frozenset({"signed", "signed_without_trainer"})
#: the states of a completed LMS activity
DONE = frozenset({"complete", "pass"})


@dataclass(frozen=True)
class Earned:
    badge: BadgeConfig
    learner_id: str
    action: str
    occurrence: str
    at: dt.datetime  # when the milestone was reached
    events: list[str] = field(default_factory=list)  # the events that prove it

    @property
    def source_id(self) -> str:
        return f"badge:{self.badge.id}:{self.learner_id}:{self.occurrence}"


def _instant(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


def module_completed(badge: BadgeConfig, report: JourneyReport) -> Earned | None:
    for activity in report.foad_activities:
        if (activity.get("state") in DONE and activity.get("completed_at")
                and fnmatch.fnmatchcase(activity["activity"], badge.activity or "")):
            return Earned(badge, report.learner_id, report.action_id, report.action_id,
                          _instant(activity["completed_at"]), list(activity.get("events", [])))
    return None


def attendance_streak(badge: BadgeConfig, report: JourneyReport, tz: dt.tzinfo) -> Earned | None:
    """The first run of ``badge.half_days`` signed half-days in a row, among the half-days that
    expect a signature (FOAD asynchrone ones do not); an upcoming half-day ends the search."""
    need = badge.half_days or 0
    run: list = []
    for result in report.half_days:
        if result.half_day.modality == "foad_asynchrone":
            continue
        if result.status == "upcoming":
            break
        if result.status not in SIGNED:
            run = []
            continue
        run.append(result)
        if len(run) == need:
            last = run[-1].half_day
            return Earned(badge, report.learner_id, report.action_id, report.action_id, last.ends_at(tz),
                          [event for r in run for event in r.events])
    return None


def certification(badge: BadgeConfig, report: JourneyReport) -> list[Earned]:
    """One award per certification matched (a learner may obtain two in one action)."""
    out: dict[str, Earned] = {}
    for fact in report.certifications:
        names = [n for n in (fact.get("code"), fact.get("certification")) if n]
        if any(fnmatch.fnmatchcase(n, badge.certification) for n in names) and names[0] not in out:
            out[names[0]] = Earned(badge, report.learner_id, report.action_id, f"{report.action_id}:{names[0]}",
                                   _instant(fact["at"]), [fact["event"]])
    return list(out.values())


def earned(report: JourneyReport, badges: list[BadgeConfig], tz: dt.tzinfo) -> list[Earned]:
    """The badges of ``badges`` that the enrolment of ``report`` has earned so far."""
    out = []
    for badge in badges:
        if not badge.applies_to(report.action_id):
            continue
        if badge.kind == "certification":
            out.extend(certification(badge, report))
            continue
        found = (module_completed(badge, report) if badge.kind == "module_completed"
                 else attendance_streak(badge, report, tz))
        if found is not None:
            out.append(found)
    return out
