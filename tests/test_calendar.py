"""French public holidays (Code du travail L3133-1, from the ``holidays`` package), the local calendars
and working days (hub/journeys/calendar.py; the CPF deadlines count them)."""

from __future__ import annotations

import datetime as dt

import pytest

from funder_formats.cpf import CpfConfig
from hub.journeys.calendar import WorkingCalendar, calendar_name, holiday, public_holidays

D = dt.date


def _by_name(days: dict[dt.date, str]) -> dict[str, dt.date]:
    """name -> date; two holidays on one day are one entry "A; B" (Ascension on 8 May 2059)."""
    return {name: day for day, names in days.items() for name in names.split("; ")}


@pytest.mark.parametrize("year,easter", [
    (2000, D(2000, 4, 23)), (2024, D(2024, 3, 31)), (2025, D(2025, 4, 20)), (2026, D(2026, 4, 5)),
    (2027, D(2027, 3, 28)), (2038, D(2038, 4, 25)), (2059, D(2059, 3, 30)), (2100, D(2100, 3, 28)),
])
def test_the_holidays_that_move_with_easter(year, easter):
    days = _by_name(public_holidays(year))
    assert days["Lundi de Pâques"] == easter + dt.timedelta(days=1)
    assert days["Ascension"] == easter + dt.timedelta(days=39)
    assert days["Lundi de Pentecôte"] == easter + dt.timedelta(days=50)


def test_the_eleven_holidays_of_2026():
    days = public_holidays(2026)
    assert len(days) == 11
    assert days[D(2026, 4, 6)] == "Lundi de Pâques"
    assert days[D(2026, 5, 14)] == "Ascension"
    assert days[D(2026, 5, 25)] == "Lundi de Pentecôte"
    assert {D(2026, 1, 1), D(2026, 5, 1), D(2026, 5, 8), D(2026, 7, 14), D(2026, 8, 15), D(2026, 11, 1),
            D(2026, 11, 11), D(2026, 12, 25)} <= days.keys()
    assert D(2026, 4, 5) not in days  # Easter Sunday itself is not in the list (it is a Sunday anyway)


def test_ascension_is_a_thursday_and_whit_monday_a_monday():
    for year in range(2020, 2101):
        days = _by_name(public_holidays(year))
        assert days["Ascension"].weekday() == 3 and days["Lundi de Pentecôte"].weekday() == 0
        assert days["Lundi de Pâques"].weekday() == 0


def test_years_outside_the_package_range_are_an_error_not_an_empty_calendar():
    assert public_holidays(2059)[D(2059, 5, 8)] == "Ascension; Fête de la Victoire"
    with pytest.raises(ValueError, match="not for 2285"):
        WorkingCalendar().add_working_days(D(2285, 3, 20), 3)


def test_whit_monday_was_not_a_public_holiday_in_2005_to_2007():
    """The law of 30 June 2004 (journée de solidarité) took it off the list; that of 16 April 2008 put it back."""
    assert D(2006, 6, 5) not in public_holidays(2006) and len(public_holidays(2006)) == 10
    assert public_holidays(2008)[D(2008, 5, 12)] == "Lundi de Pentecôte"


def test_local_holidays():
    alsace = public_holidays(2026, ["alsace_moselle"])
    assert alsace[D(2026, 4, 3)] == "Vendredi saint" and D(2026, 12, 26) in alsace and len(alsace) == 13
    assert D(2026, 5, 22) in public_holidays(2026, ["martinique"])
    with pytest.raises(ValueError, match="unknown calendar 'bretagne'"):
        WorkingCalendar(["bretagne"])


def test_alsace_moselle_good_friday_and_saint_stephen_move_deadlines():
    """Good Friday 2027 is 26 March, 26 December 2027 a Sunday; in 2025, a Friday."""
    alsace = WorkingCalendar(["alsace_moselle"])
    assert public_holidays(2027, ["alsace_moselle"])[D(2027, 3, 26)] == "Vendredi saint"
    assert D(2027, 3, 26) not in public_holidays(2027)
    # Wednesday 24 March 2027 + 3 working days: Thu 25, Fri 26, Tue 30 (Easter Monday 29 March)
    assert WorkingCalendar().add_working_days(D(2027, 3, 24), 3) == D(2027, 3, 30)
    assert alsace.add_working_days(D(2027, 3, 24), 3) == D(2027, 3, 31)
    assert public_holidays(2025, ["alsace_moselle"])[D(2025, 12, 26)] == "Saint-Étienne"


