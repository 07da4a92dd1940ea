"""How a profile's text files are written: the CSV dialect and the encoding."""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, TextIO

#: the encodings a profile may name, as a closed list (a format accepting any codec checks with check_encoding)
ENCODINGS = ("utf-8", "utf-8-sig", "cp1252", "iso-8859-1", "iso-8859-15")


@dataclass(frozen=True)
class CsvDialect:
    """Separator, line ending, quoting and encoding of a delimited text file."""

    delimiter: str = ";"
    line_terminator: str = "\r\n"
    quote_all: bool = False
    encoding: str = "utf-8"

    def writer(self, out: TextIO) -> Any:
        """A :func:`csv.writer` on ``out`` in this dialect."""
        return csv.writer(out, delimiter=self.delimiter, lineterminator=self.line_terminator,
                          quoting=csv.QUOTE_ALL if self.quote_all else csv.QUOTE_MINIMAL)

    def text(self, header: list[str] | None, rows: Iterable[list[str]]) -> str:
        """The CSV text of ``rows`` (after ``header`` when given)."""
        out = io.StringIO()
        writer = self.writer(out)
        if header is not None:
            writer.writerow(header)
        writer.writerows(rows)
        return out.getvalue()

    def encode(self, text: str) -> tuple[bytes, list[str]]:
        """``text`` in the dialect's encoding, and the characters it cannot hold (written as ``?``)."""
        try:
            return text.encode(self.encoding), []
        except UnicodeEncodeError:
            bad = sorted({ch for ch in text if not encodable(ch, self.encoding)})
            return text.encode(self.encoding, errors="replace"), bad


def encodable(text: str, encoding: str) -> bool:
    try:
        text.encode(encoding)
        return True
    except UnicodeEncodeError:
        return False


def check_encoding(value: str) -> str:
    """``value`` if Python knows the codec, else ValueError."""
    try:
        codecs.lookup(value)
    except LookupError:
        raise ValueError(f"unknown encoding {value!r} (e.g. utf-8, utf-8-sig, cp1252, iso-8859-15)") from None
    return value


_SHEET_BAD = re.compile(r"[\[\]:*?/\\]")


def check_sheet_name(value: str) -> str:
    """``value`` if Excel accepts it as a sheet name (the length is the model's to check), else ValueError."""
    if _SHEET_BAD.search(value):
        raise ValueError("a sheet name cannot contain [ ] : * ? / \\")
    return value


def check_separator(value: str) -> str:
    """``value`` if it can separate CSV fields, else ValueError."""
    if value in "\"\r\n" or value.isalnum():
        raise ValueError(f"{value!r} cannot separate fields")
    return value
