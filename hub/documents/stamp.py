"""The stamped renderer: the certificat de réalisation's fixed layout laid out once, each document's
values written into it.

The certificat is one page whose texts are the template's, with a few values in them (the
learner, the employer, the action, dates, hours, the document's number). Platypus lays out and
writes every page from scratch: parsing each paragraph's markup, breaking its lines, subsetting
and deflating its fonts, formatting every object. Here, per process:

* the page is the same story as the platypus renderer's (:func:`hub.documents.render.page`: the
  same texts, filled the same way, the same styles and geometry);
* each paragraph is broken into lines by platypus' own rules and written as operators once
  (:func:`hub.documents.pdf_flow.lay_out`, kept by text and style): the fixed texts — header,
  title, introduction, the four natures, the retention commitment, the signature block, the QR
  code's caption — are laid out for the first document only; the paragraphs holding a document's
  own values (its learner's name, its number in the footer…) are laid out for it, wrapping where
  platypus would wrap them;
* paragraphs stack down the page by the rules of a platypus frame (:class:`~hub.documents.pdf_flow.Column`):
  a name on two lines pushes what follows down, as it does with platypus;
* the fonts are embedded from a subset made and deflated once (:mod:`hub.documents.pdf_fonts`);
* per document, then: the QR code of its verification URL, the embedded ``parcours-document.json``,
  the information dictionary, one deflated content stream, and the cross-reference table
  (:mod:`hub.documents.pdf_objects`).

The logo is read and deflated once per file (:mod:`hub.documents.pdf_images`). What platypus
would put on a second page (a story too long for one), markup this writer does not draw (images or
links inside a text, underlines, justified text), and the other document types are rendered by
platypus (:func:`hub.documents.render.render`), which stays the reference:
``tests/documents/test_stamp.py`` compares both, text and pixels.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

from reportlab.lib.pagesizes import A4

from hub.documents import pdf_images
from hub.documents import render as platypus
from hub.documents.payload import ATTACHMENT, embedded_json
from hub.documents.pdf_flow import Column, DoesNotFit, Laid, font, lay_out, place
from hub.documents.pdf_fonts import Unsupported
from hub.documents.pdf_objects import date_string, ref, stream, text_string, write

#: the document types written by this renderer; the others by platypus
STAMPED = frozenset({"certificat_realisation"})
_FIRST_OBJECT = 8  # the page's resources: logo, fonts
_PAGE_W, _PAGE_H = A4


def render(doc_type: str, fields: dict[str, Any], template: dict[str, Any], *, url: str, page_url: str,
           payload: str, invariant: bool = False) -> bytes:
    """The PDF of a document: stamped when its type and content allow, else by platypus."""
    if doc_type in STAMPED:
        try:
            return stamped(doc_type, fields, template, url=url, page_url=page_url, payload=payload,
                           invariant=invariant)
        except (DoesNotFit, Unsupported):
            pass
    return platypus.render(doc_type, fields, template, url=url, page_url=page_url, payload=payload,
                           invariant=invariant)


def _furniture(pg: platypus.Page, url: str, logo: pdf_images.Image | None) -> tuple[list[tuple[Laid, float, float]], list[str]]:
    """The first page's frame: its paragraphs placed (header lines, QR caption, footer), and the
    operators of the logo, the rule under the header and the QR code."""
    small = pg.styles.small
    placed = []
    x, y = pg.header_x(logo is not None), pg.header_top()
    for line in pg.header_lines:
        laid = lay_out(line, small, _PAGE_W - x - pg.margin)
        y -= laid.height
        placed.append((laid, x, y))
    cx, cy, cw = pg.caption_box()
    placed.append((lay_out(pg.caption, pg.styles.caption, cw), cx, cy))
    placed.append((lay_out(pg.footer, small, pg.footer_width(True)), pg.margin, pg.margin))
    r, g, b = pg.styles.colour.rgb()
    rule = pg.rule_y()
    drawn = [f"q {r:.6g} {g:.6g} {b:.6g} RG 0.8 w n {pg.margin:.5f} {rule:.5f} m "
             f"{_PAGE_W - pg.margin:.5f} {rule:.5f} l S Q",
             platypus.qr_ops(url, *pg.qr_origin(), pg.qr_size)[0]]
    if logo is not None:
        drawn.insert(0, logo.ops("Im1", pg.logo_box()))
    return placed, drawn


def _logo(template: dict[str, Any]) -> pdf_images.Image | None:
    """The template's logo; None without one, or when it cannot be read (platypus prints none then)."""
    if not template.get("logo"):
        return None
    try:
        return pdf_images.load(template["logo"])
    except OSError:
        return None


