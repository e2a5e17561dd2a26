"""Reviewer precision learned from earlier periods' reviews, and what it suggests about the
findings still open.

For each rule and each detection type: reviewed = findings a reviewer disposed of (confirmed,
false positive, accepted risk) on interactions before the period; precision = confirmed ÷
reviewed, with a two-sided Clopper-Pearson interval. An accepted risk counts as reviewed and
not confirmed: like the plan's deviation, precision here is the share of flags that turned out
to be deviations. Superseded and open findings do not count.

From the rules' precision, the expected number of the sample's awaiting interactions that the
review will confirm: each awaiting interaction is confirmed unless every one of its open
findings is not, P = 1 - prod(1 - p_rule) (rules treated as independent). It is an estimate,
labelled so, and never used for the verdict, which stays with the review itself (see
`stats.review_bounds`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from scipy.stats import beta
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from auditor.db.models import Finding, Interaction

REVIEWED = ("confirmed", "false_positive", "accepted_risk")
# A rule is a tuning candidate when at least this many of its findings were reviewed and its
# precision's upper confidence bound is below TUNING_PRECISION: most of its flags are wrong,
# and the evidence says so beyond chance.
TUNING_MIN_REVIEWED = 5
TUNING_PRECISION = 0.5
INTERVAL_CONFIDENCE = 0.95


@dataclass(frozen=True, slots=True)
class Precision:
    """Reviewer precision of one rule or detection type."""

    kind: str  # "rule" or "entity_type"
    key: str
    reviewed: int
    confirmed: int
    precision: float
    low: float
    high: float
    tuning_candidate: bool


def clopper_pearson(confirmed: int, reviewed: int, confidence: float) -> tuple[float, float]:
    """Two-sided (equal-tailed) exact interval for confirmed/reviewed."""
    tail = (1.0 - confidence) / 2
    low = 0.0 if confirmed == 0 else float(beta.ppf(tail, confirmed, reviewed - confirmed + 1))
    high = (
        1.0
        if confirmed == reviewed
        else float(beta.ppf(1 - tail, confirmed + 1, reviewed - confirmed))
    )
    return low, high


def _rows(kind: str, counts: dict[str, tuple[int, int]]) -> list[Precision]:
    out = []
    for key, (reviewed, confirmed) in sorted(counts.items()):
        low, high = clopper_pearson(confirmed, reviewed, INTERVAL_CONFIDENCE)
        out.append(
            Precision(
                kind=kind,
                key=key,
                reviewed=reviewed,
                confirmed=confirmed,
                precision=confirmed / reviewed,
                low=low,
                high=high,
                tuning_candidate=kind == "rule"
                and reviewed >= TUNING_MIN_REVIEWED
                and high < TUNING_PRECISION,
            )
        )
    return out


def review_precision(session: Session, before: datetime) -> list[Precision]:
    """Precision per rule, then per detection type, from reviews of findings on interactions
    that occurred before `before` (earlier periods). Empty when nothing was reviewed yet."""
    out: list[Precision] = []
    for kind, column in (("rule", Finding.rule_id), ("entity_type", Finding.entity_type)):
        rows = session.execute(
            select(column, Finding.status, func.count())
            .join(Interaction, Interaction.id == Finding.interaction_id)
            .where(Interaction.occurred_at < before, Finding.status.in_(REVIEWED))
            .group_by(column, Finding.status)
        )
        counts: dict[str, tuple[int, int]] = {}
        for key, status, n in rows:
            if kind == "entity_type" and not key:
                continue  # a rule without a detection (an unapproved tool): no type to learn
            reviewed, confirmed = counts.get(key, (0, 0))
            counts[key] = (reviewed + n, confirmed + (n if status == "confirmed" else 0))
        out += _rows(kind, counts)
    return out


@dataclass(frozen=True, slots=True)
class ExpectedConfirmations:
    """The estimate for the awaiting interactions: never a verdict."""

    awaiting: int
    estimated: int  # awaiting interactions whose every open finding's rule has a history
    expected: float  # over those


def expected_confirmations(
    open_rules: dict[int, list[str]], precision: list[Precision]
) -> ExpectedConfirmations:
    """`open_rules`: awaiting interaction id -> the rule ids of its open findings."""
    by_rule = {p.key: p.precision for p in precision if p.kind == "rule"}
    expected = 0.0
    estimated = 0
    for rules in open_rules.values():
        if not rules or any(r not in by_rule for r in rules):
            continue
        none = 1.0
        for rule in rules:
            none *= 1.0 - by_rule[rule]
        expected += 1.0 - none
        estimated += 1
    return ExpectedConfirmations(len(open_rules), estimated, expected)
