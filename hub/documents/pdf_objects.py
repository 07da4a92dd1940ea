"""Writing a PDF file from its objects: numbered objects, streams, strings, cross-reference table.

A small writer for PDFs whose objects are mostly prepared once (fonts) and a few written per
document (page content, information, embedded data): it formats nothing it is not given, so each
document costs the bytes it differs by. The output is a classic PDF 1.4 file — header, objects,
one ``xref`` table with 20-byte entries, trailer with ``/Root``, ``/Info`` and ``/ID`` — that
pyHanko can extend with an incremental update (PAdES) and pypdf, PDFium and poppler read.
"""

from __future__ import annotations

import datetime as dt
import zlib

HEADER = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n"
_LITERAL_ESCAPES = str.maketrans({"\\": "\\\\", "(": "\\(", ")": "\\)", "\r": "\\r", "\n": "\\n"})


def text_string(text: str) -> bytes:
    """A PDF text string: literal when printable ASCII, else UTF-16BE with its byte order mark."""
    if text.isascii() and text.isprintable():
        return b"(" + text.translate(_LITERAL_ESCAPES).encode("ascii") + b")"
    return b"<FEFF" + text.encode("utf-16-be").hex().upper().encode("ascii") + b">"


def date_string(when: dt.datetime | None) -> bytes:
    """A PDF date (``D:YYYYMMDDHHmmSS+00'00'``) of ``when`` in UTC; None: 1 January 2000, as an
    invariant document (for reproducible output) says."""
    when = (when or dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc)).astimezone(dt.timezone.utc)
    return b"(D:" + when.strftime("%Y%m%d%H%M%S").encode("ascii") + b"+00'00')"


def ref(number: int) -> bytes:
    return b"%d 0 R" % number


def stream(dictionary: bytes, data: bytes, *, compress: bool = False, level: int = 6) -> bytes:
    """A stream object's body: ``dictionary`` (the entries between ``<<`` and ``>>``, without
    ``/Length`` and ``/Filter``) and ``data``, deflated when ``compress``."""
    if compress:
        data = zlib.compress(data, level)
        dictionary += b" /Filter /FlateDecode"
    return b"<< " + dictionary + b" /Length %d >>\nstream\n" % len(data) + data + b"\nendstream"


def write(objects: list[bytes], *, root: int, info: int, file_id: bytes) -> bytes:
    """The PDF file of ``objects`` (object *n* is ``objects[n - 1]``); ``file_id``: 16 bytes."""
    out = [HEADER]
    offsets = []
    position = len(HEADER)
    for number, body in enumerate(objects, 1):
        chunk = b"%d 0 obj\n" % number + body + b"\nendobj\n"
        offsets.append(position)
        out.append(chunk)
        position += len(chunk)
    out.append(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    out.append(b"".join(b"%010d 00000 n \n" % offset for offset in offsets))
    hex_id = file_id.hex().encode("ascii")
    out.append(b"trailer\n<< /Size %d /Root %d 0 R /Info %d 0 R /ID [<%s> <%s>] >>\nstartxref\n%d\n%%%%EOF\n"
               % (len(objects) + 1, root, info, hex_id, hex_id, position))
    return b"".join(out)
