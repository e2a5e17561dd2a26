"""The ingest stage: log files -> Interaction rows, with every record accounted for.

For each file: total = loaded + duplicate + rejected. A file already ingested (same SHA-256)
is skipped whole, and an event already stored (same format and event id) with the same
content is a duplicate, so ingesting the same logs twice adds nothing. The same event id with
different content is a conflict: the first record stays, the later one is rejected with
reason `conflict` naming both lines.

Every record's time must lie in the window [ingest.earliest_timestamp, now +
ingest.future_tolerance_days]; a record outside it is rejected (an epoch number read in the
wrong unit lands outside it too, so it is rejected rather than guessed). Rejections are
written to the database in batches as they come, so memory does not grow with them; the
`FileResult` keeps the first `KEPT_PER_FILE` of them (and of warnings) for display.

Files that are not regular files (FIFOs, devices, sockets, links to them) are skipped with a
message, and a file that cannot be read is reported and the other files still load.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import stat
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select, text, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from auditor.config import IngestSettings
from auditor.db.models import IngestRejection, Interaction, SourceFile
from auditor.errors import InputError
from auditor.ingest.base import RawRecord, Reader, Rejected
from auditor.ingest.registry import detect_format, get_reader
from auditor.normalize import (
    InteractionRecord,
    RecordError,
    bound_attributes,
    normalize_workflow,
)

BATCH = 500
# A progress line every this many records of a file (when the caller asks for progress).
PROGRESS_EVERY = 100_000
# Rejections are inserted this many at a time, never held for the whole file.
REJECTION_BATCH = 1000
# Rejections and warnings a FileResult keeps for display; all rejections are in the database.
KEPT_PER_FILE = 1000
MAX_REASON = 500


@dataclass(frozen=True)
class IngestLimits:
    """The ingest's bounds from `[ingest]` settings: the accepted time window and the longest
    CSV field. Build with `from_settings`; the defaults are the settings' defaults."""

    earliest: date = IngestSettings.model_fields["earliest_timestamp"].default
    future_tolerance_days: int = IngestSettings.model_fields["future_tolerance_days"].default
    max_field_bytes: int = IngestSettings.model_fields["max_field_bytes"].default

    @classmethod
    def from_settings(cls, settings: IngestSettings) -> IngestLimits:
        return cls(
            earliest=settings.earliest_timestamp,
            future_tolerance_days=settings.future_tolerance_days,
            max_field_bytes=settings.max_field_bytes,
        )

    def window(self, now: datetime) -> tuple[datetime, datetime]:
        """[first, last] accepted moment, aware UTC."""
        first = datetime(self.earliest.year, self.earliest.month, self.earliest.day, tzinfo=UTC)
        return first, now + timedelta(days=self.future_tolerance_days)

    def time_problem(self, moment: datetime, now: datetime) -> str | None:
        """Why `moment` is outside the window (never quoting it), or None if it is inside."""
        first, last = self.window(now)
        if moment < first:
            return (
                f"`occurred_at` is before {self.earliest.isoformat()}, the earliest accepted "
                "date (ingest.earliest_timestamp; an epoch number in an unexpected unit?)"
            )
        if moment > last:
            return (
                f"`occurred_at` is more than {self.future_tolerance_days} day(s) in the future "
                "(ingest.future_tolerance_days; an epoch number in an unexpected unit?)"
            )
        return None


