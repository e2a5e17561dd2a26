"""Reports are records, not files to overwrite: each rendering of a period is a new version.

A *series* is one report of one period in one format (and, for a manager packet, for one
manager), named by its first version's file: `audit-2026-10.html`. Version 1 keeps that name;
version n > 1 puts `.v<n>` after the stem: `audit-2026-10.v2.html`, `audit-2026-10.v2.json`,
`audit-2026-10.v2-findings.csv`, `audit-2026-10.v2.ocsf.jsonl`. Every version is recorded in the
`reports` table with its SHA-256 and signature (`records.record_report`), so `auditor verify`
checks any of them, and none is overwritten: a file already on disk under the next name (left
by another database) moves the version on instead.

Each version records the period's *inputs*: counts, newest ids and revisions of what the
report is built from (interactions, the sample, scans, detections, decisions, findings and
their statuses, reviews, purges recorded in the run ledger, the directory, tiers, the report
settings). `auditor run` renders a
period again only when they differ from the newest version's; the new version states what
changed since the previous one. The inputs hold counts, ids and digests only, never text.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

import auditor
from auditor.config import Settings
from auditor.db.models import (
    Decision,
    Detection,
    Finding,
    Interaction,
    Person,
    ReportRecord,
    ReviewEvent,
    Run,
    Sample,
    SampleItem,
    ScanRecord,
    UsageTier,
)
from auditor.periods import period_bounds

# What follows the stem in each format's file name.
TAILS: dict[str, str] = {
    "html": ".html",
    "json": ".json",
    "csv": "-findings.csv",
    "ocsf": ".ocsf.jsonl",
    "runs": "-runs.csv",  # the CSV format's Control operation companion
}


@dataclass(frozen=True, slots=True)
class Change:
    """One difference between the inputs of two versions: what, before, after, in words."""

    what: str
    before: int | str | None
    after: int | str | None
    text: str


@dataclass(frozen=True, slots=True)
class ReportVersion:
    """Which version of its series a report is, and what changed since the previous one."""

    number: int
    series: str
    file_name: str
    previous_version: int | None
    previous_file: str | None
    previous_sha256: str | None
    previous_written_at: datetime | None
    changes: tuple[Change, ...]
    statement: str


def stem(period: str, packet: str | None = None, version: int = 1) -> str:
    """`audit-<period>[-<packet>]`, with `.v<n>` from version 2 on."""
    base = f"audit-{period}-{packet}" if packet else f"audit-{period}"
    return base if version <= 1 else f"{base}.v{version}"


def file_name(period: str, fmt: str, packet: str | None = None, version: int = 1) -> str:
    return stem(period, packet, version) + TAILS[fmt]


def latest_version(session: Session, series: str) -> ReportRecord | None:
    """The newest recorded version of `series`, or None."""
    return session.scalars(
        select(ReportRecord)
        .where(ReportRecord.series == series)
        .order_by(
            func.coalesce(ReportRecord.version, 1).desc(),
            ReportRecord.created_at.desc(),
            ReportRecord.id.desc(),
        )
        .limit(1)
    ).first()


def next_version_number(previous: ReportRecord | None, name_of: Any, output_dir: Path) -> int:
    """The version after `previous` (1 without one), moved on past any file already on disk
    under that name: a report is never overwritten. `name_of(n)` is version n's file name."""
    number = (previous.version or 1) + 1 if previous is not None else 1
    while (output_dir / name_of(number)).exists():
        number += 1
    return number


# --------------------------------------------------------------------------- inputs


def _report_settings_digest(settings: Settings) -> str:
    """What in the configuration changes a report's content (not where it is written, nor
    the key it is signed with)."""
    doc = settings.report.model_dump(mode="json", exclude={"output_dir", "signing_key"})
    doc["scan_entities"] = list(settings.scan.entities)
    return hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()


def _directory_digest(session: Session) -> str:
    """SHA-256 over the directory's fields that a report shows (department, manager, region,
    name), in user id order: a reload with the same people changes nothing."""
    h = hashlib.sha256()
    rows = session.execute(
        select(Person.user_id, Person.name, Person.department, Person.manager_id, Person.region)
        .order_by(Person.user_id)
        .execution_options(yield_per=5000)
    )
    for row in rows:
        h.update(json.dumps(list(row), default=str).encode())
        h.update(b"\n")
    return h.hexdigest()


