"""QR codes read in-process (PDFium renders, ZXing decodes): no system tool needed, and the same
texts as poppler's ``pdftoppm`` and zbar's ``zbarimg``, the independent decoders (where installed)."""

from __future__ import annotations

import io

from PIL import Image

from hub.documents.scan import decode_qr_image, decode_qr_pdf, render_page
from hub.documents.verify import verify_bytes
from tests.documents.conftest import render_png, zbar
from tests.documents.test_verify import issue_one, online


def png_bytes(image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


async def test_verifying_a_pdf_and_a_scan_needs_no_system_tool(demo_hub, tmp_path, monkeypatch):
    doc, pdf = await issue_one(demo_hub)
    monkeypatch.setenv("PATH", str(tmp_path))  # no pdftoppm, no zbarimg, nothing
    verdict = await verify_bytes(pdf, **online(demo_hub))
    assert verdict.status == "valid" and {"check": "qr_code", "ok": True,
                                          "detail": "decoded from the rendered page"} in verdict.checks
    # a scan of the printed page: the QR code alone names the document and carries its payload
    scan = png_bytes(render_page(pdf, dpi=200))
    verdict = await verify_bytes(scan, **online(demo_hub), filename="scan.png")
    assert verdict.status == "valid" and verdict.document == doc.id
    assert verdict.fields["learner"] == "Camille Dubois"


async def test_a_tilted_jpeg_photo_still_reads(demo_hub):
    doc, pdf = await issue_one(demo_hub)
    photo = render_page(pdf, dpi=200).convert("RGB").rotate(90, expand=True)
    out = io.BytesIO()
    photo.save(out, format="JPEG", quality=80)
    assert decode_qr_image(out.getvalue()) == [doc.url]
    assert decode_qr_image(b"not an image") == [] and decode_qr_pdf(b"%PDF-1.7 broken") == []


async def test_pdfium_and_zxing_agree_with_poppler_and_zbar(demo_hub, tmp_path):
    doc, pdf = await issue_one(demo_hub)
    ours = decode_qr_pdf(pdf)
    assert ours == [doc.url]
    # poppler renders, ZXing decodes; PDFium renders, zbar decodes; poppler renders, zbar decodes
    poppler_png = render_png(pdf, tmp_path)
    assert decode_qr_image(poppler_png.read_bytes()) == ours
    pdfium_png = tmp_path / "pdfium.png"
    pdfium_png.write_bytes(png_bytes(render_page(pdf)))
    assert zbar(pdfium_png) == ours == zbar(poppler_png)
    assert Image.open(pdfium_png).size == Image.open(poppler_png).size  # same page at the same resolution
