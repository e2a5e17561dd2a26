"""Seeded random selection, simple or stratified, with a manifest that lets anyone draw the
same sample again.

The population of a period is every interaction whose `occurred_at` falls in that calendar
month (UTC). Items are identified by their stable key `source_format:event_id`, not by
database row ids, so a re-performance on another copy of the logs gives the same listing.
The seed is fixed (configured) or drawn from the OS before the population is read, and is
recorded with where it came from. A stratified sample allocates its size over strata
(department, tier, workflow, tool) and draws each stratum with its own generator seeded from
the seed and the stratum name; the plan records the strata, N_h, n_h and the allocation rule.
An item that cannot be used is replaced by the next draw of its stratum's generator."""

from __future__ import annotations

import hashlib
import json
import platform
import random
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from auditor.db.models import Interaction, Person, Sample, SampleItem, SourceFile, UsageTier
from auditor.errors import InputError, NotFoundError
from auditor.periods import period_bounds

GENERATOR = f"CPython random.Random (MT19937) sample(), Python {platform.python_version()}"
METHOD = "simple random sampling without replacement"
STRATIFIED_GENERATOR = (
    "CPython random.Random (MT19937) sample() per stratum, seeded with the string "
    f"'<seed>:<stratum>', Python {platform.python_version()}"
)


def stable_key(source_format: str, event_id: str) -> str:
    return f"{source_format}:{event_id}"


def population_keys(session: Session, period: str, as_of: datetime | None = None) -> dict[str, int]:
    """Stable key -> interaction row id for every interaction in the period; with `as_of`,
    only those whose log file was ingested by then (the population a sample drawn at that
    time saw: later files are late arrivals)."""
    start, end = period_bounds(period)
    query = select(Interaction.source_format, Interaction.event_id, Interaction.id).where(
        Interaction.occurred_at >= start, Interaction.occurred_at < end
    )
    if as_of is not None:
        query = query.where(
            Interaction.source_file_id.is_(None)
            | Interaction.source_file_id.in_(
                select(SourceFile.id).where(SourceFile.ingested_at <= as_of)
            )
        )
    return {stable_key(fmt, eid): iid for fmt, eid, iid in session.execute(query)}


def population_digest(keys: list[str]) -> str:
    """SHA-256 of the sorted stable keys, one per line."""
    return hashlib.sha256("\n".join(sorted(keys)).encode()).hexdigest()


def draw(keys: list[str], size: int, seed: int) -> list[str]:
    """The listing in draw order: `size` keys (or all) drawn from the sorted population."""
    ordered = sorted(keys)
    return random.Random(seed).sample(ordered, min(size, len(ordered)))


# --- strata -----------------------------------------------------------------------------------

STRATUM_FIELDS: dict[str, str] = {
    "department": "people.department of the interaction's user_id; 'unknown' if absent",
    "tier": "usage_tiers.tier of the user for the period; 'unknown' if not computed",
    "workflow": "interactions.workflow; 'none' if null",
    "tool": "interactions.tool; 'none' if null",
}
STRATIFIED_METHOD = "stratified random sampling without replacement"
SIMPLE_SORT = "stable key source_format:event_id, ascending"
STRATIFIED_SORT = "stratum ascending, then stable key source_format:event_id ascending within it"
ALLOCATION_RULES: dict[str, str] = {
    "proportional": "n_h = n * N_h / N by largest-remainder rounding (ties: stratum name), "
    "then raised to min(min_per_stratum, N_h); the total can exceed n",
    "minimum": "n_h = min(min_per_stratum, N_h), then the rest of n shared in proportion to "
    "N_h - that minimum by largest-remainder rounding (ties: stratum name)",
}
MAX_STRATUM_CHARS = 128  # sample_items.stratum


def _check_fields(fields: tuple[str, ...] | list[str]) -> list[str]:
    unknown = [f for f in fields if f not in STRATUM_FIELDS]
    if unknown or len(set(fields)) != len(fields):
        raise InputError(
            f"strata fields {list(fields)!r} are not distinct fields of {list(STRATUM_FIELDS)}",
            hint="set sample.strata to some of: " + ", ".join(STRATUM_FIELDS),
        )
    return list(fields)


def stratum_keys(session: Session, period: str, fields: list[str]) -> dict[str, str]:
    """Stable key -> stratum name ("a|b" for several fields) for every interaction in the
    period. Raises InputError on an unknown field."""
    fields = _check_fields(fields)
    start, end = period_bounds(period)
    rows = session.execute(
        select(
            Interaction.source_format,
            Interaction.event_id,
            Person.department,
            UsageTier.tier,
            Interaction.workflow,
            Interaction.tool,
        )
        .outerjoin(Person, Person.user_id == Interaction.user_id)
        .outerjoin(
            UsageTier, (UsageTier.user_id == Interaction.user_id) & (UsageTier.period == period)
        )
        .where(Interaction.occurred_at >= start, Interaction.occurred_at < end)
    )
    out: dict[str, str] = {}
    for fmt, eid, department, tier, workflow, tool in rows:
        values = {
            "department": department or "unknown",
            "tier": tier or "unknown",
            "workflow": workflow or "none",
            "tool": tool or "none",
        }
        out[stable_key(fmt, eid)] = "|".join(values[f] for f in fields)
    return out


