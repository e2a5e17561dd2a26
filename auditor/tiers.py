"""Usage tiers (non-user, light, regular, heavy) and an effective-use view, per person and period.

The window is, by default, the 28 days ending at the period's end (`tiers.window_days`, a
rolling window); with `window_days` unset it is the period's calendar month. A person's figures
are active days (UTC dates with at least one interaction) and interactions; the department
median is taken over the department's active users.

- non_user: no active day in the window
- light:    at most `light_max_active_days` active days, or fewer interactions than
            `light_below_median_ratio` × the department median
- heavy:    at least `heavy_min_active_days` active days, or at least
            `heavy_above_median_ratio` × the department median interactions
            (active-day light beats median heavy: a burst on two days is not heavy use)
- regular:  everyone else

Effective use is a score in [0, 1], computed on request from the store (`effective_use`), never
stored: the weighted mean (weights `tiers.weight_*`, equal by default) of the components that
are known for the person:

- approved workflow: share of the person's interactions in the tier window whose workflow tag
  is an approved workflow of that interaction's tool (policies/data/tools.json)
- policy clean: 1 - share of the person's interactions in the period's newest sample that have
  a confirmed finding; unknown (left out) if none of their interactions was sampled
- breadth: distinct approved workflows used in the window, min(n, `breadth_cap`) / `breadth_cap`
- review completion: share of the person's findings (on that sample, superseded ones left out)
  that have a disposition (any status but open); unknown (left out) if they have none

Heavy and light users are then placed in a 2×2 view against `effective_threshold`: heavy and
effective = champion, heavy and below = review candidate, light and effective = no action,
light and below = training. Regular users and non-users are not placed.

Tiers and the view describe use; frequency alone never creates a finding or a review.
"""

from __future__ import annotations

import json
import statistics
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import delete, distinct, func, select
from sqlalchemy.orm import Session

from auditor.config import Settings, TierSettings
from auditor.db.models import Finding, Interaction, Person, Sample, SampleItem, UsageTier
from auditor.errors import PolicyError
from auditor.findings import SOURCE_SAMPLE
from auditor.periods import period_bounds

TIERS = ("non_user", "light", "regular", "heavy")
# The 2×2 view, heavy row first; regular users and non-users are not placed (None).
QUADRANTS = ("champion", "review_candidate", "no_action", "training")
COMPONENTS = ("approved_workflow", "policy_clean", "breadth", "review_completion")
# Findings a reviewer has not decided; "superseded" ones are no longer produced and not counted.
_UNREVIEWED = "open"
_SUPERSEDED = "superseded"


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
    seen = {uid: (days, count) for uid, days, count in rows if uid is not None}
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


# --------------------------------------------------------------------------- effective use


@dataclass(frozen=True)
class EffectivenessFigures:
    """What the store knows about one person's use, the input of the effective-use score.

    `interactions`, `approved_interactions` and `approved_workflows` count the tier window;
    `sampled`, `sampled_confirmed`, `findings` and `findings_reviewed` the period's newest sample.
    """

    interactions: int = 0
    approved_interactions: int = 0
    approved_workflows: int = 0
    sampled: int = 0
    sampled_confirmed: int = 0
    findings: int = 0
    findings_reviewed: int = 0


@dataclass(frozen=True)
class EffectiveUse:
    """One person's effective-use score, its components (None: unknown) and 2×2 placement."""

    user_id: str
    department: str | None
    tier: str
    score: float | None
    approved_workflow: float | None
    policy_clean: float | None
    breadth: float | None
    review_completion: float | None
    quadrant: str | None


def score_components(f: EffectivenessFigures, cfg: TierSettings) -> dict[str, float | None]:
    """Each component in [0, 1], or None where the figures cannot tell (see the module doc)."""
    used = f.interactions > 0
    return {
        "approved_workflow": f.approved_interactions / f.interactions if used else None,
        "policy_clean": 1 - f.sampled_confirmed / f.sampled if f.sampled else None,
        "breadth": min(f.approved_workflows, cfg.breadth_cap) / cfg.breadth_cap if used else None,
        "review_completion": f.findings_reviewed / f.findings if f.findings else None,
    }


