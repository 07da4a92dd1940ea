"""Shared by the France Travail and Région format tests: a demo hub with an organisation, edge cases."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from tests.test_journeys import demo_config

ORGANISATION = """\
  organisation:
    name: "Parcours Démo Formation SAS"
    siret: "73282932000074"
    nda: "84691234569"
    address: "12 rue de la République, 69002 Lyon"
    representative: "Claire Fontaine"
    city: Lyon
"""

FT_DEMO = {  # the three job-seekers of the demo data set, with the ids France Travail gave them
    "apprenant-07": ("Yasmine Benali", "yasmine.benali@example.fr", "1234567A"),
    "apprenant-08": ("Hugo Lefèvre", "hugo.lefevre@example.fr", "2345678B"),
    "apprenant-09": ("Lucas Bernard", "lucas.bernard@example.fr", "3456789C"),
}

WINTER = """
  ACT-2025-HIVER:
    title: "Agent·e d'accueil — session d'hiver"
    nature: formation
    start: 2025-12-15
    end: 2026-01-16
    location: Lyon
    objectives: ["Accueillir le public", "Gérer un standard téléphonique"]
    certification: "RNCP 12345 — Agent d'accueil"
    exclude_dates: [2025-12-24, 2025-12-25, 2025-12-31, 2026-01-01]
    pattern:
      weekdays: [mon, tue, wed, thu, fri]
      am: {start: "09:00", end: "12:00", modality: presentiel}
      pm: {start: "13:30", end: "17:00", modality: presentiel}
"""


def with_organisation(extra: str) -> str:
    return ORGANISATION + extra


def demo_with_ids(workdir: Path, exports: str) -> str:
    return with_organisation(demo_config(workdir) + exports)


def identity_events(people: dict, *, ns: str = "france_travail") -> list[dict]:
    """prospect.contact_created events carrying learner.ids (linked to the demo learners by e-mail)."""
    out = []
    for ref, (name, email, value) in people.items():
        first, _, last = name.partition(" ")
        out.append({"type": "prospect.contact_created", "occurred_at": "2026-09-01T10:00:00+02:00",
                    "source_id": f"ids-{ns}-{ref}", "learner": {"ref": ref, "email": email, "name": name,
                                                                 "ids": {ns: value}},
                    "data": {"email": email, "first_name": first, "last_name": last}})
    return out


def learner(ref: str, name: str, ids: dict | None = None) -> dict:
    out = {"ref": ref, "email": f"{ref}@example.fr", "name": name}
    if ids:
        out["ids"] = ids
    return out


def winter_events() -> list[dict]:
    """Edge cases on an action from 15 Dec 2025 to 16 Jan 2026 (two months, two years).

    * Amandine Roux, funded by France Travail *and* the Région: a half-day signed by her but not
      by the trainer (17 Dec pm), an unjustified absence (19 Dec am), a justified one (6 Jan am),
      an unsigned half-day (8 Jan pm), completes on 16 Jan;
    * Bastien Petit, France Travail: drops out in the middle of the month (last day 22 Dec);
    * Chloé Martin, Région only: attends everything, one unjustified absence (18 Dec pm).
    """
    people = {
        "w1": ("Amandine Roux", {"france_travail": "4567890D", "nir": "291056912345678", "region_file": "RS1-2025-0042"}),
        "w2": ("Bastien Petit", {"france_travail": "5678901E"}),
        "w3": ("Chloé Martin", {"nir": "196076912345699", "region_file": "RS1-2025-0043"}),
    }
    events: list[dict] = []

    def add(ref, type_, when, data=None):
        events.append({"type": type_, "occurred_at": when, "source_id": f"w-{len(events) + 1}",
                       "action": "ACT-2025-HIVER",
                       "learner": learner(ref, *people[ref]), "data": data or {}})

    fundings = {"w1": [("france-travail", "france_travail", "FT-PEC-7781", {"remuneration": "AREF"}),
                       ("region-hdf", "region", "PRF-2025-118", {"remuneration": "RSP"})],
                "w2": [("france-travail", "france_travail", "FT-PEC-7782", {"remuneration": "RFPE"})],
                "w3": [("region-hdf", "region", "PRF-2025-119", {"remuneration": "RSP"})]}
    for ref in people:
        add(ref, "enrolment.registered", "2025-11-20T10:00:00+01:00", {"enrolment": f"INS-{ref}"})
        add(ref, "enrolment.agreement_signed", "2025-11-25T10:00:00+01:00", {"reference": f"CONV-{ref}"})
        for funder, kind, reference, details in fundings[ref]:
            add(ref, "funding.approved", "2025-12-01T10:00:00+01:00",
                {"funder": funder, "funder_kind": kind, "hours": "150", "reference": reference, "details": details})
        add(ref, "enrolment.started", "2025-12-15T09:00:00+01:00", {"date": "2025-12-15"})
    special = {
        ("w1", "2025-12-17", "pm"): ("signed", False, None),
        ("w1", "2025-12-19", "am"): ("absent", False, "absence non justifiée"),
        ("w1", "2026-01-06", "am"): ("absent", True, "convocation France Travail"),
        ("w1", "2026-01-08", "pm"): ("missing", None, None),
        ("w3", "2025-12-18", "pm"): ("absent", False, None),
    }
    last_day = {"w2": dt.date(2025, 12, 22)}
    excluded = {dt.date(2025, 12, 24), dt.date(2025, 12, 25), dt.date(2025, 12, 31), dt.date(2026, 1, 1)}
    day = dt.date(2025, 12, 15)
    while day <= dt.date(2026, 1, 16):
        if day.weekday() < 5 and day not in excluded:
            for ref in people:
                if ref in last_day and day > last_day[ref]:
                    continue
                for half, hour in (("am", "09:05"), ("pm", "13:35")):
                    kind, flag, reason = special.get((ref, day.isoformat(), half), ("signed", True, None))
                    when = f"{day.isoformat()}T{hour}:00+01:00"
                    if kind == "signed":
                        add(ref, "attendance.signed", when, {"date": day.isoformat(), "half_day": half,
                                                             "trainer_cosigned": flag, "trainer_name": "Marc Durand"})
                    elif kind == "absent":
                        add(ref, "attendance.absent", when, {"date": day.isoformat(), "half_day": half,
                                                             "justified": flag, **({"reason": reason} if reason else {})})
        day += dt.timedelta(days=1)
    add("w2", "enrolment.abandoned", "2025-12-23T10:00:00+01:00", {"date": "2025-12-22", "reason": "raisons de santé"})
    for ref in ("w1", "w3"):
        add(ref, "enrolment.completed", "2026-01-16T17:00:00+01:00", {"date": "2026-01-16"})
    return events


def check_golden(folder: Path, golden: Path) -> None:
    """Compare every produced file (not the manifest) with the golden copy; UPDATE_GOLDEN=1 rewrites them."""
    produced = sorted(p for p in folder.iterdir() if p.name not in ("manifest.json", ".ledger-event"))
    if os.environ.get("UPDATE_GOLDEN"):
        golden.mkdir(parents=True, exist_ok=True)
        for old in golden.iterdir():
            old.unlink()
        for path in produced:
            (golden / path.name).write_bytes(path.read_bytes())
    expected = sorted(p.name for p in golden.iterdir())
    assert [p.name for p in produced] == expected, f"files differ from {golden}"
    for path in produced:
        assert path.read_bytes() == (golden / path.name).read_bytes(), f"{path.name} differs from {golden / path.name}"
