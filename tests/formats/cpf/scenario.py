"""Edge cases of the CPF tests: an in-person action from December 2026 to January 2027.

``ACT-2026-HIVER`` runs on Mondays and Wednesdays from 14 December 2026 to 15 January 2027
(10 days, 20 half-days of 3.5 h = 70 h), across two months, two years, Christmas and New Year.
Four CPF learners:

* Alice Perrot follows everything; she signs the morning of 16 December but the trainer does not
  co-sign it; completed on 15 January;
* Bruno Caron drops out mid-month: 5 half-days, then abandonment dated Wednesday 23 December
  (reason: the learner), whose declaration is due after Christmas, on Tuesday 29 December;
* Chloé Vidal is funded by two funders (CPF with the dossier in ``details.dossier``, and France
  Travail), misses two half-days, completed on 15 January;
* Damien Roux stops for force majeure on 6 January after 14 half-days.
"""

from __future__ import annotations

import datetime as dt

ACTION = "ACT-2026-HIVER"
ACTIONS = f"""
  {ACTION}:
    title: "Comptabilité — clôture de l'exercice"
    nature: formation
    modality: presentiel
    start: 2026-12-14
    end: 2027-01-15
    trainer: Marc Perrin
    location: Lyon
    certification: "RS5678 — Clôture comptable"
    pattern:
      weekdays: [mon, wed]
      am: {{start: "09:00", end: "12:30"}}
      pm: {{start: "13:30", end: "17:00"}}
"""
DAYS = [dt.date(2026, 12, 14), dt.date(2026, 12, 16), dt.date(2026, 12, 21), dt.date(2026, 12, 23),
        dt.date(2026, 12, 28), dt.date(2026, 12, 30), dt.date(2027, 1, 4), dt.date(2027, 1, 6),
        dt.date(2027, 1, 11), dt.date(2027, 1, 13)]
HALF_DAYS = [(d, h) for d in DAYS for h in ("am", "pm")]

LEARNERS = {
    "alice": ("hiver-01", "Alice Perrot", "alice.perrot@example.fr"),
    "bruno": ("hiver-02", "Bruno Caron", "bruno.caron@example.fr"),
    "chloe": ("hiver-03", "Chloé Vidal", "chloe.vidal@example.fr"),
    "damien": ("hiver-04", "Damien Roux", "damien.roux@example.fr"),
}


def _learner(key: str) -> dict:
    ref, name, email = LEARNERS[key]
    return {"ref": ref, "name": name, "email": email}


def _at(day: dt.date, hour: int = 9) -> str:
    return dt.datetime(day.year, day.month, day.day, hour, 5, tzinfo=dt.timezone(dt.timedelta(hours=1))).isoformat()


def _ev(key: str, type_: str, sid: str, at: str, data: dict) -> dict:
    return {"type": type_, "occurred_at": at, "source_id": f"hiver-{key}-{sid}", "learner": _learner(key),
            "action": ACTION, "data": data}


def _sign(key: str, day: dt.date, half: str, cosigned: bool = True) -> dict:
    return _ev(key, "attendance.signed", f"sig-{day}-{half}", _at(day, 9 if half == "am" else 14),
               {"date": day.isoformat(), "half_day": half, "trainer_cosigned": cosigned, "proof": "e-signature"})


def events(*, dossier_for_bruno: bool = True) -> list[dict]:
    out = []
    fundings = {
        "alice": {"funder": "cpf", "funder_kind": "cpf", "amount": "1400.00", "hours": "70", "reference": "CPF-7001"},
        "bruno": {"funder": "cpf", "funder_kind": "cpf", "amount": "1400.00", "hours": "70",
                  **({"reference": "CPF-7002"} if dossier_for_bruno else {})},
        "chloe": {"funder": "cpf", "funder_kind": "cpf", "amount": "900.00", "hours": "70", "reference": "PEC-X",
                  "details": {"dossier": "CPF-7003"}},
        "damien": {"funder": "cpf", "funder_kind": "cpf", "amount": "1400.00", "hours": "70", "reference": "CPF-7004"},
    }
    for key, funding in fundings.items():
        out.append(_ev(key, "funding.approved", "pec", "2026-11-20T10:00:00+01:00", funding))
        out.append(_ev(key, "enrolment.agreement_signed", "contrat", "2026-11-20T11:00:00+01:00",
                       {"agreement_type": "contrat", "reference": f"CPF-CGU-{key}"}))
        out.append(_ev(key, "enrolment.started", "start", _at(DAYS[0]), {"date": DAYS[0].isoformat()}))
    out.append(_ev("chloe", "funding.approved", "pec-ft", "2026-11-25T10:00:00+01:00",
                   {"funder": "france-travail", "funder_kind": "france_travail", "amount": "500.00", "hours": "70",
                    "reference": "AIF-42"}))
    for day, half in HALF_DAYS:
        out.append(_sign("alice", day, half, cosigned=not (day == dt.date(2026, 12, 16) and half == "am")))
    for day, half in HALF_DAYS[:5]:
        out.append(_sign("bruno", day, half))
    out.append(_ev("bruno", "enrolment.abandoned", "abandon", "2026-12-23T18:00:00+01:00",
                   {"date": "2026-12-23", "reason": "déménagement", "details": {"exit_reason": "learner"}}))
    for day, half in HALF_DAYS:
        if (day, half) in ((dt.date(2026, 12, 28), "am"), (dt.date(2026, 12, 28), "pm")):
            out.append(_ev("chloe", "attendance.absent", f"abs-{day}-{half}", _at(day, 12),
                           {"date": day.isoformat(), "half_day": half}))
            continue
        out.append(_sign("chloe", day, half))
    for day, half in HALF_DAYS[:14]:
        out.append(_sign("damien", day, half))
    out.append(_ev("damien", "enrolment.abandoned", "abandon", "2027-01-06T18:00:00+01:00",
                   {"date": "2027-01-06", "reason": "hospitalisation", "details": {"force_majeure": True}}))
    for key in ("alice", "chloe"):
        out.append(_ev(key, "enrolment.completed", "done", "2027-01-15T17:00:00+01:00", {"date": "2027-01-15"}))
    return out