def period_inputs(
    session: Session,
    period: str,
    settings: Settings,
    *,
    policy_revision: str | None,
    scanner_revision: str | None,
) -> dict[str, Any]:
    """The facts a report of `period` is built from, as counts, newest ids and revisions.

    Two renderings with the same inputs show the same findings, evidence and figures; the
    Control operation section and the generation time are not inputs (they change with every
    run and would make every rerun a new version)."""
    start, end = period_bounds(period)
    in_period = (Interaction.occurred_at >= start) & (Interaction.occurred_at < end)
    # Counted on the occurred_at index alone: counting the stored text instead read every
    # row's text (seconds on a 1M-interaction month). A purge shows as a ledger run instead.
    n_interactions, max_interaction = session.execute(
        select(func.count(Interaction.id), func.max(Interaction.id)).where(in_period)
    ).one()
    purges = [
        run_id
        for run_id, periods in session.execute(
            select(Run.id, Run.periods)
            .where(Run.command == "db purge", Run.outcome == "completed")
            .order_by(Run.started_at, Run.id)
        )
        if period in (periods or [])
    ]
    sample = session.scalars(
        select(Sample)
        .where(Sample.period == period)
        .order_by(Sample.created_at.desc(), Sample.id.desc())
        .limit(1)
    ).first()
    doc: dict[str, Any] = {
        "auditor_version": auditor.__version__,
        "report_settings": _report_settings_digest(settings),
        "interactions": int(n_interactions or 0),
        "newest_interaction": max_interaction,
        "purges": purges,
        "sample": sample.id if sample is not None else None,
        "policy_revision": policy_revision,
        "scanner_revision": scanner_revision,
        "people": int(session.scalar(select(func.count()).select_from(Person)) or 0),
        "directory": _directory_digest(session),
        "tiers": {
            tier: int(n)
            for tier, n in session.execute(
                select(UsageTier.tier, func.count())
                .where(UsageTier.period == period)
                .group_by(UsageTier.tier)
                .order_by(UsageTier.tier)
            )
        },
    }
    if sample is None:
        doc.update(scan_records=0, detections=0, decisions=0, findings=0, findings_by_status={})
        doc.update(review_events=0, newest_review_event=None)
        return doc
    sampled = select(SampleItem.interaction_id).where(SampleItem.sample_id == sample.id)
    scans, newest_scan = session.execute(
        select(func.count(ScanRecord.id), func.max(ScanRecord.id)).where(
            ScanRecord.interaction_id.in_(sampled)
        )
    ).one()
    # Decisions by content, not id: an item the engine could not evaluate is tried again on
    # every run, and its decision replaced by one that may say the same.
    decisions = 0
    decided = hashlib.sha256()
    for row in session.execute(
        select(
            Decision.interaction_id,
            Decision.rule_id,
            Decision.verdict,
            Decision.severity,
            Decision.policy_revision,
            Decision.engine,
        )
        .where(Decision.interaction_id.in_(sampled))
        .order_by(Decision.interaction_id, Decision.rule_id, Decision.verdict, Decision.id)
        .execution_options(yield_per=5000)
    ):
        decisions += 1
        decided.update(json.dumps(list(row), default=str).encode() + b"\n")
    by_status = {
        status: int(n)
        for status, n in session.execute(
            select(Finding.status, func.count())
            .where(Finding.interaction_id.in_(sampled))
            .group_by(Finding.status)
            .order_by(Finding.status)
        )
    }
    findings = select(Finding.id).where(Finding.interaction_id.in_(sampled))
    reviews, newest_review = session.execute(
        select(func.count(ReviewEvent.id), func.max(ReviewEvent.id)).where(
            ReviewEvent.finding_id.in_(findings)
        )
    ).one()
    doc.update(
        scan_records=int(scans or 0),
        newest_scan_record=newest_scan,
        detections=int(
            session.scalar(
                select(func.count(Detection.id)).where(Detection.interaction_id.in_(sampled))
            )
            or 0
        ),
        decisions=decisions,
        decided=decided.hexdigest(),
        findings=sum(by_status.values()),
        findings_by_status=by_status,
        review_events=int(reviews or 0),
        newest_review_event=newest_review,
    )
    return doc


def inputs_digest(inputs: dict[str, Any]) -> str:
    return hashlib.sha256(
        json.dumps(inputs, sort_keys=True, separators=(",", ":"), default=str).encode()
    ).hexdigest()


