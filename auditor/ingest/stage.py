"""The ingest stage: log files -> Interaction rows, with every record accounted for.

For each file: total = loaded + duplicate + rejected. A file already ingested (same SHA-256)
is skipped whole, and an event already stored (same format and event id) is a duplicate, so
ingesting the same logs twice adds nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from auditor.db.models import IngestRejection, Interaction, SourceFile
from auditor.errors import InputError
from auditor.ingest.base import RawRecord, Reader, Rejected
from auditor.ingest.registry import detect_format, get_reader
from auditor.normalize import InteractionRecord, RecordError, normalize_workflow

BATCH = 500


@dataclass
class FileResult:
    path: Path
    source_format: str
    sha256: str
    already_ingested: bool = False
    total: int = 0
    loaded: int = 0
    duplicate: int = 0
    rejected: int = 0
    # Loaded, but the source did not store the content (or redacted it): a coverage gap.
    coverage_gaps: int = 0
    rejections: list[tuple[int, str]] = field(default_factory=list)
    # Records loaded with something to say: empty prompt, unknown fields, repaired encoding.
    warnings: list[tuple[int, str]] = field(default_factory=list)
    # Records that are not interactions (embedding spans, non-generation rows), by kind.
    not_interactions: dict[str, int] = field(default_factory=dict)
    # Why the file was not read at all (unrecognised format, database refused it).
    skipped: str | None = None
    periods: set[str] = field(default_factory=set)

    @property
    def reconciles(self) -> bool:
        return self.total == self.loaded + self.duplicate + self.rejected

    @property
    def reconciliation(self) -> str:
        """The per-file line every run ends with: read = stored + duplicates + rejected + gaps."""
        stored = self.loaded - self.coverage_gaps
        verdict = "reconciles" if self.reconciles else "DOES NOT RECONCILE"
        line = (
            f"{self.path.name}: read {self.total} = stored {stored} + duplicates {self.duplicate}"
            f" + rejected {self.rejected} + coverage gaps {self.coverage_gaps} ({verdict})"
        )
        if self.not_interactions:
            kinds = ", ".join(f"{n} {kind}" for kind, n in sorted(self.not_interactions.items()))
            line += f"; also read, not interactions: {kinds}"
        return line


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def expand_paths(paths: Iterable[Path]) -> list[Path]:
    """Files named, plus the files in folders named (sorted). Raises InputError if missing."""
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            out.extend(
                sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
            )
        elif path.is_file():
            out.append(path)
        else:
            raise InputError(f"{path}: no such file or folder")
    return out


def period_of(moment: datetime) -> str:
    return moment.strftime("%Y-%m")


def _naive_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


def _to_row(rec: InteractionRecord, source_file_id: int, line_no: int) -> Interaction:
    return Interaction(
        event_id=rec.event_id,
        source_format=rec.source_format,
        source_file_id=source_file_id,
        source_line=line_no,
        occurred_at=_naive_utc(rec.occurred_at),
        user_id=rec.user_id,
        user_email=rec.user_email,
        tool=rec.tool,
        provider=rec.provider,
        model=rec.model,
        prompt_text=rec.prompt_text,
        output_text=rec.output_text,
        history_turns=rec.history_turns,
        input_tokens=rec.input_tokens,
        output_tokens=rec.output_tokens,
        cost_usd=rec.cost_usd,
        session_id=rec.session_id,
        workflow=rec.workflow,
        content_status=rec.content_status,
        attributes=rec.attributes,
    )


def _flush(
    session: Session, pending: list[tuple[int, InteractionRecord]], result: FileResult, sf_id: int
) -> None:
    if not pending:
        return
    by_format: dict[str, set[str]] = {}
    for _, r in pending:
        by_format.setdefault(r.source_format, set()).add(r.event_id)
    existing: set[tuple[str, str]] = set()
    for fmt, event_ids in by_format.items():
        # One equality and one IN list, so the unique (source_format, event_id) index is used;
        # a row-value IN makes SQLite scan the whole table for every batch.
        existing.update(
            (fmt, event_id)
            for event_id in session.scalars(
                select(Interaction.event_id).where(
                    Interaction.source_format == fmt, Interaction.event_id.in_(event_ids)
                )
            )
        )
    for line_no, rec in pending:
        key = (rec.source_format, rec.event_id)
        if key in existing:
            result.duplicate += 1
            continue
        existing.add(key)
        session.add(_to_row(rec, sf_id, line_no))
        result.loaded += 1
        if rec.content_status != "present":
            result.coverage_gaps += 1
        result.periods.add(period_of(rec.occurred_at))
    session.flush()
    pending.clear()


def _notes(item: RawRecord, rec: InteractionRecord) -> list[str]:
    notes = list(item.notes)
    if rec.attributes.get("empty_prompt"):
        notes.append("empty prompt (kept)")
    if rec.attributes.get("export_incomplete"):
        notes.append("export incomplete: the file's last page says more follow (has_more)")
    if rec.attributes.get("messages_incomplete"):
        notes.append("conversation incomplete: more messages follow (messages.has_more)")
    if rec.attributes.get("unknown_fields"):
        notes.append(
            "unknown fields kept by name only: " + ", ".join(rec.attributes["unknown_fields"])
        )
    return notes


@dataclass(frozen=True)
class Mappings:
    """The firm's names for tools and workflows, applied to every reader's output alike."""

    tools: dict[str, str] = field(default_factory=dict)
    workflows: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_maps(cls, tools: dict[str, str], workflows: dict[str, str]) -> Mappings:
        # Workflow keys are spelled the way stored tags are (normalize_workflow), so a firm can
        # write a tag as its source shows it.
        return cls(
            {k.strip().lower(): v for k, v in tools.items()},
            {(normalize_workflow(k) or k.strip().lower()): v for k, v in workflows.items()},
        )

    def apply(self, rec: InteractionRecord) -> InteractionRecord:
        tool = self.tools.get((rec.tool or "").lower(), rec.tool)
        workflow = self.workflows.get((rec.workflow or "").lower(), rec.workflow)
        if (tool, workflow) == (rec.tool, rec.workflow):
            return rec
        return replace(rec, tool=tool, workflow=workflow)


NO_MAPPINGS = Mappings()


def ingest_file(
    session: Session,
    path: Path,
    reader: Reader,
    *,
    max_line_bytes: int,
    mappings: Mappings = NO_MAPPINGS,
) -> FileResult:
    """Ingest one file with one reader. Bad records are counted and stored, never raised."""
    sha = file_sha256(path)
    result = FileResult(path=path, source_format=reader.name, sha256=sha)
    if session.scalar(select(SourceFile.id).where(SourceFile.sha256 == sha)) is not None:
        result.already_ingested = True
        return result
    source = SourceFile(
        path=str(path),
        sha256=sha,
        size_bytes=path.stat().st_size,
        source_format=reader.name,
        ingested_at=datetime.now(UTC).replace(tzinfo=None),
    )
    session.add(source)
    session.flush()
    pending: list[tuple[int, InteractionRecord]] = []
    try:
        for item in reader.records(path, max_line_bytes=max_line_bytes):
            result.total += 1
            if isinstance(item, Rejected):
                result.rejected += 1
                result.rejections.append((item.line_no, item.reason))
                continue
            try:
                rec = reader.normalize(item)
            except RecordError as exc:
                result.rejected += 1
                result.rejections.append((item.line_no, str(exc)))
                continue
            rec = mappings.apply(rec)
            result.warnings.extend((item.line_no, note) for note in _notes(item, rec))
            if item.notes:
                rec = replace(rec, attributes={**rec.attributes, "encoding_repaired": True})
            pending.append((item.line_no, rec))
            if len(pending) >= BATCH:
                _flush(session, pending, result, source.id)
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror})") from None
    _flush(session, pending, result, source.id)
    result.not_interactions = dict(getattr(reader, "skipped", {}))
    for line_no, reason in result.rejections:
        session.add(IngestRejection(source_file_id=source.id, line_no=line_no, reason=reason[:500]))
    source.records_total = result.total
    source.records_loaded = result.loaded
    source.records_duplicate = result.duplicate
    source.records_rejected = result.rejected
    session.flush()
    return result


def ingest_paths(
    session: Session,
    paths: Sequence[Path],
    fmt: str,
    *,
    max_line_bytes: int,
    mappings: Mappings = NO_MAPPINGS,
) -> list[FileResult]:
    """Ingest files and folders in `fmt` ("auto" detects per file). Raises InputError early
    for a missing path or an unknown format, before anything is written."""
    files = expand_paths(paths)
    fixed = None if fmt == "auto" else get_reader(fmt)
    results = []
    for path in files:
        reader = fixed or detect_format(path)
        if reader is None:
            results.append(
                FileResult(
                    path=path,
                    source_format="unknown",
                    sha256=file_sha256(path),
                    skipped="not a log format this auditor reads (pass --format to force one)",
                )
            )
            continue
        # One savepoint per file: if the database refuses something, only this file is
        # rolled back and reported; the other files still land.
        savepoint = session.begin_nested()
        try:
            result = ingest_file(
                session, path, reader, max_line_bytes=max_line_bytes, mappings=mappings
            )
        except SQLAlchemyError as exc:
            savepoint.rollback()
            result = FileResult(
                path=path,
                source_format=reader.name,
                sha256=file_sha256(path),
                skipped=f"the database refused a record ({type(exc.orig or exc).__name__}); "
                "nothing from this file was stored",
            )
        else:
            savepoint.commit()
        results.append(result)
    return results


__all__ = ["FileResult", "Mappings", "RawRecord", "ingest_file", "ingest_paths", "period_of"]
