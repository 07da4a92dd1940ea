"""The subrogation bundle: what goes with the invoice when the OPCO pays the OF directly.

Per enrolment, one zip file:

* ``certificat-realisation.pdf`` — the certificat de réalisation issued for the enrolment (the
  current ``document.issued`` of type ``certificat_realisation``: neither revoked nor superseded),
  read from the blob store. Without one, the bundle is incomplete: the export lists it as missing;
* ``etat-presence.csv`` — the learner's lines of the attendance statement (the profile's CSV);
* ``synthese-preuves.json`` and ``synthese-preuves.txt`` — the proof summary: hours, half-days
  by status, exit, the certificate, and the gaps ``parcours proofs check`` finds for the enrolment.

An index (``subrogation-<period>.csv``) lists the bundles with their dossier and hours, to match
them to the invoice lines.
"""

from __future__ import annotations

import datetime as dt
import json
import zipfile
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from funder_formats.opco.profile import DEFAULT_STATUS, Profile
from funder_formats.opco.statement import Enrolment
from hub.documents.fr import date_fr, number_fr

CERTIFICATE = "certificat_realisation"


@dataclass
class Certificate:
    """A current certificat de réalisation of an enrolment."""

    event: str
    seq: int
    issued_at: str
    pdf_sha256: str | None
    fields: dict[str, Any]
    incomplete: bool

    @property
    def hours(self) -> Decimal | None:
        value = self.fields.get("hours")
        return Decimal(str(value)) if value not in (None, "") else None


def read_certificates(events, keys: set[tuple[str, str]] | None = None) -> dict[tuple[str, str], Certificate]:
    """The current certificate of each enrolment in ``keys`` (learner id, action; None: of every
    enrolment), from one pass over ``document.issued`` / ``document.revoked``: revoked and
    superseded certificates do not count."""
    issued: dict[str, tuple[tuple[str, str], Certificate]] = {}
    revoked: set[str] = set()
    superseded: set[str] = set()
    for event in events(types=["document.issued", "document.revoked"]):
        if event.get("supersedes"):
            superseded.add(event["supersedes"])
        data = event.get("data") or {}
        if event["type"] == "document.revoked":
            revoked.add(data.get("document"))
            continue
        if data.get("document_type") != CERTIFICATE:
            continue
        key = (event.get("learner_id"), event.get("action"))
        if keys is not None and key not in keys:
            continue
        details = data.get("details") or {}
        evidence = event.get("evidence") or []
        issued[event["id"]] = (key, Certificate(
            event["id"], event.get("seq", 0), event["occurred_at"],
            evidence[0]["sha256"] if evidence else None, details.get("fields") or {},
            bool(details.get("issued_incomplete"))))
    out: dict[tuple[str, str], Certificate] = {}
    for event_id, (key, cert) in issued.items():
        if event_id in revoked or event_id in superseded:
            continue
        if key not in out or cert.seq > out[key].seq:
            out[key] = cert
    return out


def certificate_problem(cert: Certificate | None, enr: Enrolment, blobs) -> str | None:
    """Why the enrolment's certificate cannot go in the bundle (None: it can)."""
    if cert is None:
        return ("no certificat de réalisation issued for this enrolment (issue it with "
                "`parcours documents issue`, then export again)")
    if cert.pdf_sha256 is None or not blobs.exists(cert.pdf_sha256):
        return f"certificate {cert.event}: its PDF is not in the blob store"
    realised = enr.realised_hours
    if cert.hours is not None and cert.hours != realised:
        return (f"certificate {cert.event} states {number_fr(cert.hours)} h but the ledger now gives "
                f"{number_fr(realised)} h realised: issue it again")
    return None


