"""Generic CSV: one interaction per row, in columns named after the normalized fields.

For logs that no other reader knows: export your gateway's or proxy's table to CSV with the
columns below and ingest it with `--format csv` (auto-detection also recognizes it).

The file
- UTF-8, with or without a byte-order mark; gzip-compressed files are read transparently.
  Invalid UTF-8 bytes are replaced by U+FFFD and the row is kept, with a warning.
- The first non-blank row is the header; it is required. The delimiter is a comma, or `;`,
  tab or `|` if the header line splits into more known columns with one of those.
- RFC 4180 quoting: a field holding the delimiter, a quote or a line break is quoted with
  `"`, and a quote inside it is doubled. Quoted fields may span lines; a row is reported by
  the line it starts on.
- Every row has exactly as many fields as the header; a ragged row is rejected.
- A row that does not parse is rejected from the line it starts on, and reading starts again
  at the next line (`auditor.ingest.csvrows`): malformed quoting (text after a closing
  quote, a quote never closed), a bare CR outside quotes, a quoted field running over line
  breaks for more than `ingest.max_field_bytes`, a field longer than that, or a row longer
  than `ingest.max_line_bytes` (all its lines together). Lines that then do not parse as a
  row of the header's width belong to the same rejection, which names them
  (`lines 18-20 skipped`), so one stray quote costs its own row, never the rows after it.
- Blank lines are skipped.

Columns. Header names match case-insensitively, and spaces, hyphens, dots and camelCase count
as underscores (`Event ID`, `event-id` and `eventId` all mean `event_id`). Two columns that
mean the same field make the header unusable, and then every row is rejected.

| Column | Header aliases | Value |
|---|---|---|
| `event_id` (required) | — | the source's id, unique in the file format; ≤ 255 chars |
| `occurred_at` (required) | `timestamp`, `time`, `event_time`, `created_at` | see below |
| `user_id` | `user`, `username`, `user_name`, `login`, `employee_id` | ≤ 255 chars |
| `user_email` | `email`, `e_mail`, `email_address`, `upn`, `user_principal_name` | lower-cased |
| `tool` | `app`, `application`, `tool_name` | the source's name; see `ingest.tool_map` |
| `provider` | `vendor`, `llm_provider` | ≤ 128 chars |
| `model` | `model_name` | ≤ 128 chars |
| `prompt_text` | `prompt`, `user_prompt`, `input_text` | the last user message, not the history |
| `output_text` | `response`, `output`, `completion`, `answer`, `response_text`, | |
| | `completion_text` | |
| `history_turns` | — | earlier messages the call carried; empty is 0 |
| `input_tokens` | `prompt_tokens`, `tokens_in` | non-negative integer |
| `output_tokens` | `completion_tokens`, `tokens_out` | non-negative integer |
| `cost_usd` | `cost` | non-negative number, `.` decimal point, no currency sign |
| `session_id` | `session`, `conversation_id`, `thread_id` | ≤ 255 chars |
| `workflow` | `workflow_tag`, `use_case` | lower-cased; see `ingest.workflow_map` |
| `content_status` | — | `present`, `redacted` or `not_stored` (see below) |

`occurred_at` accepts ISO 8601 (`2026-10-05T09:30:00Z`, `2026-10-05T11:30:00+02:00`; without
an offset it is UTC), `YYYY-MM-DD HH:MM:SS[.ffffff]` (UTC), and epoch seconds, milli-, micro-
or nanoseconds (told apart by size, fractions allowed). A time before 2000 is rejected: it is
a misread value such as a date written without separators.

At least one of `user_id` and `user_email` must be a column, and each row needs a value in
one of them: a row without a user is rejected (there is no fallback identity). An empty cell
is a missing value.

`content_status`: when the column is absent or empty, a row with prompt text is `present`
and a row without is `not_stored` (a coverage gap, not an empty prompt). An explicit
`present` with an empty prompt records an empty prompt (with a warning); `redacted` keeps
whatever redacted text the prompt cell holds; `not_stored` with prompt text is contradictory
and rejected.

Other columns. Raw text belongs only in `prompt_text` and `output_text`: an extra column could
hold content (notes, a subject line, a copied answer), so the values of columns not listed
here are dropped and only their names are kept, in `attributes.unknown_fields` of each row
where the cell is not empty (shown as an ingest warning). The values of these known-safe
columns are kept in `attributes` when they are single-line and at most 200 characters
(otherwise they too are kept by name only):
`account_type`, `department`, `team`, `cost_center`, `region`, `gateway`, `client_ip`,
`environment`, `status`, `finish_reason`, `request_id`, `trace_id`, and `source_format` (so
`auditor`'s own CSV export of interactions can be read back; event ids are unique only per
source format, so an export that mixes formats may repeat an id, and the repeat is counted as
a duplicate).

Auto-detection claims a file whose header has a column named `event_id` itself, an
`occurred_at` column (or alias) and a user column, and whose header cells all look like
column names; LiteLLM and Langfuse exports have no `event_id` column, so they are not claimed.
"""

