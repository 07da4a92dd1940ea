"""French public holidays (Code du travail L3133-1) and working days."""

from __future__ import annotations

import datetime as dt

import pytest

from funder_formats.cpf.holidays import WorkingCalendar, easter_sunday, public_holidays

D = dt.date


@pytest.mark.parametrize("year,expected", [
    (1818, D(1818, 3, 22)), (2000, D(2000, 4, 23)), (2024, D(2024, 3, 31)), (2025, D(2025, 4, 20)),
    (2026, D(2026, 4, 5)), (2027, D(2027, 3, 28)), (2038, D(2038, 4, 25)), (2285, D(2285, 3, 22)),
])
def test_easter_sunday(year, expected):
    assert easter_sunday(year) == expected


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
    for year in range(2020, 2060):
        days = {name: day for day, name in public_holidays(year).items()}
        assert days["Ascension"].weekday() == 3 and days["Lundi de Pentecôte"].weekday() == 0
        assert days["Lundi de Pâques"] - easter_sunday(year) == dt.timedelta(days=1)


def test_local_holidays():
    alsace = public_holidays(2026, ["alsace_moselle"])
    assert alsace[D(2026, 4, 3)] == "Vendredi saint" and D(2026, 12, 26) in alsace and len(alsace) == 13
    assert D(2026, 5, 22) in public_holidays(2026, ["martinique"])
    with pytest.raises(ValueError, match="unknown region"):
        WorkingCalendar(["bretagne"])


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
