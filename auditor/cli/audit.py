"""`auditor run`, `auditor demo`, `auditor report` and the single-stage commands."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text
from sqlalchemy.orm import Session

from auditor.cli._common import (
    PeriodOption,
    console,
    db_session,
    err_console,
    events,
    open_engine,
    settings_from,
)
from auditor.cli.directory import print_directory_result
from auditor.cli.ingest import print_file_results, print_progress, watermark_line
from auditor.config import Settings
from auditor.ops.ledger import (
    NO_NEW_DATA,
    NOT_EVALUATED,
    RunRecord,
    fill_from_run,
    record_refused,
    recorded_run,
    run_outcome,
)
from auditor.ops.lock import RunLockedError, run_lock
from auditor.ops.preflight import require_valid
from auditor.pipeline import (
    Components,
    PeriodResult,
    RunResult,
    demo_settings,
    render_report_version,
    run_audit,
    run_demo,
)


class ReportFormat(StrEnum):
    html = "html"
    json = "json"
    csv = "csv"
    ocsf = "ocsf"


_progress = print_progress


WorkersOption = Annotated[
    int | None,
    typer.Option(
        "--workers",
        "-w",
        min=1,
        help="Scan worker processes (default: scan.workers, unset: one per CPU core).",
    ),
]


class _RateColumn(ProgressColumn):
    """Fields per second, once Rich has measured it."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("–/s" if speed is None else f"{speed:,.0f}/s", style="progress.data.speed")


class _ScanBar:
    """A long stage's progress callback: one bar per scan (or evaluation), on stderr."""

    def __init__(self, bar: Progress, label: str = "scanning fields") -> None:
        self._bar = bar
        self._label = label
        self._task: object = None
        self._finished = True

    def __call__(self, done: int, total: int) -> None:
        if self._finished:
            self._task = self._bar.add_task(self._label, total=total)
        self._bar.update(self._task, completed=done, total=total)  # type: ignore[arg-type]
        self._finished = done >= total


@contextmanager
def _bars() -> Iterator[tuple[Callable[[int, int], None], Callable[[int, int], None]]]:
    """Progress callbacks for the scan and the evaluation: Rich bars on stderr, or progress
    events with `--log-format json`."""
    log = events()
    if log is not None:
        yield log.counter("scan"), log.counter("evaluate")
        return
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        _RateColumn(),
        TimeRemainingColumn(),
        TextColumn("left"),
        console=err_console,
    ) as bar:
        yield _ScanBar(bar), _ScanBar(bar, "evaluating interactions")


@contextmanager
def _scan_bar() -> Iterator[Callable[[int, int], None]]:
    with _bars() as (scan, _):
        yield scan


def input_summary(counts: dict[str, object]) -> str:
    """One line accounting for everything the run was given (the ledger's ingest counts)."""
    return (
        f"input: {counts['files']} file(s) or table read(s): {counts['files_new']} new, "
        f"{counts['files_already_ingested']} already ingested, {counts['files_skipped']} "
        f"skipped (of them {counts['files_unreadable']} unreadable); records: "
        f"{counts['records_read']} read = {counts['records_stored']} stored + "
        f"{counts['records_duplicate']} duplicate + {counts['records_rejected']} rejected"
    )


def _with_workers(settings: Settings, workers: int | None) -> Settings:
    if workers is None:
        return settings
    return settings.model_copy(
        update={"scan": settings.scan.model_copy(update={"workers": workers})}
    )


def _print_run(result: RunResult) -> None:
    if result.directory is not None:
        print_directory_result(result.directory)
    if result.files:
        print_file_results(result.files)
        for f in result.files:
            if f.watermark is not None:
                err_console.print(watermark_line(f), markup=False, highlight=False, soft_wrap=True)
    for p in result.periods:
        drawn = "drew" if p.sample_created else "reused"
        scan, ev, found = p.scan, p.evaluation, p.findings
        console.print(
            f"[bold]{p.period}[/bold]: {drawn} sample {p.sample_id} "
            f"({p.sample_size} of {p.population} interactions)",
            highlight=False,
        )
        if scan is not None:
            console.print(
                f"  scan: {scan.fields_scanned} field(s) scanned now, "
                f"{scan.fields_skipped_already_done} already scanned, "
                f"{scan.fields_not_stored} without stored content, "
                f"{scan.fields_failed} failed, "
                f"{scan.detections} new detection(s)",
                highlight=False,
            )
        if ev is not None:
            console.print(
                f"  policy: {ev.evaluated} evaluated now, {ev.skipped_already_done} already "
                f"evaluated, {ev.not_evaluated} not evaluated, {ev.violations} violation(s)",
                highlight=False,
            )
        if found is not None:
            console.print(
                f"  findings: {found.created} new, {p.open_findings} open in this sample",
                highlight=False,
            )
        console.print(
            "  tiers: " + ", ".join(f"{t} {n}" for t, n in p.tiers.items()), highlight=False
        )


