"""Paragraphs broken into lines by platypus' own rules, written as PDF operators; the column they
stack in, by the rules of a platypus frame.

:func:`lay_out` asks reportlab's ``Paragraph`` to break a paragraph (its markup parser, string
widths and line breaking: a long name or title wraps exactly where the platypus renderer wraps it,
and a line a little too long is shrunk by the same word spacing), then writes the lines itself,
with the fonts of :mod:`hub.documents.pdf_fonts`. The result does not depend on where the
paragraph goes, so it is kept (the last 4,096): a fixed text is laid out once per process, and a
document pays only for its own values. Markup the writer does not draw (images, links,
underlines, backgrounds, justified text) raises :class:`Unsupported`; the caller renders with
platypus instead.

:class:`Column` stacks paragraphs and spacers top-down as a platypus ``Frame`` does (its 6 pt
paddings, space before dropped at the top, space after and the next space before overlapping), and
raises :class:`DoesNotFit` where platypus would start a new page.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from reportlab import rl_config
from reportlab.lib.enums import TA_CENTER, TA_LEFT, TA_RIGHT
from reportlab.platypus import Paragraph, Spacer

from hub.documents.pdf_fonts import FRENCH, EmbeddedFont, Unsupported

PADDING = 6.0  # a platypus Frame's padding on each side
_FUZZ = rl_config._FUZZ
_UNDRAWN = ("cbDefn", "link", "backColor", "us_lines", "underline", "strike")


class DoesNotFit(Exception):
    """The story needs more than the column: platypus would break the page."""


_fonts_lock = threading.Lock()
_fonts: dict[str, tuple[EmbeddedFont, str]] = {}


def font(font_name: str) -> tuple[EmbeddedFont, str]:
    """The embedded font of a registered reportlab font, and its resource name (``F1``, ``F2``…)."""
    found = _fonts.get(font_name)
    if found is None:
        with _fonts_lock:
            found = _fonts.get(font_name)
            if found is None:
                found = _fonts[font_name] = (EmbeddedFont(font_name, FRENCH + "☐☒"), f"F{len(_fonts) + 1}")
    return found


def used_fonts() -> list[tuple[EmbeddedFont, str]]:
    return list(_fonts.values())


@dataclass(frozen=True)
class Laid:
    """A paragraph laid out: its height, the operators drawing it with its bottom-left corner at
    the origin, the fonts it prints with and, per font, the characters beyond the font's base subset."""

    height: float
    ops: str
    chars: tuple[tuple[str, frozenset[str]], ...]  # (reportlab font name, characters beyond its base subset)
    space_before: float
    space_after: float


def _colour(colour: Any) -> str:
    r, g, b = colour.rgb() if colour is not None else (0, 0, 0)
    return f"{r:.6g} {g:.6g} {b:.6g} rg"


def _runs_of(blpara, line) -> tuple[list[tuple[str, float, Any, str]], float, int]:
    """(font name, size, colour, text) of each run of a broken line; its extra space; its spaces."""
    if blpara.kind == 0:
        extra, words = line
        text = " ".join(words)
        return [(blpara.fontName, blpara.fontSize, blpara.textColor, text)], extra, \
            len(words) + text.count("\xa0") - 1
    runs = []
    for frag in line.words:
        if any(getattr(frag, name, None) for name in _UNDRAWN) or getattr(frag, "rise", 0):
            raise Unsupported("inline markup other than bold, italic, colour and line breaks")
        if frag.text:
            runs.append((frag.fontName, frag.fontSize, frag.textColor, frag.text))
    spaces = line.wordCount + sum(frag.text.count("\xa0") for frag in line.words) - 1
    return runs, line.extraSpace, spaces


