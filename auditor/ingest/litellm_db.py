"""LiteLLM's spend logs read where the proxy keeps them: the `LiteLLM_SpendLogs` table of its
PostgreSQL database (`--format litellm-db`), incrementally.

Each row is normalized exactly as a row of a CSV or JSON Lines export of the same table
(`auditor.ingest.litellm.normalize_litellm`), so a call read from the table and from an export
is one interaction (a duplicate), and the mapping is documented once, in that module.

Incremental reading. The auditor keeps a watermark per source (`source_watermarks`): the
(`startTime`, `request_id`) of the last row read. The next read takes the rows whose
`startTime` is at or after the watermark less the source's lag, so a row the proxy writes late
(LiteLLM writes spend logs in batches, from several workers) is still read when it is no later
than the lag; the rows of that window read before are recognised by their `request_id` and
counted as duplicates, never stored twice. Rows dated after the read started are left for a
later read (a clock ahead must not move the watermark past rows still to come).

A row that arrives later than the lag is not read by the incremental read. It is not lost
silently: each read counts the table's rows dated before the next read's lower bound, in the
same snapshot as the read, and the following read compares; more rows there means rows arrived
beyond the lag, which is said on the run's line and in the ledger (`beyond_lag`), with the fix:
read again from a date (`auditor ingest --source URL --since YYYY-MM-DD`), which stores only
what is missing. (LiteLLM's own retention deleting old rows can hide such a count, never add
to it.)

The source is read in one REPEATABLE READ, READ ONLY transaction (one snapshot; the auditor
never writes to the gateway's database), streamed with a server-side cursor in chunks of
`CHUNK` rows; after each chunk the interactions and the advanced watermark are committed
together in the auditor's database, so an interrupted read keeps what it finished and the
rerun continues from there. The URL's password never appears in a message, the ledger or the
watermark's key.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError
from sqlalchemy.orm import Session

from auditor.config import normalise_database_url
from auditor.db.models import SourceFile, SourceWatermark
from auditor.errors import AuditorError
from auditor.ingest.base import RawRecord
from auditor.ingest.litellm import SPEND_LOGS_COLUMNS, normalize_litellm
from auditor.ingest.stage import (
    DEFAULT_LIMITS,
    NO_MAPPINGS,
    FileResult,
    IngestLimits,
    Mappings,
    ingest_records,
)
from auditor.normalize import InteractionRecord, RecordError

NAME = "litellm-db"
DESCRIPTION = (
    "LiteLLM proxy's LiteLLM_SpendLogs table in its PostgreSQL database, read incrementally "
    "(--source postgresql://USER@HOST:5432/DB)"
)
TABLE = "LiteLLM_SpendLogs"
# Without these a row is not a spend-log row this reader can place in time and identify.
REQUIRED_COLUMNS = ("request_id", "call_type", "startTime")
# The table's Json columns (JSONB in PostgreSQL).
JSON_COLUMNS = frozenset(
    {"metadata", "request_tags", "messages", "response", "proxy_server_request"}
)
# Rows per chunk: read, stored and committed with the advanced watermark together.
CHUNK = 5000
DEFAULT_LAG = timedelta(minutes=60)
CONNECT_TIMEOUT_SECONDS = 10


class SourceError(AuditorError):
    """A database source cannot be read: unreachable, refused, no such table, missing
    columns. The message names the source (never its password) and the hint the fix."""


def source_url(url: str) -> URL:
    """The source's URL for psycopg 3. Raises SourceError for anything but PostgreSQL."""
    try:
        parsed = make_url(normalise_database_url(url))
    except ArgumentError:
        raise SourceError(
            "the source is not a database URL",
            "write it as postgresql://USER[:PASSWORD]@HOST[:PORT]/DATABASE",
        ) from None
    if not parsed.drivername.startswith("postgresql"):
        shown = _without_password(parsed).render_as_string(hide_password=True)
        raise SourceError(
            f"the source {shown} is not PostgreSQL: LiteLLM keeps its spend logs in PostgreSQL",
            "write it as postgresql://USER[:PASSWORD]@HOST[:PORT]/DATABASE (the proxy's "
            "DATABASE_URL); for files exported from the table use --format litellm",
        )
    return parsed


def _without_password(url: URL) -> URL:
    # URL.set(password=None) keeps the password (None means "unchanged").
    return URL.create(
        url.drivername,
        username=url.username,
        host=url.host,
        port=url.port,
        database=url.database,
        query=url.query,
    )