def run_cmd(
    ctx: typer.Context,
    paths: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Log files or folders (optional when [[sources.feed]] declares the sources)."
        ),
    ] = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="Log format, or `auto`.")] = "auto",
    period: Annotated[
        list[str] | None,
        typer.Option("--period", "-p", help="Period(s) to audit (default: all the logs cover)."),
    ] = None,
    people: Annotated[Path | None, typer.Option(help="People directory CSV to load first.")] = None,
    workers: WorkersOption = None,
    wait: Annotated[
        float,
        typer.Option(
            "--wait",
            min=0,
            help="If another run holds the database, wait up to this many seconds for it "
            "(default 0: exit 5 at once).",
        ),
    ] = 0,
) -> None:
    """The scheduled job: ingest what is new, sample, scan, evaluate, report. Idempotent.

    Exits 3 when findings await review, 4 when the policy engine failed on sampled
    interactions, 6 when no new interaction was delivered, 7 when a declared source delivered
    nothing, too little or too late, 8 when more input was rejected than [sources] allows, so
    a scheduler can alert. Each
    run is recorded in the run ledger (`auditor runs list`).
    """
    settings = _with_workers(settings_from(ctx), workers)
    require_valid(settings)
    paths = list(paths or [])
    if not paths and not settings.sources.feed:
        raise typer.BadParameter(
            "give log files or folders, or declare the sources in [[sources.feed]]",
            param_hint="PATH",
        )
    arguments: dict[str, object] = {
        "paths": [str(p) for p in paths],
        "sources": [f.name for f in settings.sources.feed],
        "format": fmt,
        "period": list(period or []),
        "people": str(people) if people else None,
        "workers": workers,
        "wait": wait,
    }
    try:
        with run_lock(settings, "run", wait=wait):
            result, record = _run_locked(settings, paths, fmt, period, people, arguments)
    except RunLockedError as exc:
        record_refused(settings, "run", arguments, exc)
        raise
    log = events()
    if log is not None:
        log.leave()
        log.event(
            "run_finished",
            stage=None,
            outcome=record.outcome,
            exit_code=record.exit_code,
            duration_s=log.elapsed(),
            counts=record.counts,
        )
    _print_run(result)
    err_console.print(input_summary(record.counts), markup=False, highlight=False, soft_wrap=True)
    unreadable = [f for f in result.files if f.unreadable]
    if unreadable:
        err_console.print(
            f"{len(unreadable)} file(s) could not be read (see above); the others were audited",
            markup=False,
            highlight=False,
        )
    for p in result.periods:
        if p.report_path:
            console.print(
                f"report: {p.report_path}" + _version_note(p), markup=False, highlight=False
            )
    err_console.print(
        f"run {record.id}: {record.outcome} (`auditor runs show {record.id}`)",
        markup=False,
        highlight=False,
    )
    if record.outcome == NOT_EVALUATED:
        err_console.print(
            f"{result.evaluation_failures} sampled interaction(s) could not be evaluated: the "
            "policy engine failed (see the report's coverage section and `auditor policy test`)",
            markup=False,
            highlight=False,
        )
    elif record.outcome == NO_NEW_DATA:
        counts = record.counts
        where = [str(p) for p in paths] + [f"source {f.name}" for f in settings.sources.feed]
        err_console.print(
            f"no new interactions were delivered: {counts['files']} file(s) under "
            f"{', '.join(where)} ({counts['files_already_ingested']} already "
            f"ingested, {counts['files_skipped']} skipped or unreadable, "
            f"{counts['records_rejected']} record(s) rejected); check the log delivery",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    for line in [p.line for p in result.delivery_problems] + result.input_problems:
        err_console.print(line, markup=False, highlight=False, soft_wrap=True)
    if result.open_findings:
        new = record.counts.get("findings_new", 0)
        err_console.print(
            f"{result.open_findings} finding(s) await review ({new} new in this run): "
            "`auditor review list`",
            markup=False,
            highlight=False,
        )
    if record.exit_code:
        raise typer.Exit(record.exit_code)


def _version_note(p: PeriodResult) -> str:
    if p.report_unchanged:
        return f" (unchanged: nothing it is built from changed since v{p.report_version})"
    return f" (v{p.report_version})" if p.report_version and p.report_version > 1 else ""


def _run_locked(
    settings: Settings,
    paths: list[Path],
    fmt: str,
    period: list[str] | None,
    people: Path | None,
    arguments: dict[str, object],
) -> tuple[RunResult, RunRecord]:
    engine = open_engine(settings, migrate=True)
    try:
        with (
            recorded_run(engine, settings, "run", arguments, periods=period or ()) as record,
            _bars() as (scan_bar, evaluate_bar),
        ):
            log = events()
            if log is not None:
                log.run_id = record.id
                log.event("run_started", command="run", arguments=arguments)
            components = Components(
                settings,
                scan_progress=scan_bar,
                evaluate_progress=evaluate_bar,
                run_id=record.id,
            )
            result = run_audit(
                engine,
                settings,
                paths,
                fmt=fmt,
                periods=period,
                people_csv=people,
                progress=_progress,
                components=components,
                run_id=record.id,
            )
            fill_from_run(record, result, components)
            record.outcome, record.exit_code = run_outcome(result)
        return result, record
    finally:
        engine.dispose()


def demo_cmd(
    ctx: typer.Context,
    people: Annotated[int, typer.Option(help="Employees of the fictional bank.")] = 300,
    period: Annotated[str, typer.Option(help="Month to generate, YYYY-MM.")] = "2026-10",
) -> None:
    """Generate a synthetic month of a fictional bank's AI use and audit it end to end."""
    settings = settings_from(ctx)
    with run_lock(demo_settings(settings), "demo"):
        result = run_demo(settings, period=period, people=people, progress=_progress)
    _print_run(result)
    url = demo_settings(settings).database.url
    console.print(
        f"the demo's own database is {url}; to review its findings and check the report:\n"
        f"  AUDITOR_DATABASE__URL={url} auditor review list\n"
        f"  AUDITOR_DATABASE__URL={url} auditor verify REPORT",
        highlight=False,
        markup=False,
    )
    _print_demo_accounts(demo_settings(settings), url)
    for p in result.periods:
        if p.report_path:
            console.print(f"report: {p.report_path.resolve()}", markup=False, highlight=False)


def _print_demo_accounts(settings: Settings, url: str) -> None:
    """Create (or reset) the demo's accounts for `auditor serve` and print their passwords,
    the only time they are shown."""
    from auditor.serve.accounts import demo_accounts

    with db_session(settings) as session:
        accounts = demo_accounts(session, min_password_chars=settings.serve.auth.min_password_chars)
    lines = [
        f"  {a.username:<16} {a.password}  {a.role}"
        + (f" (reporting line of {a.person_id})" if a.person_id else "")
        for a in accounts
    ]
    console.print(
        "review the findings in a browser: "
        f"AUDITOR_DATABASE__URL={url} auditor serve --insecure-http\n"
        "then open http://127.0.0.1:8080/ and sign in as one of these demo accounts "
        "(passwords shown only now; stored as argon2id hashes; run the demo again for new ones):\n"
        + "\n".join(lines),
        highlight=False,
        markup=False,
        soft_wrap=True,  # the command must stay on one line to be copied
    )


def report_cmd(
    ctx: typer.Context,
    period: PeriodOption,
    output_dir: Annotated[
        Path | None, typer.Option("--output-dir", "-o", help="Folder (default: report.output_dir).")
    ] = None,
    manager: Annotated[
        str | None,
        typer.Option(help="A manager's packet: only their reporting line's findings."),
    ] = None,
    fmt: Annotated[
        ReportFormat,
        typer.Option(
            "--format",
            "-f",
            help="html: the sealed report; json: its whole data; csv: the evidence findings; "
            "ocsf: OCSF 1.3 Detection Findings, one JSON object a line.",
        ),
    ] = ReportFormat.html,
) -> None:
    """Write the period's audit report: one self-contained HTML file, or JSON, CSV or OCSF."""
    from auditor.db.session import session_scope

    settings = settings_from(ctx)
    arguments = {
        "period": [period],
        "format": fmt.value,
        "output_dir": str(output_dir) if output_dir else None,
        "manager": manager,
    }
    with run_lock(settings, "report"):
        engine = open_engine(settings)
        try:
            # Recorded in the ledger like any run: the Control operation section lists it,
            # and the run's counts name the version it wrote.
            with recorded_run(engine, settings, "report", arguments, periods=[period]) as record:
                with session_scope(engine) as session:
                    rendered = render_report_version(
                        session,
                        period,
                        settings,
                        output_dir=output_dir,
                        manager_id=manager,
                        fmt=fmt.value,
                        progress=_progress,
                        run_id=record.id,
                    )
                record.counts = {
                    "report": str(rendered.path),
                    "report_version": rendered.version,
                    "report_status": "rendered",
                    "format": fmt.value,
                }
        finally:
            engine.dispose()
    console.print(
        f"report: {rendered.path}" + (f" (v{rendered.version})" if rendered.version > 1 else ""),
        markup=False,
        highlight=False,
    )


@contextmanager
def _reachable_session(settings: Settings) -> Iterator[tuple[Session | None, str]]:
    """A session on the configured database, or None and why not: verify checks against the
    database where it can, and never creates one (a SQLite file that is not there is not
    reachable)."""
    from auditor.db.session import ensure_current, make_engine, session_scope
    from auditor.errors import AuditorError

    url = settings.database.url
    if url.startswith("sqlite://"):
        file = url.removeprefix("sqlite:///")
        if url.startswith("sqlite:///:memory:") or not file or not Path(file).is_file():
            yield None, f"no database at {url}"
            return
    try:
        engine = make_engine(url)
    except AuditorError as exc:
        yield None, exc.message
        return
    try:
        try:
            ensure_current(engine)
        except AuditorError as exc:
            yield None, exc.message
            return
        with session_scope(engine) as session:
            yield session, url
    finally:
        engine.dispose()


def verify_cmd(
    ctx: typer.Context,
    report: Annotated[
        Path,
        typer.Argument(
            help="A report: audit-<period>.html, or a JSON, CSV or OCSF sibling (with its .sig).",
            exists=True,
            dir_okay=False,
        ),
    ],
    public_key: Annotated[
        Path | None,
        typer.Option(
            "--public-key",
            help="The signing key's public key (PEM); default: the key the database recorded "
            "for the signature's fingerprint.",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
) -> None:
    """Check a report's Ed25519 signature, its stated digests, and the SHA-256 the database
    recorded when it was written; exit 1 naming the check that failed."""
    from auditor.report.integrity import verify_report
    from auditor.report.signing import load_public_key

    settings = settings_from(ctx)
    key = load_public_key(public_key) if public_key is not None else None
    with _reachable_session(settings) as (session, where):
        result = verify_report(report, public_key=key, session=session)
    if session is None:
        err_console.print(
            f"database not consulted ({where})", markup=False, highlight=False, soft_wrap=True
        )
    console.print(
        f"file SHA-256: {result.file_sha256}", markup=False, highlight=False, soft_wrap=True
    )
    for check in result.checks:
        state = {True: "ok", False: "FAILED", None: "not checked"}[check.ok]
        console.print(
            f"{check.name}: {state} ({check.detail})", markup=False, highlight=False, soft_wrap=True
        )
    if not result.ok:
        for reason in result.reasons:
            err_console.print(f"FAILED: {reason}", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(1)
    recorded = result.check("database record").ok
    console.print(
        "report verified: unchanged since it was signed by key "
        f"{result.key_fingerprint}"
        + ("" if recorded else " (not compared with the database's record)"),
        markup=False,
        highlight=False,
        soft_wrap=True,
    )


def sample_scan_cmd(
    ctx: typer.Context,
    sample_id: Annotated[str, typer.Option("--sample", help="Sample id.")],
    workers: WorkersOption = None,
) -> None:
    """Scan a sample's prompts and outputs for personal and client data."""
    from auditor.scan.stage import scan_sample

    settings = _with_workers(settings_from(ctx), workers)
    components = Components(settings)
    with db_session(settings) as session, _scan_bar() as bar:
        stats = scan_sample(
            session,
            components.scanner,
            sample_id,
            settings.scan.fields,
            workers=settings.scan.workers,
            progress=bar,
        )
    if stats.rescan_reason:
        _progress(stats.rescan_reason)
    console.print(stats)


def evaluate_cmd(
    ctx: typer.Context,
    sample_id: Annotated[str, typer.Option("--sample", help="Sample id.")],
) -> None:
    """Evaluate a scanned sample against the policies and build findings."""
    from auditor.findings import build_findings
    from auditor.policy.evaluate import evaluate_sample

    settings = settings_from(ctx)
    components = Components(settings)
    with db_session(settings) as session:
        stats = evaluate_sample(
            session, components.policy, sample_id, require_scanned=tuple(settings.scan.fields)
        )
        found = build_findings(session, sample_id, components.policy.revision)
    console.print(stats)
    console.print(found)


def tiers_cmd(ctx: typer.Context, period: PeriodOption) -> None:
    """Compute usage tiers for a period (frequency only; never a finding on its own)."""
    from auditor.tiers import compute_tiers

    settings = settings_from(ctx)
    with db_session(settings) as session:
        counts = compute_tiers(session, period, settings.tiers)
    console.print(", ".join(f"{tier}: {n}" for tier, n in counts.items()))