from __future__ import annotations

import csv
import gzip
import re
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from auditor.ingest.base import RawRecord, Reader, Rejected, open_binary, read_head
from auditor.ingest.csvrows import BOM, CsvRows
from auditor.ingest.registry import register
from auditor.normalize import (
    INTERACTION_FIELDS,
    MAX_UNKNOWN_LISTED,
    ContentStatus,
    InteractionRecord,
    RecordError,
    clean_text,
    normalize_workflow,
    optional_float,
    optional_int,
    optional_str,
    to_utc,
)

FIELDS = INTERACTION_FIELDS
FIELD_SET = frozenset(FIELDS)
ALIASES: dict[str, str] = {
    **dict.fromkeys(("timestamp", "time", "event_time", "created_at"), "occurred_at"),
    **dict.fromkeys(("user", "username", "user_name", "login", "employee_id"), "user_id"),
    **dict.fromkeys(
        ("email", "e_mail", "email_address", "upn", "user_principal_name"), "user_email"
    ),
    **dict.fromkeys(("app", "application", "tool_name"), "tool"),
    **dict.fromkeys(("vendor", "llm_provider"), "provider"),
    "model_name": "model",
    **dict.fromkeys(("prompt", "user_prompt", "input_text"), "prompt_text"),
    **dict.fromkeys(
        ("response", "output", "completion", "answer", "response_text", "completion_text"),
        "output_text",
    ),
    **dict.fromkeys(("prompt_tokens", "tokens_in"), "input_tokens"),
    **dict.fromkeys(("completion_tokens", "tokens_out"), "output_tokens"),
    "cost": "cost_usd",
    **dict.fromkeys(("session", "conversation_id", "thread_id"), "session_id"),
    **dict.fromkeys(("workflow_tag", "use_case"), "workflow"),
}
# Extra columns whose values are facts about the call, never content; see the docstring.
KEPT_EXTRAS = frozenset(
    {
        "account_type",
        "department",
        "team",
        "cost_center",
        "region",
        "gateway",
        "client_ip",
        "environment",
        "status",
        "finish_reason",
        "request_id",
        "trace_id",
        "source_format",
    }
)
MAX_EXTRA_CHARS = 200
STATUSES: frozenset[str] = frozenset({"present", "redacted", "not_stored"})
DELIMITERS = (",", ";", "\t", "|")
# No AI assistant was logged before this; an earlier time is a misread value (e.g. 20261005).
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_NON_WORD = re.compile(r"[^0-9A-Za-z]+")
_COLUMN_NAME = re.compile(r"[A-Za-z][A-Za-z0-9 _.()/-]{0,63}")


def column_key(name: str) -> str:
    """A header cell as a lookup key: `Event ID`, `event-id` and `eventId` give `event_id`."""
    return _NON_WORD.sub("_", _CAMEL.sub("_", name.strip())).strip("_").lower()


def field_of(key: str) -> str | None:
    """The normalized field a column key names, through the alias table, or None."""
    return key if key in FIELD_SET else ALIASES.get(key)


