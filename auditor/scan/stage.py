"""The scan stage: scan the prompt and output of every item of a sample, store what was found.

Each field of each interaction gets one ScanRecord per scanner revision, saying whether it was
scanned (fully or partially), had no text to scan, or failed; detections are written beside it.
Running the stage again with the same scanner adds nothing, except that fields whose scan
failed are tried again. The caller's session scope commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from auditor.db.models import Detection, Interaction, Sample, SampleItem, ScanRecord
from auditor.errors import NotFoundError, ScanError
from auditor.scan.engine import Hit, Scanner

FIELDS = ("prompt", "output")


@dataclass
class ScanStats:
    """What one run of the stage did, in fields (an interaction has a prompt and an output)."""

    items: int = 0
    fields_scanned: int = 0  # scanned now, fully or partially
    fields_skipped_already_done: int = 0
    fields_not_stored: int = 0  # no text: not stored or redacted at the source
    fields_partial: int = 0  # scanned now, but only the first max_text_chars characters
    fields_failed: int = 0  # the scanner raised; recorded as "error" and retried next run
    detections: int = 0


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
        results: list[list[Hit] | Exception] = list(scanner.scan_many(texts, batch_size))
    except Exception:
        # One bad text must not sink the batch: find it by scanning them one at a time.
        results = []
        for text in texts:
            try:
                results.append(scanner.scan(text))
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
                    chars_scanned=0,
                    scanned_at=now,
                )
            )
            stats.fields_failed += 1
            continue
        scanned = scanner.scanned_length(job.text)
        partial = scanned < len(job.text)
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
            )
            for hit in result
        )
        session.add(
            ScanRecord(
                interaction_id=job.interaction_id,
                field=job.field,
                scanner_revision=scanner.revision,
                status="partial" if partial else "scanned",
                reason=(
                    f"text has {len(job.text)} characters; the first {scanned} were scanned"
                    if partial
                    else None
                ),
                chars_scanned=scanned,
                scanned_at=now,
            )
        )
        stats.fields_scanned += 1
        stats.fields_partial += int(partial)
        stats.detections += len(result)


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
        chars_scanned=0,
        scanned_at=_utcnow(),
    )


def _utcnow() -> datetime:
    # Stored naive UTC, as everywhere in the store.
    return datetime.now(UTC).replace(tzinfo=None)