@lru_cache(maxsize=4096)
def lay_out(text: str, style: Any, width: float) -> Laid:
    """``text`` (platypus paragraph markup) in ``style`` broken to ``width`` points, as operators."""
    paragraph = Paragraph(text, style)
    paragraph.wrap(width, 0x7FFFFFFF)
    blpara = paragraph.blPara
    if style.alignment not in (TA_LEFT, TA_CENTER, TA_RIGHT) or paragraph.bulletText:
        raise Unsupported(f"paragraph alignment {style.alignment} or bullet")
    if blpara.kind == 0 and (getattr(blpara, "us_lines", None) or getattr(blpara, "link", None)):
        raise Unsupported("underlined or linked paragraph")
    height = paragraph.height
    first = blpara.lines[0] if blpara.kind == 1 and blpara.lines else blpara  # platypus sets line 1 from it
    top = first.fontSize if rl_config.paraFontSizeHeightOffset else getattr(first, "ascent", first.fontSize)
    ops = ["BT"]
    chars: dict[str, set[str]] = {}
    current_font = current_colour = None
    for number, line in enumerate(blpara.lines):
        runs, extra, spaces = _runs_of(blpara, line)
        if not runs:
            continue
        y = height - top - number * style.leading
        shrink = extra < -1e-8 and spaces > 0
        x = style.leftIndent + (style.firstLineIndent if number == 0 else 0)
        if not shrink and style.alignment == TA_CENTER:
            x += 0.5 * extra
        elif not shrink and style.alignment == TA_RIGHT:
            x += extra
        ops.append(f"1 0 0 1 {x:.5f} {y:.5f} Tm")
        for font_name, font_size, colour, run in runs:
            embedded, resource = font(font_name)
            chars.setdefault(font_name, set()).update(run)
            if (font_name, font_size) != current_font:
                ops.append(f"/{resource} {font_size:g} Tf")
                current_font = (font_name, font_size)
            fill = _colour(colour)
            if fill != current_colour:
                ops.append(fill)
                current_colour = fill
            if shrink:  # the line's spaces narrowed, as reportlab's word spacing does
                adjust = f" {-extra / spaces * 1000 / font_size:.3f} "
                pieces = run.replace("\xa0", " ").split(" ")
                coded = [embedded.encode(p + " ") for p in pieces[:-1]] + [embedded.encode(pieces[-1])]
                ops.append("[" + adjust.join(f"<{c}>" for c in coded) + "] TJ")
            else:
                ops.append(f"<{embedded.encode(run)}> Tj")
    ops.append("ET")
    return Laid(height, "\n".join(ops), tuple((name, frozenset(c - font(name)[0].base_chars))
                                              for name, c in chars.items()),
                style.spaceBefore, style.spaceAfter)


def place(laid: Laid, x: float, y: float) -> str:
    """The operators of ``laid`` with its bottom-left corner at (x, y)."""
    return f"q 1 0 0 1 {x:.5f} {y:.5f} cm\n{laid.ops}\nQ"


class Column:
    """A platypus frame's column: (x, y) of its bottom-left corner, width and height."""

    def __init__(self, x: float, y: float, width: float, height: float):
        self.x = x + PADDING
        self.width = width - 2 * PADDING
        self.bottom = y + PADDING
        self.y = y + height - PADDING
        self.at_top = True
        self.after = 0.0
        self.placed: list[tuple[Laid, float, float]] = []

    def add(self, block: Any) -> None:
        """Stack a paragraph (``hub.documents.render.Para``), a ``Spacer``, or the items of a ``Keep``."""
        items = getattr(block, "items", None)
        if items is not None:  # kept together: they fit on this page, or platypus would move them all
            for item in items:
                self.add(item)
            return
        if isinstance(block, Spacer):
            laid, height, before, after = None, block.height, 0.0, 0.0
        elif hasattr(block, "text") and hasattr(block, "style"):
            laid = lay_out(block.text, block.style, self.width)
            height, before, after = laid.height, laid.space_before, laid.space_after
        else:
            raise Unsupported(f"{type(block).__name__} blocks")
        space = 0.0 if self.at_top else max(before - self.after, 0.0)
        y = self.y - space - height
        if y < self.bottom - _FUZZ:
            raise DoesNotFit("the story does not fit on one page")
        if laid is not None:
            self.placed.append((laid, self.x, y))
        y -= after
        self.after = after
        if y != self.y:
            self.at_top = False
        self.y = y
