"""Proof completeness: what is missing before an enrolment can be invoiced or certified.

A rule looks at one computed journey (:class:`hub.journeys.compute.JourneyReport`) and returns
the gaps it finds, each saying what would close it. The default rules apply to every funder;
plugins add funder-specific rules through the ``register_proof_rules`` hook.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
from dataclasses import asdict, astuple, dataclass, field
from typing import Callable, Iterable

from hub.journeys.compute import JourneyReport


@dataclass
class Gap:
    code: str
    message: str
    to_close: str
    date: str | None = None
    half_day: str | None = None


@dataclass
class ProofRule:
    """``check(report, today)`` returns the gaps of one enrolment. ``funders``: globs of funder names
    (None = every enrolment); ``name``: shown with each gap."""

    name: str
    check: Callable[[JourneyReport, dt.date], list[Gap]]
    funders: tuple[str, ...] | None = None
    description: str = ""

    def applies(self, report: JourneyReport) -> bool:
        if self.funders is None:
            return True
        return any(fnmatch.fnmatchcase(f, pattern) for f in report.funders for pattern in self.funders)


def _label(date: str, half_day: str) -> str:
    """``2026-10-07 matin``: a half-day as the gap messages name it."""
    return f"{date} {'matin' if half_day == 'am' else 'après-midi'}"


def _half_days(report: JourneyReport, today: dt.date) -> list[Gap]:
    gaps = []
    for r in report.half_days:
        if r.half_day.date >= today or r.half_day.modality == "foad_asynchrone" or r.status == "public_holiday":
            continue
        label = _label(r.half_day.date.isoformat(), r.half_day.half_day)
        if r.status == "missing":
            gaps.append(Gap("half_day_unsigned", f"{label}: no learner signature and no recorded absence",
                            "collect the learner's signature for this half-day, or record the absence",
                            r.half_day.date.isoformat(), r.half_day.half_day))
        elif r.status == "signed_without_trainer":
            gaps.append(Gap("half_day_no_trainer_signature", f"{label}: signed by the learner but not by the trainer",
                            "have the trainer co-sign this half-day", r.half_day.date.isoformat(), r.half_day.half_day))
    return gaps


#: per kind of FOAD evidence: gap code, what is missing, what would close it
FOAD_GAPS = {
    "work": ("foad_no_work_trace",
             "no work done recorded: no completed activity, quiz attempt or assessment (connection logs, downloads "
             "and media views are traces, not work done)",
             "import the activities completed (lms.activity_completed), quiz results (lms.quiz_attempted) or "
             "assessments (assessment.graded) of this module"),
    "assistance": ("foad_no_tutor_interaction",
                   "no tutor interaction recorded: the technical and pedagogical assistance of the learner is not proven",
                   "import the tutor's messages, feedback or live help (lms.tutor_interaction) for this learner"),
    "connection": ("foad_no_connection_trace", "no connection time recorded",
                   "import the LMS connection logs (lms.session) for this learner"),
}


def _foad_traces(report: JourneyReport, today: dt.date) -> list[Gap]:
    """Each due FOAD module shows the evidence its funders require (D6313-3-1: work done, assistance,
    connection times); a gap per kind that is missing, saying which."""
    if not report.foad_modules:
        return []
    rules = report.rules.foad_proof if report.rules is not None else None
    required, sources = rules.required_for(report.funders) if rules is not None else (list(FOAD_GAPS), [])
    gaps = []
    for module in report.foad_modules:
        if not module.due(today, report.exit_date):
            continue
        for kind in module.missing(required):
            code, missing, to_close = FOAD_GAPS[kind]
            rule = f" (funder rule: {'; '.join(sources)})" if sources else ""
            gaps.append(Gap(code, f"{module.name}: {missing}{rule}", to_close))
    return gaps


def _on_public_holiday(date: str, half_day: str, holiday: str) -> Gap:
    return Gap("attendance_on_public_holiday",
               f"{_label(date, half_day)} : émargement daté d'un jour férié ({holiday}), aucune heure n'est comptée",
               "corriger la date de l'émargement (un événement correctif, supersedes) ou, si la séance a bien eu "
               "lieu ce jour férié, la déclarer dans le planning de l'action (half_days, holiday_confirmed: true)",
               date, half_day)


def _calendar(report: JourneyReport, today: dt.date) -> list[Gap]:
    """Signatures dated on a public holiday or on a day without a session: no hours, a gap to resolve."""
    gaps = []
    for r in report.half_days:
        if r.status == "public_holiday":
            date, half_day = r.half_day.date.isoformat(), r.half_day.half_day
            if r.events:
                gaps.append(_on_public_holiday(date, half_day, r.holiday or ""))
            elif r.half_day.date < today:
                gaps.append(Gap("session_on_public_holiday", f"{_label(date, half_day)} : demi-journée prévue un jour "
                                f"férié ({r.holiday})", "retirer la demi-journée du planning, ou confirmer la séance "
                                "(holiday_confirmed: true) et recueillir les émargements", date, half_day))
    for entry in report.off_schedule:
        date, half_day = entry["date"], entry["half_day"]
        if entry["holiday"]:
            gaps.append(_on_public_holiday(date, half_day, entry["holiday"]))
        else:
            gaps.append(Gap("attendance_without_session", f"{_label(date, half_day)} : émargement sans séance prévue "
                            "au planning, aucune heure n'est comptée",
                            "corriger la date de l'émargement (un événement correctif, supersedes) ou ajouter la "
                            "demi-journée au planning de l'action (half_days)", date, half_day))
    return gaps


def _agreement(report: JourneyReport, today: dt.date) -> list[Gap]:
    if "started" in report.timeline and "agreement_signed" not in report.timeline:
        return [Gap("started_without_agreement", "training started without a signed agreement (convention/contrat)",
                    "record the signed agreement (enrolment.agreement_signed)")]
    return []


def _exit(report: JourneyReport, today: dt.date) -> list[Gap]:
    action = report.action
    if action is None or action.end >= today:
        return []
    if "completed" not in report.timeline and "abandoned" not in report.timeline:
        return [Gap("no_exit_recorded", f"the action ended on {action.end.isoformat()} but neither completion "
                    "nor abandonment is recorded", "record enrolment.completed, or enrolment.abandoned with its date")]
    return []


DEFAULT_RULES = [
    ProofRule("half_days", _half_days, description="each past half-day signed by the learner and the trainer"),
    ProofRule("foad_traces", _foad_traces,
              description="each distance module proven by work done, tutor assistance and connection times"),
    ProofRule("calendar", _calendar, description="no signature dated on a public holiday or on a day without a session"),
    ProofRule("agreement", _agreement, description="a signed agreement before the start"),
    ProofRule("exit", _exit, description="an exit (completion or abandonment with its date) once the action ended"),
]


@dataclass
class EnrolmentGaps:
    learner_id: str
    learner_name: str | None
    action: str
    funders: list[str]
    status: str
    gaps: list[tuple[str, Gap]] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"learner": {"id": self.learner_id, "name": self.learner_name}, "action": self.action,
                "funders": self.funders, "status": self.status,
                "gaps": [{"rule": rule, **asdict(gap)} for rule, gap in self.gaps]}


def _once(found: Iterable[tuple[str, Gap]]) -> list[tuple[str, Gap]]:
    """Each gap of an enrolment once, with the names of every rule that found it: two exports of
    one funder (its statement and its invoice bundle) check the same rule and find the same gap."""
    rules_of: dict[tuple, list[str]] = {}
    gaps: dict[tuple, Gap] = {}
    for rule, gap in found:
        key = astuple(gap)
        gaps.setdefault(key, gap)
        if rule not in rules_of.setdefault(key, []):
            rules_of[key].append(rule)
    return [(", ".join(rules_of[key]), gap) for key, gap in gaps.items()]


def check(reports: Iterable[JourneyReport], rules: list[ProofRule], *, funder: str | None = None,
          today: dt.date | None = None) -> list[EnrolmentGaps]:
    """Gaps per enrolment (only enrolments that have some), for every rule that applies."""
    today = today or dt.date.today()
    out = []
    for report in reports:
        if funder and funder not in report.funders:
            continue
        if report.status in ("unknown", "registered", "terms_accepted") and not (report.half_days or report.foad_modules):
            continue  # nothing scheduled (no half-day, no distance module): nothing to prove yet
        found = EnrolmentGaps(report.learner_id, report.learner_name, report.action_id, sorted(report.funders),
                              report.status)
        found.gaps = _once(((rule.name, gap) for rule in rules if rule.applies(report) for gap in rule.check(report, today)))
        if found.gaps:
            out.append(found)
    return out