def assignment_digest(assignment: dict[str, str]) -> str:
    """SHA-256 of `key<TAB>stratum` lines sorted by key: which stratum every item fell in."""
    lines = (f"{k}\t{assignment[k]}" for k in sorted(assignment))
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def _largest_remainder(total: int, weights: dict[str, int]) -> dict[str, int]:
    """`total` shared in proportion to integer weights; exact integer arithmetic."""
    whole = sum(weights.values())
    if whole == 0 or total == 0:
        return dict.fromkeys(weights, 0)
    shares = {h: total * w // whole for h, w in weights.items()}
    left = total - sum(shares.values())
    for h in sorted(weights, key=lambda h: (-(total * weights[h] % whole), h))[:left]:
        shares[h] += 1
    return shares


def allocate(counts: dict[str, int], total: int, rule: str, minimum: int = 0) -> dict[str, int]:
    """Sample size per stratum (see ALLOCATION_RULES); never more than N_h.

    Raises InputError on an unknown rule or a negative size or minimum.
    """
    if rule not in ALLOCATION_RULES:
        raise InputError(
            f"unknown allocation {rule!r}", hint="use one of: " + ", ".join(ALLOCATION_RULES)
        )
    if total < 0 or minimum < 0:
        raise InputError("sizes cannot be negative", hint="give a size and minimum >= 0")
    total = min(total, sum(counts.values()))
    floors = {h: min(n, minimum) for h, n in counts.items()}
    if rule == "proportional":
        shares = _largest_remainder(total, counts)
        return {h: max(shares[h], floors[h]) for h in counts}
    rest = max(0, total - sum(floors.values()))
    extra = _largest_remainder(rest, {h: counts[h] - floors[h] for h in counts})
    return {h: floors[h] + extra[h] for h in counts}


def _groups(assignment: dict[str, str]) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    for key, stratum in assignment.items():
        groups.setdefault(stratum, []).append(key)
    return groups


def _material(seed: int, stratum: str | None) -> int | str:
    """What seeds a stratum's generator; a string seed is hashed (SHA-512) by CPython, so it
    does not depend on PYTHONHASHSEED."""
    return seed if stratum is None else f"{seed}:{stratum}"


def _stream(material: int | str, keys: list[str], size: int) -> tuple[list[str], random.Random]:
    ordered = sorted(keys)
    rng = random.Random(material)
    return rng.sample(ordered, min(size, len(ordered))), rng


def draw_stratified(
    assignment: dict[str, str], sizes: dict[str, int], seed: int
) -> list[tuple[str, str]]:
    """(stratum, key) in draw order: strata in sorted order, n_h keys drawn from each stratum's
    sorted keys by random.Random(f"{seed}:{stratum}")."""
    groups = _groups(assignment)
    listing: list[tuple[str, str]] = []
    for stratum in sorted(groups):
        drawn, _ = _stream(_material(seed, stratum), groups[stratum], sizes.get(stratum, 0))
        listing += [(stratum, k) for k in drawn]
    return listing


def replacement_draws(material: int | str, keys: list[str], size: int, count: int) -> list[str]:
    """The next `count` keys the generator draws after the original `size`, each by
    rng.choice over the sorted keys not drawn yet (fewer if the keys run out)."""
    drawn, rng = _stream(material, keys, size)
    remaining = sorted(set(keys) - set(drawn))
    picks: list[str] = []
    while remaining and len(picks) < count:
        pick = rng.choice(remaining)
        remaining.remove(pick)
        picks.append(pick)
    return picks


# --- the manifest -----------------------------------------------------------------------------


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
    plan: dict[str, Any] = field(default_factory=dict)
    strata: list[str] = field(default_factory=list)  # stratum of each listed item

    @property
    def stratified(self) -> bool:
        return "stratification" in self.plan

    def as_dict(self) -> dict[str, object]:
        strata = self.strata or ["all"] * len(self.listing)
        doc: dict[str, object] = {
            "plan": self.plan,
            "sample_id": self.sample_id,
            "period": self.period,
            "population_filter": self.population_filter,
            "extraction_time": self.extraction_time,
            "population_count": self.population_count,
            "population_sha256": self.population_sha256,
            "pre_selection_sort": STRATIFIED_SORT if self.stratified else SIMPLE_SORT,
            "method": self.method,
            "generator": self.generator,
            "seed": self.seed,
            "seed_source": self.seed_source,
            "requested_size": self.requested_size,
            "size": len(self.listing),
            "listing": [
                {"order": i + 1, "stratum": h, "id": k}
                for i, (h, k) in enumerate(zip(strata, self.listing, strict=True))
            ],
        }
        # Only present when used, so manifests of simple samples keep their digests.
        if self.stratified:
            strat = self.plan["stratification"]
            doc["strata"] = strat["strata"]
            doc["allocation"] = {
                "rule": strat["allocation"],
                "description": strat["allocation_rule"],
                "min_per_stratum": strat["min_per_stratum"],
            }
        if self.plan.get("replacements"):
            doc["replacements"] = self.plan["replacements"]
        if self.plan.get("extensions"):
            doc["extensions"] = self.plan["extensions"]
        for key in ("late_arrivals", "redraw"):
            if self.plan.get(key):
                doc[key] = self.plan[key]
        return doc

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
    first). Items that cannot be tested always count as deviations. `strata` empty: a simple
    random sample."""

    confidence: float = 0.95
    tolerable_rate: float = 0.05
    expected_deviations: int = 0
    deviation: str = "confirmed"  # or "flagged"
    strata: tuple[str, ...] = ()
    allocation: str = "proportional"  # or "minimum"
    min_per_stratum: int = 0

    def as_dict(self, sizing: str) -> dict[str, object]:
        doc: dict[str, object] = {
            "confidence": self.confidence,
            "tolerable_rate": self.tolerable_rate,
            "expected_deviations": self.expected_deviations,
            "deviation": self.deviation,
            "untested_items": "count as deviations",
            "sizing": sizing,
        }
        if self.strata:
            fields = _check_fields(self.strata)
            if self.allocation not in ALLOCATION_RULES:
                allocate({}, 0, self.allocation)  # raises the InputError
            doc["stratification"] = {
                "fields": fields,
                "definition": {f: STRATUM_FIELDS[f] for f in fields},
                "key": "values of the fields joined by '|'",
                "allocation": self.allocation,
                "allocation_rule": ALLOCATION_RULES[self.allocation],
                "min_per_stratum": self.min_per_stratum,
            }
        return doc


def planned_size(plan: SamplePlan, population: int) -> int:
    """The attribute-sampling size for the plan (hypergeometric for this finite population)."""
    from auditor.sample.stats import sample_size

    return min(
        population,
        sample_size(
            plan.confidence, plan.tolerable_rate, plan.expected_deviations, population=population
        ),
    )


# What happens to a sample after its draw (replacements, extensions) is recorded in its plan,
# but does not make it another test: a scheduled re-run reuses it.
AFTER_DRAW = ("replacements", "extensions", "late_arrivals", "redraw")


def _without_replacements(plan: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in plan.items() if k not in AFTER_DRAW}


def _stratify(
    session: Session, period: str, plan: SamplePlan, size: int
) -> tuple[dict[str, str], dict[str, int], dict[str, int]]:
    """(assignment, N_h, n_h) for a stratified plan. Raises InputError when tiers are needed
    but not computed, a stratum name is too long, or a stratum would get one item."""
    fields = _check_fields(plan.strata)
    if "tier" in fields:
        tiers = session.scalar(
            select(func.count()).select_from(UsageTier).where(UsageTier.period == period)
        )
        if not tiers:
            raise InputError(
                f"strata by tier, but no usage tiers are computed for {period}",
                hint=f"run `auditor tiers --period {period}` before drawing the sample",
            )
    assignment = stratum_keys(session, period, fields)
    counts = {h: len(keys) for h, keys in sorted(_groups(assignment).items())}
    long = [h for h in counts if len(h) > MAX_STRATUM_CHARS]
    if long:
        raise InputError(
            f"{len(long)} stratum name(s) exceed {MAX_STRATUM_CHARS} characters",
            hint="stratify by fewer fields, or shorten department names in the directory",
        )
    sizes = allocate(counts, size, plan.allocation, plan.min_per_stratum)
    # A stratum sampled with fewer than two items (and not in full) has no variance estimate:
    # the sample could never be evaluated, so it is not drawn.
    thin = [h for h in counts if sizes[h] < min(2, counts[h])]
    if thin:
        raise InputError(
            f"{len(thin)} of {len(counts)} strata would get fewer than two items "
            f"(e.g. {thin[0]!r}: {sizes[thin[0]]} of {counts[thin[0]]})",
            hint="set sample.min_per_stratum to 2 or more, raise the size, or use fewer strata",
        )
    return assignment, counts, sizes


def draw_sample(
    session: Session,
    period: str,
    size: int | None,
    seed: int | None = None,
    *,
    reuse: bool = True,
    plan: SamplePlan | None = None,
    redraw_reason: str | None = None,
) -> tuple[Sample, bool]:
    """Draw and store a sample of the period; returns (sample, created).

    `size` None sizes the sample from the plan (confidence, tolerable rate, expected
    deviations) for the period's population; a given size is recorded as fixed by
    configuration. The plan is stored with the sample and in its manifest. With `plan.strata`
    the size is allocated over the strata (see ALLOCATION_RULES) and each stratum is drawn
    with its own generator seeded from the seed and the stratum name.

    With `reuse`, an existing sample over the identical population, of the same requested
    size (and the same seed, when one is configured) is returned instead, so a scheduled re-run
    draws nothing new; a changed size, plan, strata or seed draws a new sample, and the report
    covers the newest. Logs that arrive late (the population only grew since the newest
    sample was drawn, the test unchanged) never replace the sample: they are recorded in its
    manifest as late arrivals and the sample stands. Without `reuse` (a re-draw asked for by
    name) a period that already has a sample needs `redraw_reason`, recorded in the new
    sample's plan with the id it replaces. Raises NotFoundError if the period has no
    interactions, InputError on a stratification that cannot be drawn (see `_stratify`) or a
    re-draw without a reason.
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
    if reuse:
        standing = _standing_with_late_arrivals(session, period, keys, digest, size, seed, plan)
        if standing is not None:
            return standing, False
    if size is None:
        size = planned_size(plan, len(keys))
        sizing = "attribute sampling: smallest n whose upper deviation limit with the expected "
        sizing += "deviations stays within the tolerable rate (hypergeometric, this population)"
    else:
        sizing = "fixed by configuration"
    plan_doc: dict[str, Any] = plan.as_dict(sizing)
    assignment: dict[str, str] = {}
    sizes: dict[str, int] = {}
    if plan.strata:
        assignment, counts, sizes = _stratify(session, period, plan, size)
        plan_doc["stratification"]["strata"] = {
            h: {"population": counts[h], "size": sizes[h]} for h in counts
        }
        plan_doc["stratification"]["assignment_sha256"] = assignment_digest(assignment)
    if reuse:
        same = select(Sample).where(
            Sample.period == period,
            Sample.population_sha256 == digest,
            Sample.requested_size == size,
        )
        if seed is not None:
            same = same.where(Sample.seed == str(seed))
        for existing in session.scalars(same.order_by(Sample.created_at.desc())):
            # A changed plan (or strata) is a new test; replacements made since do not count.
            if _without_replacements(existing.plan) == plan_doc:
                return existing, False
    if not reuse:
        previous = session.scalar(
            select(Sample.id)
            .where(Sample.period == period)
            .order_by(Sample.created_at.desc())
            .limit(1)
        )
        if previous is not None:
            if not (redraw_reason or "").strip():
                raise InputError(
                    f"{period} already has sample {previous}; a re-draw replaces it in the "
                    "report and needs a reason on record",
                    hint="say why with --reason (e.g. late logs that must be covered)",
                )
            plan_doc["redraw"] = {"replaces": previous, "reason": (redraw_reason or "").strip()}
    if plan.strata:
        pairs = draw_stratified(assignment, sizes, chosen_seed)
        method, generator = STRATIFIED_METHOD, STRATIFIED_GENERATOR
    else:
        pairs = [("all", k) for k in draw(list(keys), size, chosen_seed)]
        method, generator = METHOD, GENERATOR
    now = datetime.now(UTC).replace(tzinfo=None)
    sample_id = f"S-{period}-{digest[:6]}-{secrets.token_hex(3)}"
    manifest = Manifest(
        sample_id=sample_id,
        period=period,
        population_filter=_filter(period),
        extraction_time=now.isoformat() + "Z",
        population_count=len(keys),
        population_sha256=digest,
        method=method,
        generator=generator,
        seed=chosen_seed,
        seed_source=seed_source,
        requested_size=size,
        listing=[k for _, k in pairs],
        plan=plan_doc,
        strata=[h for h, _ in pairs],
    )
    sample = Sample(
        id=sample_id,
        period=period,
        created_at=now,
        method=method,
        seed=str(chosen_seed),
        seed_source=seed_source,
        generator=generator,
        population_filter=manifest.population_filter,
        population_count=len(keys),
        population_sha256=digest,
        requested_size=size,
        size=len(pairs),
        plan=plan_doc,
        manifest_sha256=manifest.digest(),
    )
    session.add(sample)
    session.flush()
    for order, (stratum, key) in enumerate(pairs, start=1):
        session.add(
            SampleItem(
                sample_id=sample_id, draw_order=order, interaction_id=keys[key], stratum=stratum
            )
        )
    session.flush()
    return sample, True


