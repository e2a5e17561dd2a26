"""The one place that knows the order of the stages: ingest, sample, scan, evaluate, findings,
tiers, report. Library code: returns what happened, never prints."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

import auditor
from auditor.config import DatabaseSettings, FeedSettings, SampleSettings, Settings
from auditor.db.keys import check_hash_key
from auditor.db.models import (
    Decision,
    Finding,
    Interaction,
    Sample,
    SampleItem,
    ScanRecord,
    SourceFile,
)
from auditor.db.session import session_scope, upgrade
from auditor.directory import DirectoryResult, link_identities, load_people
from auditor.errors import AuditorError
from auditor.findings import SOURCE_SAMPLE, FindingStats, build_findings
from auditor.ingest.stage import FileResult, IngestLimits, Mappings, ingest_paths
from auditor.ops.deliveries import DeliveryProblem, check_deliveries, input_problems
from auditor.periods import period_bounds, periods_between
from auditor.sample.selection import SamplePlan, draw_sample

if TYPE_CHECKING:
    from auditor.policy.engine import PolicyEngine
    from auditor.policy.evaluate import EvaluateStats
    from auditor.scan.engine import Scanner
    from auditor.scan.stage import ScanStats

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


def make_pseudonymizer(key: bytes) -> Callable[[str | None], str]:
    """A keyed, stable pseudonym for a user id: `P-` and 10 hex characters."""

    def pseudonym(user_id: str | None) -> str:
        if not user_id:
            return "P-unknown"
        digest = hmac.new(key, b"person\x00" + user_id.encode(), hashlib.sha256).hexdigest()
        return f"P-{digest[:10]}"

    return pseudonym


def plan_from(sample: SampleSettings) -> SamplePlan:
    """The test plan the configuration fixes before any sample is drawn."""
    return SamplePlan(
        confidence=sample.confidence,
        tolerable_rate=sample.tolerable_rate,
        expected_deviations=sample.expected_deviations,
        deviation=sample.deviation,
        strata=tuple(sample.strata),
        allocation=sample.allocation,
        min_per_stratum=sample.min_per_stratum,
    )


@dataclass
class PeriodResult:
    period: str
    sample_id: str
    sample_created: bool
    sample_size: int
    population: int
    scan: ScanStats | None = None
    evaluation: EvaluateStats | None = None
    findings: FindingStats | None = None
    tiers: dict[str, int] = field(default_factory=dict)
    report_path: Path | None = None
    open_findings: int = 0
    # The report's version; `report_unchanged` when the period's inputs were those of the
    # newest version, which `report_path` then names (nothing was rendered).
    report_version: int | None = None
    report_unchanged: bool = False


@dataclass
class RunResult:
    files: list[FileResult] = field(default_factory=list)
    directory: DirectoryResult | None = None
    periods: list[PeriodResult] = field(default_factory=list)
    # Declared sources ([[sources.feed]]) that delivered nothing, too little or too late.
    delivery_problems: list[DeliveryProblem] = field(default_factory=list)
    # Rejected records or skipped files above the [sources] thresholds.
    input_problems: list[str] = field(default_factory=list)

    @property
    def loaded(self) -> int:
        return sum(f.loaded for f in self.files)

    @property
    def open_findings(self) -> int:
        return sum(p.open_findings for p in self.periods)

    @property
    def evaluation_failures(self) -> int:
        """Sampled interactions the policy engine failed on in this run (none evaluated)."""
        return sum(getattr(p.evaluation, "failed", 0) or 0 for p in self.periods)


def periods_of_files(session: Session, files: Sequence[FileResult]) -> list[str]:
    """Every calendar month holding an interaction from these files (new or ingested before);
    months in between without any interaction are left out."""
    shas = [f.sha256 for f in files if not f.skipped]
    if not shas:
        return []
    from_files = select(SourceFile.id).where(SourceFile.sha256.in_(shas))
    first, last = session.execute(
        select(func.min(Interaction.occurred_at), func.max(Interaction.occurred_at)).where(
            Interaction.source_file_id.in_(from_files)
        )
    ).one()
    if first is None:
        return []
    months = []
    for period in periods_between(first, last):
        start, end = period_bounds(period)
        has_any = session.scalar(
            select(Interaction.id)
            .where(Interaction.source_file_id.in_(from_files))
            .where(Interaction.occurred_at >= start, Interaction.occurred_at < end)
            .limit(1)
        )
        if has_any is not None:
            months.append(period)
    return months


@dataclass
class Components:
    """Built lazily: loading spaCy and compiling policies only when a stage needs them."""

    settings: Settings
    _scanner: Scanner | None = None
    _policy: PolicyEngine | None = None
    # Called with (fields done, fields to do) while a sample is scanned (the CLI's bar), and
    # with (interactions done, to do) while it is evaluated.
    scan_progress: Callable[[int, int], None] | None = None
    evaluate_progress: Callable[[int, int], None] | None = None
    # The ledger id of the run these serve: its reports name it in their Control operation
    # section and in their version record.
    run_id: str | None = None

    @property
    def scanner(self) -> Scanner:
        if self._scanner is None:
            from auditor.scan.engine import build_scanner

            self._scanner = build_scanner(self.settings.scan, self.settings.hash_key_bytes())
        return self._scanner

    @property
    def policy(self) -> PolicyEngine:
        if self._policy is None:
            from auditor.policy.engine import build_engine

            # Fail closed: a pack or server that cannot be used makes every sampled
            # interaction "not evaluated" with the reason, never a pass or a lost run.
            self._policy = build_engine(self.settings.policy, fail_closed=True)
        return self._policy


def audit_period(
    session: Session,
    period: str,
    components: Components,
    *,
    write_report: bool = True,
    progress: Progress = _quiet,
) -> PeriodResult:
    """Sample, scan, evaluate, build findings and tiers, and report one period."""
    from auditor.policy.evaluate import evaluate_sample
    from auditor.scan.stage import scan_sample
    from auditor.tiers import compute_tiers

    settings = components.settings
    period_bounds(period)  # validates the period
    # Tiers first: they do not depend on the sample, and tier strata need them.
    progress(f"{period}: tiers: computing the usage tiers")
    tiers = compute_tiers(session, period, settings.tiers)
    sample, created = draw_sample(
        session,
        period,
        settings.sample.size,
        settings.sample.seed,
        plan=plan_from(settings.sample),
    )
    progress(f"{period}: sample {sample.id} ({sample.size} of {sample.population_count})")
    result = PeriodResult(
        period=period,
        sample_id=sample.id,
        sample_created=created,
        sample_size=sample.size,
        population=sample.population_count,
    )
    from auditor.scan.ner_decoder import fast_path_status

    fast_path = fast_path_status()
    progress(
        f"{period}: scanning with {settings.scan.model}"
        + ("" if fast_path == "on" else f" (NER fast path {fast_path}; spaCy's own decoding)")
    )
    result.scan = scan_sample(
        session,
        components.scanner,
        sample.id,
        settings.scan.fields,
        workers=settings.scan.workers,
        progress=components.scan_progress,
    )
    if result.scan.rescan_reason:
        progress(f"{period}: {result.scan.rescan_reason}")
    unavailable = getattr(components.policy, "reason", None)
    if unavailable:
        progress(
            f"{period}: policy engine unavailable, items recorded as not evaluated: {unavailable}"
        )
    progress(
        f"{period}: evaluating policies ({components.policy.name}, "
        f"revision {components.policy.revision[:12]})"
    )
    result.evaluation = evaluate_sample(
        session,
        components.policy,
        sample.id,
        require_scanned=tuple(settings.scan.fields),
        progress=components.evaluate_progress,
    )
    progress(f"{period}: findings: {result.evaluation.violations} violation(s) decided")
    result.findings = build_findings(session, sample.id, components.policy.revision)
    result.tiers = tiers
    result.open_findings = (
        session.scalar(
            select(func.count(Finding.id))
            .join(SampleItem, SampleItem.interaction_id == Finding.interaction_id)
            .where(
                SampleItem.sample_id == sample.id,
                Finding.source == SOURCE_SAMPLE,
                Finding.status.in_(("open", "pending_approval")),  # both await review
            )
        )
        or 0
    )
    if write_report:
        progress(f"{period}: report: a new version if its inputs changed")
        # Only a period whose inputs changed gets a new version of its report.
        rendered = render_report_version(
            session,
            period,
            settings,
            progress=progress,
            run_id=components.run_id,
            only_if_changed=True,
        )
        result.report_path = rendered.path
        result.report_version = rendered.version
        result.report_unchanged = rendered.unchanged
        if rendered.unchanged:
            progress(
                f"{period}: report unchanged: nothing it is built from changed since "
                f"{rendered.path.name} (v{rendered.version})"
            )
    return result


def _revisions(session: Session, period: str) -> tuple[str | None, str | None]:
    """(policy revision, scanner revision) last used on the newest sample of the period,
    the sample the report covers; (None, None) before any sample was drawn."""
    newest = session.scalar(
        select(Sample.id).where(Sample.period == period).order_by(Sample.created_at.desc()).limit(1)
    )
    if newest is None:
        return None, None
    in_sample = select(SampleItem.interaction_id).where(SampleItem.sample_id == newest)
    policy = session.scalar(
        select(Decision.policy_revision)
        .where(Decision.interaction_id.in_(in_sample))
        .order_by(Decision.evaluated_at.desc())
        .limit(1)
    )
    scanner = session.scalar(
        select(ScanRecord.scanner_revision)
        .where(ScanRecord.interaction_id.in_(in_sample))
        .order_by(ScanRecord.scanned_at.desc())
        .limit(1)
    )
    return policy, scanner


REPORT_FORMATS = ("html", "json", "csv", "ocsf")


@dataclass(frozen=True)
class RenderedReport:
    """A report rendering: the file and its version; `unchanged` when nothing was rendered
    because the period's inputs were those of the newest version, the file named."""

    path: Path
    version: int
    unchanged: bool = False


