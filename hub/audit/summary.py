"""A learner's journey, readable: the PDF « Résumé du parcours » of each learner of a pack.

It says what the ledger says of the enrolment, in French, with the rendering machinery of the
documents (:mod:`hub.documents.render`'s fonts, :mod:`hub.documents.fr`'s formats): status and
steps, funders, planned and realised hours by modality with the rule of each, attendance rate,
each scheduled half-day with its status, assessments, and the documents issued. The events and
their proofs are beside it in the pack; this page is for reading, not for checking.
"""

from __future__ import annotations

import io
import re
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import cm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from hub.documents.fr import date_fr, hours_fr, percent_fr
from hub.documents.render import fonts
from hub.journeys.compute import JourneyReport
from hub.profiles.vocabulary import DEFAULT_STATUS_LABELS

STATUS_FR = {"registered": "inscrit", "terms_accepted": "conditions acceptées", "agreement_signed": "convention signée",
             "funding_approved": "financement accordé", "started": "en formation", "completed": "formation terminée",
             "abandoned": "abandon", "unknown": "inconnu"}
MODALITY_FR = {"presentiel": "présentiel", "distanciel_synchrone": "distanciel synchrone",
               "foad_asynchrone": "FOAD asynchrone", "total": "total"}
HALF_DAY_FR = {"am": "matin", "pm": "après-midi"}
HALF_DAY_STATUS_FR = {**DEFAULT_STATUS_LABELS, "remote": "présent à distance"}


#: the rules of hub.journeys.compute, in French (a rule not listed is printed as computed)
RULES_FR = [
    (re.compile(r"scheduled hours of the half-days that count \((\w+)\)"),
     lambda m: f"heures prévues des demi-journées qui comptent ({MODALITY_FR.get(m[1], m[1])})"),
    (re.compile(r"connection time per day, capped at ([\d.]+) h a day"),
     lambda m: f"temps de connexion par jour, plafonné à {hours_fr(m[1])} par jour"),
    (re.compile(r", plus the estimated time of completed activities"), lambda m: ", plus la durée estimée des activités terminées"),
    (re.compile(r", capped at the ([\d.]+) (?:scheduled|planned) FOAD hours"),
     lambda m: f", plafonné aux {hours_fr(m[1])} de FOAD prévues"),
    (re.compile(r"sum of the modalities"), lambda m: "somme des modalités"),
    (re.compile(r"realised hours / scheduled hours to date"), lambda m: "heures réalisées / heures prévues à ce jour"),
    (re.compile(r" \(until the abandonment\)"), lambda m: " (jusqu'à l'abandon)"),
]


def rule_fr(rule: str) -> str:
    for pattern, french in RULES_FR:
        rule = pattern.sub(french, rule)
    return rule


def _date(value: Any) -> str:
    if not value:
        return "—"
    try:
        return date_fr(str(value)[:10])
    except ValueError:
        return escape(str(value))