def _same_test(existing: dict[str, Any], plan: SamplePlan) -> bool:
    """Whether a stored plan is the same test as `plan` (what was fixed before sampling:
    confidence, tolerable rate, expected deviations, deviation, strata and allocation)."""
    now = plan.as_dict("")
    for key in ("confidence", "tolerable_rate", "expected_deviations", "deviation"):
        if existing.get(key) != now.get(key):
            return False
    then_strat: Any = existing.get("stratification")
    now_strat: Any = now.get("stratification")
    if (then_strat is None) != (now_strat is None):
        return False
    if then_strat is not None and now_strat is not None:
        return all(
            then_strat.get(k) == now_strat.get(k)
            for k in ("fields", "allocation", "min_per_stratum")
        )
    return True


def _standing_with_late_arrivals(
    session: Session,
    period: str,
    keys: dict[str, int],
    digest: str,
    size: int | None,
    seed: int | None,
    plan: SamplePlan,
) -> Sample | None:
    """The period's newest sample when the population has only grown since it was drawn
    (logs that arrived late) and the test is the same; the late arrivals are recorded in its
    plan and manifest. A drawn sample stays drawn: late logs never replace it silently (a
    re-draw is asked for by name, `draw_sample(reuse=False, redraw_reason=...)`)."""
    newest = session.scalar(
        select(Sample).where(Sample.period == period).order_by(Sample.created_at.desc()).limit(1)
    )
    if newest is None or newest.population_sha256 == digest:
        return None
    if seed is not None and newest.seed != str(seed):
        return None
    if size is not None and newest.requested_size != size:
        return None
    if size is None and not str(newest.plan.get("sizing", "")).startswith("attribute sampling"):
        return None
    if not _same_test(newest.plan, plan):
        return None
    then = population_keys(session, period, as_of=newest.created_at)
    if population_digest(list(then)) != newest.population_sha256:
        return None  # not only additions: the population itself changed
    late = {
        "count": len(keys) - len(then),
        "population_then": len(then),
        "population_now": len(keys),
        "population_sha256_now": digest,
        "noted_at": datetime.now(UTC).replace(tzinfo=None).isoformat(timespec="seconds") + "Z",
        "treatment": "not in the sample's population; the sample and its conclusion stand. "
        "A re-draw over the whole population is asked for by name: "
        "`auditor sample draw --period " + period + " --new --reason ...`",
    }
    recorded = newest.plan.get("late_arrivals") or {}
    if recorded.get("population_sha256_now") != digest:
        newest.plan = {**newest.plan, "late_arrivals": late}
        session.flush()
        newest.manifest_sha256 = load_manifest(session, newest.id).digest()
        session.flush()
    return newest


