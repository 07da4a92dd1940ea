"""The stamped certificat de réalisation (hub.documents.stamp) against the platypus one it replaces
(hub.documents.render, still the fallback): the same text read back, the same page rasterised
(PDFium, in-process), for short and long values, characters beyond the embedded subset, and
custom templates; and platypus where the stamped writer must not be used."""

from __future__ import annotations

import io

import pypdfium2 as pdfium
import pytest
from PIL import ImageChops
from pypdf import PdfReader

from hub.documents import pdf_objects, render, stamp
from hub.documents.issue import _render_job
from hub.documents.pdf_flow import DoesNotFit
from hub.documents.pdf_fonts import Unsupported
from hub.documents.templates import load_templates
from hub.documents.verify import pdf_text, read_embedded
from tests.documents.conftest import flat

DOC_ID = "01KBQZ8Y6M3V2T4R5S6Q7P8N9M"
URL = f"https://of-demo.example.fr/verify/{DOC_ID}?p=PH1.AQF-uahIas8sj3Rn2FQN6ac3qf3Gt7c.WfSgHB34noMB3QVHhJ1D4lb47MB0SlY_b5m3fEiWnI02mFbEaXdVLQRBBAMEKGOZukwvUfvUti5jvDNRAfZpDg"
PAGE_URL = URL.split("?")[0]
PAYLOAD = URL.split("?p=")[1]
LONG_NAME = "Marie-Christine-Éléonore de La Rochefoucauld-Montmorency d'Aubigny-Saint-Exupéry"
LONG_EMPLOYER = ("Société Coopérative Ouvrière de Production des Boulangeries Artisanales Réunies du Grand Est "
                 "SCOP SARL")
LONG_TITLE = ("Titre professionnel Concepteur·rice développeur·se d'applications — parcours certifiant en "
              "alternance avec modules complémentaires de sécurité informatique et d'accessibilité numérique "
              "(RNCP37873, bloc 1 à 3)")


def fields(**changes) -> dict:
    base = {"type": "certificat_realisation", "id": DOC_ID, "issued_on": "2026-11-20",
            "organisation": {"name": "Parcours Démo Formation SAS", "siret": "73282932000074",
                             "nda": "84691234569", "address": "12 rue de la République, 69002 Lyon"},
            "signatory": {"name": "Claire Fontaine", "title": "Directrice"}, "place": "Lyon",
            "learner": "Camille Dubois", "action": {"id": "ACT-1", "title": "Développeur·se web — React et API"},
            "start": "2026-10-05", "end": "2026-10-16", "nature": "formation", "hours": "64.5"}
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def both(doc_fields: dict, template: dict | None = None) -> tuple[bytes, bytes]:
    template = template or load_templates()["certificat_realisation"]
    args = ("certificat_realisation", doc_fields, template)
    options = {"url": URL, "page_url": PAGE_URL, "payload": PAYLOAD, "invariant": True}
    return render.render(*args, **options), stamp.stamped(*args, **options)


def compact(text: str) -> str:
    return "".join(text.split())


def raster(pdf: bytes, scale: float = 2.0):
    document = pdfium.PdfDocument(pdf)
    try:
        return document[0].render(scale=scale).to_pil().convert("RGB")
    finally:
        document.close()


def assert_same_page(old: bytes, new: bytes) -> None:
    """Same text read back (whitespace aside), same pixels at 144 dpi (a tolerance of 0.05 % of the
    pixels differing by more than a quarter of the range, for anti-aliasing)."""
    assert flat(pdf_text(new)) == flat(pdf_text(old))
    a, b = raster(old), raster(new)
    assert a.size == b.size
    diff = ImageChops.difference(a, b).convert("L").point(lambda v: 255 if v > 64 else 0)
    differing = diff.histogram()[255]
    assert differing <= 0.0005 * a.size[0] * a.size[1], f"{differing} pixels differ, in {diff.getbbox()}"


