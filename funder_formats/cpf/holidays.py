"""French public holidays and working days (jours ouvrés), for the EDOF declaration deadlines.

The eleven public holidays (*fêtes légales*) are those of article L3133-1 of the Code du
travail: 1 January, Easter Monday, 1 May, 8 May, Ascension Day, Whit Monday, 14 July,
Assumption (15 August), All Saints' Day (1 November), 11 November and Christmas Day. Three of
them move with Easter: Easter Monday (Easter + 1 day), Ascension (Easter + 39 days, a
Thursday) and Whit Monday (Easter + 50 days).

Local additions, off unless asked for:

* ``alsace_moselle`` (Bas-Rhin, Haut-Rhin, Moselle): Good Friday and 26 December
  (article L3134-13);
* the overseas commemorations of the abolition of slavery (article L3422-2 and its decree):
  ``mayotte`` 27 April, ``martinique`` 22 May, ``guadeloupe`` 27 May, ``saint_martin`` 27 May,
  ``guyane`` 10 June, ``saint_barthelemy`` 9 October, ``reunion`` 20 December.

Working days (*jours ouvrés*) are Monday to Friday, public holidays excluded.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from typing import Iterable

REGIONS = ("alsace_moselle", "mayotte", "martinique", "guadeloupe", "saint_martin", "guyane",
           "saint_barthelemy", "reunion")
_OVERSEAS = {"mayotte": (4, 27), "martinique": (5, 22), "guadeloupe": (5, 27), "saint_martin": (5, 27),
             "guyane": (6, 10), "saint_barthelemy": (10, 9), "reunion": (12, 20)}


def easter_sunday(year: int) -> dt.date:
    """Gregorian Easter Sunday (the anonymous Gregorian algorithm, Meeus/Jones/Butcher)."""
    if year < 1583:
        raise ValueError("the Gregorian computus applies from 1583")
    a = year % 19
    b, c = divmod(year, 100)
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    l = (32 + 2 * e + 2 * i - h - k) % 7  # noqa: E741
    m = (a + 11 * h + 22 * l) // 451
    month, day = divmod(h + l - 7 * m + 114, 31)
    return dt.date(year, month, day + 1)


@lru_cache(maxsize=256)
def _holidays(year: int, regions: tuple[str, ...]) -> dict[dt.date, str]:
    easter = easter_sunday(year)
    days = {
        dt.date(year, 1, 1): "Jour de l'an",
        easter + dt.timedelta(days=1): "Lundi de Pâques",
        dt.date(year, 5, 1): "Fête du Travail",
        dt.date(year, 5, 8): "Victoire 1945",
        easter + dt.timedelta(days=39): "Ascension",
        easter + dt.timedelta(days=50): "Lundi de Pentecôte",
        dt.date(year, 7, 14): "Fête nationale",
        dt.date(year, 8, 15): "Assomption",
        dt.date(year, 11, 1): "Toussaint",
        dt.date(year, 11, 11): "Armistice 1918",
        dt.date(year, 12, 25): "Noël",
    }
    for region in regions:
        if region == "alsace_moselle":
            days.setdefault(easter - dt.timedelta(days=2), "Vendredi saint")
            days.setdefault(dt.date(year, 12, 26), "Saint-Étienne")
        elif region in _OVERSEAS:
            month, day = _OVERSEAS[region]
            days.setdefault(dt.date(year, month, day), "Abolition de l'esclavage")
        else:
            raise ValueError(f"unknown region {region!r} (known: {', '.join(REGIONS)})")
    return dict(sorted(days.items()))


def public_holidays(year: int, regions: Iterable[str] = ()) -> dict[dt.date, str]:
    """The public holidays of ``year`` (date -> name), with the local ones of ``regions``."""
    return dict(_holidays(year, tuple(sorted(set(regions)))))


class WorkingCalendar:
    """Jours ouvrés: Monday–Friday minus public holidays (and any ``extra`` closed dates)."""

    def __init__(self, regions: Iterable[str] = (), extra: Iterable[dt.date] = ()):
        self.regions = tuple(sorted(set(regions)))
        for region in self.regions:
            if region not in REGIONS:
                raise ValueError(f"unknown region {region!r} (known: {', '.join(REGIONS)})")
        self.extra = frozenset(extra)

    def is_holiday(self, day: dt.date) -> bool:
        return day in _holidays(day.year, self.regions) or day in self.extra

    def is_working_day(self, day: dt.date) -> bool:
        return day.weekday() < 5 and not self.is_holiday(day)

    def add_working_days(self, start: dt.date, count: int) -> dt.date:
        """The ``count``-th working day after ``start`` (``start`` itself is not counted)."""
        if count < 0:
            raise ValueError("count must be >= 0")
        day = start
        while count:
            day += dt.timedelta(days=1)
            if self.is_working_day(day):
                count -= 1
        return day

    def working_days_between(self, start: dt.date, end: dt.date) -> int:
        """Working days in ``(start, end]``."""
        n, day = 0, start
        while day < end:
            day += dt.timedelta(days=1)
            n += self.is_working_day(day)
        return n
