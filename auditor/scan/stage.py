"""The scan stage: scan the prompt, output and attribute values of every item of a sample, store
what was found.

Each field of each interaction gets one ScanRecord per scanner revision (an interaction whose
log carried no attribute text has none for `attributes`), saying whether it was
scanned (fully or partially), had no text to scan, or failed; detections are written beside it.
ScanRecord.status is one of STATUSES; reason_code says why a field is not fully scanned, one of
REASON_CODES, so the report can count fields per reason. Reasons never quote the text.
Running the stage again with the same scanner adds nothing, except that fields whose scan
failed are tried again. The caller's session scope commits.

Texts stream from the database in batches through a `ScanPool` (worker processes, one per core
by default; small scans stay in this process), identical texts are scanned once per run, and
results are written in the order read, so the records do not depend on the number of workers.
Each scanner revision's inputs are stored (digests in the `meta` table), so a run with a new
revision says which inputs changed and why it scans the sample again.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import UTC, datetime
from functools import partial
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from auditor.db.models import Detection, Interaction, Meta, Sample, SampleItem, ScanRecord
from auditor.errors import NotFoundError, ScanError
from auditor.normalize import attribute_key_spans, attribute_text
from auditor.scan.engine import (
    REASON_DETECTION_CAP,
    REASON_OVER_LIMIT,
    REASON_TIMEOUT,
    REASON_UNSUPPORTED_LANGUAGE,
    Hit,
    Scanner,
    build_scanner,
)
from auditor.scan.parallel import ScanOutcome, ScanPool

# `attributes`: the short text values an interaction's log carried beside the prompt (see
# normalize.attribute_text); an interaction without any has no record for that field.
FIELDS = ("prompt", "output", "attributes")
STATUSES = ("scanned", "partial", "error", "not_stored", "redacted")
REASON_ERROR = "error"
REASON_CODES = (
    REASON_OVER_LIMIT,  # partial: text longer than scan.max_text_chars
    REASON_TIMEOUT,  # partial: scan.timeout_seconds ran out before the last chunk
    REASON_DETECTION_CAP,  # partial: more hits than scan.max_detections_per_text; the top kept
    REASON_UNSUPPORTED_LANGUAGE,  # partial: mostly a script the model cannot read
    REASON_ERROR,  # error: the scanner raised (retried on the next run)
    "not_stored",  # not_stored: the source does not keep the text, or there is none
    "redacted",  # redacted: the source redacted the text
)
# Below this many texts per worker, starting worker processes (each loads the spaCy model)
# costs more than it saves: fewer workers, down to this process alone.
MIN_TEXTS_PER_WORKER = 400
READ_BATCH = 500  # interactions read from the database at a time
FLUSH_EVERY = 500  # fields written between flushes
_META_PREFIX = "scanrev"  # meta rows "scanrev <revision> <n>": "<digest> <input name>"

ScanProgress = Callable[[int, int], None]  # (fields done, fields to do) of this run


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
    fields_reused: int = 0  # of fields_scanned: same text as one scanned before in this run
    workers: int = 0  # scan processes used (1: this process); 0 when nothing was scanned
    # Set when fields of the sample were scanned before by another scanner revision:
    previous_revision: str | None = None
    revision_changes: list[str] = dataclass_field(default_factory=list)  # inputs that changed

    @property
    def rescan_reason(self) -> str | None:
        """Why the sample is scanned again, or None if it is not a rescan."""
        if self.previous_revision is None or not self.fields_scanned:
            return None
        changed = ", ".join(self.revision_changes) or "unknown inputs"
        return (
            f"scanner revision changed since {self.previous_revision} ({changed}): every "
            "field is scanned again, since a change to the model, a recognizer, a register, "
            "the key or the excerpt rules can change any field's detections or evidence"
        )


@dataclass(frozen=True, slots=True)
class _Job:
    interaction_id: int
    field: str
    keys: tuple[tuple[int, int], ...] = ()  # attributes: where the keys are (see _kept)


def scan_sample(
    session: Session,
    scanner: Scanner,
    sample_id: str,
    fields: Sequence[str] = FIELDS,
    batch_size: int = 64,
    *,
    workers: int | None = None,
    progress: ScanProgress | None = None,
    min_texts_per_worker: int = MIN_TEXTS_PER_WORKER,
) -> ScanStats:
    """Scan `fields` of every interaction in sample `sample_id` and store records and detections.

    `workers`: scan processes (default scan.workers of the scanner's settings, unset: one per
    CPU core), fewer when there are under `min_texts_per_worker` fields per worker; with one,
    `scanner` scans in this process. `progress(done, total)` is called as fields are done.
    Flushes but does not commit. Raises NotFoundError if the sample does not exist, ScanError
    for a field other than prompt or output, or if a worker cannot build the scanner or dies.
    """
    bad = [f for f in fields if f not in FIELDS]
    if bad:
        raise ScanError(f"cannot scan field {bad[0]!r}", "fields are " + ", ".join(FIELDS))
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
    # Attributes without text to scan are no field to scan: no record, not counted.
    nothing: set[tuple[int, str]] = set()
    if "attributes" in fields:
        for offset in range(0, len(interaction_ids), READ_BATCH):
            chunk = interaction_ids[offset : offset + READ_BATCH]
            nothing.update(
                (iid, "attributes")
                for iid, attributes in session.execute(
                    select(Interaction.id, Interaction.attributes).where(Interaction.id.in_(chunk))
                )
                if attribute_text(attributes) is None and (iid, "attributes") not in done
            )
    total = len(interaction_ids) * len(fields) - len(done) - len(nothing)
    stats.fields_skipped_already_done = len(done)
    if total == 0:
        return stats
    _record_revision(session, scanner)
    stats.previous_revision, stats.revision_changes = _previous_revision(
        session, scanner, in_sample
    )

    wanted = workers or scanner.settings.workers or os.cpu_count() or 1
    stats.workers = max(1, min(wanted, total // max(1, min_texts_per_worker)))
    queued: deque[_Job] = deque()
    progressed = 0

    def advance(count: int) -> None:
        nonlocal progressed
        progressed += count
        if progress is not None:
            progress(progressed, total)

    def texts() -> Iterator[str]:
        """Reads the sample in batches: records fields without text, yields the others."""
        for offset in range(0, len(interaction_ids), READ_BATCH):
            chunk = interaction_ids[offset : offset + READ_BATCH]
            rows = session.execute(
                select(
                    Interaction.id,
                    Interaction.prompt_text,
                    Interaction.output_text,
                    Interaction.content_status,
                    Interaction.attributes,
                ).where(Interaction.id.in_(chunk))
            ).all()
            by_id = {row.id: row for row in rows}
            for interaction_id in chunk:
                row = by_id[interaction_id]
                for field in fields:
                    if (interaction_id, field) in done or (interaction_id, field) in nothing:
                        continue
                    text = _text(row, field)
                    if text is None:
                        session.add(
                            _no_text_record(interaction_id, field, row.content_status, scanner)
                        )
                        stats.fields_not_stored += 1
                        advance(1)
                    else:
                        keys = attribute_key_spans(text) if field == "attributes" else ()
                        queued.append(_Job(interaction_id, field, keys))
                        yield text

    build = partial(build_scanner, recognizers_file=scanner.recognizers_file)
    with ScanPool(
        scanner.settings,
        scanner.hash_key,
        workers=stats.workers,
        batch_size=batch_size,
        scanner=scanner,
        build=build,
    ) as pool:
        for number, outcome in enumerate(pool.scan(texts(), progress=advance), start=1):
            _store(session, scanner, queued.popleft(), outcome, stats)
            if number % FLUSH_EVERY == 0:
                session.flush()
        stats.fields_reused = pool.stats.reused
    session.flush()
    return stats


def _text(row: Any, field: str) -> str | None:
    if field == "attributes":
        return attribute_text(row.attributes)
    return row.prompt_text if field == "prompt" else row.output_text  # type: ignore[no-any-return]


# The spaCy model's names and places in `key: value` facts (a department, a region, an OS,
# a key's own name) are what those facts are, not content: in attributes, the pattern,
# checksum, register and credential recognizers decide.
NER_RECOGNIZERS = frozenset({"SpacyRecognizer"})


def _kept(job: _Job, hits: tuple[Hit, ...]) -> tuple[Hit, ...]:
    """The hits worth a detection: for attributes, none from the language model and none in a
    key's name. A change here changes normalize.ATTRIBUTE_TEXT_SCHEME (the scanner revision)."""
    if job.field != "attributes":
        return hits
    return tuple(
        h
        for h in hits
        if h.recognizer not in NER_RECOGNIZERS
        and not any(h.start < end and start < h.end for start, end in job.keys)
    )