def summary(enr: Enrolment, gaps: list[tuple[str, Any]], cert: Certificate | None, problem: str | None,
            organisation: Any) -> dict[str, Any]:
    """The proof summary of one enrolment (French keys: it is read by the OPCO)."""
    report, v = enr.report, enr.values
    counts = Counter(r["status_code"] for r in enr.rows or [])
    def num(value, places: str = "0.01"):
        return None if value is None else str(Decimal(str(value)).quantize(Decimal(places)))

    by_modality = {m: num(f.value) for m, f in report.realised.items() if m != "total"}

    return {
        "organisme": {"raison_sociale": v.get("of_name"), "siret": v.get("of_siret"), "nda": v.get("of_nda")},
        "financeur": enr.funder,
        "dossier": v.get("dossier"),
        "reference_prise_en_charge": v.get("funding_reference"),
        "heures_accordees": num(v.get("funding_hours")),
        "employeur": {"siret": v.get("employer_siret"), "nom": v.get("employer_name")},
        "apprenant": {"id": report.learner_id, "nom": v.get("learner_last_name"), "prenom": v.get("learner_first_name"),
                      "courriel": report.learner_email},
        "action": {"id": report.action_id, "intitule": v.get("action_title"), "nature": v.get("action_nature"),
                   "debut": _iso(v.get("action_start")), "fin": _iso(v.get("action_end"))},
        "periode": {"du": _iso(enr.window[0]), "au": _iso(enr.window[1])},
        "entree": _iso(v.get("entry_date")),
        "sortie": {"date": _iso(v.get("exit_date")), "motif": v.get("exit_reason"), "situation": v.get("learner_status")},
        "heures": {"prevues": num(v.get("hours_planned")), "realisees": num(v.get("hours_realised")),
                   "facturables": num(v.get("hours_billable")), "absences": num(v.get("hours_absent")),
                   "absences_justifiees": num(v.get("hours_absent_justified")), "foad": num(v.get("hours_foad")),
                   "realisees_depuis_le_debut": num(report.realised_hours),
                   "realisees_par_modalite_depuis_le_debut": by_modality},
        "assiduite_pourcent": num(v.get("attendance_rate"), "0.1"),
        "demi_journees": {code: counts[code] for code in DEFAULT_STATUS if counts.get(code)},
        "activites_foad": len(report.foad_activities),
        "evaluations": len(report.assessments),
        "certificat_realisation": None if cert is None else {
            "document": cert.event, "emis_le": cert.fields.get("issued_on") or cert.issued_at[:10], "sha256_pdf": cert.pdf_sha256,
            "heures": cert.fields.get("hours"), "du": cert.fields.get("start"), "au": cert.fields.get("end"),
            "emis_avec_preuves_manquantes": cert.incomplete},
        "certificat_probleme": problem,
        "preuves_manquantes": [{"regle": rule, **asdict(gap)} for rule, gap in gaps],
    }


def summary_text(data: dict[str, Any], profile: Profile) -> str:
    """The proof summary as a page of French text."""
    h = data["heures"]
    lines = [
        f"Synthèse des preuves de réalisation — {profile.title}",
        "",
        f"Organisme : {data['organisme']['raison_sociale'] or '—'} (SIRET {data['organisme']['siret'] or '—'})",
        f"Financeur : {data['financeur']} — dossier {data['dossier'] or '—'}",
        f"Employeur : {data['employeur']['nom'] or '—'} (SIRET {data['employeur']['siret'] or '—'})",
        f"Stagiaire : {data['apprenant']['prenom'] or ''} {data['apprenant']['nom'] or ''}".rstrip(),
        f"Action : {data['action']['intitule']} ({data['action']['id']}), du {_fr(data['action']['debut'])} "
        f"au {_fr(data['action']['fin'])}",
        f"Période couverte : du {_fr(data['periode']['du'])} au {_fr(data['periode']['au'])}",
        f"Situation : {data['sortie']['situation']}"
        + (f", sortie le {_fr(data['sortie']['date'])}" if data["sortie"]["date"] else "")
        + (f" ({data['sortie']['motif']})" if data["sortie"]["motif"] else ""),
        "",
        f"Heures prévues : {_h(h['prevues'])} — réalisées : {_h(h['realisees'])} — facturables : {_h(h['facturables'])}",
        f"Absences : {_h(h['absences'])} — absences justifiées : {_h(h['absences_justifiees'])} — FOAD : {_h(h['foad'])}",
        "Demi-journées : " + (", ".join(f"{profile.label_status(k)} : {n}" for k, n in data["demi_journees"].items()) or "aucune"),
        "",
    ]
    cert = data["certificat_realisation"]
    if cert:
        lines.append(f"Certificat de réalisation : document {cert['document']}, émis le {_fr(cert['emis_le'])}, "
                     f"{_h(cert['heures'])} réalisées")
    else:
        lines.append("Certificat de réalisation : aucun certificat émis")
    if data["certificat_probleme"]:
        lines.append(f"  ⚠ {data['certificat_probleme']}")
    lines.append("")
    gaps = data["preuves_manquantes"]
    lines.append("Preuves manquantes : " + ("aucune" if not gaps else str(len(gaps))))
    for gap in gaps:
        lines.append(f"  - {gap['message']} (à faire : {gap['to_close']})")
    return "\n".join(lines) + "\n"


def _iso(value: Any) -> str | None:
    return value.isoformat() if isinstance(value, (dt.date, dt.datetime)) else value


def _fr(value: str | None) -> str:
    return date_fr(value) if value else "—"


def _h(value: Any) -> str:
    return "—" if value in (None, "") else f"{number_fr(value)} h"


def write_zip(path: Path, members: Iterable[tuple[str, bytes]], when: dt.date) -> None:
    """A zip with fixed member dates and order, so that the same content gives the same bytes."""
    stamp = (when.year, when.month, when.day, 0, 0, 0)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, content in sorted(members):
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, content)


def summary_json(data: dict[str, Any]) -> bytes:
    return (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
