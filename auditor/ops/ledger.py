"""The run ledger: which runs happened, what they read and how they ended.

A row is written (and committed) when a run starts, with outcome `running`, and updated when
it ends, also when it fails or is interrupted (Ctrl-C, SIGTERM). A process killed outright
(kill -9, a lost machine) leaves its row `running`; the next run that takes the run lock marks
it `interrupted`, as nothing else can hold the lock while that run is alive.

Outcomes and their exit codes: completed 0, findings_await_review 3, not_evaluated 4,
no_new_data 6 (nothing new was delivered: a scheduler should alert), delivery_short 7 (a
declared source delivered nothing, too little or too late), input_rejected 8 (more records
rejected or files skipped than `[sources]` allows), failed 1 (or the error's own code),
interrupted 130 (Ctrl-C) or 143 (SIGTERM), refused 5 (another run held the lock; recorded so
the ledger shows the overlap).
"""

from __future__ import annotations

import contextlib
import getpass
import hashlib
import json
import os
import secrets
import socket
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, select, update
from sqlalchemy.engine import make_url

import auditor
from auditor.config import Settings
from auditor.db.models import Run
from auditor.db.session import session_scope
from auditor.errors import AuditorError

if TYPE_CHECKING:
    from auditor.ingest.stage import FileResult
    from auditor.pipeline import Components, RunResult

RUNNING = "running"
COMPLETED = "completed"
FINDINGS_AWAIT_REVIEW = "findings_await_review"
NOT_EVALUATED = "not_evaluated"
NO_NEW_DATA = "no_new_data"
DELIVERY_SHORT = "delivery_short"
INPUT_REJECTED = "input_rejected"
FAILED = "failed"
INTERRUPTED = "interrupted"

EXIT_FINDINGS = 3
EXIT_NOT_EVALUATED = 4
EXIT_NO_NEW_DATA = 6
EXIT_DELIVERY_SHORT = 7
EXIT_INPUT_REJECTED = 8

REFUSED = "refused"  # another run held the lock (exit 5)

OUTCOMES = (
    RUNNING,
    REFUSED,
    COMPLETED,
    FINDINGS_AWAIT_REVIEW,
    NOT_EVALUATED,
    NO_NEW_DATA,
    DELIVERY_SHORT,
    INPUT_REJECTED,
    FAILED,
    INTERRUPTED,
)


class Terminated(BaseException):  # noqa: N818 - named for the signal, like KeyboardInterrupt
    """SIGTERM, raised where the process was so that open transactions roll back, the stages
    already committed stay, and the ledger says `interrupted` (exit 143). Not a
    KeyboardInterrupt: the CLI framework would turn that into a plain exit 1."""


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def new_run_id(now: datetime) -> str:
    """`R-20261207-210110-3f9a1c`: sortable by start, unique across machines."""
    return f"R-{now:%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"


def config_digest(settings: Settings) -> str:
    """SHA-256 of the effective settings as canonical JSON: secrets masked (pydantic's
    SecretStr), the database password left out."""
    doc = settings.model_dump(mode="json")
    doc["database"]["url"] = make_url(settings.database.url).render_as_string(hide_password=True)
    return hashlib.sha256(
        json.dumps(doc, sort_keys=True, separators=(",", ":"), default=str).encode()
    ).hexdigest()


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return str(os.getuid())


@dataclass
class RunRecord:
    """What the caller fills in while the run goes; written to the row when it ends."""

    id: str
    outcome: str = COMPLETED
    exit_code: int = 0
    periods: list[str] = field(default_factory=list)
    files: list[dict[str, Any]] = field(default_factory=list)
    counts: dict[str, Any] = field(default_factory=dict)
    policy_revision: str | None = None
    scanner_revision: str | None = None


@contextmanager
def recorded_run(
    engine: Engine,
    settings: Settings,
    command: str,
    arguments: dict[str, Any],
    *,
    periods: Sequence[str] = (),
) -> Iterator[RunRecord]:
    """Record the block as one run in the ledger. Call while holding the run lock, on a
    migrated database. The block sets the record's outcome, exit code and counts; an exception
    records `failed` (or `interrupted`) with the error's class and re-raises it."""
    now = _now()
    record = RunRecord(id=new_run_id(now), periods=list(periods))
    with session_scope(engine) as session:
        session.execute(
            update(Run)
            .where(Run.outcome == RUNNING)
            .values(
                outcome=INTERRUPTED,
                error="the process ended without recording its end (killed, or the machine "
                f"stopped); found by {record.id}",
            )
        )
        session.add(
            Run(
                id=record.id,
                command=command,
                arguments=arguments,
                periods=record.periods,
                started_at=now,
                ended_at=None,
                host=socket.gethostname(),
                os_user=_os_user(),
                pid=os.getpid(),
                version=auditor.__version__,
                config_digest=config_digest(settings),
                outcome=RUNNING,
                exit_code=None,
                files=[],
                counts={},
            )
        )
    try:
        yield record
    except BaseException as exc:
        if isinstance(exc, (KeyboardInterrupt, Terminated)):
            record.outcome = INTERRUPTED
            record.exit_code = 143 if isinstance(exc, Terminated) else 130
        else:
            record.outcome = FAILED
            record.exit_code = exc.exit_code if isinstance(exc, AuditorError) else 1
        # The database may be what failed: then the row stays `running` until the next run
        # marks it interrupted, and the original error is what the user sees.
        with contextlib.suppress(Exception):
            _finish(engine, record, error=_error_text(exc))
        raise
    _finish(engine, record, error=None)