CASES = {
    "short values": fields(),
    "employer, distance note (a line narrowed to fit)": fields(
        employer="Boulangerie Martin SARL", distance={"foad": {"connection_daily_cap": "7", "capped_at_planned": "oui"}}),
    "longest name and employer: the beneficiary wraps on four lines": fields(learner=LONG_NAME, employer=LONG_EMPLOYER),
    "long action title on four lines, VAE": fields(action={"id": "ACT-2", "title": LONG_TITLE}, nature="vae"),
    "apprentissage, every distance rule": fields(nature="apprentissage", hours="1207.25", distance={
        "foad": {"connection_daily_cap": "3.5", "activity_estimates": "oui", "capped_at_planned": "oui"},
        "synchrone": "oui"}),
    "a name of one long word": fields(learner="Aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
    "characters beyond the embedded subset": fields(learner="Łukasz Żółkiewski-Ştefănescu", employer="Ørsted Åsgård ΑΕ"),
    "Greek, and two characters sharing a glyph (µ, μ)": fields(learner="Μαρία Παπαδοπούλου", action={
        "id": "ACT-3", "title": "Mesures en µm et en μm"}),
}


@pytest.mark.parametrize("name", list(CASES))
def test_stamped_certificat_reads_and_looks_like_the_platypus_one(name):
    old, new = both(CASES[name])
    assert new.startswith(pdf_objects.HEADER) and b"ReportLab" in old
    assert_same_page(old, new)
    doc_fields = CASES[name]
    text = compact(pdf_text(new))  # as verification reads it: a word split over two lines is still there
    assert compact(doc_fields["learner"]) in text and compact(doc_fields["action"]["title"]) in text
    # the embedded data, as verification reads it
    embedded, problem = read_embedded(new)
    assert problem is None and embedded["fields"] == doc_fields and embedded["url"] == URL
    reader = PdfReader(io.BytesIO(new))
    assert reader.metadata["/Keywords"] == URL and reader.metadata["/Title"].endswith(doc_fields["learner"])
    assert len(reader.pages) == 1


def test_custom_template_markup_and_texts():
    template = load_templates()["certificat_realisation"]
    template = dict(template, intro="Je soussigné(e) <b>{signatory}</b>,<br/>représentant légal de <i>{organisation}</i>, "
                                    "<font color='#aa0000'>atteste</font> que :",
                    retention="", colour="#004d40", qr_caption="Authenticité du certificat")
    old, new = both(fields(employer="Boulangerie Martin SARL"), template)
    assert_same_page(old, new)
    assert "atteste que" in flat(pdf_text(new)) and "Sans préjudice" not in pdf_text(new)


def test_poppler_rasterises_both_alike(tmp_path):
    """The same comparison with poppler's rasteriser, when installed (PDFium is always)."""
    from PIL import Image

    from tests.documents.conftest import render_png

    pages = []
    for label, pdf in zip(("platypus", "stamped"), both(CASES["longest name and employer: the beneficiary wraps on four lines"])):
        (tmp_path / label).mkdir()
        pages.append(Image.open(render_png(pdf, tmp_path / label, dpi=144)).convert("RGB"))
    diff = ImageChops.difference(*pages).convert("L").point(lambda v: 255 if v > 64 else 0)
    assert diff.histogram()[255] <= 0.0005 * pages[0].size[0] * pages[0].size[1]


def test_empty_header_footer_and_caption():
    template = dict(load_templates()["certificat_realisation"], header=[], footer="", qr_caption="")
    assert_same_page(*both(fields(), template))


@pytest.mark.parametrize("regular, bold", [("DejaVuSerif.ttf", "DejaVuSerifCondensed-Bold.ttf"),
                                           ("DejaVuSansMono.ttf", None)])
def test_other_fonts(regular, bold):
    folder = render.DEJAVU
    if not (folder / regular).exists():
        pytest.skip(f"{folder / regular} not installed (Debian: fonts-dejavu-extra)")
    template = dict(load_templates()["certificat_realisation"], font=str(folder / regular),
                    font_bold=str(folder / bold) if bold else None)
    assert_same_page(*both(fields(learner=LONG_NAME, employer=LONG_EMPLOYER), template))


@pytest.mark.parametrize("kind", ["png with transparency", "jpeg", "missing file"])
def test_the_logo_is_drawn_where_platypus_draws_it(kind, tmp_path):
    from PIL import Image, ImageDraw

    path = tmp_path / ("logo.png" if kind != "jpeg" else "logo.jpg")
    if kind != "missing file":
        image = Image.new("RGBA" if kind != "jpeg" else "RGB", (240, 90), (0, 0, 0, 0) if kind != "jpeg" else "white")
        ImageDraw.Draw(image).ellipse((10, 5, 230, 85), fill=(0, 77, 64, 200))
        image.save(path)
    template = dict(load_templates()["certificat_realisation"], logo=str(path))
    old, new = both(fields(), template)
    assert_same_page(old, new)
    without = both(fields())[1]
    assert (ImageChops.difference(raster(new), raster(without)).getbbox() is None) == (kind == "missing file")


def test_a_story_longer_than_a_page_goes_to_platypus():
    template = dict(load_templates()["certificat_realisation"], retention=" ".join(["Conservation des pièces."] * 300))
    with pytest.raises(DoesNotFit):
        stamp.stamped("certificat_realisation", fields(), template, url=URL, page_url=PAGE_URL, payload=PAYLOAD)
    pdf = stamp.render("certificat_realisation", fields(), template, url=URL, page_url=PAGE_URL, payload=PAYLOAD)
    assert b"ReportLab" in pdf and len(PdfReader(io.BytesIO(pdf)).pages) > 1


def test_markup_it_does_not_draw_goes_to_platypus():
    template = dict(load_templates()["certificat_realisation"], intro="<u>Je soussigné(e)</u> {signatory} atteste que :")
    with pytest.raises(Unsupported):
        stamp.stamped("certificat_realisation", fields(), template, url=URL, page_url=PAGE_URL, payload=PAYLOAD)
    pdf = stamp.render("certificat_realisation", fields(), template, url=URL, page_url=PAGE_URL, payload=PAYLOAD)
    assert b"ReportLab" in pdf and "Je soussigné(e) Claire Fontaine atteste que" in flat(pdf_text(pdf))


def test_other_types_are_platypus_and_the_render_job_stamps_certificats():
    templates = load_templates()
    job = ("certificat_realisation", fields(), templates["certificat_realisation"], URL, PAGE_URL, PAYLOAD)
    assert _render_job(job).startswith(pdf_objects.HEADER)  # issuing (its thread or process pool) stamps
    assiduite = dict(fields(type="attestation_assiduite"), planned_hours="70", attendance_rate="92.1")
    pdf = _render_job(("attestation_assiduite", assiduite, templates["attestation_assiduite"], URL, PAGE_URL, PAYLOAD))
    assert b"ReportLab" in pdf and "Attestation d'assiduité".upper() in pdf_text(pdf)
