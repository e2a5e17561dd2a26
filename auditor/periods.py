"""Audit periods: calendar months written "YYYY-MM", as every stage uses them.

A period is the half-open window [first instant of the month, first instant of the next) in
naive UTC, the store's convention. One parser, so a period the report accepts is the one the
sample, the tiers and the exports accept.
"""

from __future__ import annotations

import re
from datetime import datetime

from auditor.errors import InputError

_PERIOD = re.compile(r"^(\d{4})-(\d{2})$")
_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def period_bounds(period: str) -> tuple[datetime, datetime]:
    """[start, end) of a "YYYY-MM" period as naive UTC. Raises InputError on anything else."""
    match = _PERIOD.match(period) if isinstance(period, str) else None
    if match is None or not 1 <= int(match.group(2)) <= 12 or int(match.group(1)) < 1:
        raise InputError(f"period {period!r} is not a month", "write it as YYYY-MM, e.g. 2026-10")
    year, month = int(match.group(1)), int(match.group(2))
    start = datetime(year, month, 1)
    if month == 12:
        if year == 9999:
            raise InputError(f"period {period!r} is out of range", "give a month before 9999-12")
        return start, datetime(year + 1, 1, 1)
    return start, datetime(year, month + 1, 1)


def period_of(moment: datetime) -> str:
    """The period a moment falls in."""
    return f"{moment.year:04d}-{moment.month:02d}"


def period_label(period: str) -> str:
    """ "2026-10" -> "October 2026" (English month names: the report does not depend on the
    host's locale)."""
    start, _ = period_bounds(period)
    return f"{_MONTHS[start.month - 1]} {start.year}"


def previous_period(period: str) -> str:
    """ "2026-01" -> "2025-12"."""
    start, _ = period_bounds(period)
    return (
        f"{start.year - 1:04d}-12"
        if start.month == 1
        else f"{start.year:04d}-{start.month - 1:02d}"
    )


def periods_between(first: datetime, last: datetime) -> list[str]:
    """Every period from the one holding `first` to the one holding `last`, in order."""
    out = []
    year, month = first.year, first.month
    while (year, month) <= (last.year, last.month):
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out