def effectiveness_score(components: Mapping[str, float | None], cfg: TierSettings) -> float | None:
    """The weighted mean of the known components; None if none is known (or all weigh 0)."""
    weights = {
        "approved_workflow": cfg.weight_approved_workflow,
        "policy_clean": cfg.weight_policy_clean,
        "breadth": cfg.weight_breadth,
        "review_completion": cfg.weight_review_completion,
    }
    known = [(weights[k], v) for k, v in components.items() if v is not None]
    total = sum(w for w, _ in known)
    if not total:
        return None
    return sum(w * v for w, v in known) / total


def quadrant(tier: str, score: float | None, cfg: TierSettings) -> str | None:
    """Place a heavy or light user in the 2×2 view; others (or no score) are not placed."""
    if score is None or tier not in ("heavy", "light"):
        return None
    effective = score >= cfg.effective_threshold
    if tier == "heavy":
        return "champion" if effective else "review_candidate"
    return "no_action" if effective else "training"


def assess(
    user_id: str,
    department: str | None,
    tier: str,
    figures: EffectivenessFigures,
    cfg: TierSettings,
) -> EffectiveUse:
    """The effective use of one person from their figures (pure: no store, no files)."""
    parts = score_components(figures, cfg)
    score = effectiveness_score(parts, cfg)
    return EffectiveUse(
        user_id=user_id,
        department=department,
        tier=tier,
        score=score,
        approved_workflow=parts["approved_workflow"],
        policy_clean=parts["policy_clean"],
        breadth=parts["breadth"],
        review_completion=parts["review_completion"],
        quadrant=quadrant(tier, score, cfg),
    )


def load_approved_workflows(
    policy_dir: Path, firm_tools: Path | None = None
) -> dict[str, frozenset[str]]:
    """Tool id -> its approved workflow tags, from `<policy_dir>/data/tools.json` with the
    firm's own registry (`policy.tools`) laid over it.

    Raises PolicyError if the file is missing, is not JSON, or is not shaped as the registry.
    """
    path = policy_dir / "data" / "tools.json"
    hint = "point policy.directory at the policy pack (it holds data/tools.json)"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PolicyError(f"tool registry {path} does not exist", hint) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PolicyError(f"tool registry {path} cannot be read: {exc}", hint) from None
    if not isinstance(data, dict):
        raise PolicyError(f"tool registry {path} is not a JSON object of tools", hint)
    if firm_tools is not None:
        from auditor.policy.engine import merge_firm_tools

        data = merge_firm_tools(data, firm_tools)
    approved: dict[str, frozenset[str]] = {}
    for tool, entry in data.items():
        flows = entry.get("approved_workflows", []) if isinstance(entry, dict) else None
        if not isinstance(flows, list) or not all(isinstance(w, str) for w in flows):
            raise PolicyError(
                f"tool registry {path}: {tool!r} has no list of approved_workflows", hint
            )
        approved[str(tool).lower()] = frozenset(w.lower() for w in flows)
    return approved