def _as_drawn(assignment: dict[str, str], keys: dict[str, int]) -> dict[str, str]:
    """The stratum assignment restricted to the population the sample was drawn from."""
    return {k: h for k, h in assignment.items() if k in keys}


def _get_sample(session: Session, sample_id: str) -> Sample:
    sample = session.get(Sample, sample_id)
    if sample is None:
        raise NotFoundError(f"no sample {sample_id}", "list samples with `auditor sample list`")
    return sample


def load_manifest(session: Session, sample_id: str) -> Manifest:
    """Rebuild the manifest of a stored sample. Raises NotFoundError for an unknown id."""
    sample = _get_sample(session, sample_id)
    rows = list(
        session.execute(
            select(Interaction.source_format, Interaction.event_id, SampleItem.stratum)
            .join(SampleItem, SampleItem.interaction_id == Interaction.id)
            .where(SampleItem.sample_id == sample_id)
            .order_by(SampleItem.draw_order)
        )
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
        listing=[stable_key(f, e) for f, e, _ in rows],
        plan=dict(sample.plan),
        strata=[h for _, _, h in rows],
    )


# --- re-performance and replacements ----------------------------------------------------------


def _original_listing(
    manifest: Manifest, keys: list[str], assignment: dict[str, str]
) -> list[tuple[str, str]]:
    """The listing as first drawn, from the manifest's rules and the population now."""
    if not manifest.stratified:
        return [("all", k) for k in draw(keys, manifest.requested_size, manifest.seed)]
    strat = manifest.plan["stratification"]
    counts = {h: len(v) for h, v in _groups(assignment).items()}
    sizes = allocate(counts, manifest.requested_size, strat["allocation"], strat["min_per_stratum"])
    return draw_stratified(assignment, sizes, manifest.seed)