def render_report(
    session: Session,
    period: str,
    settings: Settings,
    *,
    output_dir: Path | None = None,
    manager_id: str | None = None,
    fmt: str = "html",
    progress: Progress = _quiet,
    run_id: str | None = None,
) -> Path:
    """Write a new version of the period's report in `fmt` (`render_report_version`) and
    return its path."""
    return render_report_version(
        session,
        period,
        settings,
        output_dir=output_dir,
        manager_id=manager_id,
        fmt=fmt,
        progress=progress,
        run_id=run_id,
    ).path


def render_report_version(
    session: Session,
    period: str,
    settings: Settings,
    *,
    output_dir: Path | None = None,
    manager_id: str | None = None,
    fmt: str = "html",
    progress: Progress = _quiet,
    run_id: str | None = None,
    only_if_changed: bool = False,
) -> RenderedReport:
    """Write the next version of the period's report in `fmt` (REPORT_FORMATS), signed with
    the deployment's report signing key, and record its digest, signature, version and the
    inputs it was built from (`report.versions`). An earlier version is never overwritten.

    With `only_if_changed`, nothing is written when the period's inputs are those the newest
    version recorded and its file is still there: that version is returned, `unchanged`.

    Raises NotFoundError if the period has no interactions, AuditorError for an unknown format."""
    from dataclasses import replace

    from auditor.report import versions, writers
    from auditor.report.context import build_report_context
    from auditor.report.records import record_report, report_signer
    from auditor.report.render import write_report

    write = {
        "html": write_report,
        "json": writers.write_json,
        "csv": writers.write_findings_csv,
        "ocsf": writers.write_ocsf,
    }.get(fmt)
    if write is None:
        raise AuditorError(
            f"unknown report format {fmt!r}", f"use one of: {', '.join(REPORT_FORMATS)}"
        )

    policy_revision, scanner_revision = _revisions(session, period)
    pseudonymize = make_pseudonymizer(settings.hash_key_bytes())
    packet = f"manager-{pseudonymize(manager_id)}" if manager_id else None
    out_dir = output_dir or settings.report.output_dir
    series = versions.file_name(period, fmt, packet)
    inputs = versions.period_inputs(
        session,
        period,
        settings,
        policy_revision=policy_revision,
        scanner_revision=scanner_revision,
    )
    digest = versions.inputs_digest(inputs)
    previous = versions.latest_version(session, series)
    if (
        only_if_changed
        and previous is not None
        and previous.inputs_digest == digest
        and Path(previous.path).is_file()
    ):
        return RenderedReport(Path(previous.path), previous.version or 1, unchanged=True)
    number = versions.next_version_number(
        previous, lambda n: versions.file_name(period, fmt, packet, n), out_dir
    )
    context = build_report_context(
        session,
        period,
        pseudonymize=pseudonymize,
        settings=settings,
        generated_at=datetime.now(UTC),
        auditor_version=auditor.__version__,
        policy_revision=policy_revision,
        scanner_revision=scanner_revision,
        reidentify=settings.report.reidentify,
        manager_id=manager_id,
        current_run=run_id,
    )
    context = replace(
        context,
        version=versions.describe(
            number, series, versions.file_name(period, fmt, packet, number), previous, inputs
        ),
    )
    signer = report_signer(session, settings)
    if signer.created:
        progress(
            f"report signing key {signer.fingerprint} recorded; its public key (for "
            f"`auditor verify --public-key`):\n{signer.public_key_pem}"
        )
    path = write(context, out_dir, packet=packet, signer=signer)
    written = [(path, series)]
    if fmt == "csv":
        # The Control operation section travels beside the findings CSV, whose columns are
        # one row per finding.
        written.append(
            (
                writers.write_runs_csv(context, out_dir, packet=packet, signer=signer),
                versions.file_name(period, "runs", packet),
            )
        )
    for file, its_series in written:
        record_report(
            session,
            period,
            file,
            series=its_series,
            version=number,
            run_id=run_id,
            inputs=inputs,
            inputs_digest=digest,
        )
    return RenderedReport(path, number)


