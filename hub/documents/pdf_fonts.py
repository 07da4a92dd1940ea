"""A TrueType font embedded as a CID-keyed font (Type0, ``Identity-H``), subset once per process.

Each character gets a glyph id of its own, for the life of the process, the first time it is
written (:meth:`EmbeddedFont.encode`): text is written as 2-byte glyph ids, so what a paragraph
was encoded to stays valid for every later document. A document embeds the font's *base* subset —
the characters given when the font is prepared (:data:`FRENCH`: what texts, names and titles in
French usually hold), built and deflated once — plus the characters it uses beyond those (an
``ł`` in a name), the font built once per set of such characters and kept (:meth:`EmbeddedFont.objects`).

The glyph data, metrics and widths are reportlab's (its TrueType parser, the same widths its line
breaking measures with): a character prints where platypus would have put it. Two characters
sharing a glyph in the font (U+00B5 and U+03BC) get a copy each, so that the text read back (the
``ToUnicode`` map) is the text written; the no-break space is written as a space, as reportlab
writes it. A character the font lacks prints as its missing-glyph box, and reads back as itself.
"""

from __future__ import annotations

import hashlib
import threading
import zlib
from collections import OrderedDict
from struct import pack, unpack

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import (
    FF_NONSYMBOLIC,
    FF_SYMBOLIC,
    GF_ARG_1_AND_2_ARE_WORDS,
    GF_MORE_COMPONENTS,
    GF_WE_HAVE_A_SCALE,
    GF_WE_HAVE_A_TWO_BY_TWO,
    GF_WE_HAVE_AN_X_AND_Y_SCALE,
    TTFontMaker,
)

from hub.documents.pdf_objects import ref, stream

#: what names, titles and addresses in French usually hold, besides the fixed texts: embedded in
#: every document, so that most documents need no font of their own
FRENCH = ("".join(chr(c) for c in range(0x20, 0x7F)) + "\u00a0«»°·àâäçéèêëîïôöùûüÿœæÀÂÄÇÉÈÊËÎÏÔÖÙÛÜŸŒÆ"
          "’‘“”–—…•€")
MAX_GLYPHS = 0xFFFF  # glyph ids are written in two bytes


class Unsupported(Exception):
    """What the stamped writer does not write (the platypus renderer does)."""


_COPIED_TABLES = ("OS/2", "cvt ", "fpgm", "prep")  # as reportlab's subsets (hinting kept: same rendering)
_CACHED_SETS = 64


def _pdf_name(name: bytes) -> bytes:
    """``name`` as the characters of a PDF name (``#xx`` for delimiters, spaces and non-ASCII bytes)."""
    return b"".join(bytes([c]) if 0x21 <= c <= 0x7E and c not in b"()<>[]{}/%#" else b"#%02X" % c for c in name)


def _component_offsets(data: bytes) -> list[int]:
    """Offsets of the glyph indices of a composite glyph's components (``data``: its glyf record)."""
    offsets = []
    position = 10
    flags = GF_MORE_COMPONENTS
    while flags & GF_MORE_COMPONENTS:
        flags = unpack(">H", data[position:position + 2])[0]
        offsets.append(position + 2)
        position += 4 + (4 if flags & GF_ARG_1_AND_2_ARE_WORDS else 2)
        if flags & GF_WE_HAVE_A_SCALE:
            position += 2
        elif flags & GF_WE_HAVE_AN_X_AND_Y_SCALE:
            position += 4
        elif flags & GF_WE_HAVE_A_TWO_BY_TWO:
            position += 8
    return offsets


