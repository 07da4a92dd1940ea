"""Reasons in words: each feature's contribution to a score, told with the figures behind it.

The texts are French (they reach trainers, managers and the CRM); the feature names stay as in
docs/risk.md.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from hub.journeys.actions import MODALITY_LABELS
from hub.risk.features import Snapshot

FUNDER_KIND_LABELS = {"opco": "OPCO", "france_travail": "France Travail", "region": "Région", "cpf": "CPF",
                      "employer": "employeur", "self": "autofinancement", "other": "autre financeur"}
MAX_REASONS = 4
MIN_CONTRIBUTION = 0.05  # log-odds: smaller contributions are not worth a word


def _num(value: Any) -> str:
    return f"{Decimal(str(value)).normalize():f}" if value is not None else "?"


def text(feature: str, snap: Snapshot) -> str:
    """One feature of a snapshot in words."""
    f = snap.facts
    if feature == "days_since_activity":
        days = f.get("days_since_activity", 0)
        return (f"aucune activité depuis {days} jours" if f.get("ever_active")
                else f"aucune activité depuis le début de l'action ({days} jours)")
    if feature == "recent_unsigned_share":
        return f"{f.get('recent_unsigned', 0)} des {f.get('recent_held', 0)} dernières demi-journées non signées"
    if feature == "attendance_drop":
        return (f"assiduité en baisse : {round(f.get('share_recent', 0) * 100)} % des dernières demi-journées "
                f"contre {round(f.get('share_before', 0) * 100)} % avant")
    if feature == "attendance_gap":
        return f"assiduité de {_num(f.get('attendance_rate'))} % à date"
    if feature == "progress_gap":
        return (f"progression de {round(f.get('progress', 0) * 100)} % pour {round(f.get('elapsed', 0) * 100)} % "
                "du parcours écoulé")
    if feature == "failed_assessments":
        return f"{f.get('failed_assessments', 0)} évaluation(s) non réussie(s)"
    if feature == "last_assessment_failed":
        last = f.get("last_failed") or {}
        score = f" ({_num(last.get('score'))}/{_num(last.get('max_score'))})" if last.get("score") is not None else ""
        return f"dernière évaluation non réussie : {last.get('name') or 'évaluation'}{score}"
    if feature == "no_tutor_contact":
        return "aucun échange avec le tuteur"
    if feature == "start_delay_days":
        return f"{f.get('start_delay_days', 0)} jours entre l'inscription et le démarrage"
    if feature == "not_started_days":
        return f"pas encore démarré, {f.get('not_started_days', 0)} jours après le début de l'action"
    if feature == "payment_incidents":
        return f"{f.get('payment_incidents', 0)} incident(s) de paiement"
    if feature == "funder_kind":
        return f"financement : {FUNDER_KIND_LABELS.get(snap.funder_kind, snap.funder_kind)}"
    if feature == "modality":
        return f"modalité : {MODALITY_LABELS.get(snap.modality, snap.modality)}"
    raise KeyError(f"no words for the feature {feature!r}")


def model_reasons(snap: Snapshot, contributions: dict[str, float]) -> list[dict[str, Any]]:
    """The features that raise the risk most (contribution in log-odds), largest first, in words."""
    ranked = sorted(((c, g) for g, c in contributions.items() if c >= MIN_CONTRIBUTION), reverse=True)
    return [{"feature": g, "contribution": round(c, 3), "text": text(g, snap)} for c, g in ranked[:MAX_REASONS]]


def rules_reasons(fired: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """The alert rules that fire, with their messages."""
    return [{"feature": rule, "contribution": 1.0, "text": message} for rule, message in fired]


def sentence(reasons: list[dict[str, Any]]) -> str:
    """The reasons in one line: "aucune activité depuis 12 jours, 3 des 4 dernières demi-journées non signées"."""
    return ", ".join(r["text"] for r in reasons)
