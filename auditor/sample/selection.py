"""Seeded simple random selection with a manifest that lets anyone draw the same sample again.

The population of a period is every interaction whose `occurred_at` falls in that calendar
month (UTC). Items are identified by their stable key `source_format:event_id`, not by
database row ids, so a re-performance on another copy of the logs gives the same listing.
The seed is fixed (configured) or drawn from the OS before the population is read, and is
recorded with where it came from.
"""

from __future__ import annotations

import hashlib
import json
import platform
import random
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from auditor.db.models import Interaction, Sample, SampleItem
from auditor.errors import InputError, NotFoundError

GENERATOR = f"CPython random.Random (MT19937) sample(), Python {platform.python_version()}"
METHOD = "simple random sampling without replacement"


def period_bounds(period: str) -> tuple[datetime, datetime]:
    """[start, end) of a `YYYY-MM` period as naive UTC. Raises InputError on a bad period."""
    try:
        start = datetime.strptime(period, "%Y-%m")
    except ValueError:
        raise InputError(f"period {period!r} is not YYYY-MM") from None
    end = (
        start.replace(year=start.year + 1, month=1)
        if start.month == 12
        else start.replace(month=start.month + 1)
    )
    return start, end


def stable_key(source_format: str, event_id: str) -> str:
    return f"{source_format}:{event_id}"


def population_keys(session: Session, period: str) -> dict[str, int]:
    """Stable key -> interaction row id for every interaction in the period."""
    start, end = period_bounds(period)
    rows = session.execute(
        select(Interaction.source_format, Interaction.event_id, Interaction.id).where(
            Interaction.occurred_at >= start, Interaction.occurred_at < end
        )
    )
    return {stable_key(fmt, eid): iid for fmt, eid, iid in rows}


def population_digest(keys: list[str]) -> str:
    """SHA-256 of the sorted stable keys, one per line."""
    return hashlib.sha256("\n".join(sorted(keys)).encode()).hexdigest()


def draw(keys: list[str], size: int, seed: int) -> list[str]:
    """The listing in draw order: `size` keys (or all) drawn from the sorted population."""
    ordered = sorted(keys)
    return random.Random(seed).sample(ordered, min(size, len(ordered)))


@dataclass(frozen=True)
class Manifest:
    """Everything needed to re-perform the selection, and its own digest."""

    sample_id: str
    period: str
    population_filter: dict[str, str]
    extraction_time: str
    population_count: int
    population_sha256: str
    method: str
    generator: str
    seed: int
    seed_source: str
    requested_size: int
    listing: list[str]
    plan: dict[str, object] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return {
            "plan": self.plan,
            "sample_id": self.sample_id,
            "period": self.period,
            "population_filter": self.population_filter,
            "extraction_time": self.extraction_time,
            "population_count": self.population_count,
            "population_sha256": self.population_sha256,
            "pre_selection_sort": "stable key source_format:event_id, ascending",
            "method": self.method,
            "generator": self.generator,
            "seed": self.seed,
            "seed_source": self.seed_source,
            "requested_size": self.requested_size,
            "size": len(self.listing),
            "listing": [
                {"order": i + 1, "stratum": "all", "id": k} for i, k in enumerate(self.listing)
            ],
        }

    def digest(self) -> str:
        return hashlib.sha256(json.dumps(self.as_dict(), sort_keys=True).encode()).hexdigest()


def _filter(period: str) -> dict[str, str]:
    start, end = period_bounds(period)
    return {
        "occurred_at_from": start.isoformat() + "Z",
        "occurred_at_before": end.isoformat() + "Z",
    }


@dataclass(frozen=True)
class SamplePlan:
    """The test plan, fixed before the population is looked at (ISA 530: define the deviation
    first). Items that cannot be tested always count as deviations."""

    confidence: float = 0.95
    tolerable_rate: float = 0.05
    expected_deviations: int = 0
    deviation: str = "confirmed"  # or "flagged"

    def as_dict(self, sizing: str) -> dict[str, object]:
        return {
            "confidence": self.confidence,
            "tolerable_rate": self.tolerable_rate,
            "expected_deviations": self.expected_deviations,
            "deviation": self.deviation,
            "untested_items": "count as deviations",
            "sizing": sizing,
        }


def planned_size(plan: SamplePlan, population: int) -> int:
    """The attribute-sampling size for the plan (hypergeometric for this finite population)."""
    from auditor.sample.stats import sample_size

    return min(
        population,
        sample_size(
            plan.confidence, plan.tolerable_rate, plan.expected_deviations, population=population
        ),
    )