def run_audit(
    engine: Engine,
    settings: Settings,
    paths: Sequence[Path],
    *,
    fmt: str = "auto",
    periods: Sequence[str] | None = None,
    people_csv: Path | None = None,
    progress: Progress = _quiet,
    components: Components | None = None,
    run_id: str | None = None,
    today: date | None = None,
) -> RunResult:
    """The scheduled job: migrate, load the directory, ingest what is new (the paths given
    and the declared `[[sources.feed]]`), then audit each period the logs cover (or the
    periods given), then check the declared sources' deliveries (`auditor.ops.deliveries`;
    `today`: the day the check is made, default the UTC date). Idempotent: a second run over
    the same logs adds no interactions, samples, detections, decisions or findings. Raises
    DatabaseDamagedError before anything else when SQLite's quick_check finds the file
    damaged (a page no earlier command read)."""
    from auditor.db.integrity import require_intact

    require_intact(engine)
    upgrade(engine)
    with session_scope(engine) as session:
        check_hash_key(session, settings.hash_key_bytes())
    components = components or Components(settings)
    result = RunResult()
    if people_csv is not None:
        # Committed on its own: a run stopped during the ingest keeps the directory.
        with session_scope(engine) as session:
            result.directory = load_people(session, people_csv)
        progress(f"directory: {result.directory.rows} people")
    with session_scope(engine) as session:
        read = _Ingest(session, settings, progress, run_id)
        result.files = read.paths(paths, fmt) if paths else []
        for feed in settings.sources.feed:
            result.files += read.feed(feed, result.delivery_problems)
        linked = link_identities(session)
        progress(f"ingest: {result.loaded} new interactions from {len(result.files)} source(s)")
        if linked:
            progress(f"directory: {linked} interaction(s) matched to people by e-mail")
    todo = list(periods) if periods else None
    if todo is None:
        with session_scope(engine) as session:
            todo = periods_of_files(session, result.files)
    for period in todo:
        with session_scope(engine) as session:
            result.periods.append(audit_period(session, period, components, progress=progress))
    with session_scope(engine) as session:
        result.delivery_problems += check_deliveries(
            session, settings.sources, todo, result.files, (today or datetime.now(UTC).date())
        )
    result.input_problems = input_problems(settings.sources, result.files)
    for line in [p.line for p in result.delivery_problems] + result.input_problems:
        progress(line)
    return result