def _stratum_members(
    manifest: Manifest, stratum: str, keys: list[str], assignment: dict[str, str]
) -> tuple[int | str, list[str], int]:
    """(generator seed material, the stratum's keys, n_h) for drawing replacements."""
    if not manifest.stratified:
        return _material(manifest.seed, None), keys, manifest.requested_size
    members = [k for k, h in assignment.items() if h == stratum]
    size = manifest.plan["stratification"]["strata"].get(stratum, {}).get("size", 0)
    return _material(manifest.seed, stratum), members, size


def _continuation_events(manifest: Manifest) -> list[tuple[str, int, str, dict[str, Any]]]:
    """(stratum, first continuation draw, kind, record) for every replacement and extension,
    in the order they consumed their stratum's generator. A replacement recorded before
    extensions existed has no `continuation`: it is its ordinal within its stratum."""
    events: list[tuple[str, int, str, dict[str, Any]]] = []
    ordinal: dict[str, int] = {}
    for rep in manifest.plan.get("replacements", []):
        stratum = rep["stratum"]
        ordinal[stratum] = ordinal.get(stratum, 0) + 1
        events.append((stratum, int(rep.get("continuation", ordinal[stratum])), "replace", rep))
    for ext in manifest.plan.get("extensions", []):
        events.append(("all", int(ext["continuation"]), "extend", ext))
    return sorted(events, key=lambda e: (e[0], e[1]))