def _store(
    session: Session, scanner: Scanner, job: _Job, outcome: ScanOutcome, stats: ScanStats
) -> None:
    now = _utcnow()
    if outcome.hits is None:
        session.add(
            ScanRecord(
                interaction_id=job.interaction_id,
                field=job.field,
                scanner_revision=scanner.revision,
                status="error",
                # The exception's type only: its message could quote the text.
                reason=f"the scanner raised {outcome.error}",
                reason_code=REASON_ERROR,
                chars_scanned=0,
                scanned_at=now,
            )
        )
        stats.fields_failed += 1
        return
    hits = _kept(job, outcome.hits)
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
        for hit in hits
    )
    session.add(
        ScanRecord(
            interaction_id=job.interaction_id,
            field=job.field,
            scanner_revision=scanner.revision,
            status=outcome.status,
            reason=outcome.reason,
            reason_code=outcome.reason_code,
            chars_scanned=outcome.chars_scanned,
            scanned_at=now,
        )
    )
    stats.fields_scanned += 1
    if outcome.status == "partial" and outcome.reason_code is not None:
        stats.fields_partial += 1
        stats.partial_reasons[outcome.reason_code] = (
            stats.partial_reasons.get(outcome.reason_code, 0) + 1
        )
    stats.detections += len(hits)