@dataclass
class _Ingest:
    """The run's ingest: paths given, then each declared source, each file or chunk committed
    when read, so a run stopped midway keeps what it finished."""

    session: Session
    settings: Settings
    progress: Progress
    run_id: str | None

    def paths(
        self, paths: Sequence[Path], fmt: str, source_name: str | None = None
    ) -> list[FileResult]:
        ingest = self.settings.ingest
        return ingest_paths(
            self.session,
            paths,
            fmt,
            max_line_bytes=ingest.max_line_bytes,
            mappings=Mappings.from_maps(ingest.tool_map, ingest.workflow_map),
            limits=IngestLimits.from_settings(ingest),
            progress=self.progress,
            commit=self.session.commit,
            source_name=source_name,
        )

    def feed(self, feed: FeedSettings, problems: list[DeliveryProblem]) -> list[FileResult]:
        """Read one declared source. A folder that is not there is a missing delivery (named,
        the run goes on); a database that cannot be read stops the run (SourceError)."""
        from auditor.ingest.litellm_db import DatabaseSource, read_spend_logs

        if feed.path is not None:
            if not feed.path.exists():
                problems.append(
                    DeliveryProblem(
                        feed.name,
                        "missing",
                        f"source {feed.name}: {feed.path} does not exist: nothing was delivered "
                        "(check the delivery, or the mount)",
                    )
                )
                return []
            return self.paths([feed.path], feed.format, source_name=feed.name)
        assert feed.url is not None
        ingest = self.settings.ingest
        source = DatabaseSource(feed.url, lag=timedelta(minutes=feed.lag_minutes), name=feed.name)
        return [
            read_spend_logs(
                self.session,
                source,
                mappings=Mappings.from_maps(ingest.tool_map, ingest.workflow_map),
                limits=IngestLimits.from_settings(ingest),
                progress=self.progress,
                commit=self.session.commit,
                run_id=self.run_id,
            )
        ]