def map_header(cells: list[str]) -> list[str]:
    """The key of each column: its field name, a kept extra's name, or its own key.

    Raises RecordError if a required column is missing or two columns mean the same field.
    """
    keys: list[str] = []
    position: dict[str, int] = {}
    for pos, cell in enumerate(cells, start=1):
        key = column_key(cell) or f"column_{pos}"
        name = field_of(key) or key
        if name in FIELD_SET or name in KEPT_EXTRAS:
            if name in position:
                raise RecordError(f"columns {position[name]} and {pos} both give `{name}`")
            position[name] = pos
        keys.append(name)
    missing = [f"`{f}`" for f in ("event_id", "occurred_at") if f not in position]
    if "user_id" not in position and "user_email" not in position:
        missing.append("`user_id` or `user_email`")
    if missing:
        raise RecordError("missing required column " + ", ".join(missing))
    return keys


def _first_line(head: bytes) -> str | None:
    text = head.removeprefix(BOM).decode("utf-8", errors="replace")
    return next((ln.rstrip("\r") for ln in text.split("\n") if ln.strip()), None)


def _split(line: str, delimiter: str) -> list[str]:
    # A bare CR or broken quoting in the header line: no cells (the reader rejects the header
    # with its line); sniffing must never raise.
    try:
        return next(csv.reader([line], delimiter=delimiter), [])
    except csv.Error:
        return []


def delimiter_of(line: str) -> str:
    """The delimiter that splits a header line into the most known columns (comma on a tie)."""
    scores = [
        (sum(field_of(column_key(c)) is not None for c in _split(line, d)), -i, d)
        for i, d in enumerate(DELIMITERS)
    ]
    return max(scores)[2]


def _timestamp(value: str) -> datetime:
    try:
        moment = to_utc(value.strip())
    except RecordError as exc:
        raise RecordError(f"`occurred_at`: {exc}") from None
    if moment < EARLIEST:
        raise RecordError("`occurred_at` is before 2000 (a date without separators?)")
    return moment


def _status(value: str) -> ContentStatus:
    key = column_key(value)
    if key not in STATUSES:
        raise RecordError("`content_status` is not one of present, redacted, not_stored")
    return key  # type: ignore[return-value]


def normalize_row(row: dict[str, str], *, source_format: str) -> InteractionRecord:
    """One CSV row, keyed as `map_header` names the columns. Raises RecordError."""

    def cell(name: str) -> str | None:
        value = row.get(name)
        return value if value is not None and value.strip() else None

    event_id = optional_str(cell("event_id"), "event_id", 255)
    if not event_id:
        raise RecordError("no `event_id`")
    user_id = optional_str(cell("user_id"), "user_id", 255)
    user_email = optional_str(cell("user_email"), "user_email", 320)
    if not user_id and not user_email:
        raise RecordError("no user identity (`user_id` or `user_email`)")
    occurred = cell("occurred_at")
    if occurred is None:
        raise RecordError("no `occurred_at`")

    attributes: dict[str, Any] = {}
    prompt = clean_text(cell("prompt_text"))
    explicit = cell("content_status")
    status: ContentStatus
    if explicit is None:
        status = "present" if prompt is not None else "not_stored"
    else:
        status = _status(explicit)
        if status == "not_stored" and prompt is not None:
            raise RecordError("`content_status` is not_stored but `prompt_text` has text")
        if status == "present" and prompt is None:
            prompt = ""
            attributes["empty_prompt"] = True

    unknown: list[str] = []
    for key, value in row.items():
        if key in FIELD_SET or not value.strip():
            continue
        kept = value.strip()
        if key in KEPT_EXTRAS and len(kept) <= MAX_EXTRA_CHARS and not re.search(r"[\r\n]", kept):
            attributes[key] = clean_text(kept)
        else:
            unknown.append(key[:64])
    if unknown:
        attributes["unknown_fields"] = sorted(unknown)[:MAX_UNKNOWN_LISTED]

    return InteractionRecord(
        event_id=event_id,
        source_format=source_format,
        occurred_at=_timestamp(occurred),
        user_id=user_id,
        user_email=user_email.lower() if user_email else None,
        tool=optional_str(cell("tool"), "tool", 128),
        provider=optional_str(cell("provider"), "provider", 128),
        model=optional_str(cell("model"), "model", 128),
        prompt_text=prompt,
        output_text=clean_text(cell("output_text")),
        history_turns=optional_int(cell("history_turns"), "history_turns") or 0,
        input_tokens=optional_int(cell("input_tokens"), "input_tokens"),
        output_tokens=optional_int(cell("output_tokens"), "output_tokens"),
        cost_usd=optional_float(cell("cost_usd"), "cost_usd"),
        session_id=optional_str(cell("session_id"), "session_id", 255),
        workflow=normalize_workflow(optional_str(cell("workflow"), "workflow", 64)),
        content_status=status,
        attributes=attributes,
    )