@pytest.mark.parametrize("region,day", [
    ("reunion", D(2027, 12, 20)), ("guyane", D(2027, 6, 10)), ("mayotte", D(2027, 4, 27)),
    ("martinique", D(2027, 5, 22)), ("guadeloupe", D(2027, 5, 27)), ("saint_barthelemy", D(2027, 10, 9)),
    ("saint_martin", D(2027, 5, 28)),  # 28 May (decree of 23 April 2012), not 27 May like Guadeloupe
])
def test_overseas_abolition_of_slavery(region, day):
    days = public_holidays(day.year, [region])
    assert days[day] == "Abolition de l'esclavage" and day not in public_holidays(day.year)


def test_overseas_regions_from_the_export_configuration():
    """``regions`` of a cpf export: La Réunion's 20 December (a Monday in 2027) moves a deadline."""
    friday = D(2027, 12, 17)
    assert CpfConfig.model_validate({"kind": "cpf"}).calendar().add_working_days(friday, 3) == D(2027, 12, 22)
    reunion = CpfConfig.model_validate({"kind": "cpf", "regions": ["reunion"]}).calendar()
    assert reunion.add_working_days(friday, 3) == D(2027, 12, 23)
    # Martinique and Guadeloupe also keep Victor Schœlcher's day (21 July)
    assert public_holidays(2027, ["martinique"])[D(2027, 7, 21)] == "Fête de Victor Schoelcher"
    with pytest.raises(ValueError, match="unknown calendar 'bretagne'"):
        CpfConfig.model_validate({"kind": "cpf", "regions": ["bretagne"]})


@pytest.mark.parametrize("start,expected", [
    (D(2026, 10, 5), D(2026, 10, 8)),    # Monday -> Thursday
    (D(2026, 10, 16), D(2026, 10, 21)),  # Friday -> Wednesday (weekend skipped)
    (D(2026, 12, 23), D(2026, 12, 29)),  # Christmas (a Friday) skipped
    (D(2026, 12, 31), D(2027, 1, 6)),    # New Year's Day skipped
    (D(2026, 4, 30), D(2026, 5, 6)),     # 1 May
    (D(2026, 5, 13), D(2026, 5, 19)),    # Ascension Thursday
    (D(2026, 5, 22), D(2026, 5, 28)),    # Whit Monday
    (D(2026, 10, 10), D(2026, 10, 14)),  # from a Saturday
])
def test_three_working_days(start, expected):
    assert WorkingCalendar().add_working_days(start, 3) == expected


def test_closed_dates_and_counting():
    cal = WorkingCalendar(extra=[D(2026, 10, 6)])
    assert cal.add_working_days(D(2026, 10, 5), 3) == D(2026, 10, 9)
    assert WorkingCalendar().working_days_between(D(2026, 12, 23), D(2026, 12, 29)) == 3
    assert WorkingCalendar().add_working_days(D(2025, 12, 24), 3) == D(2025, 12, 30)
    assert WorkingCalendar(["alsace_moselle"]).add_working_days(D(2025, 12, 24), 3) == D(2025, 12, 31)


@pytest.mark.parametrize("value,name", [
    ("metropole", "metropole"), ("69", "metropole"), ("2A", "metropole"), ("01", "metropole"),
    ("57", "alsace_moselle"), ("67", "alsace_moselle"), ("68", "alsace_moselle"), ("alsace_moselle", "alsace_moselle"),
    ("971", "guadeloupe"), ("972", "martinique"), ("973", "guyane"), ("974", "reunion"), ("976", "mayotte"),
])
def test_a_calendar_by_name_or_department(value, name):
    assert calendar_name(value) == name


@pytest.mark.parametrize("value", ["bretagne", "96", "975", "987", "20", ""])
def test_an_unknown_calendar_is_an_error_that_lists_the_known_ones(value):
    with pytest.raises(ValueError, match="unknown calendar .*metropole, alsace_moselle.*department number"):
        calendar_name(value)


def test_the_holiday_of_a_day_in_a_calendar():
    assert holiday(D(2027, 1, 1)) == "Jour de l'an" and holiday(D(2027, 1, 4)) is None
    assert holiday(D(2026, 4, 3)) is None and holiday(D(2026, 4, 3), "67") == "Vendredi saint"
    assert holiday(D(2026, 5, 27), "guadeloupe") == "Abolition de l'esclavage"
