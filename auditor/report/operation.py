"""The report's "Control operation" section: the runs of the ledger that touched the period.

An auditor shows that the scheduled control ran and completed by the run ledger
(`auditor.ops.ledger`): every `auditor run`, `ingest`, `report` and `db purge` leaves a row.
The section lists the period's runs, oldest first, with their outcome, exit code and the
counts that matter, and says in one sentence how the control went.

A run touched a period when:
- the period is among the run's periods (asked for, or found in its logs);
- it is the run rendering this report (its row says `running` until it ends);
- it is a `db purge` whose cut-off falls after the period's start (it removed raw text of
  the period's interactions, or would have);
- it recorded no period (refused by the run lock, or stopped before it knew which months its
  logs hold) and started while the period was being audited: between the start of the first
  run that touched the period and the end of the last.

Nothing here reads prompt text. Arguments are shown as given (paths are fine), with the
password of any URL in them masked and a manager packet's manager by pseudonym; error texts
are library messages, masked the same way.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from auditor.db.models import Run
from auditor.periods import period_bounds

PURGE = "db purge"
RUNNING = "running"
INTERRUPTED = "interrupted"
FAILED = "failed"
REFUSED = "refused"
# Outcomes of a run that did its work to the end (the control ran), whatever it found.
FINISHED = ("completed", "findings_await_review", "not_evaluated", "no_new_data")

_URL_PASSWORD = re.compile(r"(?P<head>\b[a-zA-Z][a-zA-Z0-9+.\-]*://[^:/@\s]*):[^@\s]*@")
_SECRET_KEY = re.compile(r"password|passwd|secret|token|credential", re.IGNORECASE)
# Arguments that name a person by directory id: shown by pseudonym.
_PERSON_KEYS = frozenset({"manager"})
Pseudonymize = Callable[[str | None], str]


@dataclass(frozen=True, slots=True)
class OperationRun:
    """One run of the ledger as the section shows it (counts None where the run has none)."""

    id: str
    command: str
    arguments: str
    started_at: datetime
    ended_at: datetime | None
    host: str
    outcome: str
    exit_code: int | None
    this_run: bool
    files: int | None
    records_read: int | None
    records_stored: int | None
    records_rejected: int | None
    sampled: int | None
    scanned: int | None
    evaluated: int | None
    not_evaluated: int | None
    findings_new: int | None
    findings_open: int | None
    purged: int | None
    report: str | None
    note: str | None


@dataclass(frozen=True, slots=True)
class OperationSection:
    """The period's runs, oldest first, and what they add up to."""

    runs: tuple[OperationRun, ...]
    statement: str
    finished: int
    interrupted: int
    failed: int
    refused: int


def mask_secrets(text: str) -> str:
    """`text` with the password of any URL in it replaced by `***`
    (`postgresql://app:s3cret@db/x` -> `postgresql://app:***@db/x`)."""
    return _URL_PASSWORD.sub(r"\g<head>:***@", text)


def _argument_text(arguments: dict[str, Any], pseudonymize: Pseudonymize) -> str:
    """`key=value` for each argument given (empty ones left out), secrets masked, a person
    (a manager packet's manager) by pseudonym as everywhere in the report."""
    parts = []
    for key, value in (arguments or {}).items():
        if value is None or value == [] or value == "":
            continue
        if _SECRET_KEY.search(str(key)):
            shown = "***"
        elif key in _PERSON_KEYS:
            shown = pseudonymize(str(value))
        elif isinstance(value, list | tuple):
            shown = ",".join(str(v) for v in value)
        else:
            shown = str(value)
        parts.append(f"{key}={mask_secrets(shown)}")
    return " ".join(parts)


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _purge_touches(run: Run, start: datetime) -> bool:
    before = (run.counts or {}).get("before")
    if not isinstance(before, str):
        return False
    try:
        cutoff = datetime.fromisoformat(before.removesuffix("Z"))
    except ValueError:
        return False
    if cutoff.tzinfo is not None:
        cutoff = cutoff.astimezone(UTC).replace(tzinfo=None)
    return cutoff > start


def _report_text(period_counts: dict[str, Any]) -> str | None:
    report = period_counts.get("report")
    status = period_counts.get("report_status")
    version = period_counts.get("report_version")
    name = str(report).replace("\\", "/").rsplit("/", 1)[-1] if report else None
    if status == "unchanged":
        return f"unchanged: {name} (v{version}) stays the newest" if name else "unchanged"
    if name:
        return f"{name} (v{version})" if version else name
    return None