# --------------------------------------------------------------------------- what changed

# Counts compared between versions: key, what one of them is called, and the plural.
_COUNTED: tuple[tuple[str, str, str], ...] = (
    ("interactions", "interaction", "interactions"),
    ("scan_records", "scan record", "scan records"),
    ("detections", "detection", "detections"),
    ("decisions", "policy decision", "policy decisions"),
    ("findings", "finding", "findings"),
    ("review_events", "review event", "review events"),
    ("people", "person in the directory", "people in the directory"),
)
_REVISIONS: tuple[tuple[str, str], ...] = (
    ("policy_revision", "policy revision"),
    ("scanner_revision", "scanner revision"),
    ("sample", "sample"),
    ("auditor_version", "auditor version"),
)


def _short(value: Any) -> str:
    return "none" if value is None else str(value)[:12]


def changes_between(before: dict[str, Any], after: dict[str, Any]) -> tuple[Change, ...]:
    """What differs between two versions' inputs, in words; empty when nothing does."""
    out: list[Change] = []
    for key, one, many in _COUNTED:
        old, new = int(before.get(key) or 0), int(after.get(key) or 0)
        if new > old:
            n = new - old
            out.append(Change(key, old, new, f"{n} new {one if n == 1 else many} ({new} in all)"))
        elif new < old:
            out.append(Change(key, old, new, f"{many}: {old} before, {new} now"))
    for key, label in _REVISIONS:
        old_revision, new_revision = before.get(key), after.get(key)
        if old_revision != new_revision:
            text = f"{label} {_short(old_revision)} → {_short(new_revision)}"
            out.append(Change(key, old_revision, new_revision, text))
    old_status, new_status = (
        before.get("findings_by_status") or {},
        after.get("findings_by_status") or {},
    )
    moved = [
        f"{status.replace('_', ' ')} {old_status.get(status, 0)} → {new_status.get(status, 0)}"
        for status in sorted(set(old_status) | set(new_status))
        if old_status.get(status, 0) != new_status.get(status, 0)
    ]
    if moved:
        out.append(
            Change("findings_by_status", None, None, "finding statuses: " + ", ".join(moved))
        )
    new_purges = [p for p in after.get("purges") or [] if p not in (before.get("purges") or [])]
    if new_purges:
        out.append(
            Change(
                "purges",
                None,
                ", ".join(new_purges),
                "raw text of the period purged by " + ", ".join(new_purges),
            )
        )
    if before.get("directory") != after.get("directory") and before.get("people") == after.get(
        "people"
    ):
        out.append(Change("directory", None, None, "the people directory was changed"))
    if before.get("decided") != after.get("decided") and before.get("decisions") == after.get(
        "decisions"
    ):
        out.append(Change("decided", None, None, "policy decisions were replaced with others"))
    if before.get("tiers") != after.get("tiers"):
        out.append(Change("tiers", None, None, "usage tiers were recomputed with other results"))
    if before.get("report_settings") != after.get("report_settings"):
        out.append(Change("report_settings", None, None, "the report settings were changed"))
    return tuple(out)


def describe(
    number: int,
    series: str,
    name: str,
    previous: ReportRecord | None,
    inputs: dict[str, Any],
) -> ReportVersion:
    """The version statement of a rendering: its number, the previous version it follows and
    what changed since."""
    if previous is None:
        return ReportVersion(
            number=number,
            series=series,
            file_name=name,
            previous_version=None,
            previous_file=None,
            previous_sha256=None,
            previous_written_at=None,
            changes=(),
            statement=f"Version {number} of {series}: the first recorded in this database.",
        )
    prev_no = previous.version or 1
    prev_file = Path(previous.path).name
    if previous.inputs is None:
        changes: tuple[Change, ...] = ()
        said = f"v{prev_no} recorded no inputs to compare with."
    else:
        changes = changes_between(previous.inputs, inputs)
        said = (
            f"changed since v{prev_no}: " + "; ".join(c.text for c in changes) + "."
            if changes
            else f"no input changed since v{prev_no}; rendered again on request."
        )
    return ReportVersion(
        number=number,
        series=series,
        file_name=name,
        previous_version=prev_no,
        previous_file=prev_file,
        previous_sha256=previous.sha256,
        previous_written_at=previous.created_at,
        changes=changes,
        statement=f"Version {number} of {series}, after v{prev_no} ({prev_file}); " + said,
    )
