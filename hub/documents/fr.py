"""French formatting for documents: « 16 octobre 2026 », « 64,5 heures », « 92,1 % ».

A non-breaking space (U+00A0) joins a number and its unit so that a line never wraps between
them; thousands are grouped with the same space (« 1 250 heures »).
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from decimal import Decimal, InvalidOperation

NBSP = "\u00a0"
MONTHS = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre",
          "novembre", "décembre")


def as_date(value: dt.date | str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def date_fr(value: dt.date | str) -> str:
    """« 1er octobre 2026 », « 16 octobre 2026 »."""
    day = as_date(value)
    number = "1er" if day.day == 1 else str(day.day)
    return f"{number} {MONTHS[day.month - 1]} {day.year}"


def number_fr(value: Decimal | int | float | str) -> str:
    """« 64,5 », « 70 », « 1 250,25 » (no trailing zeros, comma decimal, grouped thousands)."""
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return str(value)
    number = number.quantize(Decimal("0.01")) if number != number.to_integral_value() else number.to_integral_value()
    sign = "-" if number < 0 else ""
    text = format(abs(number), "f")
    whole, _, frac = text.partition(".")
    frac = frac.rstrip("0")
    groups = []
    while len(whole) > 3:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    groups.insert(0, whole)
    return sign + NBSP.join(groups) + ("," + frac if frac else "")


def hours_fr(value: Decimal | int | float | str) -> str:
    """« 64,5 heures », « 1,5 heure » (plural from 2, the French rule)."""
    number = Decimal(str(value))
    return f"{number_fr(number)}{NBSP}{'heures' if abs(number) >= 2 else 'heure'}"


def percent_fr(value: Decimal | int | float | str) -> str:
    return f"{number_fr(value)}{NBSP}%"


def score_fr(score, max_score) -> str:
    if score is None:
        return ""
    return f"{number_fr(score)}/{number_fr(max_score)}" if max_score is not None else number_fr(score)


def slug(text: str, limit: int = 40) -> str:
    """ASCII file-name part: « Chloé N'Diaye » → « chloe-ndiaye »."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    out, dash = [], False
    for ch in plain:
        if ch.isalnum():
            out.append(ch)
            dash = False
        elif ch in "'’":
            continue
        elif not dash and out:
            out.append("-")
            dash = True
    return "".join(out).strip("-")[:limit].strip("-") or "x"
