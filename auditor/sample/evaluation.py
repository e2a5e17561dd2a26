"""Evaluating a sample against its plan, the way an auditor does (ISA 530, AICPA).

A deviation is what the plan fixed before sampling: by default an interaction with a finding
a reviewer confirmed (a raw scanner hit is not one), or, with `deviation = "flagged"`, any
finding not superseded. Items that could not be tested (not evaluated, or never evaluated)
count as deviations.

While sampled items await review (an open finding on an item that is not yet a deviation),
the evaluation does not state a verdict the review could still reverse: it gives the result
if none of them is confirmed, if all are, and the tipping point in between
(`stats.review_bounds`). A verdict that no outcome of the review can change is stated, with
that reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from auditor.db.models import Decision, Finding, Sample, SampleItem
from auditor.errors import NotFoundError
from auditor.findings import SOURCE_SAMPLE
from auditor.sample.stats import (
    NOT_CONCLUDED,
    ReviewBounds,
    StratifiedReviewBounds,
    Stratum,
    review_bounds,
    review_conclusion,
    stratified_estimate,
    stratified_review_bounds,
    stratified_review_conclusion,
    two_sided_interval,
)

TESTED_VERDICTS = ("pass", "violation")


@dataclass(frozen=True)
class StratumResult:
    name: str
    population: int  # N_h
    size: int  # n_h
    deviations: int  # x_h
    weight: float  # W_h = N_h / N
    awaiting_review: int = 0
    review: ReviewBounds | None = None  # the stratum's own ends and tipping point


@dataclass(frozen=True)
class SampleEvaluation:
    sample_id: str
    population: int
    size: int
    confidence: float
    tolerable_rate: float
    deviation_definition: str
    flagged: int  # items with any finding that is not superseded
    confirmed: int  # items with a finding confirmed by a reviewer
    awaiting_review: int  # items that become deviations if one of their open findings is confirmed
    not_tested: int  # items that could not be (fully) tested
    deviations: int
    raw_flag_rate: float
    confirmed_rate: float
    deviation_rate: float
    upper_limit: float
    interval: tuple[float, float]
    projected_count: float
    projected_upper: float
    conclusion: str
    # What the open review can still change: both ends and the tipping point.
    review: ReviewBounds | StratifiedReviewBounds
    # Stratified samples: the headline figures above are Korn-Graubard; these add the
    # conservative Bonferroni bound and the per-stratum counts.
    stratified: bool = False
    upper_bonferroni: float | None = None
    projected_upper_bonferroni: float | None = None
    effective_n: float | None = None
    strata: tuple[StratumResult, ...] = field(default_factory=tuple)
    awaiting_items: frozenset[int] = frozenset()  # their interaction ids

    @property
    def provisional(self) -> bool:
        return self.awaiting_review > 0

    @property
    def status(self) -> str:
        """relied, not_relied, or not_concluded (the open review can still change it)."""
        return self.review.status

    @property
    def concluded(self) -> bool:
        return self.status != NOT_CONCLUDED

    @property
    def tipping_point(self) -> int | None:
        return self.review.tipping_point


def _items(session: Session, sample_id: str, *conditions: object) -> set[int]:
    query = (
        select(SampleItem.interaction_id)
        .join(Finding, Finding.interaction_id == SampleItem.interaction_id)
        .where(
            SampleItem.sample_id == sample_id,
            Finding.source == SOURCE_SAMPLE,  # population monitoring never counts here
            *conditions,  # type: ignore[arg-type]
        )
    )
    return set(session.scalars(query))


def _not_tested(session: Session, sample_id: str) -> set[int]:
    """Sampled items without a complete evaluation under their newest policy revision."""
    items = set(
        session.scalars(select(SampleItem.interaction_id).where(SampleItem.sample_id == sample_id))
    )
    newest = (
        select(Decision.interaction_id, func.max(Decision.evaluated_at).label("at"))
        .where(Decision.interaction_id.in_(items))
        .group_by(Decision.interaction_id)
        .subquery()
    )
    rows = session.execute(
        select(Decision.interaction_id, Decision.verdict).join(
            newest,
            (newest.c.interaction_id == Decision.interaction_id)
            & (newest.c.at == Decision.evaluated_at),
        )
    )
    verdicts: dict[int, set[str]] = {}
    for iid, verdict in rows:
        verdicts.setdefault(iid, set()).add(verdict)
    return {
        iid for iid in items if iid not in verdicts or not verdicts[iid] <= set(TESTED_VERDICTS)
    }


def evaluate_plan(session: Session, sample_id: str) -> SampleEvaluation:
    """Deviations, rates, the upper deviation limit and the conclusion for a sample.

    A stratified sample is evaluated per stratum and combined (stratified_estimate): the
    Korn-Graubard bound is the headline upper limit, the Bonferroni bound is given too.
    Raises NotFoundError for an unknown sample, InputError if a stratum cannot be estimated.
    """
    sample = session.get(Sample, sample_id)
    if sample is None:
        raise NotFoundError(f"no sample {sample_id}", "list samples with `auditor sample list`")
    plan = sample.plan or {}
    confidence = float(plan.get("confidence", 0.95))
    tolerable = float(plan.get("tolerable_rate", 0.05))
    definition = str(plan.get("deviation", "confirmed"))
    flagged = _items(session, sample_id, Finding.status != "superseded")
    confirmed = _items(session, sample_id, Finding.status == "confirmed")
    not_tested = _not_tested(session, sample_id)
    deviating = (confirmed if definition == "confirmed" else flagged) | not_tested
    # An item awaits review while one of its findings is open and it is not a deviation yet:
    # confirming that finding would make it one. With `deviation = "flagged"` every flagged
    # item already is, so nothing the review decides can change the evaluation.
    # A disposition awaiting its second reviewer (four-eyes) is not a review yet.
    awaiting = (
        _items(session, sample_id, Finding.status.in_(("open", "pending_approval"))) - deviating
    )
    common: dict[str, Any] = {
        "sample_id": sample_id,
        "population": sample.population_count,
        "size": sample.size,
        "confidence": confidence,
        "tolerable_rate": tolerable,
        "deviation_definition": definition,
        "flagged": len(flagged),
        "confirmed": len(confirmed),
        "awaiting_review": len(awaiting),
        "awaiting_items": frozenset(awaiting),
        "not_tested": len(not_tested),
        "deviations": len(deviating),
        "raw_flag_rate": len(flagged) / sample.size if sample.size else 0.0,
        "confirmed_rate": len(confirmed) / sample.size if sample.size else 0.0,
    }
    if "stratification" in plan:
        return _stratified(session, sample, plan, deviating, awaiting, common)
    n = sample.size
    deviations = len(deviating)
    bounds = review_bounds(
        n, deviations, len(awaiting), confidence, tolerable, population=sample.population_count
    )
    upper = bounds.none_confirmed.upper
    rate = bounds.none_confirmed.rate
    return SampleEvaluation(
        **common,
        deviation_rate=rate,
        upper_limit=upper,
        interval=two_sided_interval(n, deviations, confidence),
        projected_count=rate * sample.population_count,
        projected_upper=upper * sample.population_count,
        conclusion=review_conclusion(bounds),
        review=bounds,
    )


def _kg_interval(
    x: float, n: float, confidence: float, census: bool, rate: float
) -> tuple[float, float]:
    """Two-sided Korn-Graubard interval: Clopper-Pearson on the effective counts (x*, n*)."""
    from scipy.stats import beta

    if census:
        return rate, rate
    tail = (1.0 - confidence) / 2
    low = 0.0 if x <= 0 else float(beta.ppf(tail, x, n - x + 1))
    high = 1.0 if x >= n else float(beta.ppf(1 - tail, x + 1, n - x))
    return low, high


def _stratified(
    session: Session,
    sample: Sample,
    plan: dict[str, Any],
    deviating: set[int],
    awaiting: set[int],
    common: dict[str, Any],
) -> SampleEvaluation:
    """Per-stratum deviations combined by `stratified_estimate`: Korn-Graubard as the
    headline, Bonferroni alongside; both ends of the open review per stratum and combined.
    Raises InputError if a stratum cannot be estimated."""
    table = plan["stratification"]["strata"]
    items: dict[str, list[int]] = {}
    for stratum, iid in session.execute(
        select(SampleItem.stratum, SampleItem.interaction_id).where(
            SampleItem.sample_id == sample.id
        )
    ):
        items.setdefault(stratum, []).append(iid)
    strata = [
        Stratum(
            name=name,
            population=int(row["population"]),
            sample_size=len(items.get(name, [])),
            deviations=sum(1 for iid in items.get(name, []) if iid in deviating),
        )
        for name, row in sorted(table.items())
    ]
    confidence = float(common["confidence"])
    tolerable = float(common["tolerable_rate"])
    waiting = {
        name: sum(1 for iid in members if iid in awaiting) for name, members in items.items()
    }
    bounds = stratified_review_bounds(strata, waiting, confidence, tolerable)
    est = stratified_estimate(strata, confidence)
    census = all(s.sample_size == s.population for s in strata)
    return SampleEvaluation(
        **common,
        deviation_rate=est.rate,
        upper_limit=est.upper_korn_graubard,
        interval=_kg_interval(
            est.effective_deviations, est.effective_n, confidence, census, est.rate
        ),
        projected_count=est.projected_count,
        projected_upper=est.projected_upper_korn_graubard,
        conclusion=stratified_review_conclusion(bounds),
        review=bounds,
        stratified=True,
        upper_bonferroni=est.upper_bonferroni,
        projected_upper_bonferroni=est.projected_upper_bonferroni,
        effective_n=est.effective_n,
        strata=tuple(
            StratumResult(
                s.name,
                s.population,
                s.sample_size,
                s.deviations,
                est.weights[s.name],
                awaiting_review=waiting.get(s.name, 0),
                review=bounds.strata[s.name],
            )
            for s in strata
        ),
    )