def _apply_replacements(
    manifest: Manifest,
    listing: list[tuple[str, str]],
    keys: list[str],
    assignment: dict[str, str],
) -> tuple[list[tuple[str, str]], bool]:
    """The listing after re-drawing each recorded replacement and extension, in the order
    they consumed the generator; and whether every recorded one is what the generator gives."""
    out = list(listing)
    ok = True
    for stratum, first, kind, record in _continuation_events(manifest):
        material, members, size = _stratum_members(manifest, stratum, keys, assignment)
        if kind == "extend":
            added = int(record["to"]) - int(record["from"])
            picks = replacement_draws(material, members, size, first + added - 1)[first - 1 :]
            ok = ok and len(picks) == added and len(out) == int(record["from"])
            out += [("all", k) for k in picks]
            continue
        picks = replacement_draws(material, members, size, first)
        pick = picks[-1] if len(picks) == first else None
        ok = ok and pick == record["replacement"]
        index = record["order"] - 1
        if pick is None or not 0 <= index < len(out) or out[index][1] != record["replaced"]:
            ok = False
            continue
        out[index] = (stratum, pick)
    return out, ok


def _consumed(manifest: Manifest, stratum: str) -> int:
    """Draws of the stratum's generator after the sample's own: replacements and extensions."""
    return sum(
        (int(r["to"]) - int(r["from"])) if kind == "extend" else 1
        for h, _, kind, r in _continuation_events(manifest)
        if h == stratum
    )


@dataclass(frozen=True)
class Reperformance:
    sample_id: str
    population_matches: bool
    listing_matches: bool
    manifest_matches: bool
    population_count_now: int
    population_count_then: int = 0
    assignment_matches: bool = True  # every item in the same stratum as when drawn
    replacements_match: bool = True
    replacements: int = 0
    extensions: int = 0
    # stratum -> (N_h then, N_h now), only strata whose count changed
    strata_changes: dict[str, tuple[int, int]] = field(default_factory=dict)
    listed_missing: int = 0  # listed items no longer in the population
    late_arrivals: int = 0  # interactions of the period ingested after the draw (not sampled)

    @property
    def ok(self) -> bool:
        return (
            self.population_matches
            and self.listing_matches
            and self.manifest_matches
            and self.assignment_matches
            and self.replacements_match
        )

    def changes(self) -> list[str]:
        """Plain sentences naming what changed since the sample was drawn (empty if nothing)."""
        out: list[str] = []
        now, then = self.population_count_now, self.population_count_then
        if not self.population_matches:
            if now != then:
                out.append(
                    f"population changed: {now} interactions now vs {then} then "
                    f"({now - then:+d} net)"
                )
            else:
                out.append(
                    f"population changed: {now} interactions now and then, but not the same ones"
                )
        for stratum, (was, is_) in sorted(self.strata_changes.items()):
            out.append(f"stratum {stratum}: {is_} now vs {was} then ({is_ - was:+d})")
        if self.population_matches and not self.assignment_matches:
            out.append(
                "the same interactions now fall in other strata "
                "(the people directory or the usage tiers changed)"
            )
        if self.listed_missing:
            out.append(f"{self.listed_missing} listed item(s) are no longer in the population")
        if not self.replacements_match:
            out.append(
                "the recorded replacements or extensions are not the ones the generator draws"
            )
        if self.late_arrivals:
            out.append(
                f"{self.late_arrivals} interaction(s) of the period arrived after the draw; "
                "they are not in the sample's population (the sample stands)"
            )
        return out


def reperform(session: Session, sample_id: str) -> Reperformance:
    """Draw the sample again from its manifest (strata recomputed from the fields the plan
    names, replacements re-drawn) and compare population, strata, listing and digest.

    Raises NotFoundError for an unknown sample.
    """
    manifest = load_manifest(session, sample_id)
    sample = _get_sample(session, sample_id)
    keys = population_keys(session, manifest.period, as_of=sample.created_at)
    late = len(population_keys(session, manifest.period)) - len(keys)
    assignment: dict[str, str] = {}
    assignment_ok = True
    changes: dict[str, tuple[int, int]] = {}
    if manifest.stratified:
        strat = manifest.plan["stratification"]
        assignment = _as_drawn(stratum_keys(session, manifest.period, strat["fields"]), keys)
        assignment_ok = assignment_digest(assignment) == strat["assignment_sha256"]
        now_counts = {h: len(v) for h, v in _groups(assignment).items()}
        then_counts = {h: v["population"] for h, v in strat["strata"].items()}
        for h in set(now_counts) | set(then_counts):
            if now_counts.get(h, 0) != then_counts.get(h, 0):
                changes[h] = (then_counts.get(h, 0), now_counts.get(h, 0))
    again = _original_listing(manifest, list(keys), assignment)
    again, replacements_ok = _apply_replacements(manifest, again, list(keys), assignment)
    stored = list(
        zip(manifest.strata or ["all"] * len(manifest.listing), manifest.listing, strict=True)
    )
    return Reperformance(
        sample_id=sample_id,
        population_matches=population_digest(list(keys)) == manifest.population_sha256,
        listing_matches=again == stored,
        manifest_matches=manifest.digest() == sample.manifest_sha256,
        population_count_now=len(keys),
        population_count_then=manifest.population_count,
        assignment_matches=assignment_ok,
        replacements_match=replacements_ok,
        replacements=len(manifest.plan.get("replacements", [])),
        extensions=len(manifest.plan.get("extensions", [])),
        strata_changes=changes,
        listed_missing=sum(1 for k in manifest.listing if k not in keys),
        late_arrivals=late,
    )