DEMO_SEED = 20261031
# The demo draws more than the plan needs, so its report has findings to show.
DEMO_SAMPLE_SIZE = 200


def demo_settings(settings: Settings) -> Settings:
    """The demo's own database, a fixed sample seed and the fictional bank's tool names, so it
    never mixes with real data."""
    from auditor.demo.formats import DEMO_TOOL_MAP

    demo_dir = settings.data_dir / "demo"
    # The bank's client register and restricted list, written by the demo generator, for
    # the scanner's list recognizers (only where this version's ScanSettings has them).
    reference = demo_dir / "data" / "reference"
    lists = {
        key: reference / name
        for key, name in (
            ("client_register", "client_register.csv"),
            ("restricted_list", "restricted_list.csv"),
        )
        if key in type(settings.scan).model_fields and getattr(settings.scan, key) is None
    }
    return settings.model_copy(
        update={
            "scan": settings.scan.model_copy(update=lists),
            "database": DatabaseSettings(url=f"sqlite:///{demo_dir / 'auditor.db'}"),
            "sample": settings.sample.model_copy(
                update={"size": settings.sample.size or DEMO_SAMPLE_SIZE, "seed": DEMO_SEED}
            ),
            "ingest": settings.ingest.model_copy(
                update={"tool_map": {**DEMO_TOOL_MAP, **settings.ingest.tool_map}}
            ),
        }
    )


def run_demo(
    settings: Settings,
    *,
    period: str = "2026-10",
    people: int = 300,
    progress: Progress = _quiet,
    engine_factory: Callable[[str], Engine] | None = None,
) -> RunResult:
    """Generate a synthetic month of a fictional bank's AI use and audit it end to end."""
    from auditor.db.session import make_engine
    from auditor.demo.formats import write_sources
    from auditor.demo.generator import generate_demo

    settings = demo_settings(settings)
    out_dir = settings.data_dir / "demo" / "data"
    files = generate_demo(out_dir, period=period, seed=7, people=people)
    sources = write_sources(files, out_dir / "sources")
    formats = sorted({s.source_format for s in sources})
    progress(
        f"demo: {files.interactions} interactions for {people} people, written as "
        f"{', '.join(formats)} under {out_dir}"
    )
    engine = (engine_factory or make_engine)(settings.database.url)
    try:
        return run_audit(
            engine,
            settings,
            [s.path for s in sources],
            fmt="auto",
            periods=[period],
            people_csv=files.people_csv,
            progress=progress,
        )
    finally:
        engine.dispose()


__all__ = [
    "Components",
    "PeriodResult",
    "RunResult",
    "audit_period",
    "demo_settings",
    "make_pseudonymizer",
    "render_report",
    "render_report_version",
    "run_audit",
    "run_demo",
]