class EmbeddedFont:
    """One registered reportlab TrueType font (``pdfmetrics.getFont(name)``), written as glyph ids."""

    def __init__(self, font_name: str, base: str):
        self.font_name = font_name
        self.face = pdfmetrics.getFont(font_name).face
        self._glyf = self.face.get_table("glyf")
        self._lock = threading.Lock()
        self.sources: list[int] = [0]  # our glyph id -> the font's glyph index
        self.codes: list[int | None] = [None]  # our glyph id -> its character (None: a composite's part)
        self.parts: list[tuple[int, ...]] = [()]  # our glyph id -> our glyph ids of its components
        self._part_of: dict[int, int] = {}  # the font's glyph index -> our glyph id drawing it as a part
        self._hex: dict[int, str] = {}  # character -> its glyph id in 4 hex digits (str.translate table)
        self._made: OrderedDict[tuple[frozenset[int], int], list[bytes]] = OrderedDict()
        self.encode(base)
        self.base = frozenset(range(len(self.sources)))
        self.base_chars = frozenset(map(chr, self._hex))  # the characters of the base subset

    # ------------------------------------------------------------------ glyph ids

    def _new_glyph(self, source: int, code: int | None) -> int:
        gid = len(self.sources)
        if gid >= MAX_GLYPHS:
            raise Unsupported(f"more than {MAX_GLYPHS} characters written with {self.font_name} in this process")
        self.sources.append(source)
        self.codes.append(code)
        self.parts.append(())
        start, end = self.face.glyphPos[source], self.face.glyphPos[source + 1]
        data = self._glyf[start:end]
        if len(data) > 2 and unpack(">h", data[:2])[0] < 0:
            parts = []
            for offset in _component_offsets(data):
                index = unpack(">H", data[offset:offset + 2])[0]
                if index not in self._part_of:
                    self._part_of[index] = self._new_glyph(index, None)
                parts.append(self._part_of[index])
            self.parts[gid] = tuple(parts)
        return gid

    def encode(self, text: str) -> str:
        """``text`` as hexadecimal glyph ids (for ``<…> Tj``), giving new characters their glyph id."""
        missing = {ord(c) for c in text} - self._hex.keys()
        if missing:
            with self._lock:
                for code in sorted(missing - self._hex.keys()):
                    if code == 0xA0:
                        continue
                    gid = self._new_glyph(self.face.charToGlyph.get(code, 0), code)
                    self._hex[code] = f"{gid:04X}"
                if 0xA0 in missing:
                    if 0x20 not in self._hex:
                        self._hex[0x20] = f"{self._new_glyph(self.face.charToGlyph.get(0x20, 0), 0x20):04X}"
                    self._hex[0xA0] = self._hex[0x20]
        return text.translate(self._hex)

    def extras(self, chars: set[str]) -> frozenset[int]:
        """Our glyph ids of ``chars`` (already encoded) that are not in the base subset."""
        return frozenset(int(self._hex[ord(c)], 16) for c in chars - self.base_chars)

    def width(self, gid: int) -> float:
        code = self.codes[gid]
        return self.face.getCharWidth(code) if code is not None else 0

    # ------------------------------------------------------------------ the font program

    def _closure(self, gids: frozenset[int]) -> list[int]:
        needed = set(gids) | {0}
        todo = list(needed)
        while todo:
            for part in self.parts[todo.pop()]:
                if part not in needed:
                    needed.add(part)
                    todo.append(part)
        return sorted(needed)

    def program(self, gids: frozenset[int]) -> bytes:
        """The TrueType font holding the glyphs ``gids`` (and their parts) at their glyph ids; the
        others are empty."""
        face, glyf = self.face, self._glyf
        needed = self._closure(gids)
        count = needed[-1] + 1
        wanted = set(needed)
        chunks, offsets, position = [], [], 0
        metrics = []
        for gid in range(count):
            offsets.append(position)
            source = self.sources[gid]
            metrics.append(face.hmetrics[source])
            if gid not in wanted:
                continue
            start, end = face.glyphPos[source], face.glyphPos[source + 1]
            data = glyf[start:end]
            if self.parts[gid]:
                patched = bytearray(data)
                for offset, part in zip(_component_offsets(data), self.parts[gid]):
                    patched[offset:offset + 2] = pack(">H", part)
                data = bytes(patched)
            data += b"\0" * (-len(data) % 4)
            chunks.append(data)
            position += len(data)
        offsets.append(position)
        maker = TTFontMaker()
        for tag in _COPIED_TABLES:
            if tag in face.table:
                maker.add(tag, face.get_table(tag))
        maker.add("post", b"\x00\x03\x00\x00" + face.get_table("post")[4:16] + b"\x00" * 16)
        maker.add("hmtx", b"".join(pack(">HH", int(aw), int(lsb) & 0xFFFF) for aw, lsb in metrics))
        hhea = face.get_table("hhea")
        maker.add("hhea", hhea[:34] + pack(">H", count) + hhea[36:])
        maxp = face.get_table("maxp")
        maker.add("maxp", maxp[:4] + pack(">H", count) + maxp[6:])
        maker.add("glyf", b"".join(chunks))
        maker.add("loca", pack(f">{len(offsets)}L", *offsets))
        head = face.get_table("head")
        maker.add("head", head[:50] + pack(">h", 1) + head[52:])
        return maker.makeStream()

    def objects(self, extras: frozenset[int], first: int) -> list[bytes]:
        """The five objects of this font (numbered from ``first``: Type0 font, CIDFontType2, font
        descriptor, font program, ToUnicode map) for a document using the base subset and ``extras``;
        kept for the next documents using the same (the last 64 sets)."""
        key = (extras, first)
        with self._lock:
            made = self._made.get(key)
            if made is not None:
                self._made.move_to_end(key)
                return made
        made = self._objects(self.base | extras, first)
        with self._lock:
            self._made[key] = made
            while len(self._made) > _CACHED_SETS:
                self._made.popitem(last=False)
        return made

    def _objects(self, gids: frozenset[int], first: int) -> list[bytes]:
        face = self.face
        tag = "".join(chr(65 + b % 26) for b in hashlib.sha256(repr(sorted(gids)).encode()).digest()[:6])
        base_font = tag.encode("ascii") + b"+" + _pdf_name(face.name)
        coded = sorted(g for g in gids if self.codes[g] is not None and g)
        widths = b" ".join(b"%d [%.3f]" % (g, self.width(g)) for g in coded)
        flags = (face.flags & ~FF_NONSYMBOLIC) | FF_SYMBOLIC
        bbox = b" ".join(b"%.3f" % v for v in face.bbox)
        type0 = (b"<< /Type /Font /Subtype /Type0 /BaseFont /%s /Encoding /Identity-H /DescendantFonts [%s] "
                 b"/ToUnicode %s >>" % (base_font, ref(first + 1), ref(first + 4)))
        cid = (b"<< /Type /Font /Subtype /CIDFontType2 /BaseFont /%s /CIDSystemInfo << /Registry (Adobe) "
               b"/Ordering (Identity) /Supplement 0 >> /FontDescriptor %s /DW %.3f /W [%s] /CIDToGIDMap /Identity >>"
               % (base_font, ref(first + 2), face.defaultWidth, widths))
        descriptor = (b"<< /Type /FontDescriptor /FontName /%s /Flags %d /FontBBox [%s] /ItalicAngle %.3f "
                      b"/Ascent %.3f /Descent %.3f /CapHeight %.3f /StemV %d /MissingWidth %.3f /FontFile2 %s >>"
                      % (base_font, flags, bbox, face.italicAngle, face.ascent, face.descent, face.capHeight,
                         face.stemV, face.defaultWidth, ref(first + 3)))
        data = self.program(gids)
        program = stream(b"/Filter /FlateDecode /Length1 %d" % len(data), zlib.compress(data, 9))
        return [type0, cid, descriptor, program, self._to_unicode(coded)]

    def _to_unicode(self, coded: list[int]) -> bytes:
        lines = [b"/CIDInit /ProcSet findresource begin 12 dict begin begincmap /CIDSystemInfo << /Registry (Adobe) "
                 b"/Ordering (UCS) /Supplement 0 >> def /CMapName /Adobe-Identity-UCS def /CMapType 2 def",
                 b"1 begincodespacerange <0000> <FFFF> endcodespacerange"]
        for i in range(0, len(coded), 100):
            chunk = coded[i:i + 100]
            lines.append(b"%d beginbfchar" % len(chunk))
            lines.extend(b"<%04X> <%s>" % (g, chr(self.codes[g]).encode("utf-16-be").hex().upper().encode())
                         for g in chunk)
            lines.append(b"endbfchar")
        lines.append(b"endcmap CMapName currentdict /CMap defineresource pop end end")
        return stream(b"", b"\n".join(lines), compress=True)