def draw_sample(
    session: Session,
    period: str,
    size: int | None,
    seed: int | None = None,
    *,
    reuse: bool = True,
    plan: SamplePlan | None = None,
) -> tuple[Sample, bool]:
    """Draw and store a sample of the period; returns (sample, created).

    `size` None sizes the sample from the plan (confidence, tolerable rate, expected
    deviations) for the period's population; a given size is recorded as fixed by
    configuration. The plan is stored with the sample and in its manifest.

    With `reuse`, an existing sample over the identical population, of the same requested
    size (and the same seed, when one is configured) is returned instead, so a scheduled re-run
    draws nothing new; a changed population, size or seed draws a new sample, and the report
    covers the newest. Raises NotFoundError if the period has no interactions.
    """
    # The seed is fixed before the population is looked at.
    seed_source = "configured" if seed is not None else "os-entropy (secrets.randbits)"
    chosen_seed = seed if seed is not None else secrets.randbits(63)
    keys = population_keys(session, period)
    if not keys:
        raise NotFoundError(
            f"no interactions in period {period}", "ingest logs first, or pick another --period"
        )
    digest = population_digest(list(keys))
    plan = plan or SamplePlan()
    if size is None:
        size = planned_size(plan, len(keys))
        sizing = "attribute sampling: smallest n whose upper deviation limit with the expected "
        sizing += "deviations stays within the tolerable rate (hypergeometric, this population)"
    else:
        sizing = "fixed by configuration"
    plan_doc = plan.as_dict(sizing)
    if reuse:
        same = select(Sample).where(
            Sample.period == period,
            Sample.population_sha256 == digest,
            Sample.requested_size == size,
        )
        if seed is not None:
            same = same.where(Sample.seed == str(seed))
        for existing in session.scalars(same.order_by(Sample.created_at.desc())):
            if existing.plan == plan_doc:  # a changed plan is a new test
                return existing, False
    listing = draw(list(keys), size, chosen_seed)
    now = datetime.now(UTC).replace(tzinfo=None)
    sample_id = f"S-{period}-{digest[:6]}-{secrets.token_hex(3)}"
    manifest = Manifest(
        sample_id=sample_id,
        period=period,
        population_filter=_filter(period),
        extraction_time=now.isoformat() + "Z",
        population_count=len(keys),
        population_sha256=digest,
        method=METHOD,
        generator=GENERATOR,
        seed=chosen_seed,
        seed_source=seed_source,
        requested_size=size,
        listing=listing,
        plan=plan_doc,
    )
    sample = Sample(
        id=sample_id,
        period=period,
        created_at=now,
        method=METHOD,
        seed=str(chosen_seed),
        seed_source=seed_source,
        generator=GENERATOR,
        population_filter=manifest.population_filter,
        population_count=len(keys),
        population_sha256=digest,
        requested_size=size,
        size=len(listing),
        plan=plan_doc,
        manifest_sha256=manifest.digest(),
    )
    session.add(sample)
    session.flush()
    for order, key in enumerate(listing, start=1):
        session.add(
            SampleItem(
                sample_id=sample_id, draw_order=order, interaction_id=keys[key], stratum="all"
            )
        )
    session.flush()
    return sample, True


def load_manifest(session: Session, sample_id: str) -> Manifest:
    """Rebuild the manifest of a stored sample. Raises NotFoundError for an unknown id."""
    sample = session.get(Sample, sample_id)
    if sample is None:
        raise NotFoundError(f"no sample {sample_id}", "list samples with `auditor sample list`")
    rows = session.execute(
        select(Interaction.source_format, Interaction.event_id)
        .join(SampleItem, SampleItem.interaction_id == Interaction.id)
        .where(SampleItem.sample_id == sample_id)
        .order_by(SampleItem.draw_order)
    )
    return Manifest(
        sample_id=sample.id,
        period=sample.period,
        population_filter=dict(sample.population_filter),
        extraction_time=sample.created_at.isoformat() + "Z",
        population_count=sample.population_count,
        population_sha256=sample.population_sha256,
        method=sample.method,
        generator=sample.generator,
        seed=int(sample.seed),
        seed_source=sample.seed_source,
        requested_size=sample.requested_size,
        listing=[stable_key(f, e) for f, e in rows],
        plan=dict(sample.plan),
    )


@dataclass(frozen=True)
class Reperformance:
    sample_id: str
    population_matches: bool
    listing_matches: bool
    manifest_matches: bool
    population_count_now: int

    @property
    def ok(self) -> bool:
        return self.population_matches and self.listing_matches and self.manifest_matches


def reperform(session: Session, sample_id: str) -> Reperformance:
    """Draw the sample again from its manifest and compare population, listing and digest."""
    manifest = load_manifest(session, sample_id)
    keys = population_keys(session, manifest.period)
    again = draw(list(keys), manifest.requested_size, manifest.seed)
    sample = session.get(Sample, sample_id)
    assert sample is not None
    return Reperformance(
        sample_id=sample_id,
        population_matches=population_digest(list(keys)) == manifest.population_sha256,
        listing_matches=again == manifest.listing,
        manifest_matches=manifest.digest() == sample.manifest_sha256,
        population_count_now=len(keys),
    )
