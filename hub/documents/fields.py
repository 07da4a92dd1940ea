"""What each document states, computed from a journey: its *fields*.

Fields are plain JSON (strings, lists and objects of strings): ISO dates, decimal numbers with a
dot. They are what the payload signs (through their canonical hash), what the PDF prints (in
French, through the templates) and all that the verification page shows. Keys are stable: a
change here changes every future signature, never a past one.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from hub.journeys.compute import JourneyReport
from hub.journeys.dossier import dossier_of

MODALITIES = ("presentiel", "distanciel_synchrone", "foad_asynchrone")


def _num(value: Decimal | int | float | None) -> str | None:
    if value is None:
        return None
    number = Decimal(str(value))
    text = format(number.normalize(), "f") if number != 0 else "0"
    return text


def _clean(value: Any) -> Any:
    """Drop None and empty values so that absent data does not change the encoding."""
    if isinstance(value, dict):
        out = {k: _clean(v) for k, v in value.items() if v not in (None, "", [], {})}
        return {k: v for k, v in out.items() if v not in (None, "", [], {})}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def period(report: JourneyReport, today: dt.date) -> tuple[dt.date | None, dt.date | None]:
    """Start (entry date, else the action's start) and end (exit date, else the action's end or today)."""
    action = report.action
    started = report.timeline.get("started", {})
    start = dt.date.fromisoformat(started["date"]) if started.get("date") else (action.start if action else None)
    if start is None and started.get("at"):
        start = dt.date.fromisoformat(started["at"][:10])
    end = report.exit_date or (min(action.end, today) if action else None)
    return start, end


def distance(report: JourneyReport) -> dict[str, Any] | None:
    """How the distance hours were counted, from the modules and figures that counted them (the
    certificat's note states it): FOAD connection time capped per day, activity estimates, the cap
    at the planned hours; virtual-class presence. None: no distance figure, no note."""
    out: dict[str, Any] = {}
    if "foad_asynchrone" in report.realised and report.foad_modules:
        modules = report.foad_modules
        caps = sorted({m.daily_cap_seconds for m in modules})
        out["foad"] = {
            "connection_daily_cap": _num(Decimal(caps[0]) / Decimal(3600)),
            "activity_estimates": "oui" if any(m.counts_estimates for m in modules) else None,
            "capped_at_planned": "oui" if all(m.scheduled_hours is not None for m in modules) else None,
        }
    if "distanciel_synchrone" in report.realised:
        out["synchrone"] = "oui"
    return _clean(out) or None


def results(report: JourneyReport, *, quizzes: bool) -> list[dict[str, str]]:
    """Assessment results (and, with ``quizzes``, the best attempt of each LMS quiz), in date order."""
    out = []
    best: dict[str, dict[str, Any]] = {}
    for a in report.assessments:
        if a.get("type") == "lms.quiz_attempted" or ("activity" in a and "assessment" not in a):
            if not quizzes:
                continue
            key = a["activity"]
            current = best.get(key)
            if current is None or Decimal(str(a.get("score") or 0)) > Decimal(str(current.get("score") or 0)):
                best[key] = a
            continue
        out.append(_result(a.get("assessment") or "évaluation", a))
    out.extend(_result(a.get("activity_name") or a["activity"], a) for a in best.values())
    out.sort(key=lambda r: (r.get("date", ""), r["name"]))
    return out


def _result(name: str, fact: dict[str, Any]) -> dict[str, str]:
    passed = fact.get("passed")
    return _clean({
        "name": name,
        "score": _num(Decimal(str(fact["score"]))) if fact.get("score") is not None else None,
        "max_score": _num(Decimal(str(fact["max_score"]))) if fact.get("max_score") is not None else None,
        "outcome": "acquis" if passed is True else "non_acquis" if passed is False else None,
        "date": (fact.get("finished_at") or fact.get("at") or "")[:10] or None,
    })


def certifications(report: JourneyReport) -> list[dict[str, str]]:
    return [_clean({"name": c.get("certification"), "code": c.get("code"), "result": c.get("result"),
                    "date": (c.get("at") or "")[:10] or None}) for c in report.certifications]


def build(doc_type: str, report: JourneyReport, *, doc_id: str, organisation: Any, issued_on: dt.date,
          today: dt.date | None = None) -> dict[str, Any]:
    """The fields of a ``doc_type`` document about ``report``'s enrolment."""
    today = today or issued_on
    action = report.action
    start, end = period(report, today)
    fields: dict[str, Any] = {
        "type": doc_type,
        "id": doc_id,
        "issued_on": issued_on.isoformat(),
        "organisation": {
            "name": organisation.name, "siret": organisation.siret, "nda": organisation.nda,
            "address": organisation.address,
        },
        "signatory": {"name": organisation.representative, "title": organisation.representative_title},
        "place": organisation.city,
        "learner": report.learner_name,
        "action": {"id": report.action_id, "title": action.title if action else report.action_id},
        "start": start.isoformat() if start else None,
        "end": end.isoformat() if end else None,
    }
    nature = action.nature if action else "formation"
    if doc_type == "certificat_realisation":
        fields.update(nature=nature, hours=_num(report.realised_hours), employer=dossier_of(report).employer_name,
                      distance=distance(report))
    elif doc_type == "attestation_assiduite":
        due = [r for r in report.half_days if r.status not in ("upcoming", "after_exit", "foad")]
        fields.update(
            planned_hours=_num(report.planned_hours), hours=_num(report.realised_hours),
            attendance_rate=_num(report.attendance_rate.value),
            by_modality={m: _num(report.realised[m].value) for m in MODALITIES if m in report.realised},
            half_days={
                "scheduled": str(len(due)),
                "signed": str(sum(1 for r in due if r.status in ("signed", "signed_without_trainer", "remote"))),
                "absent_justified": str(sum(1 for r in due if r.status == "absent_justified")),
                "absent": str(sum(1 for r in due if r.status in ("absent", "missing"))),
            },
            activities_completed=str(sum(1 for a in report.foad_activities if a.get("completed_at"))) if report.foad_activities else None,
        )
    elif doc_type == "attestation_fin_formation":
        fields.update(
            nature=nature, objectives=list(action.objectives) if action else [],
            planned_hours=_num(report.planned_hours), hours=_num(report.realised_hours),
            results=results(report, quizzes=False), certification=action.certification if action else None,
            certifications=certifications(report),
            outcome="completed" if report.status == "completed" else "abandoned" if report.status == "abandoned" else None,
        )
    elif doc_type == "releve_competences":
        fields.update(
            objectives=list(action.objectives) if action else [],
            results=results(report, quizzes=True), certification=action.certification if action else None,
            certifications=certifications(report),
        )
    else:
        raise ValueError(f"unknown document type {doc_type!r}")
    return _clean(fields)
