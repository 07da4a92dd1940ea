"""Who may receive which document, and what proof is missing.

:func:`proof_gaps` lists the missing proof of a computed journey
(:class:`hub.journeys.compute.JourneyReport`) with the default proof rules of
:mod:`hub.journeys.proofs` (``parcours proofs check`` adds the plugins' and funders'), each gap as ``{"code", "message",
"what_would_close_it", "subject"}`` (``subject``: the half-day ``YYYY-MM-DD/am|pm`` or
``None`` for the whole enrolment).

A certificat de réalisation needs a started enrolment and no gap (unless the admin allows an
incomplete one, which the ledger then records). The other documents have their own conditions
(:func:`refusal`).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from hub.journeys.compute import JourneyReport
from hub.journeys.proofs import DEFAULT_RULES


def _gap(code: str, message: str, close: str, subject: str | None = None) -> dict[str, Any]:
    return {"code": code, "message": message, "what_would_close_it": close, "subject": subject}


def proof_gaps(report: JourneyReport, today: dt.date | None = None) -> list[dict[str, Any]]:
    """The missing proof of one enrolment: the gaps found by the default proof rules of
    :mod:`hub.journeys.proofs` (the proof that the training happened; funders' rules gate their
    exports, not the certificate)."""
    today = today or dt.date.today()
    gaps: list[dict[str, Any]] = []
    for rule in DEFAULT_RULES:
        if rule.applies(report):
            for gap in rule.check(report, today):
                subject = f"{gap.date}/{gap.half_day}" if gap.date and gap.half_day else None
                gaps.append(_gap(gap.code, gap.message, gap.to_close, subject))
    return gaps


def gap_label(gap: dict[str, Any]) -> str:
    """``code`` or ``code subject``: a gap in one word or two."""
    return gap["code"] + (f" {gap['subject']}" if gap["subject"] else "")


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
        return "missing proof: " + "; ".join(gap_label(g) for g in gaps)
    if doc_type == "attestation_fin_formation" and report.status not in ("completed", "abandoned"):
        return "the enrolment has not ended (no completion or abandonment recorded)"
    if doc_type == "releve_competences" and not (report.assessments or report.certifications):
        return "no assessment result recorded"
    return None
