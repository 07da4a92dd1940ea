"""PDF rendering (reportlab): one A4 page per document, French text, QR code, embedded data.

Every PDF carries, besides what it prints:

* the QR code of its verification URL (``…/verify/<id>?p=<payload>``), drawn as vector squares;
* an embedded file ``parcours-document.json`` (PDF attachment) with the same URL and payload and
  the signed fields, so that ``parcours verify-document`` needs no QR decoder for an intact PDF;
* the verification URL in the document information (Keywords).

Texts come from the templates (:mod:`hub.documents.templates`); values are formatted in French
(:mod:`hub.documents.fr`) and escaped; long names and titles wrap.

Importing this module loads reportlab: issuing imports it only where PDFs are rendered.
"""

from __future__ import annotations

import hashlib
import io
import string
import threading
from functools import lru_cache
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import numpy as np
import reportlab
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_LEFT
from reportlab.lib.fonts import addMapping
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import cm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.pdfdoc import PDFArray, PDFDictionary, PDFName, PDFStream, PDFString
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from hub.documents import DOCUMENT_TYPES
from hub.documents.fr import date_fr, hours_fr, percent_fr, score_fr
from hub.documents.payload import ATTACHMENT, embedded_json, make_qr
from hub.documents.templates import distance_rule
from hub.errors import ConfigError

DEJAVU = Path("/usr/share/fonts/truetype/dejavu")
_fonts_lock = threading.Lock()
_registered: dict[tuple[str | None, str | None], tuple[str, str, bool]] = {}


def _font_files(regular: str | None, bold: str | None) -> tuple[str, str]:
    if regular:
        return regular, bold or regular
    if (DEJAVU / "DejaVuSans.ttf").exists() and (DEJAVU / "DejaVuSans-Bold.ttf").exists():
        return str(DEJAVU / "DejaVuSans.ttf"), str(DEJAVU / "DejaVuSans-Bold.ttf")
    fonts = Path(reportlab.__file__).parent / "fonts"
    return str(fonts / "Vera.ttf"), str(fonts / "VeraBd.ttf")


def fonts(regular: str | None = None, bold: str | None = None) -> tuple[str, str, bool]:
    """Register the TrueType fonts once; returns (regular name, bold name, has ballot-box glyphs)."""
    key = (regular, bold)
    with _fonts_lock:
        if key in _registered:
            return _registered[key]
        reg_file, bold_file = _font_files(regular, bold)
        tag = hashlib.sha256(f"{reg_file}|{bold_file}".encode()).hexdigest()[:8]
        names = (f"PH-{tag}", f"PH-{tag}-Bold")
        try:
            pdfmetrics.registerFont(TTFont(names[0], reg_file))
            pdfmetrics.registerFont(TTFont(names[1], bold_file))
        except Exception as exc:  # reportlab raises TTFError and plain errors
            raise ConfigError(f"cannot load the document font {reg_file} / {bold_file}: {exc}") from None
        for italic in (0, 1):
            addMapping(names[0], 0, italic, names[0])
            addMapping(names[0], 1, italic, names[1])
        face = pdfmetrics.getFont(names[0]).face
        ballot = 0x2610 in face.charToGlyph and 0x2612 in face.charToGlyph
        _registered[key] = (names[0], names[1], ballot)
        return _registered[key]