def replace_item(
    session: Session, sample_id: str, key: str, reason: str, *, now: datetime | None = None
) -> str:
    """Replace a listed item that cannot be used with the next item the same generator draws
    from the same stratum; record it (reason, time, key) in the plan and manifest. Returns
    the replacement's key.

    Raises NotFoundError for an unknown sample or an item not listed, InputError without a
    reason, when the population or its strata changed since the draw (the replacement would
    not be reproducible), or when the stratum has no unlisted item left.
    """
    if not reason.strip():
        raise InputError("a replacement needs a reason", hint="say why, e.g. --reason purged")
    manifest = load_manifest(session, sample_id)
    sample = _get_sample(session, sample_id)
    if key not in manifest.listing:
        raise NotFoundError(
            f"{key} is not listed in sample {sample_id}",
            hint=f"see the listing with `auditor sample show {sample_id}`",
        )
    keys = population_keys(session, manifest.period, as_of=sample.created_at)
    if population_digest(list(keys)) != manifest.population_sha256:
        raise InputError(
            f"the population of {manifest.period} changed since sample {sample_id} was drawn "
            f"({len(keys)} interactions now vs {manifest.population_count} then)",
            hint="a replacement must come from the population sampled; draw a new sample "
            "with `auditor sample draw --new`",
        )
    assignment: dict[str, str] = {}
    if manifest.stratified:
        strat = manifest.plan["stratification"]
        assignment = _as_drawn(stratum_keys(session, manifest.period, strat["fields"]), keys)
        if assignment_digest(assignment) != strat["assignment_sha256"]:
            raise InputError(
                f"the strata of sample {sample_id} changed since it was drawn",
                hint="the people directory or the usage tiers changed; draw a new sample",
            )
    order = manifest.listing.index(key) + 1
    stratum = (manifest.strata or ["all"] * len(manifest.listing))[order - 1]
    recorded = list(manifest.plan.get("replacements", []))
    count = 1 + _consumed(manifest, stratum)
    material, members, size = _stratum_members(manifest, stratum, list(keys), assignment)
    picks = replacement_draws(material, members, size, count)
    if len(picks) < count:
        raise InputError(
            f"stratum {stratum} of sample {sample_id} has no unlisted item left",
            hint="the stratum was tested in full; treat the item as not tested (a deviation)",
        )
    pick = picks[-1]
    at = (now or datetime.now(UTC).replace(tzinfo=None)).isoformat(timespec="seconds") + "Z"
    recorded.append(
        {
            "order": order,
            "stratum": stratum,
            "replaced": key,
            "replacement": pick,
            "reason": reason.strip(),
            "at": at,
            "generator": "continuation of the stratum's generator after its draw: "
            "rng.choice over the sorted keys not drawn yet",
            "continuation": count,
        }
    )
    item = session.scalar(
        select(SampleItem).where(SampleItem.sample_id == sample_id, SampleItem.draw_order == order)
    )
    assert item is not None  # the listing was read from these rows
    item.interaction_id = keys[pick]
    sample.plan = {**sample.plan, "replacements": recorded}
    session.flush()
    sample.manifest_sha256 = load_manifest(session, sample_id).digest()
    session.flush()
    return pick


# --- extending a sample -----------------------------------------------------------------------

EXTENSION_GENERATOR = (
    "continuation of the sample's generator after its draw and any earlier replacements or "
    "extensions: rng.choice over the sorted keys not drawn yet, so the items drawn first stay "
    "first and the whole listing is one simple random sample"
)
EXTENSION_EVALUATION = (
    "the extended sample is evaluated as one simple random sample of its new size, at the "
    "plan's confidence (AICPA Audit Guide, Audit Sampling, 2017: a test of controls whose "
    "deviations exceed those expected may be extended and the combined sample evaluated). The "
    "decision to extend was taken after the first items were seen; one-sample evaluation does "
    "not adjust for that second look, so over both looks the risk of overreliance is at most "
    "twice the plan's (Bonferroni). A plan that must hold its risk exactly fixes a sequential "
    "design before sampling."
)


