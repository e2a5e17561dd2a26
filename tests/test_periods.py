"""One period parser for every stage."""

from __future__ import annotations

from datetime import datetime

import pytest

from auditor.errors import InputError
from auditor.periods import (
    period_bounds,
    period_label,
    period_of,
    periods_between,
    previous_period,
)


@pytest.mark.parametrize(
    ("period", "start", "end", "label", "previous"),
    [
        ("2026-10", datetime(2026, 10, 1), datetime(2026, 11, 1), "October 2026", "2026-09"),
        ("2026-12", datetime(2026, 12, 1), datetime(2027, 1, 1), "December 2026", "2026-11"),
        ("2027-01", datetime(2027, 1, 1), datetime(2027, 2, 1), "January 2027", "2026-12"),
        ("0001-02", datetime(1, 2, 1), datetime(1, 3, 1), "February 1", "0001-01"),
    ],
)
def test_periods(period: str, start: datetime, end: datetime, label: str, previous: str) -> None:
    assert period_bounds(period) == (start, end)
    assert period_label(period) == label
    assert previous_period(period) == previous
    assert period_of(start) == period and period_of(end) != period


@pytest.mark.parametrize(
    "bad", ["2026-1", "2026-13", "2026-00", "26-10", "2026-10-01", " 2026-10", "", "9999-12"]
)
def test_bad_periods_are_input_errors(bad: str) -> None:
    with pytest.raises(InputError):
        period_bounds(bad)


def test_periods_between() -> None:
    assert periods_between(datetime(2026, 11, 30), datetime(2027, 2, 1)) == [
        "2026-11",
        "2026-12",
        "2027-01",
        "2027-02",
    ]
    assert periods_between(datetime(2026, 5, 2), datetime(2026, 5, 3)) == ["2026-05"]
