"""Reading QR codes from a document's first page or from a photo / scan, with Python wheels only.

The page is rendered with PDFium (``pypdfium2``) and the codes are decoded with ZXing
(``zxing-cpp``); photos and scans are opened with Pillow. All three ship binary wheels on PyPI,
so verifying a document needs no system tool. (The tests cross-check these results with
poppler's ``pdftoppm`` and zbar's ``zbarimg`` where they are installed.)
"""

from __future__ import annotations

import io

#: rendering resolution of a PDF page for decoding its QR code (dots per inch)
DPI = 150


def decode_qr(image) -> list[str]:
    """Texts of the QR codes in a Pillow image, in the order ZXing finds them."""
    import zxingcpp  # a compiled extension: loaded on use

    return [code.text for code in zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
            if code.valid and code.text]


def decode_qr_image(data: bytes) -> list[str]:
    """Texts of the QR codes in an image file's bytes (PNG, JPEG, …); [] when it is not an image."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            return decode_qr(image.convert("L"))
    except (UnidentifiedImageError, OSError, ValueError):
        return []


def render_page(pdf: bytes, *, dpi: int = DPI, page: int = 0):
    """A PDF page as a greyscale Pillow image (PDFium); ValueError when the PDF cannot be read."""
    import pypdfium2 as pdfium  # a compiled library: loaded on use

    try:
        document = pdfium.PdfDocument(pdf)
    except pdfium.PdfiumError as exc:
        raise ValueError(f"the PDF cannot be rendered: {exc}") from None
    try:
        return document[page].render(scale=dpi / 72, grayscale=True).to_pil()
    finally:
        document.close()


def decode_qr_pdf(pdf: bytes, *, dpi: int = DPI) -> list[str]:
    """Texts of the QR codes on a PDF's first page; [] when it has none or cannot be rendered."""
    try:
        image = render_page(pdf, dpi=dpi)
    except (ValueError, IndexError):
        return []
    return decode_qr(image)
