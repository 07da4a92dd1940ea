"""F-1 to F-4 hours: each line rounded to the nearest whole hour as the form's notice asks; each
total the sum of its printed lines; a note when that sum is not the exact total rounded."""

from __future__ import annotations

from decimal import Decimal

from funder_formats.bpf.compute import ALL_LINES, F1, F3, Figure, _round_trainees


def _figures(f1: dict[str, str], f3: dict[str, str], f4: list[str]):
    figures = {line: Figure(line) for line in ALL_LINES if not (line.startswith("F4-") and line != "F4-total")}
    for key, hours in f1.items():
        figures[f"F1-{key}"].exact_hours, figures[f"F1-{key}"].trainees = Decimal(hours), 1
    for key, hours in f3.items():
        figures[f"F3-{key}"].exact_hours, figures[f"F3-{key}"].trainees = Decimal(hours), 1
    specialities = []
    for i, hours in enumerate(f4, start=1):
        specialities.append(Figure(f"F4-{i}", code=str(300 + i), exact_hours=Decimal(hours), trainees=1))
    specialities.append(Figure("F4-others"))
    return figures, specialities


def test_each_f1_line_is_its_own_hours_rounded_to_the_nearest_hour():
    # three types of trainee with 10.4 h each: 31.2 h in all
    figures, f4 = _figures({"a": "10.4", "c": "10.4", "d": "10.4"}, {"a-5": "31.2"}, ["31.2"])
    notes = _round_trainees(figures, f4)
    assert [figures[f"F1-{x}"].hours for x in F1] == [10, 0, 10, 10, 0]  # not 11 for one of them
    assert figures["F1-total"].hours == 30  # the printed form adds up: the sum of its lines
    assert figures["F3-total"].hours == 31 and figures["F4-total"].hours == 31
    assert any("F-1" in n and "31.2" in n and "30" in n for n in notes), notes


def test_half_an_hour_rounds_up_and_totals_that_agree_need_no_note():
    figures, f4 = _figures({"a": "12.5", "c": "7.25"}, {"a-5": "12.5", "b": "7.25"}, ["12.5", "7.25"])
    notes = _round_trainees(figures, f4)
    assert (figures["F1-a"].hours, figures["F1-c"].hours, figures["F1-total"].hours) == (13, 7, 20)
    assert [figures[f"F3-{x}"].hours for x in F3 if figures[f"F3-{x}"].exact_hours] == [13, 7]
    assert [f.hours for f in f4] == [13, 7, 0] and figures["F4-total"].hours == 20
    assert notes == []