# --- what changed between scanner revisions ---------------------------------------------------


def _record_revision(session: Session, scanner: Scanner) -> None:
    """Stores the digests of the revision's inputs, once per revision."""
    prefix = f"{_META_PREFIX} {scanner.revision} "
    if session.scalar(select(Meta.key).where(Meta.key.startswith(prefix)).limit(1)) is not None:
        return
    for number, (name, digest) in enumerate(sorted(scanner.revision_parts.items())):
        session.add(Meta(key=f"{prefix}{number:04d}", value=f"{digest} {name}"[:255]))
    session.flush()


def revision_inputs(session: Session, revision: str) -> dict[str, str] | None:
    """The stored input digests of a scanner revision (name -> digest), None if not stored."""
    rows = session.scalars(
        select(Meta.value).where(Meta.key.startswith(f"{_META_PREFIX} {revision} "))
    ).all()
    if not rows:
        return None
    inputs = {}
    for value in rows:
        digest, name = value.split(" ", 1)
        inputs[name] = digest
    return inputs


def _previous_revision(
    session: Session, scanner: Scanner, in_sample: object
) -> tuple[str | None, list[str]]:
    """The revision that last scanned fields of the sample, if not the current one, and the
    names of the inputs that differ from the current revision's."""
    previous = session.execute(
        select(ScanRecord.scanner_revision, func.max(ScanRecord.scanned_at).label("last"))
        .where(ScanRecord.interaction_id.in_(in_sample))  # type: ignore[arg-type]
        .group_by(ScanRecord.scanner_revision)
        .order_by(func.max(ScanRecord.scanned_at).desc())
    ).first()
    if previous is None or previous.scanner_revision == scanner.revision:
        return None, []
    before = revision_inputs(session, previous.scanner_revision)
    if before is None:
        return previous.scanner_revision, ["inputs not recorded by that version"]
    now = scanner.revision_parts
    changed = sorted(name for name in {*before, *now} if before.get(name) != now.get(name))
    return previous.scanner_revision, changed


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