def record_refused(
    settings: Settings, command: str, arguments: dict[str, Any], exc: AuditorError
) -> None:
    """Record a run that did not start because another held the lock (exit 5), so the ledger
    shows the overlap. Best effort: without a reachable, migrated database nothing is written.
    Does not touch other rows (this process does not hold the lock)."""
    from sqlalchemy.exc import SQLAlchemyError

    from auditor.db.session import ensure_current, make_engine

    now = _now()
    try:
        engine = make_engine(settings.database.url)
    except AuditorError:
        return
    try:
        ensure_current(engine)
        with session_scope(engine) as session:
            session.add(
                Run(
                    id=new_run_id(now),
                    command=command,
                    arguments=arguments,
                    periods=list(arguments.get("period") or []),
                    started_at=now,
                    ended_at=now,
                    host=socket.gethostname(),
                    os_user=_os_user(),
                    pid=os.getpid(),
                    version=auditor.__version__,
                    config_digest=config_digest(settings),
                    outcome=REFUSED,
                    exit_code=exc.exit_code,
                    error=_error_text(exc),
                    files=[],
                    counts={},
                )
            )
    except (AuditorError, SQLAlchemyError):
        pass
    finally:
        engine.dispose()


def _error_text(exc: BaseException) -> str:
    # Library errors carry a message written for the user (never prompt text); anything else
    # is named by its class only, as its message can quote data.
    if isinstance(exc, AuditorError):
        return f"{type(exc).__name__}: {exc.message}"[:500]
    return type(exc).__name__


def _finish(engine: Engine, record: RunRecord, *, error: str | None) -> None:
    with session_scope(engine) as session:
        session.execute(
            update(Run)
            .where(Run.id == record.id)
            .values(
                ended_at=_now(),
                outcome=record.outcome,
                exit_code=record.exit_code,
                error=error,
                periods=record.periods,
                files=record.files,
                counts=record.counts,
                policy_revision=record.policy_revision,
                scanner_revision=record.scanner_revision,
            )
        )


def file_entries(files: Sequence[FileResult]) -> list[dict[str, Any]]:
    """The ledger's account of each file looked at: path, digest, format, counts, and why it
    was not read (already ingested, not a log format, unreadable)."""
    out = []
    for f in files:
        entry: dict[str, Any] = {
            "path": f.location,
            "sha256": f.sha256 or None,
            "format": f.source_format,
            "total": f.total,
            "loaded": f.loaded,
            "duplicate": f.duplicate,
            "rejected": f.rejected,
        }
        if f.source_name is not None:
            entry["source"] = f.source_name
        if f.watermark is not None:
            entry["watermark"] = f.watermark
        if f.already_ingested:
            entry["skipped"] = "already ingested"
        elif f.skipped:
            entry["skipped"] = f.skipped
        out.append(entry)
    return out


def source_counts(files: Sequence[FileResult]) -> dict[str, dict[str, Any]]:
    """What each declared source (`[[sources.feed]]`) delivered in this run: files, records,
    and a database source's watermark after the read."""
    out: dict[str, dict[str, Any]] = {}
    for name in dict.fromkeys(f.source_name for f in files if f.source_name is not None):
        mine = [f for f in files if f.source_name == name]
        entry: dict[str, Any] = ingest_counts(mine)
        marks = [f.watermark for f in mine if f.watermark is not None]
        if marks:
            entry["watermark"] = marks[-1].get("after")
            entry["records_beyond_lag"] = sum(m.get("beyond_lag", 0) for m in marks)
        out[name] = entry
    return out


def ingest_counts(files: Sequence[FileResult]) -> dict[str, Any]:
    return {
        "files": len(files),
        "files_new": sum(1 for f in files if not f.skipped and not f.already_ingested),
        "files_already_ingested": sum(1 for f in files if f.already_ingested),
        "files_skipped": sum(1 for f in files if f.skipped and not f.already_ingested),
        "files_unreadable": sum(1 for f in files if f.unreadable),
        "records_read": sum(f.total for f in files),
        "records_stored": sum(f.loaded for f in files),
        "records_duplicate": sum(f.duplicate for f in files),
        "records_rejected": sum(f.rejected for f in files),
    }


