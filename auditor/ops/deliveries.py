"""Expected deliveries: did each declared source (`[[sources.feed]]`) deliver what it should,
and was what arrived usable?

A source's interactions are those read from its files or its database (`source_files.
source_name`), counted by the day they are dated (`occurred_at`, UTC), so the check gives the
same answer on every rerun, whatever the schedule. The days checked are the whole days of the
run's periods and of the period holding the last settled day (yesterday, less
`sources.settle_days`), up to that day: a day short of `min_records_per_day`, or a period
short of `min_records_per_period` (a period in progress: its share of the days elapsed), is a
short delivery, one line naming the source. Rows a database source received later than its
lag (not read; see `auditor.ingest.litellm_db`) are a late delivery, also named.

Separately, the input check: more rejected records than `sources.max_rejected_ratio` of those
read, or more skipped files than `sources.max_skipped_files`, is named the same way.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from auditor.config import FeedSettings, SourcesSettings
from auditor.db.models import Interaction, SourceFile
from auditor.ingest.stage import FileResult
from auditor.periods import period_bounds, period_of

MAX_DAYS_NAMED = 10


@dataclass(frozen=True)
class DeliveryProblem:
    """One source's missing, short or late delivery, as the line the run prints and records."""

    source: str
    kind: str  # "short_day", "short_period", "beyond_lag", "missing"
    line: str


def settled_day(today: date, settle_days: int) -> date:
    """The last day whose delivery is checked: yesterday, less `settle_days`."""
    return today - timedelta(days=1 + settle_days)


def periods_to_check(periods: Sequence[str], today: date, settle_days: int) -> list[str]:
    """The run's periods and the period holding the last settled day, in order."""
    last = settled_day(today, settle_days)
    return sorted({*periods, period_of(datetime(last.year, last.month, last.day))})


def _day_counts(session: Session, feed: str, start: datetime, end: datetime) -> dict[date, int]:
    day = func.date(Interaction.occurred_at)
    rows = session.execute(
        select(day, func.count())
        .join(SourceFile, SourceFile.id == Interaction.source_file_id)
        .where(
            SourceFile.source_name == feed,
            Interaction.occurred_at >= start,
            Interaction.occurred_at < end,
        )
        .group_by(day)
    )
    # SQLite's date() is text, PostgreSQL's a date: both read as YYYY-MM-DD.
    return {date.fromisoformat(str(d)[:10]): int(n) for d, n in rows}


def _listed(days: list[date]) -> str:
    shown = ", ".join(d.isoformat() for d in days[:MAX_DAYS_NAMED])
    more = len(days) - MAX_DAYS_NAMED
    return shown + (f" and {more} more" if more > 0 else "")


def check_feed(
    session: Session, feed: FeedSettings, periods: Sequence[str], last_day: date
) -> list[DeliveryProblem]:
    """The short deliveries of one source over the whole days of `periods` up to `last_day`."""
    if feed.min_records_per_day is None and feed.min_records_per_period is None:
        return []
    problems: list[DeliveryProblem] = []
    for period in periods:
        start, end = period_bounds(period)
        first = max(start.date(), feed.expected_from or start.date())
        last = min(end.date() - timedelta(days=1), last_day)
        if last < first:
            continue  # nothing of this period is due (yet)
        until = datetime.combine(last, datetime.min.time()) + timedelta(days=1)
        counts = _day_counts(session, feed.name, start, until)
        days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
        if feed.min_records_per_day is not None:
            short = [d for d in days if counts.get(d, 0) < feed.min_records_per_day]
            if short:
                missing = sum(1 for d in short if counts.get(d, 0) == 0)
                problems.append(
                    DeliveryProblem(
                        feed.name,
                        "short_day",
                        f"source {feed.name}: {len(short)} day(s) of {period} delivered fewer "
                        f"than {feed.min_records_per_day} interactions ({missing} none at all): "
                        f"{_listed(short)}",
                    )
                )
        if feed.min_records_per_period is not None:
            in_period = (end - start).days
            due = math.ceil(feed.min_records_per_period * len(days) / in_period)
            delivered = sum(counts.values())
            if delivered < due:
                share = "" if len(days) == in_period else f" ({len(days)} of {in_period} days)"
                problems.append(
                    DeliveryProblem(
                        feed.name,
                        "short_period",
                        f"source {feed.name}: {period} delivered {delivered} interactions, "
                        f"{due} expected{share}",
                    )
                )
    return problems


def check_deliveries(
    session: Session,
    settings: SourcesSettings,
    periods: Sequence[str],
    files: Sequence[FileResult],
    today: date,
) -> list[DeliveryProblem]:
    """Every declared source's short or late delivery (module docstring)."""
    checked = periods_to_check(periods, today, settings.settle_days)
    last_day = settled_day(today, settings.settle_days)
    problems: list[DeliveryProblem] = []
    for feed in settings.feed:
        problems.extend(check_feed(session, feed, checked, last_day))
    for f in files:
        late = (f.watermark or {}).get("beyond_lag", 0)
        if late:
            problems.append(
                DeliveryProblem(
                    f.display or f.name,
                    "beyond_lag",
                    f"source {f.location}: {late} row(s) arrived more than the lag after the "
                    "watermark and were not read; read them with `auditor ingest --source URL "
                    "--format litellm-db --since YYYY-MM-DD` (or raise lag_minutes)",
                )
            )
    return problems


def input_problems(settings: SourcesSettings, files: Sequence[FileResult]) -> list[str]:
    """Lines for rejected records or skipped files above the configured thresholds."""
    out: list[str] = []
    read = sum(f.total for f in files)
    rejected = sum(f.rejected for f in files)
    limit = settings.max_rejected_ratio
    if limit is not None and read and rejected / read > limit:
        worst = max(files, key=lambda f: f.rejected)
        out.append(
            f"{rejected} of {read} records rejected ({rejected / read:.2%}), more than "
            f"sources.max_rejected_ratio {settings.max_rejected_ratio:.2%}; most from "
            f"{worst.location} ({worst.rejected}): see `auditor runs show` and the "
            "ingest_rejections table"
        )
    skipped = [f for f in files if f.skipped and not f.already_ingested]
    if settings.max_skipped_files is not None and len(skipped) > settings.max_skipped_files:
        names = ", ".join(f.name for f in skipped[:MAX_DAYS_NAMED])
        out.append(
            f"{len(skipped)} file(s) skipped (not a log format, unreadable or refused), more than "
            f"sources.max_skipped_files {settings.max_skipped_files}: {names}"
        )
    return out


__all__ = [
    "DeliveryProblem",
    "check_deliveries",
    "check_feed",
    "input_problems",
    "periods_to_check",
    "settled_day",
]