def smallest_rescue(
    population: int, deviations: int, confidence: float, tolerable_rate: float
) -> int | None:
    """The smallest sample size whose limit with these deviations (and none more) is within
    the tolerable rate (hypergeometric on the population); None if no size up to the whole
    population is."""
    from auditor.sample.stats import upper_limit

    def ok(n: int) -> bool:
        return upper_limit(n, deviations, confidence, population) <= tolerable_rate

    if not ok(population):
        return None
    low, high = max(deviations, 1), population
    while low < high:
        mid = (low + high) // 2
        if ok(mid):
            high = mid
        else:
            low = mid + 1
    return low


def extend_sample(
    session: Session,
    sample_id: str,
    to: int,
    reason: str,
    *,
    now: datetime | None = None,
) -> list[str]:
    """Extend a simple random sample to `to` items with the next draws of its own generator;
    record the extension (from, to, reason, time, deviations then) in the plan and manifest.
    Returns the added keys in draw order.

    Allowed only as the plan's evaluation allows: the deviations found so far exceed the
    plan's expected deviations (otherwise the sample as drawn is evaluated), and the verdict
    is not yet lost (with no deviation among the added items the limit at `to` items would be
    within the tolerable rate). Raises NotFoundError for an unknown sample, InputError
    otherwise (stratified sample, size not larger or beyond the population, population
    changed since the draw, no reason, or the conditions above), with the size that would do
    in the hint where there is one.
    """
    from auditor.sample.evaluation import evaluate_plan
    from auditor.sample.stats import upper_limit

    if not reason.strip():
        raise InputError("an extension needs a reason", hint="say why, e.g. --reason ...")
    manifest = load_manifest(session, sample_id)
    sample = _get_sample(session, sample_id)
    if manifest.stratified:
        raise InputError(
            f"sample {sample_id} is stratified; extending it would change every stratum's "
            "allocation",
            hint="draw a new, larger sample with `auditor sample draw --new --size N`",
        )
    keys = population_keys(session, manifest.period, as_of=sample.created_at)
    if population_digest(list(keys)) != manifest.population_sha256:
        raise InputError(
            f"the population of {manifest.period} changed since sample {sample_id} was drawn "
            f"({len(keys)} interactions now vs {manifest.population_count} then)",
            hint="an extension must come from the population sampled",
        )
    size = len(manifest.listing)
    if not size < to <= len(keys):
        raise InputError(
            f"cannot extend sample {sample_id} from {size} to {to} items "
            f"(the population has {len(keys)})",
            hint=f"give --to between {size + 1} and {len(keys)}",
        )
    plan = manifest.plan
    confidence = float(plan.get("confidence", 0.95))
    tolerable = float(plan.get("tolerable_rate", 0.05))
    expected = int(plan.get("expected_deviations", 0))
    ev = evaluate_plan(session, sample_id)
    if ev.deviations <= expected:
        raise InputError(
            f"sample {sample_id} has {ev.deviations} deviation(s), not more than the "
            f"{expected} the plan expected: the sample as drawn is evaluated",
            hint="an extension is for a sample whose deviations exceed those expected"
            + (
                f"; {ev.awaiting_review} sampled interaction(s) still await review"
                if ev.awaiting_review
                else ""
            ),
        )
    rescue = smallest_rescue(len(keys), ev.deviations, confidence, tolerable)
    if upper_limit(to, ev.deviations, confidence, len(keys)) > tolerable:
        raise InputError(
            f"even with no deviation among the {to - size} added items, {ev.deviations} "
            f"deviation(s) in {to} would leave the upper limit above the tolerable rate",
            hint=(
                f"the smallest sample that could still support reliance is {rescue} items"
                if rescue is not None
                else "no sample of this population can: the control cannot be relied on"
            ),
        )
    first = 1 + _consumed(manifest, "all")
    material, members, base = _stratum_members(manifest, "all", list(keys), {})
    picks = replacement_draws(material, members, base, first + (to - size) - 1)[first - 1 :]
    if len(picks) != to - size:
        raise InputError(
            f"the population of {manifest.period} has no {to - size} undrawn items left",
            hint="test every item instead",
        )
    at = (now or datetime.now(UTC).replace(tzinfo=None)).isoformat(timespec="seconds") + "Z"
    extensions = list(plan.get("extensions", []))
    extensions.append(
        {
            "from": size,
            "to": to,
            "continuation": first,
            "reason": reason.strip(),
            "at": at,
            "deviations_before": ev.deviations,
            "expected_deviations": expected,
            "generator": EXTENSION_GENERATOR,
            "evaluation": EXTENSION_EVALUATION,
        }
    )
    for order, key in enumerate(picks, start=size + 1):
        session.add(
            SampleItem(
                sample_id=sample_id, draw_order=order, interaction_id=keys[key], stratum="all"
            )
        )
    sample.size = to
    sample.plan = {**sample.plan, "extensions": extensions}
    session.flush()
    sample.manifest_sha256 = load_manifest(session, sample_id).digest()
    session.flush()
    return picks
