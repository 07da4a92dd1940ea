"""French public holidays, the local calendars, and working days (jours ouvrés).

The public holidays come from the maintained ``holidays`` package (France, French names): the
eleven *fêtes légales* of article L3133-1 of the Code du travail (1 January, Easter Monday,
1 May, 8 May, Ascension, Whit Monday, 14 July, 15 August, 1 November, 11 November, Christmas),
with their history (e.g. no Whit Monday in 2005–2007).

A *calendar* names where the training takes place, as the configuration says it (``hub.calendar``,
``actions.<id>.calendar``): ``metropole`` (the national days only), or a local calendar that adds
the package's subdivision days:

* ``alsace_moselle`` (Bas-Rhin 67, Haut-Rhin 68, Moselle 57): Good Friday and 26 December
  (L3134-13);
* the overseas departments and collectivities, with the commemoration of the abolition of
  slavery (L3422-2 and its decree) and the other local days the package knows: ``guadeloupe``
  (971), ``martinique`` (972), ``guyane`` (973), ``reunion`` (974), ``mayotte`` (976),
  ``saint_barthelemy``, ``saint_martin``.

A department number is accepted as well: 57, 67 and 68 are ``alsace_moselle``, 971–976 their
overseas calendar, any other metropolitan department (01–95, 2A, 2B) ``metropole``.

Two holidays on the same day have one entry, their names joined by "; " (Ascension and 8 May in
2059). Years outside the package's range (1803–2100 today) are an error, not an empty list. The
package is imported on first use: a command that needs no calendar does not load it.
"""

from __future__ import annotations

import datetime as dt
import re
from functools import lru_cache
from typing import Iterable

METROPOLE = "metropole"
# calendar name -> subdivision of holidays.France (None: the national days only)
SUBDIVISIONS: dict[str, str | None] = {
    METROPOLE: None, "alsace_moselle": "57", "guadeloupe": "971", "martinique": "972", "guyane": "973",
    "reunion": "974", "mayotte": "976", "saint_barthelemy": "BL", "saint_martin": "MF",
}
#: the local calendars (what a list of ``regions`` may name)
REGIONS = tuple(name for name in SUBDIVISIONS if name != METROPOLE)
DEPARTMENTS = {"57": "alsace_moselle", "67": "alsace_moselle", "68": "alsace_moselle", "971": "guadeloupe",
               "972": "martinique", "973": "guyane", "974": "reunion", "976": "mayotte"}
METROPOLITAN_DEPARTMENT = re.compile(r"^(0[1-9]|1[0-9]|2[1-9AB]|[3-8][0-9]|9[0-5])$")


def calendar_name(value: str) -> str:
    """The calendar a configured value names (a calendar name or a department number), or a ValueError."""
    text = str(value).strip()
    if text in SUBDIVISIONS:
        return text
    if text in DEPARTMENTS:
        return DEPARTMENTS[text]
    if METROPOLITAN_DEPARTMENT.match(text.upper()):
        return METROPOLE
    raise ValueError(f"unknown calendar {value!r}: use {', '.join(SUBDIVISIONS)}, or a department number "
                     "(01–95, 2A, 2B, 971–974, 976)")


def _regions(regions: Iterable[str]) -> tuple[str, ...]:
    names = {calendar_name(r) for r in regions}
    return tuple(sorted(names - {METROPOLE}))


@lru_cache(maxsize=256)
def _holidays(year: int, regions: tuple[str, ...]) -> dict[dt.date, str]:
    import holidays  # on first use: about 0.1 s to import

    if not holidays.France.start_year <= year <= holidays.France.end_year:  # the package gives nothing outside
        raise ValueError(f"public holidays are known from {holidays.France.start_year} to "
                         f"{holidays.France.end_year}, not for {year}")
    days: dict[dt.date, str] = {}
    for subdiv in [None, *(SUBDIVISIONS[r] for r in regions)]:
        for day, name in holidays.France(years=year, subdiv=subdiv, language="fr").items():
            days.setdefault(day, name)
    return dict(sorted(days.items()))


def public_holidays(year: int, regions: Iterable[str] = ()) -> dict[dt.date, str]:
    """The public holidays of ``year`` (date -> name), with the local ones of ``regions`` (calendars)."""
    return dict(_holidays(year, _regions(regions)))


def holiday(day: dt.date, calendar: str = METROPOLE) -> str | None:
    """The name of the public holiday ``day`` is in ``calendar``, or None."""
    return _holidays(day.year, _regions([calendar])).get(day)


class WorkingCalendar:
    """Jours ouvrés: Monday–Friday minus public holidays (and any ``extra`` closed dates)."""

    def __init__(self, regions: Iterable[str] = (), extra: Iterable[dt.date] = ()):
        self.regions = _regions(regions)
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