def _row(run: Run, period: str, this_run: bool, pseudonymize: Pseudonymize) -> OperationRun:
    counts = run.counts or {}
    per = (counts.get("periods") or {}).get(period) or {}
    if run.command == "report" and not per and counts.get("report"):
        per = counts
    note = None
    if this_run and run.outcome == RUNNING:
        note = "this run: it rendered this report and was still running when it did"
    elif run.error:
        note = mask_secrets(run.error)
    return OperationRun(
        id=run.id,
        command=run.command,
        arguments=_argument_text(run.arguments, pseudonymize),
        started_at=run.started_at,
        ended_at=run.ended_at,
        host=run.host,
        outcome=run.outcome,
        exit_code=run.exit_code,
        this_run=this_run,
        files=_int(counts.get("files")),
        records_read=_int(counts.get("records_read")),
        records_stored=_int(counts.get("records_stored")),
        records_rejected=_int(counts.get("records_rejected")),
        sampled=_int(per.get("sampled")),
        scanned=_int(per.get("fields_scanned")),
        evaluated=_int(per.get("evaluated")),
        not_evaluated=_int(per.get("not_evaluated")),
        findings_new=_int(per.get("findings_new")),
        findings_open=_int(per.get("findings_open")),
        purged=_int(counts.get("purged")),
        report=_report_text(per),
        note=note,
    )


def period_runs(
    session: Session, period: str, *, current_run: str | None = None, now: datetime | None = None
) -> list[Run]:
    """The ledger's runs that touched `period` (see the module's rules), oldest first."""
    start, _ = period_bounds(period)
    runs = list(session.scalars(select(Run).order_by(Run.started_at, Run.id)))
    touching = {
        r.id
        for r in runs
        if period in (r.periods or [])
        or r.id == current_run
        or (r.command == PURGE and _purge_touches(r, start))
    }
    named = [r for r in runs if r.id in touching and r.command != PURGE]
    if named:
        first = named[0].started_at
        ends = [r.ended_at or now or r.started_at for r in named]
        last = max(ends)
        for r in runs:
            if not r.periods and r.command != PURGE and first <= r.started_at <= last:
                touching.add(r.id)
    return [r for r in runs if r.id in touching]


def _when(moment: datetime | None) -> str:
    return "—" if moment is None else moment.strftime("%Y-%m-%d %H:%M UTC")


def _plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _statement(period: str, rows: list[OperationRun]) -> str:
    if not rows:
        return (
            f"No run in the ledger touched {period}: this report was written outside a "
            "recorded run, or from data loaded before the ledger existed."
        )
    commands = Counter(r.command for r in rows)
    parts = [
        f"{_plural(len(rows), 'run', 'runs')} touched {period} ("
        + ", ".join(f"{c}: {n}" for c, n in sorted(commands.items()))
        + ")"
    ]
    finished = [r for r in rows if r.outcome in FINISHED]
    if finished:
        last = finished[-1]
        parts.append(
            f"the last to finish, {last.id}, ended at {_when(last.ended_at)} "
            f"({last.outcome.replace('_', ' ')})"
        )
    else:
        parts.append("none has finished")
    for outcome in (INTERRUPTED, FAILED):
        stopped = [r for r in rows if r.outcome == outcome]
        if not stopped:
            continue
        redone = sum(
            1
            for r in stopped
            if any(f.command == r.command and f.started_at > r.started_at for f in finished)
        )
        n = len(stopped)
        what = (
            f"{n} {'was' if n == 1 else 'were'} interrupted"
            if outcome == INTERRUPTED
            else (f"{n} failed")
        )
        if redone == n:
            tail = ", and a later run completed the work"
        elif redone == 0:
            tail = ", and no later run of the same command has finished since"
        else:
            tail = f", {redone} of them completed by a later run"
        parts.append(what + tail)
    refused = sum(1 for r in rows if r.outcome == REFUSED)
    if refused:
        verb = "was" if refused == 1 else "were"
        parts.append(f"{refused} {verb} refused because another run held the lock")
    if any(r.this_run for r in rows):
        parts.append(f"this report was rendered by {next(r.id for r in rows if r.this_run)}")
    return "; ".join(parts) + "."


def build_operation(
    session: Session,
    period: str,
    *,
    generated_at: datetime,
    pseudonymize: Pseudonymize,
    current_run: str | None = None,
) -> OperationSection:
    """The Control operation section of `period`'s report (see the module's rules); a person
    named in a run's arguments is shown through `pseudonymize`."""
    now = generated_at
    if now.tzinfo is not None:
        now = now.astimezone(UTC).replace(tzinfo=None)
    runs = period_runs(session, period, current_run=current_run, now=now)
    rows = [_row(r, period, r.id == current_run, pseudonymize) for r in runs]
    return OperationSection(
        runs=tuple(rows),
        statement=_statement(period, rows),
        finished=sum(1 for r in rows if r.outcome in FINISHED),
        interrupted=sum(1 for r in rows if r.outcome == INTERRUPTED),
        failed=sum(1 for r in rows if r.outcome == FAILED),
        refused=sum(1 for r in rows if r.outcome == REFUSED),
    )
