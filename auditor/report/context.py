"""Report context: plain frozen dataclasses built by SQL aggregation over the store.

Templates and writers see only these dataclasses, never ORM objects and never raw prompt or
output text: the queries here select ids, counts, hashes, masked excerpts and directory fields,
and people are shown through the `pseudonymize` function the caller passes in.

A report is about the period's population (usage) and about ONE sample, the newest drawn for
the period: findings, evidence, decisions and scan records come only from its interactions,
each counted with its newest policy evaluation and newest scan (see `_Scope`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import PurePath
from typing import Any

from sqlalchemy import ColumnElement, and_, case, distinct, func, select, tuple_
from sqlalchemy.orm import Session, aliased

from auditor.config import Settings
from auditor.db.models import (
    Decision,
    Detection,
    Finding,
    IngestRejection,
    Interaction,
    Person,
    PolicyEvaluation,
    ReviewEvent,
    Sample,
    SampleItem,
    ScanRecord,
    SourceFile,
    UsageTier,
)
from auditor.errors import NotFoundError, PolicyError
from auditor.findings import SOURCE_SAMPLE
from auditor.periods import period_bounds as parse_period
from auditor.periods import period_label, previous_period
from auditor.report.bidi import mark_bidi_controls
from auditor.report.monitoring import MonitoringSection, monitoring_section
from auditor.report.operation import OperationSection, build_operation
from auditor.report.sections_accuracy import RevisionAccuracy, revision_accuracy
from auditor.report.versions import ReportVersion
from auditor.sample.precision import Precision, expected_confirmations, review_precision

# Canonical orders; values found in the store outside these lists are appended, never dropped.
SEVERITIES: tuple[str, ...] = ("critical", "high", "medium", "low")
# "superseded": no longer produced by the current policy revision. Shown as its own status,
# never counted among the period's findings nor as awaiting review.
SUPERSEDED = "superseded"
STATUSES: tuple[str, ...] = ("open", "confirmed", "false_positive", "accepted_risk", SUPERSEDED)
TIERS: tuple[str, ...] = ("non_user", "light", "regular", "heavy")
EFFECTIVENESS_QUADRANTS: tuple[str, ...] = ("champion", "review_candidate", "no_action", "training")
NOT_PLACED = "not_placed"
UNKNOWN = "unknown"
UNREGISTERED = "unregistered"
ENGINE_FAILED = "policy engine failed"
DATA_GAPS = "data not fully scanned"
LISTING_PREVIEW = 20
SHORT_ID_CHARS = 12

# English month names, fixed so that the report does not depend on the host's locale.
Pseudonymize = Callable[[str | None], str]


# --------------------------------------------------------------------------- dataclasses


@dataclass(frozen=True, slots=True)
class Count:
    """One labelled count, e.g. ("critical", 3)."""

    key: str
    count: int


@dataclass(frozen=True, slots=True)
class CrossRow:
    """One row of a cross table: a label, one count per column, and the row total."""

    label: str
    counts: tuple[int, ...]
    total: int


@dataclass(frozen=True, slots=True)
class CrossTable:
    """A label × column table (department × tier, severity × status)."""

    row_header: str
    columns: tuple[str, ...]
    rows: tuple[CrossRow, ...]
    column_totals: tuple[int, ...]
    total: int


@dataclass(frozen=True, slots=True)
class Population:
    interactions: int
    users: int
    people_in_directory: int
    departments: int


@dataclass(frozen=True, slots=True)
class ReviewEnd:
    """The evaluation at one end of the open review (none or all awaiting items confirmed)."""

    deviations: int
    deviation_rate: float
    upper_limit: float
    relied: bool
    stated_rate: str
    stated_upper_limit: str


@dataclass(frozen=True, slots=True)
class StratumReview:
    """One stratum of a stratified sample: its counts, both ends of its open review and its
    tipping point (the stratum evaluated alone, hypergeometric on its population)."""

    name: str
    population: int
    size: int
    deviations: int
    awaiting_review: int
    weight: float
    if_none_confirmed: ReviewEnd
    if_all_confirmed: ReviewEnd
    tipping_point: int | None


@dataclass(frozen=True, slots=True)
class PlanEvaluation:
    """The sample's test plan and its evaluation: the figures an auditor signs off.

    `status` is relied, not_relied or not_concluded (sampled interactions await review and
    the review can still change the verdict). The headline figures (deviation_rate,
    upper_limit...) are those with none of the awaiting items confirmed; `if_all_confirmed`
    is the other end and `tipping_point` the fewest confirmations that make the control
    unreliable. Every `stated_*` text is the one formatter's (sample.stats.stated_*), used by
    the sentence and the tables alike."""

    confidence: float
    tolerable_rate: float
    deviation_definition: str
    sizing: str
    deviations: int
    not_tested: int
    awaiting_review: int
    deviation_rate: float
    upper_limit: float
    interval_low: float
    interval_high: float
    projected_count: float
    projected_upper: float
    conclusion: str
    provisional: bool
    status: str
    tipping_point: int | None
    tipping_method: str
    if_none_confirmed: ReviewEnd
    if_all_confirmed: ReviewEnd
    stated_confidence: str
    stated_tolerable_rate: str
    stated_deviation_rate: str
    stated_upper_limit: str
    stated_interval_low: str
    stated_interval_high: str
    # Stratified samples: the headline bound is Korn-Graubard; the conservative one beside it.
    stratified: bool = False
    upper_bonferroni: float | None = None
    stated_upper_bonferroni: str | None = None
    strata: tuple[StratumReview, ...] = ()
    # Extensions of the sample after its draw, in words, and how the extended sample is
    # evaluated (sample.selection.EXTENSION_EVALUATION); empty / None when never extended.
    extensions: tuple[str, ...] = ()
    extension_method: str | None = None
    # Interactions of the period ingested after the sample was drawn: not in its population;
    # the sample and its conclusion stand (a re-draw is asked for by name). And the reason of
    # a re-draw, when this sample replaced an earlier one.
    late_arrivals: int = 0
    late_arrivals_note: str | None = None
    redraw_note: str | None = None
    # An estimate from earlier periods' reviewer precision of how many awaiting interactions
    # the review will confirm; never used for the verdict. None without review history.
    expected_confirmations: float | None = None
    expected_confirmations_note: str | None = None


@dataclass(frozen=True, slots=True)
class SummarySection:
    period: str
    period_label: str
    population: Population
    sample_id: str | None
    sample_size: int | None
    sample_population_count: int | None
    items_with_detection: int | None
    items_with_violation: int | None
    items_confirmed: int | None
    findings_total: int
    findings_open: int
    findings_superseded: int
    findings_by_status: tuple[Count, ...]
    findings_by_severity: tuple[Count, ...]
    raw_flag_rate: float | None
    confirmed_rate: float | None
    conclusion: str
    evaluation: PlanEvaluation | None


@dataclass(frozen=True, slots=True)
class ToolUsage:
    tool: str
    interactions: int
    users: int
    models: tuple[str, ...]
    # From the tool registry (policies/data/tools.json): approved, pending, prohibited...;
    # "unregistered" for a tool the registry does not list.
    approval: str = UNREGISTERED


@dataclass(frozen=True, slots=True)
class GroupRow:
    """A row of a group-level table; cells are display strings, "< N" where suppressed."""

    label: str
    cells: tuple[str, ...]
    total: str
    suppressed: bool


@dataclass(frozen=True, slots=True)
class GroupTable:
    """A department × column table of people, with groups below the minimum size suppressed.

    Only display strings leave here: a suppressed group's counts never reach a template.
    """

    row_header: str
    columns: tuple[str, ...]
    rows: tuple[GroupRow, ...]
    column_totals: tuple[str, ...]
    total: str
    suppressed_groups: int


@dataclass(frozen=True, slots=True)
class TierScore:
    """The mean effective-use score of a tier; None when no one, or too few people, scored."""

    tier: str
    people_scored: int
    mean: float | None
    suppressed: bool


@dataclass(frozen=True, slots=True)
class UsageSection:
    """Tiers as stored for the period; the window is read from the rows, never assumed.

    `window_end` is exclusive; `window_label` says the window in words, e.g.
    "2026-10-01 to 2026-10-31 (31 days, the calendar month)".

    The effectiveness view counts people per quadrant (`EFFECTIVENESS_QUADRANTS`); regular
    users, non-users and anyone without a score are `not_placed`. Department-level figures of
    groups under `min_group_size` people are suppressed; no individual score is carried.
    """

    people_tiered: int
    window_start: datetime | None
    window_end: datetime | None
    window_days: int | None
    window_label: str | None
    tiers: tuple[Count, ...]
    department_tiers: GroupTable
    tools: tuple[ToolUsage, ...]
    content_status: tuple[Count, ...]
    min_group_size: int
    suppression_note: str | None
    effective_threshold: float
    quadrants: tuple[Count, ...]
    not_placed: int
    department_quadrants: GroupTable
    tier_scores: tuple[TierScore, ...]
    trend: PeriodTrend | None = None
    # Set when the policy pack could not be read: no registry status, no effectiveness view.
    registry_note: str | None = None


@dataclass(frozen=True, slots=True)
class RuleCount:
    rule_id: str
    title: str
    count: int
    open: int
    severity: str = ""  # the rule's most severe finding


@dataclass(frozen=True, slots=True)
class FrameworkItem:
    framework: str
    requirement: str
    title: str


@dataclass(frozen=True, slots=True)
class RuleDetail:
    """A rule with findings in the report, as the policy pack describes it."""

    rule_id: str
    severity: str
    title: str
    description: str
    remediation: str
    references: tuple[str, ...]
    frameworks: tuple[FrameworkItem, ...]


@dataclass(frozen=True, slots=True)
class TrendRow:
    """One figure of this period beside the previous one (None: not known for that period)."""

    label: str
    current: int
    previous: int | None


@dataclass(frozen=True, slots=True)
class PeriodTrend:
    """Usage against the previous month, shown when that month has interactions."""

    previous_period: str
    headline: tuple[TrendRow, ...]
    tiers: tuple[TrendRow, ...]
    tools: tuple[TrendRow, ...]


@dataclass(frozen=True, slots=True)
class FindingsSection:
    """The findings on the sample's interactions; `total` and the tables leave out superseded
    findings, which `superseded` counts and the severity × status table shows as a column."""

    sample_id: str | None
    total: int
    superseded: int
    by_severity: tuple[Count, ...]
    by_rule: tuple[RuleCount, ...]
    by_department: tuple[Count, ...]
    by_tool: tuple[Count, ...]
    severity_status: CrossTable
    # The users' usage tier (rows) against the findings' severity (columns): the risk matrix.
    tier_severity: CrossTable | None = None
    # The three most serious rules: most severe first, then most findings.
    top_risks: tuple[RuleCount, ...] = ()
    # What the pack says of each rule with findings (rules the pack no longer has: absent).
    rules: tuple[RuleDetail, ...] = ()
    # Set when the descriptions come from another pack revision than the decisions, or the
    # pack could not be read.
    rules_note: str | None = None


@dataclass(frozen=True, slots=True)
class ReviewEntry:
    at: datetime
    reviewer: str
    disposition: str
    note: str


@dataclass(frozen=True, slots=True)
class ReportFinding:
    """The one normalized finding every writer (HTML now; JSON, CSV, OCSF later) shares."""

    id: str
    short_id: str
    rule_id: str
    title: str
    severity: str
    status: str
    message: str
    who: str  # the pseudonym, or the name where the report re-identifies this finding
    pseudonym: str  # always the pseudonym: for feeds that leave the audit team (OCSF)
    department: str
    manager: str | None
    occurred_at: datetime
    tool: str
    workflow: str | None
    entity_type: str
    masked_excerpt: str | None
    first_seen: datetime
    last_seen: datetime
    reviews: tuple[ReviewEntry, ...]


@dataclass(frozen=True, slots=True)
class EvidenceSection:
    total: int
    shown: int
    limit: int
    reidentified: bool
    findings: tuple[ReportFinding, ...]


@dataclass(frozen=True, slots=True)
class SampleManifest:
    id: str
    method: str
    seed: str
    seed_source: str
    generator: str
    population_filter: tuple[tuple[str, str], ...]
    population_count: int
    population_sha256: str
    requested_size: int
    size: int
    manifest_sha256: str
    created_at: datetime
    verify_command: str


@dataclass(frozen=True, slots=True)
class ListingEntry:
    draw_order: int
    event_id: str
    stratum: str


@dataclass(frozen=True, slots=True)
class MethodSection:
    manifest: SampleManifest | None
    listing: tuple[ListingEntry, ...]
    listing_total: int
    scan_status: tuple[Count, ...]
    # "current": the revisions the figures count (the newest per interaction); "replaced":
    # older revisions still stored for the sample's interactions, shown but never counted.
    scanner_revisions_current: tuple[str, ...]
    scanner_revisions_replaced: tuple[str, ...]
    policy_revisions_current: tuple[str, ...]
    policy_revisions_replaced: tuple[str, ...]
    not_evaluated_decisions: int
    not_evaluated_interactions: int
    # Reviewer precision per rule and detection type from earlier periods' reviews
    # (sample.precision), and the rules it marks as tuning candidates.
    review_precision: tuple[Precision, ...] = ()
    tuning_candidates: tuple[str, ...] = ()
    # Rules each counted revision had when it evaluated this sample (its newest recorded run).
    policy_rule_counts: tuple[PolicyRuleCount, ...] = ()
    # Measured detection accuracy of each counted scanner revision (sections_accuracy).
    detection_accuracy: tuple[RevisionAccuracy, ...] = ()


@dataclass(frozen=True, slots=True)
class PolicyRuleCount:
    """How many rules a policy pack revision had, and which engine ran it; `rules` is None
    for decisions recorded before the evaluation was (no record of the run)."""

    revision: str
    rules: int | None
    engine: str | None


@dataclass(frozen=True, slots=True)
class SourceFileRow:
    """A log file: how many of the period's interactions came from it, then the whole file's
    own ingest counts (a file spanning several months has the same totals in each report)."""

    name: str
    source_format: str
    sha256: str
    sha256_short: str
    period_interactions: int
    records_total: int
    records_loaded: int
    records_duplicate: int
    records_rejected: int
    ingested_at: datetime


@dataclass(frozen=True, slots=True)
class CoverageSection:
    """`source_files` fed the period; `files_loaded_nothing` are files none of whose records
    loaded (they belong to no period, so every report lists them, once, on their own)."""

    source_files: tuple[SourceFileRow, ...]
    period_interactions: int
    interactions_without_file: int
    files_loaded_nothing: tuple[SourceFileRow, ...]
    rejections_logged: int
    sample_size: int | None
    sampled_content_status: tuple[Count, ...]
    fields_not_scanned: tuple[Count, ...]
    sampled_without_scan: int
    sampled_without_decision: int
    interactions_not_evaluated: int
    fully_covered: int | None
    coverage_rate: float | None
    # Why: fields by reason (over_limit, timeout, unsupported_language, error, not_stored,
    # redacted), and not-evaluated interactions by cause (policy engine failed, data gaps).
    fields_not_scanned_reasons: tuple[Count, ...] = ()
    not_evaluated_reasons: tuple[Count, ...] = ()


@dataclass(frozen=True, slots=True)
class DataSource:
    name: str
    source_format: str
    records: int
    period_interactions: int
    sha256: str


@dataclass(frozen=True, slots=True)
class ProvenanceSection:
    auditor_version: str
    config_digest: str
    policy_revision: str | None
    scanner_revision: str | None
    spacy_model: str
    generated_at: str
    data_sources: tuple[DataSource, ...]
    policy_engines: tuple[str, ...] = ()  # engines of the decisions counted (embedded, opa)
    entity_types: tuple[str, ...] = ()  # what the scanner was configured to report
    recognizers: tuple[str, ...] = ()  # recognizers behind the sample's detections
    # Whether this installation decodes spaCy's NER on the verified fast path, or why not
    # (scan.ner_decoder.fast_path_status); the scanner revision records it per scan.
    ner_fast_path: str = "on"
    # The review trail's hash chain when the report was made (auditor/db/trail.py): its last
    # event's hash, how many events, and whether every link and hash checked out.
    review_trail_head: str | None = None
    review_trail_events: int = 0
    review_trail_verified: bool = True


@dataclass(frozen=True, slots=True)
class ReportContext:
    """Everything a report shows, in sections; the only thing templates and writers see."""

    period: str
    summary: SummarySection
    usage: UsageSection
    findings: FindingsSection
    evidence: EvidenceSection
    method: MethodSection
    coverage: CoverageSection
    provenance: ProvenanceSection
    audience: str = "the risk team (all findings)"
    # `auditor monitor` on every interaction of the period; None if not monitored, and in a
    # manager's packet (auditor/report/monitoring.py).
    monitoring: MonitoringSection | None = None
    # The period's runs in the ledger (auditor/report/operation.py).
    operation: OperationSection | None = None
    # Which version of its series this rendering is, set by the writer (report/versions.py).
    version: ReportVersion | None = None


# --------------------------------------------------------------------------- helpers


@dataclass(frozen=True, slots=True)
class _Scope:
    """What every section query filters on: the period's window and its one sample, if any.

    The report is about one sample, the newest of the period: its findings, decisions and
    scan records are those of its interactions only, never another sample's.
    """

    period: str
    start: datetime
    end: datetime
    sample: Sample | None
    # A manager packet: only findings of these people (the manager's reporting line).
    team: frozenset[str] | None = None

    def in_period(self) -> ColumnElement[bool]:
        return and_(Interaction.occurred_at >= self.start, Interaction.occurred_at < self.end)

    def sampled_ids(self) -> Any:
        """A subquery of the interaction ids in the sample (empty when there is no sample)."""
        sample_id = self.sample.id if self.sample is not None else None
        return select(SampleItem.interaction_id).where(SampleItem.sample_id == sample_id)

    def sample_findings(self) -> ColumnElement[bool]:
        """Findings on the sample's interactions, superseded ones included (of the team's
        people only, in a manager packet)."""
        on_sample = and_(
            Finding.interaction_id.in_(self.sampled_ids()), Finding.source == SOURCE_SAMPLE
        )
        if self.team is None:
            return on_sample
        of_team = select(Interaction.id).where(Interaction.user_id.in_(sorted(self.team)))
        return and_(on_sample, Finding.interaction_id.in_(of_team))

    def counted_findings(self) -> ColumnElement[bool]:
        """Findings on the sample's interactions that the current policy still produces."""
        return and_(self.sample_findings(), Finding.status != SUPERSEDED)

    def current_decisions(self) -> ColumnElement[bool]:
        """Decisions of the newest evaluation of each sampled interaction.

        Newest = the latest `evaluated_at` on the interaction, and of the policy revision
        evaluated then; an older revision's verdicts (its violations, its `not_evaluated`
        rows) and an earlier run's under the same revision (a rescan re-evaluates) are left
        out. Ties on the time go to the greatest revision id, so the choice is deterministic.
        """
        d = aliased(Decision)
        latest_at = (
            select(d.interaction_id.label("iid"), func.max(d.evaluated_at).label("at"))
            .where(d.interaction_id.in_(self.sampled_ids()))
            .group_by(d.interaction_id)
            .subquery()
        )
        r = aliased(Decision)
        latest = (
            select(latest_at.c.iid, latest_at.c.at, func.max(r.policy_revision).label("rev"))
            .join(
                latest_at,
                and_(r.interaction_id == latest_at.c.iid, r.evaluated_at == latest_at.c.at),
            )
            .group_by(latest_at.c.iid, latest_at.c.at)
            .subquery()
        )
        c = aliased(Decision)
        ids = select(c.id).join(
            latest,
            and_(
                c.interaction_id == latest.c.iid,
                c.evaluated_at == latest.c.at,
                c.policy_revision == latest.c.rev,
            ),
        )
        return Decision.id.in_(ids)

    def current_scans(self) -> ColumnElement[bool]:
        """Scan records of the newest scanner revision of each sampled interaction.

        The same rule the policy stage builds its input by (the revision of the latest
        `scanned_at`), so a field that failed under an old scanner and scanned under the new
        one counts as scanned.
        """
        s = aliased(ScanRecord)
        latest_at = (
            select(s.interaction_id.label("iid"), func.max(s.scanned_at).label("at"))
            .where(s.interaction_id.in_(self.sampled_ids()))
            .group_by(s.interaction_id)
            .subquery()
        )
        r = aliased(ScanRecord)
        latest = (
            select(latest_at.c.iid, func.max(r.scanner_revision).label("rev"))
            .join(
                latest_at, and_(r.interaction_id == latest_at.c.iid, r.scanned_at == latest_at.c.at)
            )
            .group_by(latest_at.c.iid)
            .subquery()
        )
        c = aliased(ScanRecord)
        ids = select(c.id).join(
            latest, and_(c.interaction_id == latest.c.iid, c.scanner_revision == latest.c.rev)
        )
        return ScanRecord.id.in_(ids)