class _Values(dict):
    """Placeholder values; a missing one formats as an ellipsis and marks the text incomplete."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.missing: set[str] = set()

    def __missing__(self, key: str) -> str:
        self.missing.add(key)
        return "…"


def values(doc_type: str, fields: dict[str, Any], page_url: str) -> dict[str, str]:
    """The escaped, French-formatted values of the template placeholders."""
    org = fields.get("organisation", {})
    signatory = fields.get("signatory", {})
    raw = {
        "learner": fields.get("learner"), "employer": fields.get("employer"),
        "action": fields.get("action", {}).get("title"), "action_id": fields.get("action", {}).get("id"),
        "start": date_fr(fields["start"]) if fields.get("start") else None,
        "end": date_fr(fields["end"]) if fields.get("end") else None,
        "hours": hours_fr(fields["hours"]) if fields.get("hours") is not None else None,
        "planned_hours": hours_fr(fields["planned_hours"]) if fields.get("planned_hours") is not None else None,
        "attendance_rate": percent_fr(fields["attendance_rate"]) if fields.get("attendance_rate") is not None else None,
        "organisation": org.get("name"), "siret": org.get("siret"), "nda": org.get("nda"), "address": org.get("address"),
        "signatory": signatory.get("name"), "signatory_title": signatory.get("title"), "place": fields.get("place"),
        "issued_on": date_fr(fields["issued_on"]), "id": fields.get("id"), "verify_url": page_url,
        "title": DOCUMENT_TYPES[doc_type], "certification": fields.get("certification"),
    }
    return {k: escape(str(v)) for k, v in raw.items() if v not in (None, "")}


def fill(text: str, vals: dict[str, str], *, optional: bool = False, **extra: str) -> str | None:
    """``text`` with its placeholders replaced; None when ``optional`` and a value is missing."""
    if not text:
        return None
    mapping = _Values({**vals, **{k: escape(str(v)) for k, v in extra.items()}})
    out = string.Formatter().vformat(text, (), mapping)
    if optional and mapping.missing:
        return None
    return out


def _embed(canvas, data: bytes, description: str) -> None:
    """Attach ``data`` as ``parcours-document.json`` (a PDF embedded file, visible as an attachment)."""
    doc = canvas._doc
    stream = PDFStream(dictionary=PDFDictionary({
        "Type": PDFName("EmbeddedFile"), "Subtype": PDFName("application#2Fjson"),
        "Params": PDFDictionary({"Size": len(data)}),
    }), content=data, filters=[])
    spec = PDFDictionary({
        "Type": PDFName("Filespec"), "F": PDFString(ATTACHMENT), "UF": PDFString(ATTACHMENT),
        "EF": PDFDictionary({"F": doc.Reference(stream)}), "AFRelationship": PDFName("Data"),
        "Desc": PDFString(description),
    })
    ref = doc.Reference(spec)
    canvas.setCatalogEntry("Names", PDFDictionary({"EmbeddedFiles": PDFDictionary({"Names": PDFArray([PDFString(ATTACHMENT), ref])})}))
    canvas.setCatalogEntry("AF", PDFArray([ref]))


@dataclass
class _Styles:
    """The fonts, colour and paragraph styles of one template."""

    regular: str
    bold: str
    ballot: bool  # the regular font has the ☐ ☒ glyphs
    colour: Any
    base: Any
    small: Any
    title: Any
    heading: Any
    indent: Any
    caption: Any  # the QR code's caption


def styles_of(template: dict[str, Any]) -> _Styles:
    """The fonts and paragraph styles of ``template``, made once per font and colour (the stamped
    renderer keys its laid-out paragraphs by style)."""
    return _cached_styles(template.get("font"), template.get("font_bold"), template.get("colour") or "#1f3a5f")


@lru_cache(maxsize=64)
def _cached_styles(font: str | None, font_bold: str | None, colour: str) -> _Styles:
    return _styles({"font": font, "font_bold": font_bold, "colour": colour})


def _styles(template: dict[str, Any]) -> _Styles:
    regular, bold, ballot = fonts(template.get("font"), template.get("font_bold"))
    colour = colors.HexColor(template.get("colour") or "#1f3a5f")
    base = ParagraphStyle("body", fontName=regular, fontSize=10.5, leading=14.5, spaceAfter=5, alignment=TA_LEFT)
    small = ParagraphStyle("small", parent=base, fontSize=8, leading=10, spaceAfter=0, textColor=colors.HexColor("#444444"))
    title = ParagraphStyle("title", parent=base, fontName=bold, fontSize=17, leading=21, alignment=TA_CENTER,
                           textColor=colour, spaceBefore=6, spaceAfter=14)
    heading = ParagraphStyle("heading", parent=base, fontName=bold, fontSize=10.5, spaceBefore=6, spaceAfter=3,
                             textColor=colour)
    indent = ParagraphStyle("indent", parent=base, leftIndent=18)
    caption = ParagraphStyle("cap", parent=small, alignment=TA_CENTER)
    return _Styles(regular, bold, ballot, colour, base, small, title, heading, indent, caption)


@dataclass(frozen=True)
class Para:
    """A paragraph to lay out: its (escaped, inline-markup) text and style. Both renderers read
    these: the platypus one makes a ``Paragraph`` of each, the stamped one (:mod:`hub.documents.stamp`)
    breaks it with the same rules and writes its lines."""

    text: str
    style: Any


@dataclass(frozen=True)
class Keep:
    """Paragraphs and spacers kept together on one page (platypus' ``KeepTogether``)."""

    items: tuple


@dataclass
class _Story:
    """The blocks of a document's body — :class:`Para`, ``Spacer``, :class:`Keep`, or any platypus
    flowable (tables) — and what its parts write them from."""

    fields: dict[str, Any]
    template: dict[str, Any]
    vals: dict[str, str]
    styles: _Styles
    flowables: list = field(default_factory=list)

    def add(self, text: str, style=None) -> None:
        """A paragraph of (escaped) ``text``, in the body style by default."""
        self.flowables.append(Para(text, style or self.styles.base))

    def para(self, key_or_text: str | None, style=None, *, optional: bool = False, literal: bool = False,
             **extra: str) -> None:
        """The template's text ``key_or_text`` (or that text itself when ``literal``), filled; nothing
        when it is empty, or ``optional`` and a value is missing."""
        text = key_or_text if literal else self.template.get(key_or_text or "", "")
        filled = fill(text, self.vals, optional=optional, **extra) if text else None
        if filled:
            self.add(filled, style)


def _table(rows: list, widths: list[float], **options):
    table = Table(rows, colWidths=widths, **options)
    table.setStyle(TableStyle([("LINEBELOW", (0, 0), (-1, -1), 0.3, colors.HexColor("#bbbbbb")),
                               ("VALIGN", (0, 0), (-1, -1), "TOP")]))
    return table


def _certificat_body(story: _Story) -> None:
    """The certificat de réalisation: beneficiary, the nature ticked among the four, dates, duration."""
    fields, template, styles = story.fields, story.template, story.styles
    story.para("beneficiary_employer" if fields.get("employer") else "beneficiary", styles.indent)
    story.para("followed", styles.indent)
    story.para("nature_heading", styles.heading)
    labels = template["nature_labels"]
    for nature in ("formation", "bilan_competences", "vae", "apprentissage"):
        checked = fields.get("nature") == nature
        box = ("☒" if checked else "☐") if styles.ballot else ("[X]" if checked else "[ ]")
        label = escape(labels.get(nature, nature))
        story.add(f"{box}&nbsp;{'<b>' + label + '</b>' if checked else label}", styles.indent)
    story.para("dates", styles.indent)
    story.para("duration", styles.indent)
    if fields.get("distance"):
        story.para("distance_note", styles.small,
                   distance_rule=distance_rule(fields["distance"], template["distance_rules"]))
        story.flowables.append(Spacer(1, 4))
    story.para("retention", styles.small)


def _assiduite_body(story: _Story) -> None:
    """The attestation d'assiduité: a table of hours, attendance rate and half-days."""
    fields, template, base = story.fields, story.template, story.styles.base
    labels = template["rows"]
    rows = []

    def row(label: str, value: str | None):
        if value:
            rows.append([Paragraph(escape(label), base), Paragraph(f"<b>{escape(value)}</b>", base)])

    row(labels["planned_hours"], hours_fr(fields["planned_hours"]) if fields.get("planned_hours") else None)
    row(labels["hours"], hours_fr(fields["hours"]) if fields.get("hours") is not None else None)
    for modality, value in fields.get("by_modality", {}).items():
        label = template["modality_labels"].get(modality, modality)
        row(fill(labels["modality"], {}, modality=label) or label, hours_fr(value))
    row(labels["attendance_rate"], percent_fr(fields["attendance_rate"]) if fields.get("attendance_rate") is not None else None)
    hd = fields.get("half_days", {})
    if hd:
        row(labels["half_days"], template["half_days_value"].format(signed=hd.get("signed", "0"), scheduled=hd.get("scheduled", "0")))
        row(labels["absent_justified"], hd.get("absent_justified", "0"))
        row(labels["absent"], hd.get("absent", "0"))
    row(labels["activities_completed"], fields.get("activities_completed"))
    story.flowables.append(_table(rows, [9 * cm, 7 * cm]))
    story.flowables.append(Spacer(1, 8))
    story.para("closing")


def _fin_formation_summary(story: _Story) -> None:
    """The attestation de fin de formation's nature, durations and outcome."""
    fields, template = story.fields, story.template
    nature = template["nature_labels"].get(fields.get("nature", ""), fields.get("nature"))
    story.add(f"{escape(template['nature_label'])} : <b>{escape(nature or '')}</b>")
    if fields.get("planned_hours"):
        story.add(f"{escape(template['duration_label'])} : <b>{hours_fr(fields['planned_hours'])}</b>")
    if fields.get("hours") is not None:
        story.add(f"{escape(template['followed_label'])} : <b>{hours_fr(fields['hours'])}</b>")
    outcome = template.get("outcome_labels", {}).get(fields.get("outcome", ""))
    if outcome:
        story.para(outcome, literal=True)


def _results_list(story: _Story, results: list[dict[str, Any]]) -> None:
    """One line per result: name, score and outcome."""
    outcome_labels = story.template["outcome_labels"]
    for r in results:
        score = score_fr(r.get("score"), r.get("max_score"))
        outcome = outcome_labels.get(r.get("outcome", ""), "")
        detail = ", ".join(x for x in (score, outcome) if x)
        story.add(f"•&nbsp;{escape(r['name'])}" + (f" : <b>{escape(detail)}</b>" if detail else ""), story.styles.indent)


def _results_table(story: _Story, results: list[dict[str, Any]]) -> None:
    """A table of the results: name, score, outcome, date."""
    base, outcome_labels = story.styles.base, story.template["outcome_labels"]
    head = [Paragraph(f"<b>{escape(c)}</b>", story.styles.small) for c in story.template["columns"]]
    rows = [head] + [[Paragraph(escape(r["name"]), base), Paragraph(escape(score_fr(r.get("score"), r.get("max_score"))), base),
                      Paragraph(escape(outcome_labels.get(r.get("outcome", ""), "")), base),
                      Paragraph(escape(date_fr(r["date"])) if r.get("date") else "", base)] for r in results]
    story.flowables.append(_table(rows, [7.2 * cm, 2.4 * cm, 2.8 * cm, 3.8 * cm], repeatRows=1))


def _results_body(story: _Story, *, as_table: bool) -> None:
    """Objectives, results (a list, or a table when ``as_table``) and certifications."""
    fields, template, styles = story.fields, story.template, story.styles
    if fields.get("objectives"):
        story.add(escape(template["objectives_label"]), styles.heading)
        for objective in fields["objectives"]:
            story.add(f"•&nbsp;{escape(objective)}", styles.indent)
    story.add(escape(template["results_label"]), styles.heading)
    results = fields.get("results", [])
    if not results:
        story.para("no_results", styles.indent)
    elif as_table:
        _results_table(story, results)
    else:
        _results_list(story, results)
    if fields.get("certification"):
        story.add(f"{escape(template['certification_label'])} : {escape(fields['certification'])}")
    for c in fields.get("certifications", []):
        parts = [c.get("name", ""), c.get("code", ""), c.get("result", "")]
        story.add(f"{escape(template['certifications_label'])} : <b>{escape(' — '.join(p for p in parts if p))}</b>")


def _fin_formation_body(story: _Story) -> None:
    _fin_formation_summary(story)
    _results_body(story, as_table=False)


def _releve_body(story: _Story) -> None:
    _results_body(story, as_table=True)


BODIES = {"certificat_realisation": _certificat_body, "attestation_assiduite": _assiduite_body,
          "attestation_fin_formation": _fin_formation_body, "releve_competences": _releve_body}


def _signature(story: _Story):
    """Place and date, the signatory and the room to sign, kept together."""
    template, vals, styles = story.template, story.vals, story.styles
    signature = []
    done = fill(template.get("done_at", ""), vals, optional=False)
    if done:
        signature.append(Para(done, styles.base))
    name = fill(template.get("signature_name", ""), vals, optional=True) or fill("{signatory}", vals, optional=True)
    if name:
        signature.append(Para(f"<b>{name}</b>", styles.base))
    if template.get("signature_caption"):
        signature.append(Para(escape(template["signature_caption"]), styles.small))
    signature.append(Spacer(1, 2.2 * cm))
    return Keep(tuple(signature))


MARGIN = 2 * cm
QR_SIZE = 3.6 * cm
LOGO_BOX = (2.4 * cm, 1.6 * cm)


@dataclass
class Page:
    """What one document prints and where, shared by both renderers: the story (title, introduction,
    the body of its type, signature), the header lines, footer, QR caption, and the geometry."""

    styles: _Styles
    template: dict[str, Any]
    blocks: list
    header_lines: list[str]
    footer: str
    caption: str
    info: dict[str, str]
    margin: float = MARGIN
    qr_size: float = QR_SIZE

    @property
    def header_h(self) -> float:
        return 0.45 * cm * max(len(self.header_lines), 1) + 0.6 * cm

    @property
    def top_margin(self) -> float:
        return self.margin + self.header_h

    @property
    def bottom_margin(self) -> float:
        return self.margin + self.qr_size + 1.8 * cm

    def logo_box(self) -> tuple[float, float, float, float]:
        """(x, y, width, height) of the box the logo is fitted in."""
        return self.margin, A4[1] - self.margin - 1.2 * cm, *LOGO_BOX

    def header_x(self, with_logo: bool) -> float:
        return self.margin + 2.8 * cm if with_logo else self.margin

    def header_top(self) -> float:
        return A4[1] - self.margin + 0.2 * cm

    def rule_y(self) -> float:
        return A4[1] - self.margin - self.header_h + 0.3 * cm

    def qr_origin(self) -> tuple[float, float]:
        return A4[0] - self.margin - self.qr_size, self.margin + 1.1 * cm

    def caption_box(self) -> tuple[float, float, float]:
        """(x, y of the bottom, wrap width) of the QR code's caption."""
        return A4[0] - self.margin - self.qr_size - 0.5 * cm, self.margin + 1.1 * cm + self.qr_size + 0.05 * cm, \
            self.qr_size + 1 * cm

    def footer_width(self, first_page: bool) -> float:
        return A4[0] - 2 * self.margin - (self.qr_size + 0.4 * cm if first_page else 0)


def page(doc_type: str, fields: dict[str, Any], template: dict[str, Any], *, page_url: str, url: str,
         styles: _Styles | None = None) -> Page:
    """The blocks and furniture of a document (``styles``: the template's, when already made)."""
    styles = styles or _styles(template)
    vals = values(doc_type, fields, page_url)
    story = _Story(fields, template, vals, styles)
    story.add(escape(DOCUMENT_TYPES[doc_type] if not template.get("title") else template["title"]).upper(), styles.title)
    story.para("intro")
    BODIES[doc_type](story)
    story.flowables.append(Spacer(1, 12))
    story.flowables.append(_signature(story))
    header_lines = [fill(line, vals, optional=True) for line in template.get("header", [])]
    info = {"title": f"{DOCUMENT_TYPES[doc_type]} — {fields.get('learner', '')}", "author": fields["organisation"]["name"],
            "subject": f"{DOCUMENT_TYPES[doc_type]} n° {fields['id']}", "keywords": url}
    return Page(styles, template, story.flowables, [h for h in header_lines if h], fill(template.get("footer", ""), vals) or "",
                escape(template.get("qr_caption", "")), info)


def qr_ops(url: str, x: float, y: float, size: float) -> tuple[str, int]:
    """PDF operators drawing the QR code of ``url`` with its quiet zone (white) in a ``size`` square
    at (x, y), as vector squares; and its version."""
    qr = make_qr(url)
    matrix = qr.matrix  # rows of 0/1 bytes
    n = len(matrix)
    border = 4
    module = size / (n + 2 * border)
    # Raw operators, one unit = one module, y downwards: a few kilobytes, and fast to write.
    padded = np.zeros((n, n + 2), np.int8)  # each row between two light modules
    padded[:, 1:-1] = np.frombuffer(b"".join(matrix), dtype=np.int8).reshape(n, n)
    steps = np.diff(padded, axis=1)
    rows, starts = np.nonzero(steps == 1)  # where each run of dark modules starts, row by row
    ends = np.nonzero(steps == -1)[1]
    runs = np.column_stack((starts, rows, ends - starts)).ravel().tolist()  # x, y, width of each run
    return (f"q 1 1 1 rg n {x:.5f} {y:.5f} {size:.5f} {size:.5f} re f* Q\n"
            f"q 1 0 0 1 {x + border * module:.3f} {y + size - border * module:.3f} cm "
            f"{module:.5f} 0 0 {-module:.5f} 0 0 cm 0 g\n"
            + ("%d %d %d 1 re\n" * (len(runs) // 3)) % tuple(runs) + "f Q"), qr.version


def _flowables(blocks: list) -> list:
    """Platypus flowables of the story's blocks."""
    out = []
    for block in blocks:
        if isinstance(block, Para):
            out.append(Paragraph(block.text, block.style))
        elif isinstance(block, Keep):
            out.append(KeepTogether(_flowables(list(block.items))))
        else:
            out.append(block)
    return out


@dataclass
class _Frame:
    """The page's furniture: header (logo, organisation lines, rule), QR code with its caption on
    the first page, footer."""

    page: Page
    url: str

    def draw(self, canvas, doc) -> None:
        pg = self.page
        small = pg.styles.small
        canvas.saveState()
        y = pg.header_top()
        x = pg.header_x(False)
        logo = pg.template.get("logo")
        if logo:
            try:
                lx, ly, lw, lh = pg.logo_box()
                canvas.drawImage(logo, lx, ly, width=lw, height=lh, preserveAspectRatio=True, mask="auto")
                x = pg.header_x(True)
            except OSError:
                pass
        for line in pg.header_lines:
            p = Paragraph(line, small)
            _, h = p.wrap(A4[0] - x - pg.margin, 2 * cm)
            y -= h
            p.drawOn(canvas, x, y)
        canvas.setStrokeColor(pg.styles.colour)
        canvas.setLineWidth(0.8)
        rule_y = pg.rule_y()
        canvas.line(pg.margin, rule_y, A4[0] - pg.margin, rule_y)
        if doc.page == 1:
            canvas.addLiteral(qr_ops(self.url, *pg.qr_origin(), pg.qr_size)[0])
            cap = Paragraph(pg.caption, pg.styles.caption)
            cx, cy, cw = pg.caption_box()
            cap.wrap(cw, 1 * cm)
            cap.drawOn(canvas, cx, cy)
        p = Paragraph(pg.footer, small)
        p.wrap(pg.footer_width(doc.page == 1), 2 * cm)
        p.drawOn(canvas, pg.margin, pg.margin)
        canvas.restoreState()


def render(doc_type: str, fields: dict[str, Any], template: dict[str, Any], *, url: str, page_url: str,
           payload: str, invariant: bool = False) -> bytes:
    """The PDF of a document, laid out by platypus: title, introduction, the body of its type,
    signature; each page framed (:class:`_Frame`); the first one also carries the embedded data.
    Any number of pages. :mod:`hub.documents.stamp` renders the certificat faster, with this as
    its fallback and its reference."""

    pg = page(doc_type, fields, template, page_url=page_url, url=url)
    frame = _Frame(pg, url)
    embedded = embedded_json(fields["id"], url, payload, fields)
    buf = io.BytesIO()
    pdf = SimpleDocTemplate(buf, pagesize=A4, leftMargin=pg.margin, rightMargin=pg.margin,
                            topMargin=pg.top_margin, bottomMargin=pg.bottom_margin,
                            invariant=1 if invariant else 0, **pg.info, creator="Parcours Hub", producer="Parcours Hub")

    def first(canvas, doc):
        _embed(canvas, embedded, attachment_description(doc_type, fields))
        frame.draw(canvas, doc)

    pdf.build(_flowables(pg.blocks), onFirstPage=first, onLaterPages=frame.draw)
    return buf.getvalue()


def attachment_description(doc_type: str, fields: dict[str, Any]) -> str:
    return f"{DOCUMENT_TYPES[doc_type]} n° {fields['id']}: URL, signed payload and fields"