def stamped(doc_type: str, fields: dict[str, Any], template: dict[str, Any], *, url: str, page_url: str,
            payload: str, invariant: bool = False) -> bytes:
    """The one-page PDF of a document, written from its laid-out paragraphs. Raises
    :class:`~hub.documents.pdf_flow.DoesNotFit` or :class:`~hub.documents.pdf_fonts.Unsupported`
    when platypus must render it."""
    pg = platypus.page(doc_type, fields, template, page_url=page_url, url=url, styles=platypus.styles_of(template))
    column = Column(pg.margin, pg.bottom_margin, _PAGE_W - 2 * pg.margin, _PAGE_H - pg.top_margin - pg.bottom_margin)
    for block in pg.blocks:
        column.add(block)
    logo = _logo(template)
    placed, drawn = _furniture(pg, url, logo)
    placed += column.placed
    content = "\n".join([*drawn, *(place(laid, x, y) for laid, x, y in placed)]).encode("ascii")
    beyond: dict[str, set[str]] = {}
    for laid, _x, _y in placed:
        for name, chars in laid.chars:
            beyond.setdefault(name, set()).update(chars)
    resources, objects = b"/ProcSet [/PDF /Text] ", []
    if logo is not None:
        objects += logo.objects(_FIRST_OBJECT)
        resources = b"/XObject << /Im1 %s >> /ProcSet [/PDF /Text /ImageB /ImageC] " % ref(_FIRST_OBJECT)
    font_refs = []
    for name, chars in beyond.items():
        embedded, resource = font(name)
        number = _FIRST_OBJECT + len(objects)
        objects += embedded.objects(embedded.extras(chars), number)
        font_refs.append(b"/%s %s" % (resource.encode("ascii"), ref(number)))
    resources += b"/Font << %s >>" % b" ".join(font_refs)
    return _file(doc_type, fields, pg, content, resources, objects, url=url, payload=payload, invariant=invariant)


def _file(doc_type: str, fields: dict[str, Any], pg: platypus.Page, content: bytes, resources: bytes,
          resource_objects: list[bytes], *, url: str, payload: str, invariant: bool) -> bytes:
    """The PDF: catalogue (with the embedded data), information, page, content, attachment, then the
    page's resources (logo, fonts; from object 8). The same objects and entries as the platypus
    renderer's file."""
    embedded = embedded_json(fields["id"], url, payload, fields)
    name = text_string(ATTACHMENT)
    when = date_string(None if invariant else dt.datetime.now(dt.timezone.utc))
    info = pg.info
    objects = [
        b"<< /Type /Catalog /Pages 3 0 R /Names << /EmbeddedFiles << /Names [%s 7 0 R] >> >> /AF [7 0 R] "
        b"/PageMode /UseNone >>" % name,
        b"<< /Title %s /Author %s /Subject %s /Keywords %s /Creator (Parcours Hub) /Producer (Parcours Hub) "
        b"/CreationDate %s /ModDate %s /Trapped /False >>" % (
            text_string(info["title"]), text_string(info["author"]), text_string(info["subject"]),
            text_string(info["keywords"]), when, when),
        b"<< /Type /Pages /Kids [4 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 3 0 R /MediaBox [0 0 %.4f %.4f] /Resources << %s >> /Contents 5 0 R >>"
        % (_PAGE_W, _PAGE_H, resources),
        stream(b"", content, compress=True),
        stream(b"/Type /EmbeddedFile /Subtype /application#2Fjson /Params << /Size %d >>" % len(embedded), embedded),
        b"<< /Type /Filespec /F %s /UF %s /EF << /F 6 0 R >> /AFRelationship /Data /Desc %s >>" % (
            name, name, text_string(platypus.attachment_description(doc_type, fields))),
        *resource_objects,
    ]
    return write(objects, root=1, info=2, file_id=hashlib.md5(url.encode()).digest())