@dataclass(frozen=True)
class DatabaseSource:
    """One LiteLLM spend-log table to read: its URL (which may hold a password), how far back
    of the watermark to re-read (`lag`), the `[sources]` entry it belongs to, and optionally a
    date to re-read from instead of the watermark (`since`)."""

    url: str
    lag: timedelta = DEFAULT_LAG
    name: str | None = None
    since: date | None = None

    @property
    def display(self) -> str:
        """The URL without its password (and in the form psql writes)."""
        parsed = _without_password(source_url(self.url).set(drivername="postgresql"))
        return parsed.render_as_string(hide_password=True)

    @property
    def key(self) -> str:
        """The watermark's key: format and display URL, so the same table read under two
        passwords (or drivers) shares one watermark."""
        return f"{NAME} {self.display}"

    def scrub(self, message: str) -> str:
        """`message` without the URL's password, should a driver ever quote it."""
        password = source_url(self.url).password
        return message.replace(str(password), "***") if password else message


def _engine(source: DatabaseSource) -> Engine:
    try:
        return create_engine(
            source_url(source.url),
            hide_parameters=True,
            pool_pre_ping=False,
            connect_args={"connect_timeout": CONNECT_TIMEOUT_SECONDS},
        )
    except ImportError:
        raise SourceError(
            f"the source {source.display} cannot be read: the PostgreSQL driver psycopg is not "
            "installed",
            "install it: pip install 'ai-usage-auditor[postgres]'",
        ) from None


def _fail(source: DatabaseSource, exc: BaseException) -> SourceError:
    """One line naming the source and what to check, from a driver error."""
    orig = getattr(exc, "orig", None) or exc
    detail = source.scrub(" ".join(str(orig).split()))[:300] or type(orig).__name__
    detail = detail.removeprefix("connection failed: ")
    sqlstate = getattr(orig, "sqlstate", None)
    if sqlstate == "42501":  # insufficient_privilege
        return SourceError(
            f'the source {source.display} refused to let its user read "{TABLE}": {detail}',
            f'grant it: GRANT SELECT ON "{TABLE}" TO <the user in the source URL>',
        )
    if sqlstate is None or (isinstance(exc, DBAPIError) and exc.connection_invalidated):
        return SourceError(
            f"cannot connect to the source {source.display}: {detail}",
            "check the source URL (host, port, database name, user and password) and that the "
            "LiteLLM database accepts connections from this machine",
        )
    return SourceError(
        f"the source {source.display} could not be read: {detail}",
        "check that the URL names the LiteLLM proxy's database and that its user may read "
        f'"{TABLE}"',
    )


def _columns(conn: Connection, source: DatabaseSource) -> list[str]:
    """The table's columns this reader knows, in the table's order. Raises SourceError if
    the table or a required column is missing."""
    found = conn.execute(text("SELECT to_regclass(:t)"), {"t": f'"{TABLE}"'}).scalar()
    if found is None:
        database = source_url(source.url).database
        raise SourceError(
            f'the source {source.display} has no table "{TABLE}" (database {database}, '
            "on its search_path)",
            "point the source at the LiteLLM proxy's own database (its DATABASE_URL); if the "
            "proxy uses another schema, add ?options=-csearch_path%3DSCHEMA to the URL",
        )
    names = set(
        conn.execute(
            text(
                "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass(:t) "
                "AND attnum > 0 AND NOT attisdropped"
            ),
            {"t": f'"{TABLE}"'},
        ).scalars()
    )
    missing = [c for c in REQUIRED_COLUMNS if c not in names]
    if missing:
        listed = ", ".join(f'"{c}"' for c in missing)
        raise SourceError(
            f'the table "{TABLE}" of the source {source.display} has no column {listed}',
            "point the source at the LiteLLM proxy's own database: its table is created by the "
            "proxy's migrations (`litellm --use_prisma_migrate`); a table of another shape is "
            "not LiteLLM's spend log",
        )
    # Older LiteLLM versions lack newer columns: read what the table has.
    return [c for c in SPEND_LOGS_COLUMNS if c in names]


def _naive_utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo is None else moment.astimezone(UTC).replace(tzinfo=None)


def _row_object(columns: list[str], row: Any) -> dict[str, Any]:
    """A table row as the export reader sees a record: times as ISO 8601 UTC (the table's
    `timestamp(3)` columns hold UTC without a zone), JSON columns already parsed."""
    return {
        key: (_naive_utc(value).isoformat() + "+00:00" if isinstance(value, datetime) else value)
        for key, value in zip(columns, row, strict=True)
    }


def _normalize(raw: RawRecord) -> InteractionRecord:
    try:
        return normalize_litellm(raw.obj)
    except RecordError as exc:
        # A table row has no line: name it by its request id (an identifier, not content).
        request_id = str(raw.obj.get("request_id") or "")[:100]
        raise RecordError(f"request_id {request_id}: {exc}") from None


