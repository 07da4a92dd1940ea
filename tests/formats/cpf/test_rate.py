"""The taux de réalisation: (done ÷ total) × 100, an integer, ≥ .5 rounds up; milestones for distance paths."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from pydantic import ValidationError

from hub.journeys.rate import Milestone, round_rate


@pytest.mark.parametrize("done,total,expected", [
    (30, 50, 60),                    # the CDC's example
    (Decimal("30.5"), 100, 31),      # digit after the point is 5: up
    (Decimal("30.49"), 100, 30),     # 4: down
    (Decimal("30.45"), 100, 30),     # only the first decimal decides
    (2, 3, 67), (1, 3, 33), (1, 200, 1), (Decimal("0.49"), 100, 0),
    (Decimal("17.5"), 70, 25), (Decimal("66.5"), 70, 95),
    (80, 70, 100),                   # never above 100
])
def test_rounding(done, total, expected):
    assert round_rate(done, total)[0] == expected


def test_exact_value_is_kept():
    value, exact = round_rate(2, 3)
    assert value == 67 and exact == Fraction(200, 3)
    with pytest.raises(ValueError):
        round_rate(1, 0)


def test_a_milestone_has_one_kind():
    assert Milestone(id="m", activity="mod-js").weight == 1
    for bad in ({"id": "m"}, {"id": "m", "activity": "a", "assessment": "b"}, {"id": "m", "attendance": True, "activity": "a"}):
        with pytest.raises(ValidationError, match="exactly one"):
            Milestone.model_validate(bad)
    with pytest.raises(ValidationError):
        Milestone(id="m", activity="a", weight=0)