def run_outcome(result: RunResult) -> tuple[str, int]:
    """The outcome of an `auditor run` and its exit code: the policy engine failing comes
    first (the control was not tested), then a declared source's missing, short or late
    delivery, then too much rejected input, then nothing new delivered (no interaction stored
    and no period sampled for the first time), then new or reopened findings."""
    if result.evaluation_failures:
        return NOT_EVALUATED, EXIT_NOT_EVALUATED
    if result.delivery_problems:
        return DELIVERY_SHORT, EXIT_DELIVERY_SHORT
    if result.input_problems:
        return INPUT_REJECTED, EXIT_INPUT_REJECTED
    # Nothing stored and nothing to audit for the first time (a run stopped after its ingest
    # leaves periods whose first sample the rerun draws: that is new work, not a missing
    # delivery).
    if result.loaded == 0 and not any(p.sample_created for p in result.periods):
        return NO_NEW_DATA, EXIT_NO_NEW_DATA
    # Once per new (or reopened) finding: findings still open from an earlier run are the
    # standing count in the ledger (`findings_open`), not a new alert on every rerun.
    if _new_findings(result):
        return FINDINGS_AWAIT_REVIEW, EXIT_FINDINGS
    return COMPLETED, 0


def _new_findings(result: RunResult) -> int:
    return sum(
        (p.findings.created + p.findings.reopened) if p.findings is not None else 0
        for p in result.periods
    )


def fill_from_run(record: RunRecord, result: RunResult, components: Components) -> None:
    """Put an `auditor run`'s files, periods, revisions and per-stage counts on the record."""
    record.files = file_entries(result.files)
    record.periods = [p.period for p in result.periods] or record.periods
    counts: dict[str, Any] = ingest_counts(result.files)
    if result.directory is not None:
        counts["people_loaded"] = result.directory.rows
    per_period = {}
    for p in result.periods:
        scan, ev, found = p.scan, p.evaluation, p.findings
        per_period[p.period] = {
            "sample_id": p.sample_id,
            "sample_drawn": p.sample_created,
            "population": p.population,
            "sampled": p.sample_size,
            "fields_scanned": getattr(scan, "fields_scanned", 0),
            "fields_failed": getattr(scan, "fields_failed", 0),
            "detections_new": getattr(scan, "detections", 0),
            "evaluated": getattr(ev, "evaluated", 0),
            "not_evaluated": getattr(ev, "not_evaluated", 0),
            "violations": getattr(ev, "violations", 0),
            "findings_new": getattr(found, "created", 0),
            "findings_open": p.open_findings,
            "report": str(p.report_path) if p.report_path else None,
            # Which version of the period's report this run wrote, or that it wrote none
            # because nothing the report is built from changed ("unchanged").
            "report_version": p.report_version,
            "report_status": (
                None
                if p.report_path is None
                else ("unchanged" if p.report_unchanged else "rendered")
            ),
        }
    counts["periods"] = per_period
    counts["sources"] = source_counts(result.files)
    counts["records_beyond_lag"] = sum(
        (f.watermark or {}).get("beyond_lag", 0) for f in result.files
    )
    counts["delivery_problems"] = [
        {"source": p.source, "kind": p.kind, "line": p.line} for p in result.delivery_problems
    ]
    counts["input_problems"] = list(result.input_problems)
    counts["findings_new"] = _new_findings(result)
    counts["findings_open"] = result.open_findings
    record.counts = counts
    if components._policy is not None:
        record.policy_revision = components._policy.revision
    if components._scanner is not None:
        record.scanner_revision = components._scanner.revision


def list_runs(engine: Engine, *, period: str | None = None, limit: int = 100) -> list[Run]:
    """The newest runs first; with `period`, those that covered it."""
    with session_scope(engine) as session:
        rows = list(session.scalars(select(Run).order_by(Run.started_at.desc(), Run.id.desc())))
    if period is not None:
        rows = [r for r in rows if period in (r.periods or [])]
    return rows[:limit]


def get_run(engine: Engine, run_id: str) -> Run:
    """One run by its id or a unique prefix of it. Raises NotFoundError."""
    from auditor.errors import NotFoundError

    with session_scope(engine) as session:
        run = session.get(Run, run_id)
        if run is None:
            prefix = Run.id.startswith(run_id, autoescape=True)
            matches = list(session.scalars(select(Run).where(prefix).limit(2)))
            if len(matches) == 1:
                run = matches[0]
    if run is None:
        raise NotFoundError(f"no run {run_id!r} in the ledger", "see `auditor runs list`")
    return run


def run_document(run: Run) -> dict[str, Any]:
    """A run as plain JSON-ready data (what `auditor runs show` prints)."""

    def iso(moment: datetime | None) -> str | None:
        return None if moment is None else moment.isoformat(timespec="seconds") + "Z"

    return {
        "id": run.id,
        "command": run.command,
        "arguments": run.arguments,
        "periods": run.periods,
        "started_at": iso(run.started_at),
        "ended_at": iso(run.ended_at),
        "host": run.host,
        "user": run.os_user,
        "pid": run.pid,
        "version": run.version,
        "config_digest": run.config_digest,
        "policy_revision": run.policy_revision,
        "scanner_revision": run.scanner_revision,
        "outcome": run.outcome,
        "exit_code": run.exit_code,
        "error": run.error,
        "files": run.files,
        "counts": run.counts,
    }