def _trail_facts(session: Session) -> dict[str, Any]:
    """The review trail's head, length and verdict, for the provenance section."""
    from auditor.db.trail import verify

    check = verify(session)
    return {
        "review_trail_head": check.head,
        "review_trail_events": check.events,
        "review_trail_verified": check.ok,
    }


def _ordered_counts(rows: Iterable[Sequence[Any]], order: Sequence[str]) -> tuple[Count, ...]:
    """Counts in canonical order (zeros included), then any unexpected keys, sorted."""
    found: dict[str, int] = {}
    for key, n in rows:
        label = UNKNOWN if key is None else str(key)
        found[label] = found.get(label, 0) + int(n)
    extra = sorted(k for k in found if k not in order)
    return tuple(Count(k, found.get(k, 0)) for k in (*order, *extra))


def _ranked_counts(rows: Iterable[Sequence[Any]]) -> tuple[Count, ...]:
    """Counts, largest first, ties by label."""
    counts = [Count(UNKNOWN if k is None else str(k), int(n)) for k, n in rows]
    return tuple(sorted(counts, key=lambda c: (-c.count, c.key)))


def _cross_table(
    rows: Iterable[Sequence[Any]],
    *,
    row_header: str,
    columns: Sequence[str],
    row_order: Sequence[str] | None = None,
) -> CrossTable:
    """Build a CrossTable from (row label, column label, count) rows."""
    cells: dict[tuple[str, str], int] = {}
    for row_key, col_key, n in rows:
        r = UNKNOWN if row_key is None else str(row_key)
        c = UNKNOWN if col_key is None else str(col_key)
        cells[(r, c)] = cells.get((r, c), 0) + int(n)
    cols = (*columns, *sorted({c for _, c in cells if c not in columns}))
    labels = {r for r, _ in cells}
    # A fixed row order (severities) lists every row, zeros included; otherwise rows found.
    if row_order is not None:
        ordered = [*row_order, *sorted(labels - set(row_order))]
    else:
        ordered = sorted(labels)
    table_rows = []
    for r in ordered:
        counts = tuple(cells.get((r, c), 0) for c in cols)
        table_rows.append(CrossRow(r, counts, sum(counts)))
    column_totals = tuple(sum(row.counts[i] for row in table_rows) for i in range(len(cols)))
    return CrossTable(row_header, tuple(cols), tuple(table_rows), column_totals, sum(column_totals))


