"""The apprenticeship certificate in the inter-OPCO "API CFA" exchange form (JSON).

One JSON document per apprentice (enrolments of actions whose nature is ``apprentissage``), in
the body shape of the certificate deposit (``POST /:opcoId/certificats``) as documented for
Opcovia (doc.opcovia.eduvia.dev/api/certificats.html; see docs/formats/opco.md for what was
verified): ``typeCertificat`` is ``Final`` when the enrolment ends in the period, else
``Intermediaire``; ``echeance`` is the OPCO's payment instalment the period closes, with the
hours realised over it (``duree``).
"""

from __future__ import annotations

import base64
import datetime as dt
from decimal import Decimal
from typing import Any

from funder_formats.opco.config import OpcoConfig
from funder_formats.opco.statement import Enrolment
from hub.formats import MissingField, Period

REQUIRED = (
    ("numeroInterneDossier",), ("employeur", "siret"), ("apprenti", "nom"), ("apprenti", "prenom"),
    ("organismeFormation", "siret"), ("echeance", "numero"),
)

#: API CFA fields that are the same fact as a column of the statement (reported once)
SAME_AS = {
    "api_cfa.numeroInterneDossier": "dossier", "api_cfa.employeur.siret": "employer_siret",
    "api_cfa.apprenti.nom": "learner_last_name", "api_cfa.apprenti.prenom": "learner_first_name",
    "api_cfa.organismeFormation.siret": "hub.organisation.siret",
}


def applies(enr: Enrolment) -> bool:
    return enr.action is not None and enr.action.nature == "apprentissage"


def _number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


def echeance(enr: Enrolment, config: OpcoConfig, period: Period) -> tuple[dict[str, Any] | None, str | None]:
    """(the échéance this period closes for the apprentice, or None; why a required part is missing).

    ``partielle``: the enrolment ended before the end of the échéance and of the action (a
    break of the contract, an abandonment).

    ``details``: the instalment of the funding's schedule that ends in the period — or, when the
    enrolment ends in the period, the one containing its end (a partial instalment). ``period``:
    every month since the action's start is an instalment (monthly statements only)."""
    action = enr.action
    if config.api_cfa.echeance == "period":
        if config.statement != "monthly":
            return {"numero": None, "dateDebut": enr.window[0], "dateFin": enr.window[1]}, (
                "api_cfa.echeance: period numbers monthly statements only")
        months = (period.end.year - action.start.year) * 12 + period.end.month - action.start.month
        return {"numero": months + 1, "dateDebut": enr.window[0], "dateFin": enr.window[1],
                "partielle": enr.ended and enr.end < min(period.end, action.end)}, None
    schedule = enr.details.get(config.fields.echeances)
    if not isinstance(schedule, list) or not schedule:
        return {"numero": None, "dateDebut": enr.window[0], "dateFin": enr.window[1]}, (
            f"no échéancier in details.{config.fields.echeances} of the funding "
            "(a list of {numero, codification, dateDebut, dateFin})")
    chosen = None
    for item in schedule:
        if not isinstance(item, dict):
            continue
        try:
            first = dt.date.fromisoformat(str(item.get("dateDebut"))[:10])
            last = dt.date.fromisoformat(str(item.get("dateFin"))[:10])
        except ValueError:
            continue
        if enr.ended and first <= enr.end <= last:
            chosen = (item, first, last)
            break
        if period.start <= last <= period.end and last <= enr.end:
            chosen = (item, first, last)
    if chosen is None:
        return None, None
    item, first, last = chosen
    out = {"numero": item.get("numero"), "dateDebut": max(first, action.start), "dateFin": min(last, enr.end),
           "partielle": enr.ended and enr.end < min(last, action.end)}
    if item.get("codification"):
        out["codification"] = str(item["codification"])
    return out, (None if item.get("numero") not in (None, "") else "the échéance has no numero")


def certificate(enr: Enrolment, due: dict[str, Any], problem: str | None, duree: Decimal, config: OpcoConfig,
                organisation: Any, today: dt.date, pdf: bytes | None) -> tuple[dict[str, Any], list[MissingField]]:
    """The API CFA JSON of one apprentice for the échéance ``due``, and the required fields it lacks."""
    v, d, f = enr.values, enr.details, config.fields
    representative = (getattr(organisation, "representative", None) or "").split()
    body: dict[str, Any] = {
        "typeCertificat": "Final" if enr.ended else "Intermediaire",
        "numeroInterneDossier": v.get("dossier"),
    }
    if d.get(f.invoice):
        body["numeroInterneFacture"] = str(d[f.invoice])
    body.update({
        "dateSignature": today.isoformat(),
        "lieuSignatureContrat": getattr(organisation, "city", None),
        "representantLegal": {
            "nom": " ".join(representative[1:]) or None,
            "prenom": representative[0] if representative else None,
            "qualite": getattr(organisation, "representative_title", None),
        },
        "attestationConservationPieces": config.api_cfa.conservation_pieces,
        "natureAction": config.api_cfa.nature_label,
        "employeur": {"siret": v.get("employer_siret")},
        "apprenti": {"nom": v.get("learner_last_name"), "prenom": v.get("learner_first_name"),
                     "nomUsage": d.get(f.learner_usage_name)},
        "organismeFormation": {"siret": v.get("of_siret")},
        "echeance": {"numero": due.get("numero"),
                     **({"codification": due["codification"]} if due.get("codification") else {}),
                     "duree": _number(duree),
                     "dateDebut": due["dateDebut"].isoformat(),
                     "dateFin": due["dateFin"].isoformat(),
                     "echeancePartielle": bool(due.get("partielle"))},
    })
    if pdf is not None and config.api_cfa.attach_certificate:
        body["_files"] = {"certificat": base64.b64encode(pdf).decode("ascii")}
    missing = []
    for path in REQUIRED:
        node: Any = body
        for part in path:
            node = node.get(part) if isinstance(node, dict) else None
        if node in (None, ""):
            message = problem if path == ("echeance", "numero") and problem else "required by the API CFA certificate"
            missing.append(MissingField(enr.label, "api_cfa." + ".".join(path), message))
    return body, missing
