"""The readable part of a person's data export: « Vos données personnelles », a French PDF of what
``data.json`` holds (identity and keys, journeys, documents, evidence, consents, corrections, web
accounts, accesses, dead letters), with the fonts and formats of the documents
(:mod:`hub.documents.render`, :mod:`hub.documents.fr`). Each journey has its own « Résumé du
parcours » beside it (:func:`hub.audit.summary.render_summary`)."""

from __future__ import annotations

import io
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import cm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from hub.audit.summary import STATUS_FR
from hub.documents import DOCUMENT_TYPES
from hub.documents.fr import date_fr, hours_fr
from hub.documents.render import fonts

DOCUMENT_STATUS_FR = {"current": "en vigueur", "superseded": "remplacé", "revoked": "révoqué"}
ACCESS_FR = {"access.sign_in": "connexion", "access.sign_out": "déconnexion",
             "access.audit_viewed": "consultation par un auditeur"}
FIELD_FR = {"name": "nom", "email": "courriel"}


def _date(value: Any) -> str:
    if not value:
        return "—"
    try:
        return date_fr(str(value)[:10])
    except ValueError:
        return str(value)


def render_overview(data: dict[str, Any], *, organisation: str) -> bytes:
    """The PDF of an export's ``data`` (the content of data.json)."""
    regular, bold, _ = fonts()
    base = ParagraphStyle("base", fontName=regular, fontSize=9.5, leading=12.5, spaceAfter=3)
    small = ParagraphStyle("small", parent=base, fontSize=8, leading=10, textColor=colors.HexColor("#444444"))
    title = ParagraphStyle("title", parent=base, fontName=bold, fontSize=16, leading=20, spaceAfter=10,
                           textColor=colors.HexColor("#1f3a5f"))
    heading = ParagraphStyle("heading", parent=base, fontName=bold, fontSize=11, spaceBefore=8, spaceAfter=4,
                             textColor=colors.HexColor("#1f3a5f"))

    def p(text: str, style=base) -> Paragraph:
        return Paragraph(text, style)

    def table(rows: list[list[Any]], widths: list[float], header: bool = True) -> Table:
        cells = [[p(escape(str(c))) if len(str(c)) > 30 else str(c) for c in row] for row in rows]
        t = Table(cells, colWidths=widths, repeatRows=1 if header else 0)
        style = [("LINEBELOW", (0, 0), (-1, -1), 0.3, colors.HexColor("#bbbbbb")), ("VALIGN", (0, 0), (-1, -1), "TOP"),
                 ("FONT", (0, 0), (-1, -1), regular, 9.5)]
        if header:
            style.append(("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8edf3")))
        t.setStyle(TableStyle(style))
        return t

    def section(name: str, rows: list[list[Any]], widths: list[float], empty: str) -> None:
        story.append(p(name, heading))
        story.append(table(rows, widths) if len(rows) > 1 else p(empty))

    learner = data["learner"]
    story: list = [p("Vos données personnelles", title),
                   p(f"Ce document résume ce que {escape(organisation)} conserve à votre sujet dans son registre "
                     "de traçabilité (droit d'accès, article 15 du RGPD). Les mêmes données, lisibles par une "
                     "machine, sont dans <i>data.json</i> et <i>events.ndjson</i> (droit à la portabilité, "
                     "article 20).")]
    story.append(p("Identité", heading))
    story.append(table([["Nom", learner.get("name") or "—"], ["Courriel", learner.get("email") or "—"],
                        ["Identifiant (hub)", learner["id"]],
                        ["Identifiants dans les outils", ", ".join(learner.get("keys") or []) or "—"],
                        ["Identifiants fusionnés", ", ".join(learner.get("merged") or []) or "—"]],
                       [5 * cm, 12 * cm], header=False))

    rows = [["Action", "Statut", "Heures réalisées", "Heures prévues"]]
    for j in data["journeys"]:
        realised = (j.get("realised_hours") or {}).get("total")
        rows.append([j["action"], STATUS_FR.get(j["status"], j["status"]),
                     hours_fr(realised) if realised is not None else "—", hours_fr(j["planned_hours"])])
    section("Parcours de formation", rows, [6 * cm, 4 * cm, 3.5 * cm, 3.5 * cm], "Aucun parcours.")

    rows = [["Document", "Numéro", "Émis le", "État"]]
    rows += [[DOCUMENT_TYPES.get(d["type"], d["type"]), d["id"], _date(d["issued_at"]),
              DOCUMENT_STATUS_FR.get(d["status"], d["status"])] for d in data["documents"]]
    section("Documents émis", rows, [5.5 * cm, 5.5 * cm, 3 * cm, 3 * cm], "Aucun document émis.")

    story.append(p("Événements et pièces", heading))
    events = data["events"]
    story.append(p(f"{events['count']} événement(s) du registre vous concernent"
                   + (" (un par ligne dans <i>events.ndjson</i>)." if events.get("file") else ".")
                   + f" {len(data['evidence'])} pièce(s) justificative(s) sont jointes dans <i>evidence/</i>."))
    if events.get("by_type"):
        rows = [["Type d'événement", "Nombre"]] + [[t, n] for t, n in sorted(events["by_type"].items())]
        story.append(table(rows, [12 * cm, 5 * cm]))

    rows = [["Date", "Type", "Détail"]]
    rows += [[_date(c["occurred_at"]), c["type"], ", ".join(f"{k} : {v}" for k, v in c["data"].items()
                                                             if k != "details")] for c in data["consents"]]
    section("Consentements", rows, [3 * cm, 5 * cm, 9 * cm], "Aucun consentement enregistré.")

    rows = [["Date", "Champ", "Nouvelle valeur", "Motif"]]
    rows += [[_date(r["occurred_at"]), FIELD_FR.get(r["data"]["field"], r["data"]["field"]), r["data"]["value"],
              r["data"]["reason"]] for r in _once(data["rectifications"])]
    section("Rectifications", rows, [3 * cm, 2.5 * cm, 5.5 * cm, 6 * cm], "Aucune rectification.")

    rows = [["Courriel", "Rôle", "Double authentification", "Créé le"]]
    rows += [[a["email"], a["role"], "oui" if a["second_factor"] else "non", _date(a["created_at"])]
             for a in data["web_accounts"]]
    section("Compte de l'espace en ligne", rows, [6.5 * cm, 3 * cm, 4 * cm, 3.5 * cm], "Aucun compte.")

    rows = [["Date", "Accès", "Résultat"]]
    rows += [[_date(a["occurred_at"]), ACCESS_FR.get(a["type"], a["type"]), a["data"].get("outcome") or
              a["data"].get("what") or ""] for a in data["access"]]
    rows += [[_date(e["occurred_at"]), "export de vos données", e["data"].get("channel", "")] for e in data["exports"]]
    section("Accès à vos données", rows, [3 * cm, 7 * cm, 7 * cm], "Aucun accès enregistré.")

    rows = [["Reçu le", "Étape", "Source", "Erreur"]]
    rows += [[_date(d["created_at"]), d["stage"], d["source"] or "", (d["error"] or "")[:200]] for d in data["dead_letters"]]
    section("Messages non traités", rows, [3 * cm, 2.5 * cm, 3 * cm, 8.5 * cm],
            "Aucun message en erreur ne vous concerne.")

    story.append(Spacer(1, 10))
    story.append(p(f"Établi le {escape(data['generated_at'])} par Parcours Hub pour {escape(organisation)}. "
                   "Le fichier <i>manifest.json</i> donne l'empreinte SHA-256 de chaque fichier de l'export.", small))
    buf = io.BytesIO()
    doc = SimpleDocTemplate(buf, pagesize=A4, leftMargin=2 * cm, rightMargin=2 * cm, topMargin=1.8 * cm,
                            bottomMargin=1.8 * cm, title="Vos données personnelles", author=organisation,
                            creator="Parcours Hub", producer="Parcours Hub")
    doc.build(story)
    return buf.getvalue()


def _once(rectifications: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One line per correction (it is recorded once per enrolment): by field, value and reason."""
    seen, out = set(), []
    for r in rectifications:
        key = (r["data"]["field"], r["data"]["value"], r["data"]["reason"])
        if key not in seen:
            seen.add(key)
            out.append(r)
    return out