def _rate(numerator: int | None, denominator: int | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return numerator / denominator


def _scalar(session: Session, stmt: Any) -> int:
    return int(session.scalar(stmt) or 0)


def _plural(n: int, one: str, many: str | None = None) -> str:
    return f"{n:,} {one if n == 1 else (many or one + 's')}"


def _percent(rate: float) -> str:
    from auditor.sample.stats import stated_rate

    return stated_rate(rate)


# --------------------------------------------------------------------------- sections


def _population(session: Session, scope: _Scope) -> Population:
    interactions = _scalar(
        session, select(func.count()).select_from(Interaction).where(scope.in_period())
    )
    users = _scalar(
        session, select(func.count(distinct(Interaction.user_id))).where(scope.in_period())
    )
    people = _scalar(session, select(func.count()).select_from(Person))
    departments = _scalar(session, select(func.count(distinct(Person.department))))
    return Population(interactions, users, people, departments)


REIDENTIFIABLE_SEVERITIES = ("critical", "high")


def _review_end(outcome: Any, tolerable_rate: float) -> ReviewEnd:
    from auditor.sample.stats import stated_limit, stated_rate

    return ReviewEnd(
        deviations=outcome.deviations,
        deviation_rate=outcome.rate,
        upper_limit=outcome.upper,
        relied=outcome.relied,
        stated_rate=stated_rate(outcome.rate),
        stated_upper_limit=stated_limit(outcome.upper, tolerable_rate),
    )


def _plan_evaluation(session: Session, sample: Sample) -> PlanEvaluation:
    from auditor.sample.evaluation import evaluate_plan
    from auditor.sample.selection import EXTENSION_EVALUATION
    from auditor.sample.stats import (
        stated_confidence,
        stated_limit,
        stated_lower,
        stated_plan_rate,
        stated_rate,
    )

    ev = evaluate_plan(session, sample.id)
    t = ev.tolerable_rate
    late = (sample.plan or {}).get("late_arrivals") or {}
    redraw = (sample.plan or {}).get("redraw") or {}
    expected = _expected_confirmations(session, sample, ev.awaiting_items)
    strata = tuple(
        StratumReview(
            name=h.name,
            population=h.population,
            size=h.size,
            deviations=h.deviations,
            awaiting_review=h.awaiting_review,
            weight=h.weight,
            if_none_confirmed=_review_end(h.review.none_confirmed, t),
            if_all_confirmed=_review_end(h.review.all_confirmed, t),
            tipping_point=h.review.tipping_point,
        )
        for h in ev.strata
        if h.review is not None
    )
    return PlanEvaluation(
        confidence=ev.confidence,
        tolerable_rate=ev.tolerable_rate,
        deviation_definition=(
            "a finding confirmed by a reviewer"
            if ev.deviation_definition == "confirmed"
            else "any finding (flagged by the policies)"
        ),
        sizing=str((sample.plan or {}).get("sizing", "fixed by configuration")),
        deviations=ev.deviations,
        not_tested=ev.not_tested,
        awaiting_review=ev.awaiting_review,
        deviation_rate=ev.deviation_rate,
        upper_limit=ev.upper_limit,
        interval_low=ev.interval[0],
        interval_high=ev.interval[1],
        projected_count=ev.projected_count,
        projected_upper=ev.projected_upper,
        conclusion=ev.conclusion,
        provisional=ev.provisional,
        status=ev.status,
        tipping_point=ev.tipping_point,
        tipping_method=getattr(ev.review, "tipping_method", "exact"),
        if_none_confirmed=_review_end(ev.review.none_confirmed, t),
        if_all_confirmed=_review_end(ev.review.all_confirmed, t),
        stated_confidence=stated_confidence(ev.confidence),
        stated_tolerable_rate=stated_plan_rate(t),
        stated_deviation_rate=stated_rate(ev.deviation_rate),
        stated_upper_limit=stated_limit(ev.upper_limit, t),
        stated_interval_low=stated_lower(ev.interval[0]),
        stated_interval_high=stated_limit(ev.interval[1]),
        stratified=ev.stratified,
        upper_bonferroni=ev.upper_bonferroni,
        stated_upper_bonferroni=(
            stated_limit(ev.upper_bonferroni, t) if ev.upper_bonferroni is not None else None
        ),
        strata=strata,
        extensions=tuple(
            f"Extended from {x['from']:,} to {x['to']:,} items on {str(x['at'])[:10]} "
            f"({x['deviations_before']:,} deviation(s) found where {x['expected_deviations']:,} "
            f"were expected): {x['reason']}"
            for x in (sample.plan or {}).get("extensions", [])
        ),
        extension_method=(EXTENSION_EVALUATION if (sample.plan or {}).get("extensions") else None),
        late_arrivals=int(late.get("count", 0)),
        late_arrivals_note=(
            f"{late['count']:,} interactions of the period were ingested after this sample was "
            f"drawn (population {late['population_then']:,} then, {late['population_now']:,} "
            "now). They are not in the population the sample was drawn from, and this "
            "conclusion covers that population only. To cover them, re-draw by name: "
            f"`auditor sample draw --period {sample.period} --new --reason ...` (recorded with "
            "its reason in the new sample's manifest)."
            if late.get("count")
            else None
        ),
        redraw_note=(
            f"This sample replaced {redraw['replaces']}, re-drawn by name: {redraw['reason']}"
            if redraw
            else None
        ),
        expected_confirmations=expected[0],
        expected_confirmations_note=expected[1],
    )


def _expected_confirmations(
    session: Session, sample: Sample, awaiting: frozenset[int]
) -> tuple[float | None, str | None]:
    """(expected confirmations, the sentence that labels it) from earlier periods' reviewer
    precision per rule; (None, None) when nothing awaits or no rule has a review history."""
    if not awaiting:
        return None, None
    start, _ = parse_period(sample.period)
    precision = review_precision(session, start)
    open_rules: dict[int, list[str]] = {iid: [] for iid in awaiting}
    for iid, rule in session.execute(
        select(Finding.interaction_id, Finding.rule_id).where(
            Finding.interaction_id.in_(awaiting),
            Finding.source == SOURCE_SAMPLE,
            Finding.status.in_(("open", "pending_approval")),
        )
    ):
        open_rules[iid].append(rule)
    est = expected_confirmations(open_rules, precision)
    if not est.estimated:
        return None, None
    return est.expected, (
        f"Estimate, not evidence: from the reviewer precision of earlier periods, about "
        f"{est.expected:,.1f} of the {est.estimated:,} awaiting interactions whose rules have a "
        f"review history may be confirmed"
        + (
            f" ({est.awaiting - est.estimated:,} others have rules never reviewed before)"
            if est.awaiting > est.estimated
            else ""
        )
        + ". The verdict waits for the review itself."
    )


def _conclusion(
    summary_period: str,
    population: Population,
    sample_size: int | None,
    with_violation: int | None,
    confirmed: int | None,
    raw_rate: float | None,
    open_by_severity: dict[str, int],
    not_evaluated: int,
    without_decision: int,
) -> str:
    """One plain-text paragraph that states the period's figures in words."""
    parts = [
        f"In {period_label(summary_period)}, {_plural(population.users, 'person', 'people')} "
        f"used AI tools in {_plural(population.interactions, 'recorded interaction')}."
    ]
    if sample_size is None:
        parts.append("No sample has been drawn for this period, so no content was examined.")
    else:
        parts.append(
            f"A sample of {_plural(sample_size, 'interaction')} was examined; "
            f"{with_violation or 0:,} of them broke at least one policy rule"
            + (f" (raw flag rate {_percent(raw_rate)})" if raw_rate is not None else "")
            + f" and {confirmed or 0:,} had a finding confirmed by a reviewer."
        )
    open_total = sum(open_by_severity.values())
    if open_total:
        pieces = [f"{open_by_severity[s]:,} {s}" for s in SEVERITIES if open_by_severity.get(s)] + [
            f"{n:,} {s}" for s, n in sorted(open_by_severity.items()) if s not in SEVERITIES and n
        ]
        verb = "awaits" if open_total == 1 else "await"
        parts.append(f"{_plural(open_total, 'finding')} {verb} review ({', '.join(pieces)}).")
    else:
        parts.append("No findings await review.")
    if not_evaluated:
        parts.append(
            f"{_plural(not_evaluated, 'sampled interaction')} could not be evaluated against the "
            "policies and must be treated as unexamined."
        )
    if without_decision:
        verb = "has" if without_decision == 1 else "have"
        parts.append(
            f"{_plural(without_decision, 'sampled interaction')} {verb} no policy decision yet "
            "and must be treated as unexamined."
        )
    return " ".join(parts)


def _summary(session: Session, scope: _Scope, population: Population) -> SummarySection:
    sample = scope.sample
    # The status table shows superseded findings as their own row; every other figure
    # counts only the findings the current policy revision still produces.
    by_status_rows = session.execute(
        select(Finding.status, func.count()).where(scope.sample_findings()).group_by(Finding.status)
    ).all()
    by_severity_rows = session.execute(
        select(Finding.severity, func.count())
        .where(scope.counted_findings())
        .group_by(Finding.severity)
    ).all()
    open_rows = session.execute(
        select(Finding.severity, func.count())
        .where(scope.counted_findings(), Finding.status == "open")
        .group_by(Finding.severity)
    ).all()
    by_status = _ordered_counts(by_status_rows, STATUSES)
    by_severity = _ordered_counts(by_severity_rows, SEVERITIES)
    open_by_severity = {str(s): int(n) for s, n in open_rows}

    with_detection = with_violation = confirmed = None
    not_evaluated = without_decision = 0
    if sample is not None:
        ids = scope.sampled_ids()
        # Detections of the newest scan only: an older scanner's hits are not evidence now.
        current_scan = select(ScanRecord.interaction_id, ScanRecord.scanner_revision).where(
            scope.current_scans()
        )
        with_detection = _scalar(
            session,
            select(func.count(distinct(Detection.interaction_id))).where(
                Detection.interaction_id.in_(ids),
                tuple_(Detection.interaction_id, Detection.scanner_revision).in_(current_scan),
            ),
        )
        with_violation = _scalar(
            session,
            select(func.count(distinct(Decision.interaction_id))).where(
                scope.current_decisions(), Decision.verdict == "violation"
            ),
        )
        confirmed = _scalar(
            session,
            select(func.count(distinct(Finding.interaction_id))).where(
                scope.counted_findings(), Finding.status == "confirmed"
            ),
        )
        not_evaluated = _not_evaluated_interactions(session, scope)
        without_decision = _sampled_without_decision(session, scope)
    raw_rate = _rate(with_violation, sample.size if sample else None)
    confirmed_rate = _rate(confirmed, sample.size if sample else None)
    evaluation = _plan_evaluation(session, sample) if sample is not None else None
    return SummarySection(
        period=scope.period,
        period_label=period_label(scope.period),
        population=population,
        sample_id=sample.id if sample else None,
        sample_size=sample.size if sample else None,
        sample_population_count=sample.population_count if sample else None,
        items_with_detection=with_detection,
        items_with_violation=with_violation,
        items_confirmed=confirmed,
        findings_total=sum(c.count for c in by_severity),
        findings_open=sum(open_by_severity.values()),
        findings_superseded=sum(c.count for c in by_status if c.key == SUPERSEDED),
        findings_by_status=by_status,
        findings_by_severity=by_severity,
        raw_flag_rate=raw_rate,
        confirmed_rate=confirmed_rate,
        conclusion=_conclusion(
            scope.period,
            population,
            sample.size if sample else None,
            with_violation,
            confirmed,
            raw_rate,
            open_by_severity,
            not_evaluated,
            without_decision,
        )
        + (" " + evaluation.conclusion if evaluation else ""),
        evaluation=evaluation,
    )


def _window_label(start: datetime, end: datetime, days: int, scope: _Scope, varies: bool) -> str:
    """ "2026-10-04 to 2026-10-31 (28 days)"; the stored end is exclusive, the label's is not."""
    last_day = (end - timedelta(microseconds=1)).date()
    label = f"{start.date().isoformat()} to {last_day.isoformat()} ({_plural(days, 'day')}"
    if (start, end) == (scope.start, scope.end):
        label += ", the calendar month"
    label += ")"
    if varies:
        label += "; the window differs between people, so this is the span of all their windows"
    return label


def _suppressed_groups(sizes: dict[str, int], min_size: int) -> set[str]:
    """The groups whose figures are suppressed: those under `min_size` people, and then the
    smallest others until the suppressed ones hold at least `min_size` people together, so
    that the totals minus the rows shown never give a small group's counts away."""
    hidden = {g for g, n in sizes.items() if n < min_size}
    if not hidden:
        return hidden
    pooled = sum(sizes[g] for g in hidden)
    rest = sorted((n, g) for g, n in sizes.items() if g not in hidden)
    while pooled < min_size and rest:
        n, g = rest.pop(0)
        hidden.add(g)
        pooled += n
    return hidden


def _group_table(
    cells: dict[tuple[str, str], int],
    sizes: dict[str, int],
    hidden: set[str],
    *,
    row_header: str,
    columns: Sequence[str],
    min_size: int,
) -> GroupTable:
    """A GroupTable of people per (group, column), every figure of a hidden group as "< N".

    Totals cover everyone; they are suppressed too if everyone together is under `min_size`.
    """
    masked = f"< {min_size}"
    rows = []
    for group in sorted(sizes):
        if group in hidden:
            rows.append(GroupRow(group, tuple(masked for _ in columns), masked, True))
        else:
            counts = tuple(cells.get((group, c), 0) for c in columns)
            rows.append(GroupRow(group, tuple(f"{n:,}" for n in counts), f"{sum(counts):,}", False))
    everyone = sum(sizes.values())
    if everyone < min_size:
        column_totals = tuple(masked for _ in columns)
        total = masked
    else:
        column_totals = tuple(
            f"{sum(n for (_, col), n in cells.items() if col == c):,}" for c in columns
        )
        total = f"{everyone:,}"
    return GroupTable(row_header, tuple(columns), tuple(rows), column_totals, total, len(hidden))


def _usage(session: Session, scope: _Scope, settings: Settings | None = None) -> UsageSection:
    """The usage section. `settings` gives the tier and report settings and the policy
    directory; without it, the defaults (the caller should pass the run's settings).

    Raises PolicyError if the tool registry (policies/data/tools.json) cannot be read.
    """
    from auditor.tiers import effective_use

    settings = settings if settings is not None else Settings()
    min_size = settings.report.min_group_size
    window_start, window_end, starts, ends = session.execute(
        select(
            func.min(UsageTier.window_start),
            func.max(UsageTier.window_end),
            func.count(distinct(UsageTier.window_start)),
            func.count(distinct(UsageTier.window_end)),
        ).where(UsageTier.period == scope.period)
    ).one()
    window_days = window_label = None
    if window_start is not None and window_end is not None:
        window_days = (window_end - window_start).days
        varies = starts > 1 or ends > 1
        window_label = _window_label(window_start, window_end, window_days, scope, varies)
    tier_rows = session.execute(
        select(UsageTier.tier, func.count())
        .where(UsageTier.period == scope.period)
        .group_by(UsageTier.tier)
    ).all()
    tiers = _ordered_counts(tier_rows, TIERS)
    department = func.coalesce(UsageTier.department, UNKNOWN)
    dept_rows = session.execute(
        select(department, UsageTier.tier, func.count())
        .where(UsageTier.period == scope.period)
        .group_by(department, UsageTier.tier)
    ).all()
    tier_cells: dict[tuple[str, str], int] = {}
    sizes: dict[str, int] = {}
    for dept, tier_name, n in dept_rows:
        tier_cells[(str(dept), str(tier_name))] = int(n)
        sizes[str(dept)] = sizes.get(str(dept), 0) + int(n)
    hidden = _suppressed_groups(sizes, min_size)
    tier_columns = (*TIERS, *sorted({t for _, t in tier_cells if t not in TIERS}))

    # Effective use: only counts and means leave this function, never a person's score.
    # It reads the tool registry; a pack that cannot be read leaves the view empty, said so.
    registry_note = None
    try:
        registry = _tool_registry(settings)
        uses = effective_use(session, scope.period, settings).values()
    except PolicyError as exc:
        registry, uses = {}, {}.values()
        registry_note = (
            f"The policy pack could not be read ({exc.message}): tools show no registry "
            "status and the effectiveness view is empty."
        )
    quadrant_counts = dict.fromkeys(EFFECTIVENESS_QUADRANTS, 0)
    quadrant_cells: dict[tuple[str, str], int] = {}
    scores: dict[str, list[float]] = {t: [] for t in tier_columns}
    for use in uses:
        place = use.quadrant or NOT_PLACED
        if use.quadrant is not None:
            quadrant_counts[use.quadrant] += 1
        key = (use.department or UNKNOWN, place)
        quadrant_cells[key] = quadrant_cells.get(key, 0) + 1
        if use.score is not None:
            scores.setdefault(use.tier, []).append(use.score)
    tier_scores = tuple(
        TierScore(
            tier=t,
            people_scored=len(v),
            mean=sum(v) / len(v) if v and len(v) >= min_size else None,
            suppressed=0 < len(v) < min_size,
        )
        for t, v in scores.items()
    )
    suppression_note = None
    if hidden or any(ts.suppressed for ts in tier_scores):
        suppression_note = (
            f"Figures for groups of fewer than {min_size} people are shown as “< {min_size}”"
            + (
                "; where one small department could be worked out from the totals, the next "
                "smallest is suppressed with it"
                if any(sizes[g] >= min_size for g in hidden)
                else ""
            )
            + ". A tier's mean score is shown only if at least "
            f"{min_size} people in it have a score."
        )

    tool = func.coalesce(Interaction.tool, UNKNOWN)
    tool_rows = session.execute(
        select(tool, func.count(), func.count(distinct(Interaction.user_id)))
        .where(scope.in_period())
        .group_by(tool)
    ).all()
    model_rows = session.execute(
        select(tool, Interaction.model)
        .where(scope.in_period(), Interaction.model.is_not(None))
        .group_by(tool, Interaction.model)
    ).all()
    models: dict[str, list[str]] = {}
    for t, m in model_rows:
        models.setdefault(str(t), []).append(str(m))
    tools = tuple(
        sorted(
            (
                ToolUsage(
                    str(t),
                    int(n),
                    int(u),
                    tuple(sorted(models.get(str(t), []))),
                    str(registry.get(str(t), {}).get("approval_status") or UNREGISTERED),
                )
                for t, n, u in tool_rows
            ),
            key=lambda x: (-x.interactions, x.tool),
        )
    )
    status_rows = session.execute(
        select(Interaction.content_status, func.count())
        .where(scope.in_period())
        .group_by(Interaction.content_status)
    ).all()
    return UsageSection(
        people_tiered=sum(c.count for c in tiers),
        window_start=window_start,
        window_end=window_end,
        window_days=window_days,
        window_label=window_label,
        tiers=tiers,
        department_tiers=_group_table(
            tier_cells,
            sizes,
            hidden,
            row_header="Department",
            columns=tier_columns,
            min_size=min_size,
        ),
        tools=tools,
        content_status=_ordered_counts(status_rows, ("present", "redacted", "not_stored")),
        min_group_size=min_size,
        suppression_note=suppression_note,
        effective_threshold=settings.tiers.effective_threshold,
        quadrants=tuple(Count(q, quadrant_counts[q]) for q in EFFECTIVENESS_QUADRANTS),
        not_placed=sum(n for (_, place), n in quadrant_cells.items() if place == NOT_PLACED),
        department_quadrants=_group_table(
            quadrant_cells,
            sizes,
            hidden,
            row_header="Department",
            columns=(*EFFECTIVENESS_QUADRANTS, NOT_PLACED),
            min_size=min_size,
        ),
        tier_scores=tier_scores,
        trend=_trend(session, scope),
        registry_note=registry_note,
    )


def _findings(session: Session, scope: _Scope) -> FindingsSection:
    counted = scope.counted_findings()
    by_severity = _ordered_counts(
        session.execute(
            select(Finding.severity, func.count()).where(counted).group_by(Finding.severity)
        ).all(),
        SEVERITIES,
    )
    severity_rank = case(
        {s: i for i, s in enumerate(SEVERITIES)}, value=Finding.severity, else_=len(SEVERITIES)
    )
    rule_rows = session.execute(
        select(
            Finding.rule_id,
            func.max(Finding.title),
            func.count(),
            func.sum(case((Finding.status == "open", 1), else_=0)),
            func.min(severity_rank),
        )
        .where(counted)
        .group_by(Finding.rule_id)
    ).all()
    by_rule = tuple(
        sorted(
            (
                RuleCount(str(r), str(t), int(n), int(o or 0), _severity_at(rank))
                for r, t, n, o, rank in rule_rows
            ),
            key=lambda x: (-x.count, x.rule_id),
        )
    )
    top_risks = tuple(
        sorted(by_rule, key=lambda x: (_severity_rank(x.severity), -x.count, x.rule_id))[:3]
    )
    tier_rows = session.execute(
        select(UsageTier.tier, Finding.severity, func.count())
        .select_from(Finding)
        .join(Interaction, Interaction.id == Finding.interaction_id)
        .outerjoin(
            UsageTier,
            and_(UsageTier.user_id == Interaction.user_id, UsageTier.period == scope.period),
        )
        .where(counted)
        .group_by(UsageTier.tier, Finding.severity)
    ).all()
    department = func.coalesce(Person.department, UNKNOWN)
    dept_rows = session.execute(
        select(department, func.count())
        .select_from(Finding)
        .join(Interaction, Interaction.id == Finding.interaction_id)
        .outerjoin(Person, Person.user_id == Interaction.user_id)
        .where(counted)
        .group_by(department)
    ).all()
    tool = func.coalesce(Interaction.tool, UNKNOWN)
    tool_rows = session.execute(
        select(tool, func.count())
        .select_from(Finding)
        .join(Interaction, Interaction.id == Finding.interaction_id)
        .where(counted)
        .group_by(tool)
    ).all()
    cross_rows = session.execute(
        select(Finding.severity, Finding.status, func.count())
        .where(scope.sample_findings())
        .group_by(Finding.severity, Finding.status)
    ).all()
    superseded = _scalar(
        session,
        select(func.count())
        .select_from(Finding)
        .where(scope.sample_findings(), Finding.status == SUPERSEDED),
    )
    return FindingsSection(
        sample_id=scope.sample.id if scope.sample is not None else None,
        total=sum(c.count for c in by_severity),
        superseded=superseded,
        by_severity=by_severity,
        by_rule=by_rule,
        by_department=_ranked_counts(dept_rows),
        by_tool=_ranked_counts(tool_rows),
        severity_status=_cross_table(
            cross_rows, row_header="Severity", columns=STATUSES, row_order=SEVERITIES
        ),
        tier_severity=_cross_table(
            tier_rows, row_header="Usage tier", columns=SEVERITIES, row_order=TIERS
        ),
        top_risks=top_risks,
    )


def _tool_registry(settings: Settings) -> dict[str, Any]:
    """The policy pack's tool registry (data/tools.json). Raises PolicyError if the pack
    cannot be read."""
    from auditor.policy.engine import load_bundle, merge_firm_tools

    tools = load_bundle(settings.policy.directory).data.get("tools")
    if settings.policy.tools is not None:
        tools = merge_firm_tools(tools, settings.policy.tools)
    return tools if isinstance(tools, dict) else {}


def _rule_details(
    settings: Settings, rule_ids: Iterable[str], decided_by: Sequence[str]
) -> tuple[tuple[RuleDetail, ...], str | None]:
    """The configured pack's description of each rule in `rule_ids`, in that order, and a note
    when that pack is not the revision (`decided_by`) that made the decisions, or cannot be
    read (then no descriptions)."""
    from auditor.policy.engine import rule_catalog

    try:
        catalog = rule_catalog(settings.policy)
    except PolicyError as exc:
        return (), f"The policy pack could not be read ({exc.message}): rules are not described."
    note = None
    if decided_by and catalog.revision not in decided_by:
        note = (
            f"Described by the policy pack configured now (revision {catalog.revision[:12]}), "
            f"not the revision that made these decisions ({', '.join(r[:12] for r in decided_by)})"
            ": wording and severities may have changed since."
        )
    known = {r.rule_id: r for r in catalog.rules}
    details = tuple(
        RuleDetail(
            rule_id=r.rule_id,
            severity=r.severity,
            title=r.title,
            description=r.description,
            remediation=r.remediation,
            references=tuple(r.references),
            frameworks=tuple(
                FrameworkItem(f.framework, f.requirement, f.title) for f in r.frameworks
            ),
        )
        for r in (known.get(rule_id) for rule_id in rule_ids)
        if r is not None
    )
    return details, note


def _severity_rank(severity: str) -> int:
    return SEVERITIES.index(severity) if severity in SEVERITIES else len(SEVERITIES)


def _severity_at(rank: int | None) -> str:
    return SEVERITIES[rank] if rank is not None and 0 <= rank < len(SEVERITIES) else UNKNOWN


def _trend(session: Session, scope: _Scope) -> PeriodTrend | None:
    """This period's usage beside the previous month's, or None when that month has none."""
    before = previous_period(scope.period)
    prev_start, prev_end = parse_period(before)
    in_prev = and_(Interaction.occurred_at >= prev_start, Interaction.occurred_at < prev_end)

    def headline(where: ColumnElement[bool]) -> tuple[int, int]:
        n, people = session.execute(
            select(func.count(), func.count(distinct(Interaction.user_id))).where(where)
        ).one()
        return int(n), int(people)

    prev_n, prev_people = headline(in_prev)
    if prev_n == 0:
        return None
    cur_n, cur_people = headline(scope.in_period())

    def tier_counts(period: str) -> dict[str, int]:
        rows = session.execute(
            select(UsageTier.tier, func.count())
            .where(UsageTier.period == period)
            .group_by(UsageTier.tier)
        ).all()
        return {str(t): int(n) for t, n in rows}

    cur_tiers, prev_tiers = tier_counts(scope.period), tier_counts(before)
    tier_names = [*TIERS, *sorted((set(cur_tiers) | set(prev_tiers)) - set(TIERS))]

    tool = func.coalesce(Interaction.tool, UNKNOWN)

    def tool_counts(where: ColumnElement[bool]) -> dict[str, int]:
        rows = session.execute(select(tool, func.count()).where(where).group_by(tool)).all()
        return {str(t): int(n) for t, n in rows}

    cur_tools, prev_tools = tool_counts(scope.in_period()), tool_counts(in_prev)
    tool_names = sorted(set(cur_tools) | set(prev_tools), key=lambda t: (-cur_tools.get(t, 0), t))
    return PeriodTrend(
        previous_period=before,
        headline=(
            TrendRow("Interactions", cur_n, prev_n),
            TrendRow("People using AI tools", cur_people, prev_people),
        ),
        tiers=tuple(
            # A tier count is known for the previous month only if its tiers were computed.
            TrendRow(t, cur_tiers.get(t, 0), prev_tiers.get(t, 0) if prev_tiers else None)
            for t in tier_names
        ),
        tools=tuple(TrendRow(t, cur_tools.get(t, 0), prev_tools.get(t, 0)) for t in tool_names),
    )


def _evidence(
    session: Session,
    scope: _Scope,
    *,
    pseudonymize: Pseudonymize,
    limit: int,
    reidentify: bool,
) -> EvidenceSection:
    manager = aliased(Person)
    severity_rank = case(
        {s: i for i, s in enumerate(SEVERITIES)}, value=Finding.severity, else_=len(SEVERITIES)
    )
    rows = session.execute(
        select(
            Finding.id,
            Finding.rule_id,
            Finding.title,
            Finding.severity,
            Finding.status,
            Finding.message,
            Finding.entity_type,
            Finding.masked_excerpt,
            Finding.first_seen,
            Finding.last_seen,
            Interaction.user_id,
            Interaction.occurred_at,
            Interaction.tool,
            Interaction.workflow,
            Person.name,
            Person.department,
            Person.manager_id,
            manager.name,
        )
        .select_from(Finding)
        .join(Interaction, Interaction.id == Finding.interaction_id)
        .outerjoin(Person, Person.user_id == Interaction.user_id)
        .outerjoin(manager, manager.user_id == Person.manager_id)
        .where(scope.counted_findings())
        .order_by(severity_rank, Finding.first_seen, Finding.id)
        .limit(limit)
    ).all()
    total = _scalar(
        session, select(func.count()).select_from(Finding).where(scope.counted_findings())
    )
    reviews: dict[str, list[ReviewEntry]] = {}
    ids = [row[0] for row in rows]
    if ids:
        for event in session.scalars(
            select(ReviewEvent)
            .where(ReviewEvent.finding_id.in_(ids))
            .order_by(ReviewEvent.finding_id, ReviewEvent.at, ReviewEvent.id)
        ):
            reviews.setdefault(event.finding_id, []).append(
                ReviewEntry(event.at, event.reviewer, event.disposition, event.note)
            )

    findings = []
    for (
        fid,
        rule_id,
        title,
        severity,
        status,
        message,
        entity_type,
        excerpt,
        first_seen,
        last_seen,
        user_id,
        occurred_at,
        tool,
        workflow,
        name,
        department,
        manager_id,
        manager_name,
    ) in rows:
        # Re-identification, where allowed at all, only for a confirmed high or critical
        # finding: everyone else stays a pseudonym even in a re-identified report.
        if reidentify and status == "confirmed" and severity in REIDENTIFIABLE_SEVERITIES:
            who = name or user_id or UNKNOWN
            boss = manager_name or manager_id
        else:
            who = pseudonymize(user_id)
            boss = pseudonymize(manager_id) if manager_id is not None else None
        findings.append(
            ReportFinding(
                id=fid,
                short_id=fid[:SHORT_ID_CHARS],
                rule_id=rule_id,
                title=title,
                severity=severity,
                status=status,
                message=message,
                who=who,
                pseudonym=pseudonymize(user_id),
                department=department or UNKNOWN,
                manager=boss,
                occurred_at=occurred_at,
                tool=tool or UNKNOWN,
                workflow=workflow,
                entity_type=entity_type,
                masked_excerpt=excerpt,
                first_seen=first_seen,
                last_seen=last_seen,
                reviews=tuple(reviews.get(fid, ())),
            )
        )
    return EvidenceSection(
        total=total,
        shown=len(findings),
        limit=limit,
        reidentified=reidentify,
        findings=tuple(findings),
    )


def _sampled_without_decision(session: Session, scope: _Scope) -> int:
    """Sampled interactions that no policy evaluation has produced a decision for."""
    return _scalar(
        session,
        select(func.count())
        .select_from(Interaction)
        .where(
            Interaction.id.in_(scope.sampled_ids()),
            Interaction.id.not_in(select(Decision.interaction_id).where(scope.current_decisions())),
        ),
    )


def _not_evaluated_interactions(session: Session, scope: _Scope) -> int:
    return _scalar(
        session,
        select(func.count(distinct(Decision.interaction_id))).where(
            scope.current_decisions(), Decision.verdict == "not_evaluated"
        ),
    )


def _revisions(session: Session, column: Any, where: ColumnElement[bool]) -> tuple[str, ...]:
    return tuple(session.scalars(select(column).where(where).distinct().order_by(column)))


def _method(session: Session, scope: _Scope) -> MethodSection:
    sample = scope.sample
    precision = tuple(review_precision(session, scope.start))
    tuning = tuple(p.key for p in precision if p.tuning_candidate)
    if sample is None:
        return MethodSection(None, (), 0, (), (), (), (), (), 0, 0, precision, tuning)
    manifest = SampleManifest(
        id=sample.id,
        method=sample.method,
        seed=sample.seed,
        seed_source=sample.seed_source,
        generator=sample.generator,
        population_filter=tuple(
            (str(k), str(v)) for k, v in sorted((sample.population_filter or {}).items())
        ),
        population_count=sample.population_count,
        population_sha256=sample.population_sha256,
        requested_size=sample.requested_size,
        size=sample.size,
        manifest_sha256=sample.manifest_sha256,
        created_at=sample.created_at,
        verify_command=f"auditor sample verify {sample.id}",
    )
    listing = tuple(
        ListingEntry(int(order), str(event_id), str(stratum))
        for order, event_id, stratum in session.execute(
            select(SampleItem.draw_order, Interaction.event_id, SampleItem.stratum)
            .join(Interaction, Interaction.id == SampleItem.interaction_id)
            .where(SampleItem.sample_id == sample.id)
            .order_by(SampleItem.draw_order)
            .limit(LISTING_PREVIEW)
        )
    )
    listing_total = _scalar(
        session,
        select(func.count()).select_from(SampleItem).where(SampleItem.sample_id == sample.id),
    )
    ids = scope.sampled_ids()
    scan_status = _ranked_counts(
        session.execute(
            select(ScanRecord.status, func.count())
            .where(scope.current_scans())
            .group_by(ScanRecord.status)
        ).all()
    )
    scanners = _revisions(session, ScanRecord.scanner_revision, scope.current_scans())
    scanners_all = _revisions(
        session, ScanRecord.scanner_revision, ScanRecord.interaction_id.in_(ids)
    )
    policies = _revisions(session, Decision.policy_revision, scope.current_decisions())
    policies_all = _revisions(session, Decision.policy_revision, Decision.interaction_id.in_(ids))
    not_evaluated_decisions = _scalar(
        session,
        select(func.count())
        .select_from(Decision)
        .where(scope.current_decisions(), Decision.verdict == "not_evaluated"),
    )
    return MethodSection(
        manifest=manifest,
        listing=listing,
        listing_total=listing_total,
        scan_status=scan_status,
        scanner_revisions_current=scanners,
        scanner_revisions_replaced=tuple(r for r in scanners_all if r not in scanners),
        policy_revisions_current=policies,
        policy_revisions_replaced=tuple(r for r in policies_all if r not in policies),
        not_evaluated_decisions=not_evaluated_decisions,
        not_evaluated_interactions=_not_evaluated_interactions(session, scope),
        review_precision=precision,
        tuning_candidates=tuning,
        policy_rule_counts=_policy_rule_counts(session, sample.id, policies),
        detection_accuracy=revision_accuracy(session, scanners),
    )


def _policy_rule_counts(
    session: Session, sample_id: str, revisions: tuple[str, ...]
) -> tuple[PolicyRuleCount, ...]:
    """Per counted policy revision: the rule count and engine of its newest evaluation run of
    the sample."""
    counts = []
    for revision in revisions:
        row = session.execute(
            select(PolicyEvaluation.rule_count, PolicyEvaluation.engine)
            .where(
                PolicyEvaluation.sample_id == sample_id,
                PolicyEvaluation.policy_revision == revision,
            )
            .order_by(PolicyEvaluation.evaluated_at.desc(), PolicyEvaluation.id.desc())
            .limit(1)
        ).first()
        counts.append(
            PolicyRuleCount(revision, row.rule_count if row else None, row.engine if row else None)
        )
    return tuple(counts)


@dataclass(frozen=True, slots=True)
class _Files:
    """The files of one report: those that fed the period, and those that loaded nothing."""

    fed: tuple[SourceFileRow, ...]
    loaded_nothing: tuple[SourceFileRow, ...]
    fed_ids: tuple[int, ...]
    loaded_nothing_ids: tuple[int, ...]


def _file_row(f: SourceFile, period_interactions: int) -> SourceFileRow:
    return SourceFileRow(
        name=PurePath(f.path).name,
        source_format=f.source_format,
        sha256=f.sha256,
        sha256_short=f.sha256[:SHORT_ID_CHARS],
        period_interactions=period_interactions,
        records_total=f.records_total,
        records_loaded=f.records_loaded,
        records_duplicate=f.records_duplicate,
        records_rejected=f.records_rejected,
        ingested_at=f.ingested_at,
    )


def _source_files(session: Session, scope: _Scope) -> _Files:
    """The files that fed this period, each with its count of the period's interactions, and
    the files none of whose records loaded at all.

    A file whose every record was rejected cannot be attributed to any period; it is listed in
    every report, on its own, so that a wholesale ingest failure is never hidden.
    """
    per_file = (
        select(Interaction.source_file_id.label("fid"), func.count().label("n"))
        .where(scope.in_period(), Interaction.source_file_id.is_not(None))
        .group_by(Interaction.source_file_id)
        .subquery()
    )
    fed = session.execute(
        select(SourceFile, per_file.c.n)
        .join(per_file, per_file.c.fid == SourceFile.id)
        .order_by(SourceFile.path, SourceFile.id)
    ).all()
    nothing = list(
        session.scalars(
            select(SourceFile)
            .where(SourceFile.records_loaded == 0, SourceFile.id.not_in(select(per_file.c.fid)))
            .order_by(SourceFile.path, SourceFile.id)
        )
    )
    return _Files(
        fed=tuple(_file_row(f, int(n)) for f, n in fed),
        loaded_nothing=tuple(_file_row(f, 0) for f in nothing),
        fed_ids=tuple(f.id for f, _ in fed),
        loaded_nothing_ids=tuple(f.id for f in nothing),
    )


def _coverage(session: Session, scope: _Scope, files: _Files) -> CoverageSection:
    file_ids = [*files.fed_ids, *files.loaded_nothing_ids]
    rejections = (
        _scalar(
            session,
            select(func.count())
            .select_from(IngestRejection)
            .where(IngestRejection.source_file_id.in_(file_ids)),
        )
        if file_ids
        else 0
    )
    without_file = _scalar(
        session,
        select(func.count())
        .select_from(Interaction)
        .where(scope.in_period(), Interaction.source_file_id.is_(None)),
    )
    sample = scope.sample
    content_status: tuple[Count, ...] = ()
    not_scanned: tuple[Count, ...] = ()
    without_scan = without_decision = not_evaluated = 0
    fully_covered = None
    reasons: tuple[Count, ...] = ()
    unevaluated_causes: tuple[Count, ...] = ()
    if sample is not None:
        ids = scope.sampled_ids()
        content_status = _ordered_counts(
            session.execute(
                select(Interaction.content_status, func.count())
                .where(Interaction.id.in_(ids))
                .group_by(Interaction.content_status)
            ).all(),
            ("present", "redacted", "not_stored"),
        )
        not_scanned = _ranked_counts(
            session.execute(
                select(ScanRecord.status, func.count())
                .where(scope.current_scans(), ScanRecord.status != "scanned")
                .group_by(ScanRecord.status)
            ).all()
        )
        reasons = _ranked_counts(
            session.execute(
                select(func.coalesce(ScanRecord.reason_code, ScanRecord.status), func.count())
                .where(scope.current_scans(), ScanRecord.status != "scanned")
                .group_by(func.coalesce(ScanRecord.reason_code, ScanRecord.status))
            ).all()
        )
        from auditor.policy.evaluate import FAILED_PREFIX

        cause = case(
            (Decision.message.startswith(FAILED_PREFIX), ENGINE_FAILED),
            else_=DATA_GAPS,
        )
        unevaluated_causes = _ranked_counts(
            session.execute(
                select(cause, func.count(distinct(Decision.interaction_id)))
                .where(scope.current_decisions(), Decision.verdict == "not_evaluated")
                .group_by(cause)
            ).all()
        )
        # Sets of sampled interaction ids by what their current scan and evaluation say;
        # Interaction is the outer table, so none of these subqueries correlates with it.
        scanned = select(ScanRecord.interaction_id).where(scope.current_scans())
        partly_scanned = select(ScanRecord.interaction_id).where(
            scope.current_scans(), ScanRecord.status != "scanned"
        )
        decided = select(Decision.interaction_id).where(scope.current_decisions())
        unevaluated = select(Decision.interaction_id).where(
            scope.current_decisions(), Decision.verdict == "not_evaluated"
        )

        def sampled_where(*conditions: ColumnElement[bool]) -> int:
            return _scalar(
                session,
                select(func.count())
                .select_from(Interaction)
                .where(Interaction.id.in_(ids), *conditions),
            )

        without_scan = sampled_where(Interaction.id.not_in(scanned))
        without_decision = _sampled_without_decision(session, scope)
        not_evaluated = _not_evaluated_interactions(session, scope)
        # Fully covered: its current scan has records and every one says "scanned", and its
        # current evaluation exists with no rule left unevaluated.
        fully_covered = sampled_where(
            Interaction.id.in_(scanned),
            Interaction.id.not_in(partly_scanned),
            Interaction.id.in_(decided),
            Interaction.id.not_in(unevaluated),
        )
    return CoverageSection(
        source_files=files.fed,
        period_interactions=sum(r.period_interactions for r in files.fed),
        interactions_without_file=without_file,
        files_loaded_nothing=files.loaded_nothing,
        rejections_logged=rejections,
        sample_size=sample.size if sample else None,
        sampled_content_status=content_status,
        fields_not_scanned=not_scanned,
        sampled_without_scan=without_scan,
        sampled_without_decision=without_decision,
        interactions_not_evaluated=not_evaluated,
        fully_covered=fully_covered,
        coverage_rate=_rate(fully_covered, sample.size if sample else None),
        fields_not_scanned_reasons=reasons,
        not_evaluated_reasons=unevaluated_causes,
    )


# --------------------------------------------------------------------------- entry point


def build_report_context(
    session: Session,
    period: str,
    *,
    pseudonymize: Pseudonymize,
    settings: Settings,
    generated_at: datetime,
    auditor_version: str,
    policy_revision: str | None,
    scanner_revision: str | None,
    reidentify: bool = False,
    manager_id: str | None = None,
    current_run: str | None = None,
) -> ReportContext:
    """Aggregate the store into the context of the report for `period` ("YYYY-MM").

    `current_run` is the ledger id of the run rendering it, listed in the Control operation
    section whatever periods its row names yet.

    With `manager_id`, a manager packet: findings and evidence of that manager's reporting
    line only (usage figures stay department-level, with small groups suppressed).
    Raises AuditorError if the period is malformed and NotFoundError if it has no
    interactions or nobody reports to the manager.
    """
    start, end = parse_period(period)
    has_any = session.scalar(
        select(Interaction.id)
        .where(Interaction.occurred_at >= start, Interaction.occurred_at < end)
        .limit(1)
    )
    if has_any is None:
        raise NotFoundError(
            f"no interactions in period {period}",
            "ingest the logs for that month first (`auditor ingest`), or pick another period",
        )
    sample = session.scalars(
        select(Sample)
        .where(Sample.period == period)
        .order_by(Sample.created_at.desc(), Sample.id.desc())
        .limit(1)
    ).first()
    team: frozenset[str] | None = None
    audience = "the risk team (all findings)"
    if manager_id is not None:
        from auditor.directory import reporting_line

        team = frozenset(reporting_line(session, manager_id))
        if not team:
            raise NotFoundError(
                f"nobody in the directory reports to {manager_id}",
                "load the directory with `auditor directory load`, or check the id",
            )
        audience = (
            f"manager {pseudonymize(manager_id)}: findings of their reporting line only "
            f"({_plural(len(team), 'person', 'people')})"
        )
    scope = _Scope(period, start, end, sample, team)

    population = _population(session, scope)
    files = _source_files(session, scope)
    findings = _findings(session, scope)
    details, rules_note = _rule_details(
        settings,
        sorted(r.rule_id for r in findings.by_rule),
        _revisions(session, Decision.policy_revision, scope.current_decisions()),
    )
    findings = replace(findings, rules=details, rules_note=rules_note)
    context = ReportContext(
        period=period,
        summary=_summary(session, scope, population),
        usage=_usage(session, scope, settings),
        findings=findings,
        evidence=_evidence(
            session,
            scope,
            pseudonymize=pseudonymize,
            limit=settings.report.max_evidence,
            reidentify=reidentify,
        ),
        method=_method(session, scope),
        coverage=_coverage(session, scope, files),
        provenance=ProvenanceSection(
            **_trail_facts(session),
            auditor_version=auditor_version,
            config_digest=settings.digest(),
            policy_revision=policy_revision,
            scanner_revision=scanner_revision,
            spacy_model=settings.scan.model,
            ner_fast_path=_ner_fast_path(),
            generated_at=generated_at.isoformat(),
            policy_engines=tuple(
                session.scalars(
                    select(Decision.engine)
                    .where(scope.current_decisions())
                    .distinct()
                    .order_by(Decision.engine)
                )
            ),
            entity_types=tuple(settings.scan.entities),
            recognizers=tuple(
                session.scalars(
                    select(Detection.recognizer)
                    .where(Detection.interaction_id.in_(scope.sampled_ids()))
                    .distinct()
                    .order_by(Detection.recognizer)
                )
            ),
            data_sources=tuple(
                DataSource(
                    f.name, f.source_format, f.records_total, f.period_interactions, f.sha256
                )
                for f in files.fed
            ),
        ),
        audience=audience,
        monitoring=monitoring_section(session, period) if team is None else None,
        operation=build_operation(
            session,
            period,
            generated_at=generated_at,
            pseudonymize=pseudonymize,
            current_run=current_run,
        ),
    )
    # Every string from a log or the directory enters the report here: a bidi control in any
    # of them is shown as a marker in every format, never obeyed (auditor/report/bidi.py).
    return mark_bidi_controls(context)


def _ner_fast_path() -> str:
    from auditor.scan.ner_decoder import fast_path_status

    return fast_path_status()
