"""Generate the demo data set (deterministic): one training action over two weeks, 12 learners.

Run from the repository root: ``python config/demo-data/generate.py``. The generated files are
committed so that the demo needs no generation step; rerun this after changing it.

The story: "Développeur·se web — React et API" (action ACT-2026-REACT-01), Monday 5 to
Friday 16 October 2026 in Lyon. Mornings in the classroom (09:00–12:30, signed per half-day
by the learner and co-signed by the trainer); afternoons in FOAD (14:00–17:30) on the LMS.
Funders: OPCO Atlas (6 employees), France Travail (3 job-seekers), CPF (2), one self-funded
learner who pays by card. Lucas Bernard stops coming after Friday 9 October (abandonment
recorded on 12 October); Inès Haddad misses a morning with a justified absence; Théo Garnier
signs one morning without the trainer's co-signature.

It also writes ``config/demo-dossiers/dossiers.ndjson``: what the back office knows of each
dossier and the funders ask for (employers' SIRET and the OPCO's file numbers, France Travail
identifiers, NIR, the Région's file of the learner it co-funds). It lies in its own folder, read
by its own connector, so that the demo's learning story above stays the same for the tests that
count on it.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import random
from pathlib import Path
from zoneinfo import ZoneInfo

PARIS = ZoneInfo("Europe/Paris")
ACTION = "ACT-2026-REACT-01"
PROGRAM = "developpeur-web-react-api"
TRAINER = "Sophie Lambert"
OUT = Path(__file__).parent
rng = random.Random(20261005)

LEARNERS = [
    # ref, name, email, funder, funder_kind
    ("apprenant-01", "Camille Dubois", "camille.dubois@example.fr", "opco-atlas", "opco"),
    ("apprenant-02", "Chloé N'Diaye", "chloe.ndiaye@example.fr", "opco-atlas", "opco"),
    ("apprenant-03", "Éloïse Martin-Durand", "eloise.martin-durand@example.fr", "opco-atlas", "opco"),
    ("apprenant-04", "Théo Garnier", "theo.garnier@example.fr", "opco-atlas", "opco"),
    ("apprenant-05", "Inès Haddad", "ines.haddad@example.fr", "opco-atlas", "opco"),
    ("apprenant-06", "Maximilien-Alexandre de La Tour d'Auvergne", "m.delatour@example.fr", "opco-atlas", "opco"),
    ("apprenant-07", "Yasmine Benali", "yasmine.benali@example.fr", "france-travail", "france_travail"),
    ("apprenant-08", "Hugo Lefèvre", "hugo.lefevre@example.fr", "france-travail", "france_travail"),
    ("apprenant-09", "Lucas Bernard", "lucas.bernard@example.fr", "france-travail", "france_travail"),
    ("apprenant-10", "Manon Rousseau", "manon.rousseau@example.fr", "cpf", "cpf"),
    ("apprenant-11", "Nathan Fournier", "nathan.fournier@example.fr", "cpf", "cpf"),
    ("apprenant-12", "Léa Moreau", "lea.moreau@example.fr", None, "self"),
]
DROPOUT = "apprenant-09"
DROPOUT_LAST_DAY = dt.date(2026, 10, 9)
ABSENT = ("apprenant-05", dt.date(2026, 10, 13))
NO_COSIGN = ("apprenant-04", dt.date(2026, 10, 7))
DAYS = [dt.date(2026, 10, 5) + dt.timedelta(days=i) for i in range(12) if (dt.date(2026, 10, 5) + dt.timedelta(days=i)).weekday() < 5]
MODULES = [
    ("mod-js", "JavaScript moderne"),
    ("mod-react", "Composants React"),
    ("mod-state", "État et hooks"),
    ("mod-api", "Consommer une API REST"),
    ("mod-tests", "Tests et qualité"),
]


def at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=PARIS)


def iso(value: dt.datetime) -> str:
    return value.isoformat()


def learner(ref: str) -> dict:
    _, name, email, *_ = next(l for l in LEARNERS if l[0] == ref)
    return {"ref": ref, "email": email, "name": name}


def funnel() -> list[dict]:
    events = []
    for i, (ref, name, email, funder, kind) in enumerate(LEARNERS):
        first, _, last = name.partition(" ")
        seen = at(dt.date(2026, 8, 20), 10) + dt.timedelta(days=i, hours=i % 5)
        events.append({"type": "prospect.program_viewed", "occurred_at": iso(seen), "source_id": f"view-{ref}",
                       "action": ACTION, "data": {"program": PROGRAM, "url": f"https://of-demo.example.fr/formations/{PROGRAM}", "consent": True}})
        events.append({"type": "prospect.contact_created", "occurred_at": iso(seen + dt.timedelta(minutes=7)), "source_id": f"contact-{ref}",
                       "learner": learner(ref), "data": {"email": email, "first_name": first, "last_name": last, "origin": "site web"}})
        registered = seen + dt.timedelta(days=3)
        events.append({"type": "enrolment.registered", "occurred_at": iso(registered), "source_id": f"reg-{ref}",
                       "learner": learner(ref), "action": ACTION, "data": {"enrolment": f"INS-{1000 + i}", "program": PROGRAM}})
        events.append({"type": "enrolment.terms_accepted", "occurred_at": iso(registered + dt.timedelta(hours=1)), "source_id": f"cgv-{ref}",
                       "learner": learner(ref), "action": ACTION, "data": {"document": "CGV 2026-v3", "method": "case cochée"}})
        events.append({"type": "enrolment.agreement_signed", "occurred_at": iso(registered + dt.timedelta(days=4)), "source_id": f"conv-{ref}",
                       "learner": learner(ref), "action": ACTION,
                       "data": {"agreement_type": "contrat" if kind in ("cpf", "self") else "convention", "reference": f"CONV-2026-{100 + i}", "signed_by": name}})
        if funder:
            hours = "70" if kind != "cpf" else "70"
            amount = {"opco": "2450.00", "france_travail": "2100.00", "cpf": "2450.00"}[kind]
            events.append({"type": "funding.approved", "occurred_at": iso(registered + dt.timedelta(days=12)), "source_id": f"pec-{ref}",
                           "learner": learner(ref), "action": ACTION,
                           "data": {"funder": funder, "funder_kind": kind, "amount": amount, "hours": hours, "reference": f"PEC-{funder.upper()}-{2600 + i}"}})
        else:
            events.append({"type": "payment.succeeded", "occurred_at": iso(registered + dt.timedelta(days=5)), "source_id": f"pay-{ref}",
                           "learner": learner(ref), "action": ACTION,
                           "data": {"amount": "2450.00", "currency": "EUR", "payer": name, "reference": "pi_demo_3Nf8", "method": "card"}})
    return events


def attendance_rows() -> list[dict]:
    rows = []
    for day in DAYS:
        for ref, name, *_ in LEARNERS:
            if ref == DROPOUT and day > DROPOUT_LAST_DAY:
                continue
            base = {"action": ACTION, "learner_ref": ref, "learner_email": learner(ref)["email"], "learner_name": name,
                    "data.date": day.isoformat(), "data.half_day": "am"}
            if (ref, day) == ABSENT:
                rows.append({**base, "type": "attendance.absent", "occurred_at": iso(at(day, 12, 30)),
                             "source_id": f"abs-{ref}-{day}", "data.justified": "true", "data.reason": "arrêt maladie (justificatif reçu)"})
                continue
            signed = at(day, 9, rng.randint(0, 14))
            rows.append({**base, "type": "attendance.signed", "occurred_at": iso(signed), "source_id": f"sig-{ref}-{day}",
                         "data.modality": "presentiel", "data.signer": "learner", "data.signer_name": name,
                         "data.trainer_cosigned": "false" if (ref, day) == NO_COSIGN else "true",
                         "data.trainer_name": TRAINER, "data.signed_at": iso(signed), "data.proof": "signature électronique (tablette)"})
    return rows


def lms() -> list[dict]:
    events = []
    for ref, *_ in LEARNERS:
        progress = 0
        for n, day in enumerate(DAYS):
            if ref == DROPOUT and day > DROPOUT_LAST_DAY:
                break
            start = at(day, 14, rng.randint(0, 20))
            minutes = rng.randint(150, 205) if ref != DROPOUT else rng.randint(40, 90)
            end = start + dt.timedelta(minutes=minutes)
            events.append({"type": "lms.session", "occurred_at": iso(end), "source_id": f"sess-{ref}-{day}", "learner": learner(ref), "action": ACTION,
                           "data": {"start": iso(start), "end": iso(end), "duration_seconds": minutes * 60}})
            module_id, module_name = MODULES[n // 2]
            if n % 2 == 1:
                done = end - dt.timedelta(minutes=10)
                events.append({"type": "lms.activity_completed", "occurred_at": iso(done), "source_id": f"act-{ref}-{module_id}", "learner": learner(ref),
                               "action": ACTION, "data": {"activity": module_id, "activity_name": module_name, "activity_type": "scorm", "state": "complete", "estimated_minutes": 180}})
                score = rng.randint(11, 20) if ref != "apprenant-08" or n < 5 else 8
                events.append({"type": "lms.quiz_attempted", "occurred_at": iso(done + dt.timedelta(minutes=5)), "source_id": f"quiz-{ref}-{module_id}",
                               "learner": learner(ref), "action": ACTION,
                               "data": {"activity": f"quiz-{module_id}", "activity_name": f"Quiz — {module_name}", "attempt": 1, "score": str(score), "max_score": "20",
                                        "passed": score >= 10, "started_at": iso(done - dt.timedelta(minutes=15)), "finished_at": iso(done + dt.timedelta(minutes=5))}})
                progress = min(100, progress + 20)
                events.append({"type": "lms.progress", "occurred_at": iso(done + dt.timedelta(minutes=6)), "source_id": f"prog-{ref}-{module_id}",
                               "learner": learner(ref), "action": ACTION, "data": {"percent": str(progress)}})
            if n in (2, 7):
                events.append({"type": "lms.tutor_interaction", "occurred_at": iso(start + dt.timedelta(minutes=45)), "source_id": f"tutor-{ref}-{day}",
                               "learner": learner(ref), "action": ACTION, "data": {"kind": "feedback", "tutor": TRAINER, "summary": "retour sur l'exercice du module"}})
            if n == 4:
                joined = at(day, 16, 0)
                events.append({"type": "lms.virtual_class_attended", "occurred_at": iso(joined + dt.timedelta(minutes=60)), "source_id": f"bbb-{ref}-{day}",
                               "learner": learner(ref), "action": ACTION,
                               "data": {"meeting": "bbb-react-qr", "meeting_name": "Classe virtuelle : questions/réponses", "joined_at": iso(joined),
                                        "left_at": iso(joined + dt.timedelta(minutes=60)), "duration_seconds": 3600}})
    return events


def outcomes() -> list[dict]:
    events = []
    last = DAYS[-1]
    for ref, name, *_ in LEARNERS:
        if ref == DROPOUT:
            events.append({"type": "enrolment.abandoned", "occurred_at": iso(at(dt.date(2026, 10, 12), 11)), "source_id": f"abandon-{ref}",
                           "learner": learner(ref), "action": ACTION, "data": {"date": "2026-10-09", "reason": "reprise d'un emploi"}})
            continue
        events.append({"type": "enrolment.started", "occurred_at": iso(at(DAYS[0], 9)), "source_id": f"start-{ref}", "learner": learner(ref),
                       "action": ACTION, "data": {"date": DAYS[0].isoformat()}})
        score = rng.randint(12, 19)
        events.append({"type": "assessment.graded", "occurred_at": iso(at(last, 12)), "source_id": f"eval-{ref}", "learner": learner(ref), "action": ACTION,
                       "data": {"assessment": "Projet final : application React + API", "score": str(score), "max_score": "20", "passed": True, "grader": TRAINER}})
        events.append({"type": "enrolment.completed", "occurred_at": iso(at(last, 17, 30)), "source_id": f"done-{ref}", "learner": learner(ref),
                       "action": ACTION, "data": {"date": last.isoformat()}})
    # the dropout also started
    events.append({"type": "enrolment.started", "occurred_at": iso(at(DAYS[0], 9)), "source_id": f"start-{DROPOUT}", "learner": learner(DROPOUT),
                   "action": ACTION, "data": {"date": DAYS[0].isoformat()}})
    return events


EMPLOYERS = {  # OPCO Atlas learners: employer SIRET (valid check digit), employer, Atlas file number
    "apprenant-01": ("44101234500019", "Atelier Numérique Lyon SARL", "ATL-2026-000101"),
    "apprenant-02": ("44101234500019", "Atelier Numérique Lyon SARL", "ATL-2026-000102"),
    "apprenant-03": ("55209876500019", "Banque Rhône Conseil SA", "ATL-2026-000103"),
    "apprenant-04": ("55209876500019", "Banque Rhône Conseil SA", "ATL-2026-000104"),
    "apprenant-05": ("81204567800016", "Cabinet Haddad & Associés", "ATL-2026-000105"),
    "apprenant-06": ("39201112200018", "Compagnie d'Assurances de La Tour", "ATL-2026-000106"),
}
JOB_SEEKERS = {  # France Travail identifier, NIR (fictitious, valid key), remuneration scheme
    "apprenant-07": ("1234567A", "298076938812345", "AREF"),
    "apprenant-08": ("2345678B", "199036938854321", "RFPE"),
    "apprenant-09": ("3456789C", "197116938867890", "AREF"),
}
REGION_COFUNDED = ("apprenant-08", "region-cvl", "PRF-2026-0457", "RS1-2026-0311")


def dossiers() -> list[dict]:
    """The funders' identifiers, as the back office (CRM) sends them once the funding is granted."""
    events = []
    base = {"type": "funding.approved", "action": ACTION}
    for i, (ref, name, email, funder, kind) in enumerate(LEARNERS):
        approved = at(dt.date(2026, 9, 14), 10) + dt.timedelta(hours=i)
        amount = {"opco": "2450.00", "france_travail": "2100.00", "cpf": "2450.00"}.get(kind)
        funding = {"funder": funder, "funder_kind": kind, "amount": amount, "hours": "70",
                   "reference": f"PEC-{(funder or '').upper()}-{2600 + i}"}
        if ref in EMPLOYERS:
            siret, employer, dossier = EMPLOYERS[ref]
            events.append({**base, "occurred_at": iso(approved), "source_id": f"dossier-{ref}", "learner": learner(ref),
                           "data": {**funding, "details": {"employer_siret": siret, "employer_name": employer, "dossier": dossier}}})
        elif ref in JOB_SEEKERS:
            ft_id, nir, remuneration = JOB_SEEKERS[ref]
            ids = {"france_travail": ft_id, "nir": nir}
            if ref == REGION_COFUNDED[0]:
                ids["region_file"] = REGION_COFUNDED[3]
            events.append({**base, "occurred_at": iso(approved), "source_id": f"dossier-{ref}",
                           "learner": {**learner(ref), "ids": ids},
                           "data": {**funding, "details": {"remuneration": remuneration}}})
    ref, funder, reference, _ = REGION_COFUNDED
    events.append({**base, "occurred_at": iso(at(dt.date(2026, 9, 15), 11)), "source_id": f"dossier-{ref}-region",
                   "learner": learner(ref),
                   "data": {"funder": funder, "funder_kind": "region", "amount": "700.00", "hours": "70",
                            "reference": reference, "details": {"remuneration": "RSP"}}})
    return events


def write_ndjson(name: str, events: list[dict], folder: Path = OUT) -> None:
    folder.mkdir(exist_ok=True)
    with (folder / name).open("w", encoding="utf-8") as fh:
        for event in sorted(events, key=lambda e: e["occurred_at"]):
            fh.write(json.dumps(event, ensure_ascii=False) + "\n")


def write_csv(name: str, rows: list[dict]) -> None:
    columns = ["type", "occurred_at", "source_id", "action", "learner_ref", "learner_email", "learner_name", "data.date", "data.half_day",
               "data.modality", "data.signer", "data.signer_name", "data.trainer_cosigned", "data.trainer_name", "data.signed_at", "data.proof",
               "data.justified", "data.reason"]
    with (OUT / name).open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            writer.writerow(row)


if __name__ == "__main__":
    write_ndjson("01-funnel.ndjson", funnel())
    write_csv("02-emargements.csv", attendance_rows())
    write_ndjson("03-lms.ndjson", lms())
    write_ndjson("04-resultats.ndjson", outcomes())
    write_ndjson("dossiers.ndjson", dossiers(), OUT.parent / "demo-dossiers")
    print("demo data written to", OUT)