def gather_effectiveness(
    session: Session, period: str, approved: Mapping[str, frozenset[str]]
) -> dict[str, tuple[str | None, str, EffectivenessFigures]]:
    """user id -> (department, tier, figures) for everyone tiered in `period`.

    Tool ids and workflow tags are compared case-insensitively. Returns {} if no tiers are
    stored for the period. Raises InputError on a malformed period.
    """
    start, end = period_bounds(period)
    tiers = list(session.scalars(select(UsageTier).where(UsageTier.period == period)))
    if not tiers:
        return {}
    # Window figures, per window stored (one, unless the configuration changed mid-period).
    windows: dict[tuple[datetime, datetime], list[str]] = defaultdict(list)
    for t in tiers:
        windows[(t.window_start, t.window_end)].append(t.user_id)
    total: dict[str, int] = defaultdict(int)
    on_approved: dict[str, int] = defaultdict(int)
    flows: dict[str, set[str]] = defaultdict(set)
    for (w_start, w_end), users in windows.items():
        rows = session.execute(
            select(Interaction.user_id, Interaction.tool, Interaction.workflow, func.count())
            .where(Interaction.occurred_at >= w_start, Interaction.occurred_at < w_end)
            .where(Interaction.user_id.in_(users))
            .group_by(Interaction.user_id, Interaction.tool, Interaction.workflow)
        )
        for uid, tool, workflow, n in rows:
            if uid is None:  # not selected (the window's users are ids), for the type checker
                continue
            total[uid] += n
            flow = (workflow or "").lower()
            if flow and flow in approved.get((tool or "").lower(), frozenset()):
                on_approved[uid] += n
                flows[uid].add(flow)

    sample_id = session.scalars(
        select(Sample.id)
        .where(Sample.period == period)
        .order_by(Sample.created_at.desc(), Sample.id.desc())
        .limit(1)
    ).first()
    sampled: dict[str, int] = {}
    confirmed: dict[str, int] = {}
    findings: dict[str, int] = {}
    reviewed: dict[str, int] = {}
    if sample_id is not None:
        in_sample = (
            select(Interaction.user_id, Interaction.id)
            .join(SampleItem, SampleItem.interaction_id == Interaction.id)
            .where(SampleItem.sample_id == sample_id)
            .where(Interaction.occurred_at >= start, Interaction.occurred_at < end)
            .subquery()
        )
        sampled = dict(
            session.execute(
                select(in_sample.c.user_id, func.count()).group_by(in_sample.c.user_id)
            ).all()
        )
        confirmed = dict(
            session.execute(
                select(in_sample.c.user_id, func.count(distinct(Finding.interaction_id)))
                .join(Finding, Finding.interaction_id == in_sample.c.id)
                .where(Finding.status == "confirmed", Finding.source == SOURCE_SAMPLE)
                .group_by(in_sample.c.user_id)
            ).all()
        )
        for uid, status, n in session.execute(
            select(in_sample.c.user_id, Finding.status, func.count())
            .join(Finding, Finding.interaction_id == in_sample.c.id)
            .where(Finding.status != _SUPERSEDED, Finding.source == SOURCE_SAMPLE)
            .group_by(in_sample.c.user_id, Finding.status)
        ):
            findings[uid] = findings.get(uid, 0) + n
            if status != _UNREVIEWED:
                reviewed[uid] = reviewed.get(uid, 0) + n

    return {
        t.user_id: (
            t.department,
            t.tier,
            EffectivenessFigures(
                interactions=total.get(t.user_id, 0),
                approved_interactions=on_approved.get(t.user_id, 0),
                approved_workflows=len(flows.get(t.user_id, ())),
                sampled=sampled.get(t.user_id, 0),
                sampled_confirmed=confirmed.get(t.user_id, 0),
                findings=findings.get(t.user_id, 0),
                findings_reviewed=reviewed.get(t.user_id, 0),
            ),
        )
        for t in tiers
    }


def effective_use(session: Session, period: str, cfg: Settings) -> dict[str, EffectiveUse]:
    """user id -> effective use, for everyone whose tier is stored for `period`.

    Reads the tool registry from `cfg.policy.directory`; uses `cfg.tiers` for the weights and
    threshold. Raises PolicyError if the registry cannot be read, InputError on a bad period.
    """
    gathered = gather_effectiveness(
        session, period, load_approved_workflows(cfg.policy.directory, cfg.policy.tools)
    )
    return {
        uid: assess(uid, dept, tier, figures, cfg.tiers)
        for uid, (dept, tier, figures) in gathered.items()
    }