@register
class GenericCsvReader(Reader):
    name = "csv"
    description = (
        "Generic CSV: a header row and one interaction per row, columns named as the "
        "normalized fields (event_id, occurred_at, user_id/user_email, prompt_text, ...)"
    )

    def sniff(self, head: bytes) -> bool:
        # A CSV's header is its first non-blank line by definition; blank lines before it
        # are skipped. JSON, XML and free text fail the column-name check.
        line = _first_line(head)
        if line is None or line.lstrip()[:1] in ("{", "[", "<"):
            return False
        cells = [c.strip() for c in _split(line, delimiter_of(line))]
        if len(cells) < 3 or not all(not c or _COLUMN_NAME.fullmatch(c) for c in cells):
            return False
        keys = {column_key(c) for c in cells}
        fields = {field_of(k) for k in keys}
        # Our own name `event_id`, not an alias: other formats' CSV exports never have it.
        return (
            "event_id" in keys
            and "occurred_at" in fields
            and bool({"user_id", "user_email"} & fields)
        )

    def records(self, path: Path, *, max_line_bytes: int) -> Iterator[RawRecord | Rejected]:
        try:
            yield from self._rows(path, max_line_bytes)
        except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
            # Line 0: the file as a whole; the rows read before the damage are kept.
            reason = f"compressed stream is damaged ({type(exc).__name__}); reading stopped"
            yield Rejected(0, reason)

    def _rows(self, path: Path, limit: int) -> Iterator[RawRecord | Rejected]:
        first_line = _first_line(read_head(path))
        delimiter = delimiter_of(first_line) if first_line is not None else ","
        with open_binary(path) as fh:
            # strict: malformed quoting is an error for that row, not silently merged text;
            # CsvRows resynchronises after it so the rows that follow are still read.
            rows = CsvRows(
                fh,
                delimiter=delimiter,
                max_row_bytes=limit,
                max_field_bytes=self.max_field_bytes,
            )
            keys: list[str] | None = None
            header_problem: str | None = None
            header_line = 0
            for row in rows():
                if row.blank:
                    continue
                problem = row.problem
                if keys is None and header_problem is None:
                    header_line = row.first
                    if problem is None:
                        try:
                            keys = map_header(row.fields or [])
                            rows.width = len(keys)
                        except RecordError as exc:
                            problem = str(exc)
                    if problem is not None:
                        header_problem = problem
                        yield Rejected(row.first, f"header unusable: {problem}")
                    continue
                fields = row.fields or []
                if problem is None and header_problem is not None:
                    problem = f"no usable header (see line {header_line})"
                if problem is None and keys is not None and len(fields) != len(keys):
                    problem = f"row has {len(fields)} fields, the header has {len(keys)}"
                if problem is not None or keys is None:
                    yield Rejected(row.first, problem or "no header")
                    continue
                obj: dict[str, str] = {}
                for key, value in zip(keys, fields, strict=True):
                    # Repeated unknown names: any non-empty value decides that it is listed.
                    if value.strip() or key not in obj:
                        obj[key] = value
                yield RawRecord(row.first, obj, row.notes)

    def normalize(self, raw: RawRecord) -> InteractionRecord:
        if not isinstance(raw.obj, dict):
            raise RecordError("record is not a CSV row")
        return normalize_row(raw.obj, source_format=self.name)
