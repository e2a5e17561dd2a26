"""Machine-readable reports: JSON (the whole context), a CSV of the evidence, OCSF findings.

Every writer reads only the `ReportContext` the HTML report is rendered from, so the formats
agree with each other and carry nothing the HTML does not: no raw prompt or output text (the
context has none), evidence as masked excerpts, people as pseudonyms.

Files are written atomically (a temporary file in the same folder, then a rename) and readable
by the owner only (0600): they carry masked evidence about identifiable staff. Given a signer,
each file gets a detached Ed25519 signature `<name>.sig` over its exact bytes (`signing`).
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from auditor.errors import AuditorError
from auditor.fileio import atomic_file, spreadsheet_safe
from auditor.report.context import REIDENTIFIABLE_SEVERITIES, ReportContext, ReportFinding

if TYPE_CHECKING:
    from auditor.report.signing import ReportSigner

SCHEMA_VERSION = "1"
OCSF_VERSION = "1.3.0"
PRODUCT_NAME = "AI-usage auditor"
VENDOR_NAME = "AI-usage auditor project"

CSV_COLUMNS: tuple[str, ...] = (
    "id",
    "rule_id",
    "title",
    "severity",
    "status",
    "who",
    "department",
    "manager",
    "occurred_at",
    "tool",
    "workflow",
    "entity_type",
    "masked_excerpt",
)

# OCSF 1.x base event / Finding enums.
OCSF_CLASS_UID = 2004  # Detection Finding
OCSF_CATEGORY_UID = 2  # Findings
OCSF_ACTIVITY_CREATE = 1
OCSF_TYPE_UID = OCSF_CLASS_UID * 100 + OCSF_ACTIVITY_CREATE  # 200401
OCSF_SEVERITY_IDS: dict[str, int] = {"low": 2, "medium": 3, "high": 4, "critical": 5}
OCSF_SEVERITY_UNKNOWN = 0
# Finding status_id (OCSF 1.x): 0 Unknown, 1 New, 2 In Progress, 3 Suppressed, 4 Resolved,
# 99 Other. An open finding awaits review (New); a confirmed one is a deviation whose
# remediation is still owed (In Progress: review says it is real, nothing says it is fixed);
# false positives and accepted risks need no action (Suppressed, the reason in
# status_detail); a superseded finding is no longer produced by the policy, which no OCSF
# value says, so Other with status "superseded".
OCSF_STATUS_IDS: dict[str, int] = {
    "open": 1,
    "pending_approval": 2,  # a disposition awaits its second reviewer (four-eyes)
    "confirmed": 2,
    "false_positive": 3,
    "accepted_risk": 3,
    "superseded": 99,
}
OCSF_STATUS_OTHER = 99


# --------------------------------------------------------------------------- JSON


def iso_utc(value: datetime) -> str:
    """ISO 8601 in UTC with a Z; naive datetimes are UTC already (the store's convention)."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.isoformat() + "Z"


def _plain(value: Any) -> Any:
    """Dataclasses to dicts, tuples to lists, datetimes to ISO 8601 Z, recursively."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, datetime):
        return iso_utc(value)
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise AuditorError(
        f"the report context holds a {type(value).__name__}, which has no JSON form",
        "this is a bug in the report context; please report it",
    )


def to_json_dict(ctx: ReportContext) -> dict[str, Any]:
    """The report's whole content as plain JSON values, with "schema_version"."""
    data = _plain(ctx)
    return {"schema_version": SCHEMA_VERSION, **data}


def canonical_json(data: Any) -> str:
    """One spelling of `data` for hashing: sorted keys, no spaces, no NaN."""
    return json.dumps(
        data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def _stem(ctx: ReportContext, packet: str | None) -> str:
    """`audit-<period>`, or `audit-<period>-<packet>` for a manager packet (as the HTML), with
    `.v<n>` from the context's version 2 on (`versions.stem`)."""
    from auditor.report.versions import stem

    return stem(ctx.period, packet, ctx.version.number if ctx.version is not None else 1)


def write_json(
    ctx: ReportContext,
    out_dir: Path,
    *,
    packet: str | None = None,
    signer: ReportSigner | None = None,
) -> Path:
    """Write `audit-<period>.json` (and its `.sig` with a signer). Raises AuditorError if the
    folder cannot be written."""
    text = json.dumps(to_json_dict(ctx), indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    return write_signed(out_dir / f"{_stem(ctx, packet)}.json", text.encode("utf-8"), signer)


# --------------------------------------------------------------------------- CSV


def _cell(value: str | None) -> str:
    """A text cell that a spreadsheet will not run as a formula (CSV injection): excerpts and
    tool names come from logs an employee influences."""
    return "" if value is None else spreadsheet_safe(value)


def _csv_row(f: ReportFinding) -> list[str]:
    return [
        f.id,
        _cell(f.rule_id),
        _cell(f.title),
        f.severity,
        f.status,
        _cell(f.who),
        _cell(f.department),
        _cell(f.manager),
        iso_utc(f.occurred_at),
        _cell(f.tool),
        _cell(f.workflow),
        _cell(f.entity_type),
        _cell(f.masked_excerpt),
    ]


def write_findings_csv(
    ctx: ReportContext,
    out_dir: Path,
    *,
    packet: str | None = None,
    signer: ReportSigner | None = None,
) -> Path:
    """Write `audit-<period>-findings.csv`: one row per evidence finding (CSV_COLUMNS), and
    its `.sig` with a signer.

    Raises AuditorError if the folder cannot be written.
    """
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    writer.writerows(_csv_row(f) for f in ctx.evidence.findings)
    target = out_dir / f"{_stem(ctx, packet)}-findings.csv"
    return write_signed(target, buf.getvalue().encode("utf-8"), signer)


RUN_COLUMNS: tuple[str, ...] = (
    "id",
    "command",
    "arguments",
    "started_at",
    "ended_at",
    "host",
    "outcome",
    "exit_code",
    "this_run",
    "files",
    "records_read",
    "records_stored",
    "records_rejected",
    "sampled",
    "scanned",
    "evaluated",
    "not_evaluated",
    "findings_new",
    "findings_open",
    "purged",
    "report",
    "note",
)


def write_runs_csv(
    ctx: ReportContext,
    out_dir: Path,
    *,
    packet: str | None = None,
    signer: ReportSigner | None = None,
) -> Path:
    """Write `audit-<period>-runs.csv`: the Control operation section, one row per run of the
    ledger that touched the period (RUN_COLUMNS), and its `.sig` with a signer. Written
    beside the findings CSV, with the same version. Raises AuditorError if the folder cannot
    be written."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(RUN_COLUMNS)
    for run in ctx.operation.runs if ctx.operation is not None else ():
        row = []
        for column in RUN_COLUMNS:
            value = getattr(run, column)
            if isinstance(value, datetime):
                row.append(iso_utc(value))
            elif value is None:
                row.append("")
            elif isinstance(value, str):
                row.append(_cell(value))  # paths and hosts can start with "=" too
            else:
                row.append(str(value).lower() if isinstance(value, bool) else str(value))
        writer.writerow(row)
    target = out_dir / f"{_stem(ctx, packet)}-runs.csv"
    return write_signed(target, buf.getvalue().encode("utf-8"), signer)


# --------------------------------------------------------------------------- OCSF


def _ms(value: datetime) -> int:
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return int(aware.timestamp() * 1000)


def _may_be_reidentified(ctx: ReportContext, f: ReportFinding) -> bool:
    """Whether `who`/`manager` may hold a real name (the context's re-identification rule)."""
    return (
        ctx.evidence.reidentified
        and f.status == "confirmed"
        and f.severity in REIDENTIFIABLE_SEVERITIES
    )


def ocsf_finding(ctx: ReportContext, f: ReportFinding) -> dict[str, Any]:
    """One OCSF 1.3.0 Detection Finding for an evidence finding.

    The user appears only as a pseudonym, even where the report re-identifies the finding: a
    SIEM feed leaves the audit team. A re-identified finding's manager (a name) is left out.
    """
    severity_id = OCSF_SEVERITY_IDS.get(f.severity, OCSF_SEVERITY_UNKNOWN)
    event: dict[str, Any] = {
        "class_uid": OCSF_CLASS_UID,
        "class_name": "Detection Finding",
        "category_uid": OCSF_CATEGORY_UID,
        "category_name": "Findings",
        "activity_id": OCSF_ACTIVITY_CREATE,
        "activity_name": "Create",
        "type_uid": OCSF_TYPE_UID,
        "type_name": "Detection Finding: Create",
        "severity_id": severity_id,
        "severity": f.severity.capitalize() if severity_id else "Unknown",
        "status_id": OCSF_STATUS_IDS.get(f.status, OCSF_STATUS_OTHER),
        "status": f.status,
        "status_detail": f.status,
        "time": _ms(f.last_seen),
        "start_time": _ms(f.occurred_at),
        "end_time": _ms(f.occurred_at),
        "message": f.message,
        "metadata": {
            "uid": f.id,
            "version": OCSF_VERSION,
            "product": {
                "name": PRODUCT_NAME,
                "vendor_name": VENDOR_NAME,
                "version": ctx.provenance.auditor_version,
            },
        },
        "finding_info": {
            "uid": f.id,
            "title": f.title,
            "desc": f.message,
            "types": [f.rule_id],
            "created_time": _ms(f.first_seen),
            "first_seen_time": _ms(f.first_seen),
            "last_seen_time": _ms(f.last_seen),
        },
        "resources": [
            {"type": "AI assistant", "name": f.tool}
            | ({"labels": [f"workflow:{f.workflow}"]} if f.workflow else {})
        ],
        "unmapped": {
            "period": ctx.period,
            # Which rendering of the period this feed is (report/versions.py).
            "report_version": ctx.version.number if ctx.version is not None else None,
            "entity_type": f.entity_type,
            "masked_excerpt": f.masked_excerpt,
            "department": f.department,
        },
    }
    user: dict[str, Any] = {"uid": f.pseudonym, "org": {"ou_name": f.department}}
    event["evidences"] = [{"actor": {"user": user}}]
    if f.manager is not None and not _may_be_reidentified(ctx, f):
        event["unmapped"]["manager"] = f.manager
    return event


def write_ocsf(
    ctx: ReportContext,
    out_dir: Path,
    *,
    packet: str | None = None,
    signer: ReportSigner | None = None,
) -> Path:
    """Write `audit-<period>.ocsf.jsonl`: one Detection Finding per evidence finding, and its
    `.sig` with a signer.

    Raises AuditorError if the folder cannot be written.
    """
    lines = [
        json.dumps(ocsf_finding(ctx, f), sort_keys=True, ensure_ascii=False, allow_nan=False)
        for f in ctx.evidence.findings
    ]
    text = "".join(line + "\n" for line in lines)
    return write_signed(out_dir / f"{_stem(ctx, packet)}.ocsf.jsonl", text.encode("utf-8"), signer)


# --------------------------------------------------------------------------- files


def remove_orphans(target: Path) -> None:
    """Delete temporary files an interrupted write of `target` left (`.<name>.*.tmp`).

    `atomic_file` removes its temporary file on any exception, but not when the process is
    killed. Writes of one report are not concurrent (the run lock), so any such file is an
    orphan by the time the same report is written again.
    """
    prefix = f".{target.name}."
    try:
        entries = list(target.parent.iterdir())
    except OSError:
        return
    for entry in entries:
        if entry.name.startswith(prefix) and entry.name.endswith(".tmp") and entry.is_file():
            entry.unlink(missing_ok=True)


def write_file(target: Path, data: bytes) -> Path:
    """Write `data` to `target` atomically, mode 0600, after removing orphaned temporary files
    of earlier writes. Raises AuditorError on an OS error."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        remove_orphans(target)
        with atomic_file(target, binary=True) as fh:
            fh.write(data)
    except OSError as exc:
        raise AuditorError(
            f"cannot write {target}: {exc.strerror or exc}",
            "check report.output_dir and its permissions",
        ) from None
    return target


def write_signed(target: Path, data: bytes, signer: ReportSigner | None) -> Path:
    """Write `data` to `target` (`write_file`) and, with a signer, the detached signature of
    exactly those bytes to `<name>.sig`. Without one, a stale `.sig` is removed so it cannot
    pass for the new file's. Raises AuditorError on an OS error."""
    from auditor.report.signing import sig_path

    write_file(target, data)
    sig = sig_path(target)
    if signer is not None:
        write_file(sig, (signer.sign(data).to_json() + "\n").encode("ascii"))
    else:
        sig.unlink(missing_ok=True)
    return target
