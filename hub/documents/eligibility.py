"""Who may receive which document, and what proof is missing.

:func:`proof_gaps` is a pure function of a computed journey
(:class:`hub.journeys.compute.JourneyReport`): it lists the missing proof, each gap as
``{"code", "message", "what_would_close_it", "subject"}`` (``subject``: the half-day
``YYYY-MM-DD/am|pm`` or ``None`` for the whole enrolment). Gaps:

* ``half_day_unsigned`` — a past scheduled half-day (not FOAD) with neither the learner's
  signature nor a recorded absence;
* ``half_day_no_trainer_signature`` — signed by the learner, not co-signed by the trainer
  (décret 2017-382: sheets signed per half-day by the learner and the trainer);
* ``foad_no_connection_trace`` — FOAD scheduled (and past) but no connection or activity trace;
* ``started_without_agreement`` — the training started and no signed agreement is recorded;
* ``abandoned_without_date`` — an abandonment without its date.

A certificat de réalisation needs a started enrolment and no gap (unless the admin allows an
incomplete one, which the ledger then records). The other documents have their own conditions
(:func:`refusal`).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from hub.documents.fr import date_fr
from hub.journeys.compute import JourneyReport

HALF = {"am": "matin", "pm": "après-midi"}


def _gap(code: str, message: str, close: str, subject: str | None = None) -> dict[str, Any]:
    return {"code": code, "message": message, "what_would_close_it": close, "subject": subject}


def proof_gaps(report: JourneyReport, today: dt.date | None = None) -> list[dict[str, Any]]:
    """The missing proof of one enrolment (a pure function of the report)."""
    today = today or dt.date.today()
    gaps: list[dict[str, Any]] = []
    started = "started" in report.timeline or any(
        r.status in ("signed", "signed_without_trainer", "remote") for r in report.half_days)
    for r in report.half_days:
        hd = r.half_day
        if hd.modality == "foad_asynchrone" or hd.date > today:
            continue
        label = f"{date_fr(hd.date)} ({HALF[hd.half_day]})"
        if r.status == "missing":
            gaps.append(_gap("half_day_unsigned", f"{label} : ni signature de l'apprenant ni absence enregistrée",
                             f"an attendance.signed event (learner signature) for {hd.key}, or attendance.absent "
                             "if the learner was absent", hd.key))
        elif r.status == "signed_without_trainer":
            gaps.append(_gap("half_day_no_trainer_signature", f"{label} : signée par l'apprenant, sans la "
                             "signature du formateur", f"an attendance.signed event for {hd.key} with "
                             "trainer_cosigned: true (the trainer's co-signature)", hd.key))
    foad_past = [r for r in report.half_days if r.half_day.modality == "foad_asynchrone" and r.half_day.date <= today
                 and (report.exit_date is None or r.half_day.date <= report.exit_date)]
    figure = report.realised.get("foad_asynchrone")
    if started and foad_past and (figure is None or not figure.events) and not report.foad_activities:
        gaps.append(_gap("foad_no_connection_trace", f"formation à distance prévue ({len(foad_past)} demi-journée(s) "
                         "passée(s)) sans aucune trace de connexion",
                         "the LMS connection logs (lms.session) or activity traces of this learner"))
    if started and "agreement_signed" not in report.timeline:
        gaps.append(_gap("started_without_agreement", "formation commencée sans convention ni contrat signé enregistré",
                         "an enrolment.agreement_signed event (the signed convention or contrat)"))
    abandoned = report.timeline.get("abandoned")
    if abandoned is not None and not abandoned.get("date"):
        gaps.append(_gap("abandoned_without_date", "abandon enregistré sans date de sortie",
                         "an enrolment.abandoned event with its date (correcting the previous one)"))
    return gaps


def refusal(report: JourneyReport, doc_type: str, gaps: list[dict[str, Any]], *, allow_incomplete: bool) -> str | None:
    """Why ``doc_type`` cannot be issued for this enrolment (None: it can)."""
    if not report.learner_name:
        return "the learner's name is unknown (no source gave it)"
    if report.action is None:
        return f"training action {report.action_id!r} is not configured (actions: in the hub configuration)"
    started = "started" in report.timeline or any(
        r.status in ("signed", "signed_without_trainer", "remote") for r in report.half_days)
    if doc_type in ("certificat_realisation", "attestation_assiduite") and not started:
        return "the enrolment has not started"
    if doc_type == "certificat_realisation" and gaps and not allow_incomplete:
        return "missing proof: " + "; ".join(g["code"] + (f" {g['subject']}" if g["subject"] else "") for g in gaps)
    if doc_type == "attestation_fin_formation" and report.status not in ("completed", "abandoned"):
        return "the enrolment has not ended (no completion or abandonment recorded)"
    if doc_type == "releve_competences" and not (report.assessments or report.certifications):
        return "no assessment result recorded"
    return None
