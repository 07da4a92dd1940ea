"""French public holidays and working days (jours ouvrés), for the EDOF declaration deadlines.

The public holidays come from the maintained ``holidays`` package (France, public category,
French names): the eleven *fêtes légales* of article L3133-1 of the Code du travail (1 January,
Easter Monday, 1 May, 8 May, Ascension, Whit Monday, 14 July, 15 August, 1 November,
11 November, Christmas), with their history (e.g. no Whit Monday in 2005–2007).

Local additions, off unless asked for, are the package's subdivisions where the CPF applies:

* ``alsace_moselle`` (Bas-Rhin, Haut-Rhin, Moselle): Good Friday and 26 December (L3134-13);
* the overseas departments and collectivities, with the commemoration of the abolition of
  slavery (L3422-2 and its decree) and the other local days the package knows: ``guadeloupe``,
  ``martinique``, ``guyane``, ``reunion``, ``mayotte``, ``saint_barthelemy``, ``saint_martin``.

Two holidays on the same day have one entry, their names joined by "; " (Ascension and 8 May in
2059). Years outside the package's range (1803–2100 today) are an error, not an empty list.
Working days (*jours ouvrés*) are Monday to Friday, public holidays excluded.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from typing import Iterable

import holidays

# region name (the ``regions`` key of a cpf export) -> subdivision of holidays.France
SUBDIVISIONS = {"alsace_moselle": "57", "mayotte": "976", "martinique": "972", "guadeloupe": "971",
                "saint_martin": "MF", "guyane": "973", "saint_barthelemy": "BL", "reunion": "974"}
REGIONS = tuple(SUBDIVISIONS)


def _check(regions: Iterable[str]) -> tuple[str, ...]:
    regions = tuple(sorted(set(regions)))
    for region in regions:
        if region not in SUBDIVISIONS:
            raise ValueError(f"unknown region {region!r} (known: {', '.join(REGIONS)})")
    return regions


@lru_cache(maxsize=256)
def _holidays(year: int, regions: tuple[str, ...]) -> dict[dt.date, str]:
    if not holidays.France.start_year <= year <= holidays.France.end_year:  # the package gives nothing outside
        raise ValueError(f"public holidays are known from {holidays.France.start_year} to "
                         f"{holidays.France.end_year}, not for {year}")
    days: dict[dt.date, str] = {}
    for subdiv in [None, *(SUBDIVISIONS[r] for r in regions)]:
        for day, name in holidays.France(years=year, subdiv=subdiv, language="fr").items():
            days.setdefault(day, name)
    return dict(sorted(days.items()))


def public_holidays(year: int, regions: Iterable[str] = ()) -> dict[dt.date, str]:
    """The public holidays of ``year`` (date -> name), with the local ones of ``regions``."""
    return dict(_holidays(year, _check(regions)))


class WorkingCalendar:
    """Jours ouvrés: Monday–Friday minus public holidays (and any ``extra`` closed dates)."""

    def __init__(self, regions: Iterable[str] = (), extra: Iterable[dt.date] = ()):
        self.regions = _check(regions)
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