def render_summary(report: JourneyReport, documents: list[dict[str, Any]], *, organisation: str,
                   generated_at: str) -> bytes:
    """The PDF of ``report``, listing ``documents`` (``{"type", "id", "occurred_at"}``) issued for it."""
    regular, bold, _ = fonts()
    base = ParagraphStyle("base", fontName=regular, fontSize=9.5, leading=12.5, spaceAfter=3)
    small = ParagraphStyle("small", parent=base, fontSize=8, leading=10, textColor=colors.HexColor("#444444"))
    title = ParagraphStyle("title", parent=base, fontName=bold, fontSize=16, leading=20, spaceAfter=10,
                           textColor=colors.HexColor("#1f3a5f"))
    heading = ParagraphStyle("heading", parent=base, fontName=bold, fontSize=11, spaceBefore=8, spaceAfter=4,
                             textColor=colors.HexColor("#1f3a5f"))

    def p(text: str, style=base) -> Paragraph:
        return Paragraph(text, style)

    def table(rows: list[list[str]], widths: list[float], header: bool = True) -> Table:
        # a short cell is drawn as text (much faster than a Paragraph, which only long cells need, to wrap)
        cells = [[p(escape(str(c)), base) if len(str(c)) > 30 else str(c) for c in row] for row in rows]
        t = Table(cells, colWidths=widths, repeatRows=1 if header else 0)
        style = [("LINEBELOW", (0, 0), (-1, -1), 0.3, colors.HexColor("#bbbbbb")), ("VALIGN", (0, 0), (-1, -1), "TOP"),
                 ("FONT", (0, 0), (-1, -1), regular, 9.5)]
        if header:
            style.append(("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8edf3")))
        t.setStyle(TableStyle(style))
        return t

    action = report.action
    story: list = [p("Résumé du parcours", title)]
    identity = [["Apprenant", report.learner_name or "—"], ["Courriel", report.learner_email or "—"],
                ["Identifiant (hub)", report.learner_id],
                ["Action de formation", f"{report.action_id}" + (f" — {action.title}" if action else "")],
                ["Dates de l'action", f"du {_date(action.start)} au {_date(action.end)}" if action else "—"],
                ["Statut", STATUS_FR.get(report.status, report.status)],
                ["Financeurs", ", ".join(sorted(report.funders)) or "—"],
                ["Date de sortie", _date(report.exit_date)]]
    story.append(table(identity, [4.5 * cm, 12.5 * cm], header=False))

    story.append(p("Étapes", heading))
    steps = [["Étape", "Date", "Événement"]]
    steps += [[STATUS_FR.get(step, step), _date(fact.get("date") or fact.get("at")), fact.get("event", "")]
              for step, fact in report.timeline.items()]
    story.append(table(steps, [5 * cm, 4 * cm, 8 * cm]))

    story.append(p("Heures", heading))
    hours = [["Modalité", "Heures réalisées", "Règle appliquée"]]
    hours += [[MODALITY_FR.get(name, name), hours_fr(figure.value), rule_fr(figure.rule)]
              for name, figure in report.realised.items()]
    hours.append(["prévues", hours_fr(report.planned_hours), "durée prévue de l'action"])
    story.append(table(hours, [4 * cm, 3.5 * cm, 9.5 * cm]))
    rate = report.attendance_rate
    story.append(p(f"Taux d'assiduité : <b>{percent_fr(rate.value) if rate.value is not None else '—'}</b> "
                   f"({escape(rule_fr(rate.rule))})"))
    if report.progress is not None:
        story.append(p(f"Progression déclarée par la plateforme : <b>{percent_fr(report.progress.value)}</b>"))

    if report.half_days:
        story.append(p("Demi-journées prévues", heading))
        rows = [["Date", "Demi-journée", "Modalité", "Statut", "Heures"]]
        rows += [[_date(r.half_day.date), HALF_DAY_FR.get(r.half_day.half_day, r.half_day.half_day),
                  MODALITY_FR.get(r.half_day.modality, r.half_day.modality),
                  HALF_DAY_STATUS_FR.get(r.status, r.status), hours_fr(r.hours)] for r in report.half_days]
        story.append(table(rows, [3.2 * cm, 2.8 * cm, 3.8 * cm, 5.2 * cm, 2 * cm]))

    if report.assessments:
        story.append(p("Évaluations", heading))
        rows = [["Date", "Évaluation", "Résultat"]]
        for a in report.assessments:
            score = a.get("score")
            result = f"{score}/{a['max_score']}" if score is not None and a.get("max_score") is not None else (score or "—")
            rows.append([_date(a.get("at")), a.get("name") or a.get("quiz") or a.get("type") or "—", str(result)])
        story.append(table(rows, [3.2 * cm, 9.8 * cm, 4 * cm]))

    story.append(p("Documents émis", heading))
    if documents:
        rows = [["Document", "Numéro", "Émis le"]]
        rows += [[d["type"], d["id"], _date(d.get("occurred_at"))] for d in documents]
        story.append(table(rows, [6 * cm, 7 * cm, 4 * cm]))
    else:
        story.append(p("Aucun document émis pour ce parcours."))
    story.append(Spacer(1, 10))
    story.append(p(f"Établi le {escape(generated_at)} par Parcours Hub pour {escape(organisation)}, à partir du "
                   "registre scellé. Chaque événement cité figure dans <i>events.ndjson</i> avec sa preuve "
                   "d'inclusion dans <i>proofs.ndjson</i> ; le README du paquet dit comment les vérifier.", small))

    buf = io.BytesIO()
    doc = SimpleDocTemplate(buf, pagesize=A4, leftMargin=2 * cm, rightMargin=2 * cm, topMargin=1.8 * cm,
                            bottomMargin=1.8 * cm, title=f"Résumé du parcours — {report.learner_name or report.learner_id}",
                            author=organisation, creator="Parcours Hub", producer="Parcours Hub")
    doc.build(story)
    return buf.getvalue()
