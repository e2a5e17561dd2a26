"""Usage tiers: non-user, light, regular, heavy, per person and period.

The window is the period's calendar month, or, with `tiers.window_days` set, that many days
ending at the period's end (a rolling window). A person's figures are active days (UTC dates
with at least one interaction) and interactions; the department median is taken over the
department's active users.

- non_user: no active day in the window
- light:    at most `light_max_active_days` active days, or fewer interactions than
            `light_below_median_ratio` × the department median
- heavy:    at least `heavy_min_active_days` active days, or at least
            `heavy_above_median_ratio` × the department median interactions
            (active-day light beats median heavy: a burst on two days is not heavy use)
- regular:  everyone else

Tiers describe frequency only; they never create a finding on their own.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from auditor.config import TierSettings
from auditor.db.models import Interaction, Person, UsageTier
from auditor.sample.selection import period_bounds

TIERS = ("non_user", "light", "regular", "heavy")


@dataclass(frozen=True)
class UserUsage:
    user_id: str
    department: str | None
    active_days: int
    interactions: int


def classify(usage: UserUsage, median: float, cfg: TierSettings) -> str:
    """The tier of one person given their department's median interactions."""
    if usage.active_days == 0:
        return "non_user"
    if usage.active_days <= cfg.light_max_active_days:
        return "light"
    if usage.active_days >= cfg.heavy_min_active_days or (
        median > 0 and usage.interactions >= cfg.heavy_above_median_ratio * median
    ):
        return "heavy"
    if median > 0 and usage.interactions < cfg.light_below_median_ratio * median:
        return "light"
    return "regular"


def window_for(period: str, cfg: TierSettings) -> tuple[datetime, datetime]:
    """[start, end): the period's calendar month, or the rolling window ending with it."""
    start, end = period_bounds(period)
    if cfg.window_days is None:
        return start, end
    return end - timedelta(days=cfg.window_days), end


def gather_usage(session: Session, start: datetime, end: datetime) -> list[UserUsage]:
    """Figures for everyone in the directory plus anyone seen in the logs but not in it."""
    day = func.date(Interaction.occurred_at)
    rows = session.execute(
        select(
            Interaction.user_id,
            func.count(func.distinct(day)),
            func.count(Interaction.id),
        )
        .where(Interaction.occurred_at >= start, Interaction.occurred_at < end)
        .where(Interaction.user_id.is_not(None))
        .group_by(Interaction.user_id)
    )
    seen = {uid: (days, count) for uid, days, count in rows}
    departments = dict(session.execute(select(Person.user_id, Person.department)).all())
    users = set(departments) | set(seen)
    return [
        UserUsage(
            user_id=uid,
            department=departments.get(uid),
            active_days=seen.get(uid, (0, 0))[0],
            interactions=seen.get(uid, (0, 0))[1],
        )
        for uid in sorted(users)
    ]


def compute_tiers(session: Session, period: str, cfg: TierSettings) -> dict[str, int]:
    """Recompute and store the tiers of a period (replacing earlier ones); count per tier."""
    start, end = window_for(period, cfg)
    usage = gather_usage(session, start, end)
    by_dept: dict[str | None, list[int]] = defaultdict(list)
    for u in usage:
        if u.active_days:
            by_dept[u.department].append(u.interactions)
    medians = {d: float(statistics.median(v)) for d, v in by_dept.items()}
    existing = {
        t.user_id: t for t in session.scalars(select(UsageTier).where(UsageTier.period == period))
    }
    counts = dict.fromkeys(TIERS, 0)
    for u in usage:
        median = medians.get(u.department, 0.0)
        tier = classify(u, median, cfg)
        counts[tier] += 1
        values = {
            "department": u.department,
            "tier": tier,
            "active_days": u.active_days,
            "interactions": u.interactions,
            "department_median": median,
            "window_start": start,
            "window_end": end,
        }
        row = existing.pop(u.user_id, None)
        if row is None:
            session.add(UsageTier(period=period, user_id=u.user_id, **values))
        else:
            for k, v in values.items():
                setattr(row, k, v)
    if existing:
        session.execute(
            delete(UsageTier).where(
                UsageTier.period == period, UsageTier.user_id.in_(list(existing))
            )
        )
    session.flush()
    return counts
