"""Evaluating a sample against its plan, the way an auditor does (ISA 530, AICPA).

A deviation is what the plan fixed before sampling: by default an interaction with a finding
a reviewer confirmed (a raw scanner hit is not one), or, with `deviation = "flagged"`, any
finding not superseded. Items that could not be tested (not evaluated, or never evaluated)
count as deviations. While findings await review the evaluation is provisional, and says so.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from auditor.db.models import Decision, Finding, Sample, SampleItem
from auditor.errors import NotFoundError

TESTED_VERDICTS = ("pass", "violation")


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
    awaiting_review: int  # items whose findings are all still open
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

    @property
    def provisional(self) -> bool:
        return self.awaiting_review > 0


def _items(session: Session, sample_id: str, *conditions: object) -> set[int]:
    query = (
        select(SampleItem.interaction_id)
        .join(Finding, Finding.interaction_id == SampleItem.interaction_id)
        .where(SampleItem.sample_id == sample_id, *conditions)  # type: ignore[arg-type]
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

    Raises NotFoundError for an unknown sample.
    """
    from auditor.sample.stats import conclusion, two_sided_interval, upper_limit

    sample = session.get(Sample, sample_id)
    if sample is None:
        raise NotFoundError(f"no sample {sample_id}", "list samples with `auditor sample list`")
    plan = sample.plan or {}
    confidence = float(plan.get("confidence", 0.95))
    tolerable = float(plan.get("tolerable_rate", 0.05))
    definition = str(plan.get("deviation", "confirmed"))
    flagged = _items(session, sample_id, Finding.status != "superseded")
    confirmed = _items(session, sample_id, Finding.status == "confirmed")
    reviewed = _items(session, sample_id, Finding.status.not_in(("open", "superseded")))
    awaiting = flagged - reviewed
    not_tested = _not_tested(session, sample_id)
    deviating = (confirmed if definition == "confirmed" else flagged) | not_tested
    n = sample.size
    deviations = len(deviating)
    upper = upper_limit(n, deviations, confidence, population=sample.population_count)
    rate = deviations / n if n else 0.0
    return SampleEvaluation(
        sample_id=sample_id,
        population=sample.population_count,
        size=n,
        confidence=confidence,
        tolerable_rate=tolerable,
        deviation_definition=definition,
        flagged=len(flagged),
        confirmed=len(confirmed),
        awaiting_review=len(awaiting),
        not_tested=len(not_tested),
        deviations=deviations,
        raw_flag_rate=len(flagged) / n if n else 0.0,
        confirmed_rate=len(confirmed) / n if n else 0.0,
        deviation_rate=rate,
        upper_limit=upper,
        interval=two_sided_interval(n, deviations, confidence),
        projected_count=rate * sample.population_count,
        projected_upper=upper * sample.population_count,
        conclusion=conclusion(upper, tolerable, confidence, rate),
    )
