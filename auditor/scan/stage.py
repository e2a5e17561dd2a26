"""The scan stage: scan the prompt and output of every item of a sample, store what was found.

Each field of each interaction gets one ScanRecord per scanner revision, saying whether it was
scanned (fully or partially), had no text to scan, or failed; detections are written beside it.
ScanRecord.status is one of STATUSES; reason_code says why a field is not fully scanned, one of
REASON_CODES, so the report can count fields per reason. Reasons never quote the text.
Running the stage again with the same scanner adds nothing, except that fields whose scan
failed are tried again. The caller's session scope commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import UTC, datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from auditor.db.models import Detection, Interaction, Sample, SampleItem, ScanRecord
from auditor.errors import NotFoundError, ScanError
from auditor.scan.engine import (
    REASON_OVER_LIMIT,
    REASON_TIMEOUT,
    REASON_UNSUPPORTED_LANGUAGE,
    Scanner,
    ScanResult,
)

FIELDS = ("prompt", "output")
STATUSES = ("scanned", "partial", "error", "not_stored", "redacted")
REASON_ERROR = "error"
REASON_CODES = (
    REASON_OVER_LIMIT,  # partial: text longer than scan.max_text_chars
    REASON_TIMEOUT,  # partial: scan.timeout_seconds ran out before the last chunk
    REASON_UNSUPPORTED_LANGUAGE,  # partial: mostly a script the model cannot read
    REASON_ERROR,  # error: the scanner raised (retried on the next run)
    "not_stored",  # not_stored: the source does not keep the text, or there is none
    "redacted",  # redacted: the source redacted the text
)


@dataclass
class ScanStats:
    """What one run of the stage did, in fields (an interaction has a prompt and an output)."""

    items: int = 0
    fields_scanned: int = 0  # scanned now, fully or partially
    fields_skipped_already_done: int = 0
    fields_not_stored: int = 0  # no text: not stored or redacted at the source
    fields_partial: int = 0  # scanned now, but not all of it (see partial_reasons)
    fields_failed: int = 0  # the scanner raised; recorded as "error" and retried next run
    detections: int = 0
    partial_reasons: dict[str, int] = dataclass_field(default_factory=dict)  # reason_code -> fields


@dataclass(frozen=True, slots=True)
class _Job:
    interaction_id: int
    field: str
    text: str


def scan_sample(
    session: Session,
    scanner: Scanner,
    sample_id: str,
    fields: Sequence[str] = FIELDS,
    batch_size: int = 64,
) -> ScanStats:
    """Scan `fields` of every interaction in sample `sample_id` and store records and detections.

    Flushes but does not commit. Raises NotFoundError if the sample does not exist and
    ScanError for a field other than prompt or output.
    """
    bad = [f for f in fields if f not in FIELDS]
    if bad:
        raise ScanError(f"cannot scan field {bad[0]!r}", "fields are prompt and output")
    fields = tuple(dict.fromkeys(fields))
    if session.get(Sample, sample_id) is None:
        raise NotFoundError(f"sample {sample_id} does not exist", "check the sample id")

    interaction_ids = list(
        session.scalars(
            select(SampleItem.interaction_id)
            .where(SampleItem.sample_id == sample_id)
            .order_by(SampleItem.draw_order)
        )
    )
    stats = ScanStats(items=len(interaction_ids))
    in_sample = select(SampleItem.interaction_id).where(SampleItem.sample_id == sample_id)
    existing = session.execute(
        select(ScanRecord.id, ScanRecord.interaction_id, ScanRecord.field, ScanRecord.status).where(
            ScanRecord.scanner_revision == scanner.revision,
            ScanRecord.field.in_(fields),
            ScanRecord.interaction_id.in_(in_sample),
        )
    ).all()
    done = {(row.interaction_id, row.field) for row in existing if row.status != "error"}
    failed_before = [row.id for row in existing if row.status == "error"]
    if failed_before:
        session.execute(delete(ScanRecord).where(ScanRecord.id.in_(failed_before)))

    step = max(1, batch_size)
    for offset in range(0, len(interaction_ids), step):
        chunk = interaction_ids[offset : offset + step]
        rows = session.execute(
            select(
                Interaction.id,
                Interaction.prompt_text,
                Interaction.output_text,
                Interaction.content_status,
            ).where(Interaction.id.in_(chunk))
        ).all()
        by_id = {row.id: row for row in rows}
        jobs: list[_Job] = []
        for interaction_id in chunk:
            row = by_id[interaction_id]
            for field in fields:
                if (interaction_id, field) in done:
                    stats.fields_skipped_already_done += 1
                    continue
                text = row.prompt_text if field == "prompt" else row.output_text
                if text is None:
                    session.add(_no_text_record(interaction_id, field, row.content_status, scanner))
                    stats.fields_not_stored += 1
                else:
                    jobs.append(_Job(interaction_id, field, text))
        _scan_jobs(session, scanner, jobs, step, stats)
        session.flush()
    return stats


def _scan_jobs(
    session: Session, scanner: Scanner, jobs: list[_Job], batch_size: int, stats: ScanStats
) -> None:
    if not jobs:
        return
    texts = [job.text for job in jobs]
    try:
        results: list[ScanResult | Exception] = list(scanner.scan_results(texts, batch_size))
    except Exception:
        # One bad text must not sink the batch: find it by scanning them one at a time.
        results = []
        for text in texts:
            try:
                results.append(scanner.scan_results([text])[0])
            except Exception as exc:  # recorded as an "error" field, never a silent pass
                results.append(exc)
    now = _utcnow()
    for job, result in zip(jobs, results, strict=True):
        if isinstance(result, Exception):
            session.add(
                ScanRecord(
                    interaction_id=job.interaction_id,
                    field=job.field,
                    scanner_revision=scanner.revision,
                    status="error",
                    # The exception's type only: its message could quote the text.
                    reason=f"the scanner raised {type(result).__name__}",
                    reason_code=REASON_ERROR,
                    chars_scanned=0,
                    scanned_at=now,
                )
            )
            stats.fields_failed += 1
            continue
        session.add_all(
            Detection(
                interaction_id=job.interaction_id,
                field=job.field,
                entity_type=hit.entity_type,
                start=hit.start,
                end=hit.end,
                score=hit.score,
                recognizer=hit.recognizer,
                value_hash=hit.value_hash,
                masked_excerpt=hit.masked_excerpt,
                scanner_revision=scanner.revision,
                subject_id=hit.subject_id,
            )
            for hit in result.hits
        )
        session.add(
            ScanRecord(
                interaction_id=job.interaction_id,
                field=job.field,
                scanner_revision=scanner.revision,
                status=result.status,
                reason=result.reason,
                reason_code=result.reason_code,
                chars_scanned=result.chars_scanned,
                scanned_at=now,
            )
        )
        stats.fields_scanned += 1
        if result.status == "partial" and result.reason_code is not None:
            stats.fields_partial += 1
            stats.partial_reasons[result.reason_code] = (
                stats.partial_reasons.get(result.reason_code, 0) + 1
            )
        stats.detections += len(result.hits)


def _no_text_record(
    interaction_id: int, field: str, content_status: str, scanner: Scanner
) -> ScanRecord:
    if content_status == "redacted":
        status, reason = "redacted", f"the source redacted the {field} text"
    elif content_status == "not_stored":
        status, reason = "not_stored", f"the source does not store the {field} text"
    else:
        status, reason = "not_stored", f"the interaction has no {field} text"
    return ScanRecord(
        interaction_id=interaction_id,
        field=field,
        scanner_revision=scanner.revision,
        status=status,
        reason=reason,
        reason_code=status,
        chars_scanned=0,
        scanned_at=_utcnow(),
    )


def _utcnow() -> datetime:
    # Stored naive UTC, as everywhere in the store.
    return datetime.now(UTC).replace(tzinfo=None)