DEFAULT_LIMITS = IngestLimits()


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
    # The first KEPT_PER_FILE rejections (every one is stored in `ingest_rejections`).
    rejections: list[tuple[int, str]] = field(default_factory=list)
    # Records loaded with something to say: empty prompt, unknown fields, repaired encoding
    # (the first KEPT_PER_FILE; `warning_count` counts them all).
    warnings: list[tuple[int, str]] = field(default_factory=list)
    warning_count: int = 0
    # Of `rejected`: records whose event id was already stored with different content.
    conflicts: int = 0
    # How many times rejections were written to the database while reading.
    rejection_flushes: int = 0
    # Records that are not interactions (embedding spans, non-generation rows), by kind.
    not_interactions: dict[str, int] = field(default_factory=dict)
    # Why the file was not read at all (unrecognised format, database refused it).
    skipped: str | None = None
    # The file could not be read (not a regular file, permission denied, read error): the
    # run did not see everything it was given.
    unreadable: bool = False
    periods: set[str] = field(default_factory=set)
    # A database source read instead of a file: how it is named (never with its password).
    display: str | None = None
    # What a database source read moved: watermark before and after, rows re-read within
    # the lag, rows found beyond the lag, rows dated after the read started (left for later).
    watermark: dict[str, Any] | None = None
    # The `[sources]` entry that delivered it (None: named on the command line).
    source_name: str | None = None
    _pending_rejections: list[dict[str, Any]] = field(default_factory=list, repr=False)

    @property
    def name(self) -> str:
        """The file's name, or the database source's display name."""
        return self.display or self.path.name

    @property
    def location(self) -> str:
        """The file's path, or the database source's display name."""
        return self.display or str(self.path)

    def reject(self, line_no: int, reason: str) -> None:
        """Count a rejection; it is written to the database with the next batch."""
        self.rejected += 1
        if len(self.rejections) < KEPT_PER_FILE:
            self.rejections.append((line_no, reason))
        self._pending_rejections.append({"line_no": line_no, "reason": reason[:MAX_REASON]})

    def warn(self, line_no: int, note: str) -> None:
        self.warning_count += 1
        if len(self.warnings) < KEPT_PER_FILE:
            self.warnings.append((line_no, note))

    @property
    def reconciles(self) -> bool:
        return self.total == self.loaded + self.duplicate + self.rejected

    @property
    def reconciliation(self) -> str:
        """The per-file line every run ends with: read = stored + duplicates + rejected + gaps."""
        stored = self.loaded - self.coverage_gaps
        verdict = "reconciles" if self.reconciles else "DOES NOT RECONCILE"
        line = (
            f"{self.name}: read {self.total} = stored {stored} + duplicates {self.duplicate}"
            f" + rejected {self.rejected} + coverage gaps {self.coverage_gaps} ({verdict})"
        )
        if self.conflicts:
            line += (
                f"; of the rejected, {self.conflicts} conflicting duplicate(s): same event id,"
                " different content (the first record kept)"
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
    """Files named, plus the entries of folders named (sorted; not hidden ones, not folders).

    Special files (FIFOs, devices, sockets, links to them or to nothing) are listed too, so
    that `unreadable_reason` can report them. Raises InputError if a path does not exist.
    """
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            out.extend(
                sorted(p for p in path.rglob("*") if not p.is_dir() and not p.name.startswith("."))
            )
        elif path.exists() or path.is_symlink():
            out.append(path)
        else:
            raise InputError(f"{path}: no such file or folder")
    return out


_SPECIAL_KINDS = (
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def unreadable_reason(path: Path) -> str | None:
    """Why `path` cannot be read as a log file, or None if it can. Never opens a FIFO or a
    device (that could block or read forever): they are told apart by `stat` first."""
    try:
        mode = path.stat().st_mode  # follows links: a link to a device is a device
    except FileNotFoundError:
        return "a symbolic link to nothing (broken link): not read"
    except OSError as exc:
        return f"cannot be read ({exc.strerror or type(exc).__name__}): not read"
    if not stat.S_ISREG(mode):
        kind = next((name for test, name in _SPECIAL_KINDS if test(mode)), "not a regular file")
        link = " (through a symbolic link)" if path.is_symlink() else ""
        return f"{kind}{link}, not a regular file: not read"
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as exc:
        return f"cannot be read ({exc.strerror or errno.errorcode.get(exc.errno or 0)}): not read"
    os.close(fd)
    return None


def period_of(moment: datetime) -> str:
    return moment.strftime("%Y-%m")


def _naive_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


def _storable(value: Any) -> Any:
    """NUL (U+0000) as U+FFFD in every string, dictionary key included: PostgreSQL's text
    cannot hold it (SQLite can), and both databases must store the same record. Prompt and
    output text are already free of it (normalize.clean_text)."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd") if "\x00" in value else value
    if isinstance(value, dict):
        return {_storable(k): _storable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_storable(v) for v in value]
    return value


def _storable_record(rec: InteractionRecord) -> InteractionRecord:
    changed = {
        f.name: new
        for f in fields(rec)
        if (new := _storable(old := getattr(rec, f.name))) is not old and new != old
    }
    return replace(rec, **changed) if changed else rec


def _to_row(rec: InteractionRecord, source_file_id: int, line_no: int) -> dict[str, Any]:
    return dict(
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


# What makes two records with the same event id the same record: who and what was said. The
# same call exported in two shapes (a spend-log row and a callback payload) differs in what
# each shape carries and in sub-second clocks, so only these are compared, and a value one
# side does not have is no conflict.
def _content(rec: InteractionRecord) -> tuple[Any, ...]:
    return (rec.user_id, rec.user_email, rec.prompt_text, rec.output_text)


_CONTENT_COLUMNS = (
    Interaction.user_id,
    Interaction.user_email,
    Interaction.prompt_text,
    Interaction.output_text,
)


def _same(kept: tuple[Any, ...], new: tuple[Any, ...]) -> bool:
    return all(a is None or b is None or a == b for a, b in zip(kept, new, strict=True))


@dataclass(frozen=True)
class _Kept:
    """The record kept for an event id: where it came from and its content."""

    line_no: int | None
    file_name: str | None  # None: this file
    content: tuple[Any, ...]


def _conflict_reason(kept: _Kept) -> str:
    where = f"line {kept.line_no}" if kept.line_no is not None else "an earlier record"
    if kept.file_name is not None:
        where += f" of {kept.file_name}"
    return (
        f"conflict: same event id as {where}, different content; the record at {where} is "
        "kept, this one is not stored"
    )


def _flush(
    session: Session, pending: list[tuple[int, InteractionRecord]], result: FileResult, sf_id: int
) -> None:
    if not pending:
        return
    by_format: dict[str, set[str]] = {}
    for _, r in pending:
        by_format.setdefault(r.source_format, set()).add(r.event_id)
    existing: dict[tuple[str, str], _Kept] = {}
    new_rows: list[dict[str, Any]] = []
    for fmt, event_ids in by_format.items():
        # One equality and one IN list, so the unique (source_format, event_id) index is used;
        # a row-value IN makes SQLite scan the whole table for every batch.
        rows = session.execute(
            select(
                Interaction.event_id,
                Interaction.source_line,
                Interaction.source_file_id,
                SourceFile.path,
                *_CONTENT_COLUMNS,
            )
            .outerjoin(SourceFile, SourceFile.id == Interaction.source_file_id)
            .where(Interaction.source_format == fmt, Interaction.event_id.in_(event_ids))
        )
        for event_id, line, file_id, file_path, *content in rows:
            other = None if file_id == sf_id else Path(file_path or "another file").name
            existing[(fmt, event_id)] = _Kept(line, other, tuple(content))
    for line_no, rec in pending:
        key = (rec.source_format, rec.event_id)
        kept = existing.get(key)
        if kept is not None:
            if _same(kept.content, _content(rec)):
                result.duplicate += 1
            else:
                result.conflicts += 1
                result.reject(line_no, _conflict_reason(kept))
            continue
        existing[key] = _Kept(line_no, None, _content(rec))
        new_rows.append(_to_row(rec, sf_id, line_no))
        result.loaded += 1
        if rec.content_status != "present":
            result.coverage_gaps += 1
        result.periods.add(period_of(rec.occurred_at))
    if new_rows:
        _insert_interactions(session, new_rows)
        _analyze_while_growing(session, len(new_rows))
    pending.clear()


_COPY_COLUMNS = tuple(c.name for c in Interaction.__table__.columns if c.name != "id")


def _insert_interactions(session: Session, rows: list[dict[str, Any]]) -> None:
    """Insert a batch: PostgreSQL's COPY (the fastest way in, a third of the time of
    multi-row INSERTs), elsewhere a Core executemany (no ORM objects held)."""
    if session.get_bind().dialect.name != "postgresql":
        session.execute(insert(Interaction), rows)
        return
    raw: Any = session.connection().connection.driver_connection  # psycopg's connection
    columns = ", ".join(_COPY_COLUMNS)
    with raw.cursor() as cur, cur.copy(f"COPY interactions ({columns}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(
                [json.dumps(row[c]) if c == "attributes" else row[c] for c in _COPY_COLUMNS]
            )


# Loaded-row counts at which PostgreSQL's statistics on interactions are refreshed during one
# ingest transaction. Without them a table that grows from empty is planned as tiny: the
# duplicate lookup above then filters every stored row of the format instead of probing the
# unique index for each event id, and ingest time grows with the square of the rows
# (100,000 records: 353 s instead of about 30 s).
_ANALYZE_AT = (2_000, 20_000, 200_000, 2_000_000)


def _analyze_while_growing(session: Session, added: int) -> None:
    if session.get_bind().dialect.name != "postgresql":
        return
    # Counted per session, across files: many small files grow the table as much as one big.
    before = session.info.get("interactions_inserted", 0)
    after = session.info["interactions_inserted"] = before + added
    if any(before < mark <= after for mark in _ANALYZE_AT):
        # ANALYZE counts the rows this transaction inserted (PostgreSQL's acquire_sample_rows).
        session.execute(text("ANALYZE interactions"))


def _flush_rejections(session: Session, result: FileResult, sf_id: int) -> None:
    """Write the rejections counted so far (Core insert: no ORM objects held)."""
    if not result._pending_rejections:
        return
    session.execute(
        insert(IngestRejection),
        [{"source_file_id": sf_id, **row} for row in result._pending_rejections],
    )
    result._pending_rejections.clear()
    result.rejection_flushes += 1


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
    limits: IngestLimits = DEFAULT_LIMITS,
    now: datetime | None = None,
    progress: Callable[[str], None] | None = None,
    source_name: str | None = None,
) -> FileResult:
    """Ingest one file with one reader. Bad records are counted and stored, never raised.

    Raises OSError if the file cannot be read (`ingest_paths` reports it and goes on).
    """
    now = now or datetime.now(UTC)
    reader.max_field_bytes = limits.max_field_bytes
    st = path.stat()
    # A file read before, unchanged since (same path, size and modification time), is known
    # without reading it again: a scheduled rerun over a month of logs no longer hashes them all.
    known = session.scalar(
        select(SourceFile.sha256).where(
            SourceFile.path == str(path),
            SourceFile.size_bytes == st.st_size,
            SourceFile.mtime_ns == st.st_mtime_ns,
        )
    )
    if known is not None:
        result = FileResult(path=path, source_format=reader.name, sha256=known)
        result.already_ingested = True
        _claim(session, known, source_name)
        return result
    sha = file_sha256(path)
    result = FileResult(path=path, source_format=reader.name, sha256=sha)
    if session.scalar(select(SourceFile.id).where(SourceFile.sha256 == sha)) is not None:
        result.already_ingested = True
        _claim(session, sha, source_name)
        return result
    source = SourceFile(
        path=str(path),
        sha256=sha,
        size_bytes=st.st_size,
        mtime_ns=st.st_mtime_ns,
        source_format=reader.name,
        ingested_at=datetime.now(UTC).replace(tzinfo=None),
        source_name=source_name,
    )
    session.add(source)
    session.flush()
    ingest_records(
        session,
        reader.records(path, max_line_bytes=max_line_bytes),
        reader.normalize,
        result,
        source.id,
        mappings=mappings,
        limits=limits,
        now=now,
        progress=progress,
    )
    result.not_interactions = dict(getattr(reader, "skipped", {}))
    source.records_total = result.total
    source.records_loaded = result.loaded
    source.records_duplicate = result.duplicate
    source.records_rejected = result.rejected
    session.flush()
    return result


def _claim(session: Session, sha256: str, source_name: str | None) -> None:
    """A file read before from the command line, now delivered by a `[sources]` entry, counts
    for that source's expected deliveries."""
    if source_name is not None:
        session.execute(
            update(SourceFile)
            .where(SourceFile.sha256 == sha256, SourceFile.source_name.is_(None))
            .values(source_name=source_name)
        )


def ingest_records(
    session: Session,
    items: Iterable[RawRecord | Rejected],
    normalize: Callable[[RawRecord], InteractionRecord],
    result: FileResult,
    source_id: int,
    *,
    mappings: Mappings = NO_MAPPINGS,
    limits: IngestLimits = DEFAULT_LIMITS,
    now: datetime,
    progress: Callable[[str], None] | None = None,
) -> None:
    """Normalize, check and store records into `result` under the source_files row
    `source_id`: the loop every file and every database source goes through (time window,
    tool and workflow maps, the attribute fence, duplicates and conflicts, rejections written
    as they come). Flushes everything before it returns; the caller commits."""
    pending: list[tuple[int, InteractionRecord]] = []
    for item in items:
        result.total += 1
        if progress is not None and result.total % PROGRESS_EVERY == 0:
            progress(f"ingest: {result.name}: {result.total:,} records read, {result.loaded:,} new")
        if isinstance(item, Rejected):
            result.reject(item.line_no, item.reason)
        else:
            try:
                rec = normalize(item)
            except RecordError as exc:
                result.reject(item.line_no, str(exc))
            else:
                problem = limits.time_problem(rec.occurred_at, now)
                if problem is not None:
                    result.reject(item.line_no, problem)
                else:
                    rec = mappings.apply(rec)
                    for note in _notes(item, rec):
                        result.warn(item.line_no, note)
                    attributes = dict(rec.attributes)
                    if item.notes:
                        attributes["encoding_repaired"] = True
                    # The fence for every reader: nothing content-sized reaches the store.
                    rec = replace(rec, attributes=bound_attributes(attributes))
                    pending.append((item.line_no, _storable_record(rec)))
                    if len(pending) >= BATCH:
                        _flush(session, pending, result, source_id)
        if len(result._pending_rejections) >= REJECTION_BATCH:
            _flush_rejections(session, result, source_id)
    _flush(session, pending, result, source_id)
    _flush_rejections(session, result, source_id)


def ingest_paths(
    session: Session,
    paths: Sequence[Path],
    fmt: str,
    *,
    max_line_bytes: int,
    mappings: Mappings = NO_MAPPINGS,
    limits: IngestLimits = DEFAULT_LIMITS,
    progress: Callable[[str], None] | None = None,
    commit: Callable[[], None] | None = None,
    source_name: str | None = None,
) -> list[FileResult]:
    """Ingest files and folders in `fmt` ("auto" detects per file). Raises InputError early
    for a missing path or an unknown format, before anything is written.

    A file that cannot be read (special file, permission denied, read error) is reported
    with `skipped` and `unreadable` set; the other files still load. `progress`, if given, is
    called with a line after each file and every PROGRESS_EVERY records of a large one.
    `commit`, if given (the caller's `session.commit`), is called after each file, so that an
    interrupted ingest keeps the files it finished and the rerun skips them.
    `source_name`: the `[sources]` entry the files are delivered by (recorded per file).
    """
    files = expand_paths(paths)
    fixed = None if fmt == "auto" else get_reader(fmt)
    now = datetime.now(UTC)
    results = []
    for path in files:
        why = unreadable_reason(path)
        if why is not None:
            results.append(_unread(path, fixed.name if fixed else "unknown", why))
            continue
        try:
            reader = fixed or detect_format(path)
        except InputError as exc:
            if "cannot be read" not in exc.message:
                raise
            results.append(_unread(path, "unknown", exc.message.removeprefix(f"{path}: ")))
            continue
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
                session,
                path,
                reader,
                max_line_bytes=max_line_bytes,
                mappings=mappings,
                limits=limits,
                now=now,
                progress=progress,
                source_name=source_name,
            )
        except (OSError, EOFError, zlib.error) as exc:
            # Read errors the reader did not turn into a rejection: nothing of this file is
            # kept, so that re-running after fixing it reads it whole.
            savepoint.rollback()
            reason = getattr(exc, "strerror", None) or type(exc).__name__
            result = _unread(path, reader.name, f"cannot be read ({reason}); nothing stored")
        except SQLAlchemyError as exc:
            savepoint.rollback()
            result = FileResult(
                path=path,
                source_format=reader.name,
                sha256=file_sha256(path),
                skipped="the database refused a record "
                f"({type(getattr(exc, 'orig', None) or exc).__name__}); "
                "nothing from this file was stored",
            )
        else:
            savepoint.commit()
            if commit is not None:
                commit()
        results.append(result)
        if progress is not None:
            state = (
                "already ingested"
                if result.already_ingested
                else (result.skipped or f"{result.total:,} records, {result.loaded:,} new")
            )
            progress(f"ingest: {path.name} ({len(results)}/{len(files)}): {state}")
    for result in results:
        result.source_name = source_name
    return results


def _unread(path: Path, source_format: str, why: str) -> FileResult:
    return FileResult(
        path=path, source_format=source_format, sha256="", skipped=why, unreadable=True
    )


__all__ = [
    "IngestLimits",
    "unreadable_reason",
    "FileResult",
    "Mappings",
    "RawRecord",
    "ingest_file",
    "ingest_paths",
    "period_of",
]