@dataclass
class _Position:
    time: datetime
    request_id: str

    def doc(self) -> dict[str, str]:
        return {"startTime": self.time.isoformat(), "request_id": self.request_id}


def read_spend_logs(
    session: Session,
    source: DatabaseSource,
    *,
    mappings: Mappings = NO_MAPPINGS,
    limits: IngestLimits = DEFAULT_LIMITS,
    progress: Callable[[str], None] | None = None,
    commit: Callable[[], None] | None = None,
    run_id: str | None = None,
    now: datetime | None = None,
) -> FileResult:
    """Read what is new in the source's `LiteLLM_SpendLogs` into interactions (module
    docstring). `commit` (the caller's `session.commit`) is called after each chunk, with the
    watermark advanced in the same transaction. Returns the read's counts; its `watermark`
    says where the read started and ended. Raises SourceError naming the source and the fix."""
    now = now or datetime.now(UTC)
    upper = _naive_utc(now)
    result = FileResult(
        path=Path(TABLE),
        source_format=NAME,
        sha256="",
        display=source.display,
        source_name=source.name,
    )
    mark = session.get(SourceWatermark, source.key)
    before = _Position(mark.position_time, mark.position_id) if mark is not None else None
    if source.since is not None:
        lower: datetime | None = datetime.combine(source.since, datetime.min.time())
    elif before is not None:
        lower = before.time - source.lag
    else:
        lower = None
    engine = _engine(source)
    try:
        with _source_errors(source):
            conn = engine.connect().execution_options(
                isolation_level="REPEATABLE READ", postgresql_readonly=True
            )
        try:
            with _source_errors(source):
                columns = _columns(conn, source)
                beyond_lag = 0
                if mark is not None:
                    now_settled = _count_before(conn, mark.settled_before)
                    beyond_lag = max(0, now_settled - mark.settled_count)
                later = int(
                    conn.execute(
                        text(f'SELECT count(*) FROM "{TABLE}" WHERE "startTime" > :upper'),
                        {"upper": upper},
                    ).scalar_one()
                )
            last, reread, late = _stream(
                session,
                conn,
                source,
                columns,
                result,
                lower=lower,
                upper=upper,
                before=before,
                mappings=mappings,
                limits=limits,
                progress=progress,
                commit=commit,
                run_id=run_id,
                now=now,
            )
            after = last or before
            settled_before = (after.time - source.lag) if after is not None else None
            with _source_errors(source):
                settled = _count_before(conn, settled_before) if settled_before else 0
        finally:
            conn.close()
    finally:
        engine.dispose()
    if after is not None and settled_before is not None:
        _save_mark(
            session,
            source,
            session.get(SourceWatermark, source.key),
            after,
            run_id,
            settled_before,
            settled,
        )
    if commit is not None:
        commit()
    result.watermark = {
        "source": source.key,
        "before": before.doc() if before is not None else None,
        "after": after.doc() if after is not None else None,
        "lag_minutes": int(source.lag.total_seconds() // 60),
        "read_from": lower.isoformat() if lower is not None else None,
        "reread_within_lag": reread,
        "late_within_lag": late,
        "beyond_lag": beyond_lag,
        "dated_after_read": later,
    }
    return result


def _count_before(conn: Connection, moment: datetime) -> int:
    return int(
        conn.execute(
            text(f'SELECT count(*) FROM "{TABLE}" WHERE "startTime" < :m'), {"m": moment}
        ).scalar_one()
    )


def _stream(
    session: Session,
    conn: Connection,
    source: DatabaseSource,
    columns: list[str],
    result: FileResult,
    *,
    lower: datetime | None,
    upper: datetime,
    before: _Position | None,
    mappings: Mappings,
    limits: IngestLimits,
    progress: Callable[[str], None] | None,
    commit: Callable[[], None] | None,
    run_id: str | None,
    now: datetime,
) -> tuple[_Position | None, int, int]:
    """Stream the rows in (`startTime`, `request_id`) order, chunk by chunk; store each chunk
    and advance the watermark with it. Returns (last row's position, rows at or before the
    earlier watermark, of those the ones stored now: late rows within the lag)."""
    # JSON columns come as their text, parsed by the reader only when it needs them, as in a
    # CSV export (`proxy_server_request`, the whole request body, is read only for a row
    # whose `messages` is empty) instead of the driver decoding every value of every row.
    select_list = ", ".join(
        f'"{c}"::text AS "{c}"' if c in JSON_COLUMNS else f'"{c}"' for c in columns
    )
    where = ['"startTime" <= :upper']
    params: dict[str, Any] = {"upper": upper}
    if lower is not None:
        where.append('"startTime" >= :lower')
        params["lower"] = lower
    query = text(
        f'SELECT {select_list} FROM "{TABLE}" WHERE {" AND ".join(where)} '
        'ORDER BY "startTime", request_id'
    )
    with _source_errors(source):
        rows = conn.execution_options(stream_results=True, max_row_buffer=CHUNK).execute(
            query, params
        )
    at = columns.index("startTime")
    sf: SourceFile | None = None
    last: _Position | None = None
    reread = late = ordinal = 0
    for chunk in _chunks(rows, source):
        if sf is None:
            sf = _source_file(session, source)
        old: list[RawRecord] = []
        new: list[RawRecord] = []
        for row in chunk:
            ordinal += 1
            obj = _row_object(columns, row)
            position = _Position(_naive_utc(row[at]), str(obj["request_id"]))
            item = RawRecord(ordinal, obj)
            seen = before is not None and (position.time, position.request_id) <= (
                before.time,
                before.request_id,
            )
            (old if seen else new).append(item)
            last = position
        for part, is_old in ((old, True), (new, False)):
            if not part:
                continue
            loaded = result.loaded
            ingest_records(
                session,
                part,
                _normalize,
                result,
                sf.id,
                mappings=mappings,
                limits=limits,
                now=now,
                progress=progress,
            )
            if is_old:
                reread += len(part)
                late += result.loaded - loaded
        sf.records_total = result.total
        sf.records_loaded = result.loaded
        sf.records_duplicate = result.duplicate
        sf.records_rejected = result.rejected
        assert last is not None
        # The watermark moves with the chunk, in the same commit (only ever forward); the
        # settled count is taken when the read ends.
        mark = _save_mark(
            session, source, session.get(SourceWatermark, source.key), last, run_id, None, None
        )
        mark.records_read += len(chunk)
        session.flush()
        if commit is not None:
            commit()
        if progress is not None:
            progress(f"ingest: {source.display}: {result.total:,} rows read, {result.loaded:,} new")
    if sf is not None:
        result.sha256 = sf.sha256
    if (
        last is not None
        and before is not None
        and (last.time, last.request_id)
        < (
            before.time,
            before.request_id,
        )
    ):
        last = before  # a re-read from --since never moves the watermark back
    return last, reread, late


def _chunks(rows: Any, source: DatabaseSource) -> Iterator[list[Any]]:
    while True:
        with _source_errors(source):
            chunk = rows.fetchmany(CHUNK)
        if not chunk:
            return
        yield chunk


@contextmanager
def _source_errors(source: DatabaseSource) -> Iterator[None]:
    """Driver errors of the source's connection as one SourceError line (errors of the
    auditor's own database pass through as they are)."""
    try:
        yield
    except SQLAlchemyError as exc:
        raise _fail(source, exc) from None


def _source_file(session: Session, source: DatabaseSource) -> SourceFile:
    """The source_files row of this read (interactions and rejections point to it)."""
    token = secrets.token_hex(16)
    sf = SourceFile(
        path=f"{source.display}#{TABLE}",
        sha256=hashlib.sha256(f"{source.key}\x00{token}".encode()).hexdigest(),
        size_bytes=0,
        mtime_ns=None,
        source_format=NAME,
        ingested_at=datetime.now(UTC).replace(tzinfo=None),
        source_name=source.name,
    )
    session.add(sf)
    session.flush()
    return sf


def _save_mark(
    session: Session,
    source: DatabaseSource,
    mark: SourceWatermark | None,
    position: _Position,
    run_id: str | None,
    settled_before: datetime | None,
    settled_count: int | None,
) -> SourceWatermark:
    moment = datetime.now(UTC).replace(tzinfo=None)
    if mark is None:
        mark = SourceWatermark(
            source=source.key,
            source_format=NAME,
            position_time=position.time,
            position_id=position.request_id,
            settled_before=settled_before or (position.time - source.lag),
            settled_count=settled_count or 0,
            records_read=0,
            updated_at=moment,
            run_id=run_id,
        )
        session.add(mark)
    current = (mark.position_time, mark.position_id)
    if (position.time, position.request_id) > current:
        mark.position_time, mark.position_id = position.time, position.request_id
    if settled_before is not None and settled_count is not None:
        mark.settled_before, mark.settled_count = settled_before, settled_count
    mark.updated_at = moment
    mark.run_id = run_id
    return mark


def read_sources(
    session: Session,
    sources: list[DatabaseSource],
    **kwargs: Any,
) -> list[FileResult]:
    """Read each database source in turn (`read_spend_logs`)."""
    return [read_spend_logs(session, source, **kwargs) for source in sources]


__all__ = [
    "DEFAULT_LAG",
    "NAME",
    "DatabaseSource",
    "SourceError",
    "read_sources",
    "read_spend_logs",
]
