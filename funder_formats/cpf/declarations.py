"""CPF dossiers from journeys: the EDOF declarations (entry; exit and service fait) and their deadlines.

The CPF dossier number comes from the ``funding.approved`` event whose ``funder_kind`` is
``cpf``: ``data.dossier`` when given (``data.details.dossier`` on events recorded before the
vocabulary had it), else ``data.reference``. Entry date: the
``enrolment.started`` date (its ``data.date``, else the day it occurred). Exit date: the
``enrolment.abandoned`` date, or the ``enrolment.completed`` date. Force majeure and the exit
reason come from ``enrolment.abandoned`` ``data.details``: ``force_majeure`` (true/false) and
``exit_reason`` (``learner``, ``of_postponed``, ``of_cancelled``; default ``learner``).

Each declaration is due within 3 working days (jours ouvrés: Monday–Friday minus French
public holidays, see :mod:`hub.journeys.calendar`) of the date it declares, counted from
the next day, by the end of the third working day in the hub's time zone. A declaration is
known as made when the ledger holds an ``admin.action`` with ``command`` ``cpf.declare_entry``
or ``cpf.declare_exit`` and ``target`` the dossier number (the Wedof push records one; an
operator or a connector can record one for a declaration made by hand on EDOF).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Iterable

from hub.formats import MissingField
from hub.journeys.calendar import WorkingCalendar
from hub.journeys.dossier import dossier_from
from hub.journeys.rate import Rate, RateProblem, absence_hours

DELAY_WORKING_DAYS = 3
OBLIGATIONS = {"entree": "cpf.entry_declaration", "sortie": "cpf.exit_declaration"}
COMMANDS = {"entree": "cpf.declare_entry", "sortie": "cpf.declare_exit"}
REASONS = ("learner", "of_postponed", "of_cancelled")


@dataclass
class Declaration:
    declaration: str  # entree | sortie
    dossier: str | None
    learner_id: str
    learner_name: str | None
    learner_email: str | None
    action: str
    action_title: str | None
    date: dt.date
    due_date: dt.date
    due_at: dt.datetime
    entry_date: dt.date | None = None
    exit_date: dt.date | None = None
    completion: str | None = None  # totale | partielle
    rate: Rate | None = None
    planned_hours: Decimal | None = None
    realised_hours: Decimal | None = None
    absence_hours: Decimal | None = None
    force_majeure: bool | None = None
    exit_reason: str | None = None
    declared: bool = False
    late: bool = False  # declared (by the hub) after its deadline
    status: str = "a_declarer"
    missing: list[MissingField] = field(default_factory=list)
    events: list[str] = field(default_factory=list)

    @property
    def key(self) -> str:
        return f"{self.dossier}:{'entry' if self.declaration == 'entree' else 'exit'}:{self.date.isoformat()}"

    def row(self) -> dict[str, Any]:
        r = self.rate
        return {
            "declaration": self.declaration, "dossier": self.dossier, "learner_id": self.learner_id,
            "learner_name": self.learner_name, "learner_email": self.learner_email, "action": self.action,
            "action_title": self.action_title, "entry_date": self.entry_date, "exit_date": self.exit_date,
            "completion": self.completion, "rate": r.value if r else None, "rate_basis": r.basis if r else None,
            "units_done": _dec(r.done) if r else None, "units_total": _dec(r.total) if r else None,
            "planned_hours": self.planned_hours, "realised_hours": self.realised_hours,
            "absence_hours": self.absence_hours,
            "force_majeure": self.force_majeure if self.completion == "partielle" else None,
            "exit_reason": self.exit_reason, "due_date": self.due_date, "status": self.status,
        }

    def detail(self) -> dict[str, Any]:
        row = {k: (v.isoformat() if isinstance(v, (dt.date, dt.datetime)) else str(v) if isinstance(v, Decimal) else v)
               for k, v in self.row().items()}
        row["due_at"] = self.due_at.isoformat()
        if self.rate is not None:
            row["rate_rule"] = self.rate.rule
            row["rate_exact"] = str(_dec(self.rate.exact))
            row["milestones"] = self.rate.milestones
        row["events"] = sorted(set(self.events))
        return row


def _dec(value) -> Decimal:
    from hub.journeys.rate import _dec as to_dec

    return to_dec(value)


def cpf_funding(report) -> dict[str, Any] | None:
    for fact in report.funders.values():
        if fact.get("funder_kind") == "cpf":
            return fact
    return None


def dossier_number(fact: dict[str, Any]) -> str | None:
    """The EDOF dossier number of a CPF funding fact (:mod:`hub.journeys.dossier`)."""
    return dossier_from([fact]).file_number


def _local_date(at: str, tz) -> dt.date:
    return dt.datetime.fromisoformat(at.replace("Z", "+00:00")).astimezone(tz).date()


def entry_date(report, tz) -> tuple[dt.date | None, list[str]]:
    fact = report.timeline.get("started")
    if not fact:
        return None, []
    value = fact.get("date")
    return (dt.date.fromisoformat(value) if value else _local_date(fact["at"], tz)), [fact["event"]]


def exit_info(report, tz) -> tuple[dt.date | None, dict[str, Any] | None]:
    for step in ("abandoned", "completed"):
        fact = report.timeline.get(step)
        if fact and report.status == step:
            value = fact.get("date")
            return (dt.date.fromisoformat(value) if value else _local_date(fact["at"], tz)), fact
    return None, None


def due(calendar: WorkingCalendar, day: dt.date, tz) -> tuple[dt.date, dt.datetime]:
    last = calendar.add_working_days(day, DELAY_WORKING_DAYS)
    return last, dt.datetime.combine(last, dt.time(23, 59, 59), tzinfo=tz)


def declared_keys(admin_events: Iterable[dict[str, Any]]) -> set[tuple[str, str]]:
    """(command, dossier) pairs the ledger records as declared."""
    out = set()
    for e in admin_events:
        data = e.get("data") or {}
        if data.get("command") in COMMANDS.values() and data.get("target"):
            out.add((data["command"], str(data["target"])))
    return out


def declarations_of(report, *, cfg, tz, calendar: WorkingCalendar, declared: set[tuple[str, str]],
                    now: dt.datetime, start: dt.date | None = None,
                    end: dt.date | None = None) -> tuple[list[Declaration], list[MissingField]]:
    """The declarations of one CPF enrolment whose date falls in ``[start, end]``, and what blocks them.

    Returns the declarations (each with the fields it lacks in ``missing``) and the missing
    fields of declarations that cannot even be dated (an entry or exit that is due but not recorded).
    """
    funding = cpf_funding(report)
    if funding is None:
        return [], []
    who = report.learner_name or report.learner_id
    dossier = dossier_number(funding)
    action = report.action
    today = now.astimezone(tz).date()
    base: list[MissingField] = []
    if not dossier:
        base.append(MissingField(who, "dossier", "no CPF dossier number: give funding.approved data.dossier "
                                 "or data.reference (funder_kind cpf)"))
    if not report.learner_name:
        base.append(MissingField(who, "learner_name", "the learner's name is unknown"))
    if action is None:
        base.append(MissingField(who, "action", f"training action {report.action_id!r} is not configured"))
    entry, entry_events = entry_date(report, tz)
    exit_, exit_fact = exit_info(report, tz)
    common = dict(dossier=dossier, learner_id=report.learner_id, learner_name=report.learner_name,
                  learner_email=report.learner_email, action=report.action_id,
                  action_title=action.title if action else None)

    def within(day: dt.date) -> bool:
        return (start is None or day >= start) and (end is None or day <= end)

    out: list[Declaration] = []
    undated: list[MissingField] = []
    began = report.status in ("completed", "abandoned") or any(r.hours > 0 for r in report.half_days)
    if entry is not None and within(entry):
        last, at = due(calendar, entry, tz)
        out.append(Declaration("entree", date=entry, due_date=last, due_at=at, entry_date=entry, missing=list(base),
                               events=[funding["event"], *entry_events], **common))
    elif entry is None and began and action is not None and within(action.start) and action.start <= today:
        undated.append(MissingField(who, "entry_date", "no enrolment.started recorded: the entry date is unknown"))
    if exit_ is not None and within(exit_):
        last, at = due(calendar, exit_, tz)
        d = Declaration("sortie", date=exit_, due_date=last, due_at=at, entry_date=entry, exit_date=exit_,
                        missing=list(base), events=[funding["event"], exit_fact["event"]], **common)
        if entry is None:
            d.missing.append(MissingField(who, "entry_date", "no enrolment.started recorded: the entry date is unknown"))
        if action is not None:
            _service_fait(d, report, cfg, tz, exit_, exit_fact, who)
        out.append(d)
    elif exit_ is None and action is not None and within(action.end) and action.end < today and began:
        undated.append(MissingField(who, "exit_date", f"the action ended on {action.end.isoformat()} but no "
                                    "enrolment.completed or enrolment.abandoned is recorded"))
    if undated:
        undated = base + undated
    for d in out:
        d.declared = (COMMANDS[d.declaration], dossier or "") in declared
        d.status = "declaree" if d.declared else ("en_retard" if now > d.due_at else "a_declarer")
    return out, undated


def _service_fait(d: Declaration, report, cfg, tz, exit_: dt.date, exit_fact, who: str) -> None:
    rate = cfg.rate_of(report, tz, exit_)
    if isinstance(rate, RateProblem):
        d.missing.append(MissingField(who, rate.field, rate.message))
        return
    planned = report.action.total_planned_hours()
    d.rate = rate
    d.planned_hours = planned
    d.realised_hours = report.realised_hours
    d.completion = "totale" if rate.complete else "partielle"
    d.absence_hours = absence_hours(rate, planned, report.realised_hours)
    d.events.extend(rate.events)
    details = (exit_fact.get("details") or {}) if report.status == "abandoned" else {}
    if d.completion == "partielle":
        fm = details.get("force_majeure")
        d.force_majeure = bool(fm) if fm is not None else False
        reason = details.get("exit_reason") or "learner"
        if reason not in REASONS:
            d.missing.append(MissingField(who, "exit_reason", f"unknown exit_reason {reason!r} in enrolment.abandoned "
                                          f"details (use {', '.join(REASONS)})"))
        d.exit_reason = None if d.force_majeure else reason


def deadline_items(decls: list[Declaration], *, export: str, now: dt.datetime, tz) -> list[dict[str, Any]]:
    """compliance.deadline_due / _missed event inputs, with deterministic source ids."""
    items = []
    for d in decls:
        if not d.dossier:
            continue
        learner = {"ref": d.learner_id, **({"name": d.learner_name} if d.learner_name else {})}
        details = {"dossier": d.dossier, "declaration": d.declaration, "date": d.date.isoformat(),
                   "working_days": DELAY_WORKING_DAYS, "export": export}
        base = {"learner": learner, "action": d.action}
        opened = dt.datetime.combine(d.date, dt.time(0, 0), tzinfo=tz)
        items.append({**base, "type": "compliance.deadline_due", "occurred_at": opened.isoformat(),
                      "source_id": f"cpf-deadline:{d.key}:due",
                      "data": {"obligation": OBLIGATIONS[d.declaration], "due_at": d.due_at.isoformat(), "details": details}})
        if d.status == "en_retard" or d.late:
            items.append({**base, "type": "compliance.deadline_missed", "occurred_at": d.due_at.isoformat(),
                          "source_id": f"cpf-deadline:{d.key}:missed",
                          "data": {"obligation": OBLIGATIONS[d.declaration], "due_at": d.due_at.isoformat(),
                                   "details": details}})
    return items


def declared_item(d: Declaration, *, export: str, via: str, status: int | None, now: dt.datetime) -> dict[str, Any]:
    """The admin.action that records a declaration made (e.g. pushed through Wedof)."""
    return {"type": "admin.action", "occurred_at": now.isoformat(), "source_id": f"cpf-declared:{d.key}",
            "learner": {"ref": d.learner_id, **({"name": d.learner_name} if d.learner_name else {})},
            "action": d.action,
            "data": {"actor": f"parcours-hub export {export}", "command": COMMANDS[d.declaration], "target": d.dossier,
                     "details": {"via": via, "date": d.date.isoformat(), "http_status": status}}}
