"""Edge cases of the BPF tests: an in-person action from December 2026 to January 2027.

``ACT-2026-HIVER``: Mondays and Wednesdays, 14 December 2026 to 13 January 2027, 20 half-days of
3.5 h (70 h: 42 h in 2026, 28 h in 2027), external trainer Marc Perrin.

* Alice Perrot (OPCO Akto, 1 400 €) attends everything; the morning of 16 December is signed by
  her, not co-signed by the trainer;
* Bruno Caron (France Travail, 1 400 €) drops out mid-month: 5 half-days, abandoned 23 December;
* Chloé Vidal is funded twice: OPCO Akto 1 000 € and herself 400 € by card; absent on 28 December.
"""

from __future__ import annotations

import datetime as dt

ACTION = "ACT-2026-HIVER"
ACTIONS = f"""
  {ACTION}:
    title: "Comptabilité — clôture de l'exercice"
    modality: presentiel
    start: 2026-12-14
    end: 2027-01-15
    trainer: Marc Perrin
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
PEOPLE = {"alice": ("b-01", "Alice Perrot"), "bruno": ("b-02", "Bruno Caron"), "chloe": ("b-03", "Chloé Vidal")}


def _ev(key: str, type_: str, sid: str, at: str, data: dict) -> dict:
    ref, name = PEOPLE[key]
    return {"type": type_, "occurred_at": at, "source_id": f"bpf-{key}-{sid}",
            "learner": {"ref": ref, "name": name, "email": f"{ref}@example.fr"}, "action": ACTION, "data": data}


def _sign(key: str, day: dt.date, half: str, cosigned: bool = True) -> dict:
    at = dt.datetime(day.year, day.month, day.day, 9 if half == "am" else 14, 5, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    return _ev(key, "attendance.signed", f"sig-{day}-{half}", at.isoformat(),
               {"date": day.isoformat(), "half_day": half, "trainer_cosigned": cosigned})


def events() -> list[dict]:
    out = [
        _ev("alice", "funding.approved", "pec", "2026-11-20T10:00:00+01:00",
            {"funder": "opco-akto", "funder_kind": "opco", "amount": "1400.00", "hours": "70", "reference": "AKTO-1"}),
        _ev("bruno", "funding.approved", "pec", "2026-11-20T10:00:00+01:00",
            {"funder": "france-travail", "funder_kind": "france_travail", "amount": "1400.00", "hours": "70"}),
        _ev("chloe", "funding.approved", "pec", "2026-11-20T10:00:00+01:00",
            {"funder": "opco-akto", "funder_kind": "opco", "amount": "1000.00", "hours": "70", "reference": "AKTO-3"}),
        _ev("chloe", "payment.succeeded", "pay", "2026-11-25T10:00:00+01:00",
            {"amount": "400.00", "currency": "EUR", "payer": "Chloé Vidal", "reference": "pi_chloe", "method": "card"}),
    ]
    for key in PEOPLE:
        out.append(_ev(key, "enrolment.agreement_signed", "conv", "2026-11-21T10:00:00+01:00", {"agreement_type": "convention"}))
        out.append(_ev(key, "enrolment.started", "start", "2026-12-14T09:00:00+01:00", {"date": "2026-12-14"}))
    for day, half in HALF_DAYS:
        out.append(_sign("alice", day, half, cosigned=not (day == dt.date(2026, 12, 16) and half == "am")))
        if day != dt.date(2026, 12, 28):
            out.append(_sign("chloe", day, half))
    for day, half in HALF_DAYS[:5]:
        out.append(_sign("bruno", day, half))
    out.append(_ev("bruno", "enrolment.abandoned", "abandon", "2026-12-23T18:00:00+01:00", {"date": "2026-12-23"}))
    for key in ("alice", "chloe"):
        out.append(_ev(key, "enrolment.completed", "done", "2027-01-15T17:00:00+01:00", {"date": "2027-01-15"}))
    return out
