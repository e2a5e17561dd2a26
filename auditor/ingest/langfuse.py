"""Langfuse blob-storage export of observations, as JSON Lines, JSON or CSV (gzip or not).

Reads the enriched `observations_v2/` files (each row carries its trace's `user_id`,
`session_id`, `trace_name` and `tags`) and the legacy `observations/` files (no trace context:
users come from the export's `traces/` file of the same run, when it is there). Field names
are the export's snake_case; timestamps are `YYYY-MM-DD HH:MM:SS.ffffff` in UTC without a zone
marker. See https://langfuse.com/docs/api-and-data-platform/features/blob-storage-export-fields.

Only GENERATION observations (LLM calls) are interactions. The other rows read are not
rejected: they are counted by kind in `LangfuseReader.skipped` ("observations of type SPAN",
"trace rows", "Langfuse evaluator or experiment runs (environment ...)"), which the file's
reconciliation line reports as "also read, not interactions". Rows that cannot be read or
used (bad JSON, a generation without a user) are rejections.

Identity: the row's `user_id`, else a user in its metadata (`langfuse_user_id`, `user_id`,
`user.id`, ... and `user_email`, `email`, `user.email`), else - for a generation without one -
a user found on another row of the same trace in the same file, or in the `traces/` file of
the same legacy export run. A `user_id` that is an email address is also the user's email.
"""

from __future__ import annotations

import gzip
import json
import re
import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from auditor.ingest.base import (
    TOO_LONG_NUMBER,
    RawRecord,
    Reader,
    Rejected,
    iter_json_lines,
    open_binary,
)
from auditor.ingest.csvrows import CsvRows
from auditor.ingest.jsonarray import ArrayDamaged, array_elements
from auditor.ingest.registry import register
from auditor.normalize import (
    KNOWN_WORKFLOWS,
    MAX_ATTRIBUTE_CHARS,
    ContentStatus,
    InteractionRecord,
    RecordError,
    clean_text,
    keep_metadata,
    message_text,
    normalize_workflow,
    optional_float,
    optional_int,
    optional_str,
    to_utc,
    unknown_fields,
)

GENERATION = "GENERATION"
OBSERVATION_TYPES = (
    "SPAN",
    "GENERATION",
    "EVENT",
    "AGENT",
    "TOOL",
    "CHAIN",
    "RETRIEVER",
    "EVALUATOR",
    "EMBEDDING",
    "GUARDRAIL",
)
# The `core` field group, always exported; a CSV header without these is not an observation file.
CORE_COLUMNS = frozenset({"id", "trace_id", "type", "start_time"})

# Every column of the enriched and the legacy observation files (all field groups selected).
KNOWN_COLUMNS = frozenset(
    {
        "id",
        "trace_id",
        "project_id",
        "environment",
        "type",
        "parent_observation_id",
        "is_root_observation",
        "start_time",
        "end_time",
        "completion_start_time",
        "created_at",
        "updated_at",
        "name",
        "metadata",
        "level",
        "status_message",
        "version",
        "input",
        "output",
        "provided_model_name",
        "model",
        "model_parameters",
        "model_id",
        "input_price",
        "output_price",
        "total_price",
        "usage_details",
        "cost_details",
        "total_cost",
        "usage_pricing_tier_id",
        "usage_pricing_tier_name",
        "prompt_id",
        "prompt_name",
        "prompt_version",
        "latency",
        "time_to_first_token",
        "tool_calls",
        "tool_call_names",
        "tool_definitions",
        "user_id",
        "session_id",
        "trace_name",
        "tags",
        "release",
        "bookmarked",
        "public",
    }
)

# Where apps and integrations put the user when the trace's `userId` is not set: the LangChain
# integration's `langfuse_*` metadata keys, OTel attribute names, LiteLLM's `trace_user_id`.
USER_ID_KEYS: tuple[str, ...] = ("langfuse_user_id", "user_id", "userId", "user.id")
USER_ID_KEYS += ("langfuse.user.id", "trace_user_id", "enduser.id")
USER_EMAIL_KEYS = ("user_email", "userEmail", "email", "user.email", "enduser.email")
SESSION_KEYS = ("langfuse_session_id", "session_id", "sessionId", "session.id")
PROVIDER_KEYS = ("provider", "ls_provider", "gen_ai.provider.name", "gen_ai.system")
TOOL_KEYS = ("tool", "app", "application")
_IDENTITY_KEYS = frozenset(USER_ID_KEYS + USER_EMAIL_KEYS)
# Metadata keys that become fields, so are not repeated among the attributes.
_MAPPED_KEYS = _IDENTITY_KEYS | frozenset(SESSION_KEYS + PROVIDER_KEYS + TOOL_KEYS + ("workflow",))

DEFAULT_MAX_FIELD_BYTES = Reader.max_field_bytes
MAX_PENDING = 200_000  # generations held back for a trace-level user (line number + trace id)
SNIFF_LINES = 5
PEEK_BYTES = 64 * 1024
CHUNK = 64 * 1024

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
# What SDK masking leaves when it blanks a whole field (Langfuse's own fallback included).
_REDACTED = re.compile(
    r"\s*[\[<(*]*\s*(redacted|masked|removed|hidden|fully masked[^>\]]*)\s*[\]>)*]*\s*|\*{3,}",
    re.IGNORECASE,
)
_LABEL = re.compile(r"[A-Za-z0-9_.-]{1,40}")
_WORKFLOW_TAG = re.compile(r"\s*workflow\s*[:=]\s*(.+)", re.IGNORECASE)


def _key(name: bytes) -> re.Pattern[bytes]:
    # Not preceded by a backslash: a key name quoted inside a JSON-encoded string is no key.
    return re.compile(rb'(?<!\\)"' + name + rb'"\s*:')


_TRACE_ID_KEY = _key(b"trace_id")
_START_KEY = _key(b"start_time")
_TYPE_KEY = re.compile(
    rb'(?<!\\)"type"\s*:\s*"(?:' + b"|".join(t.encode() for t in OBSERVATION_TYPES) + rb')"'
)


def _looks_like_observation(text: bytes) -> bool:
    return bool(_TRACE_ID_KEY.search(text) and _START_KEY.search(text) and _TYPE_KEY.search(text))


@dataclass(frozen=True, slots=True)
class TraceContext:
    """What a trace tells about a generation that does not carry it: found on another row
    of the trace that names a user (or on the legacy export's trace row)."""

    user_id: str | None
    user_email: str | None
    session_id: str | None = None
    trace_name: str | None = None
    tags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class TraceJoined:
    """A generation row without a user, and its trace's context."""

    row: dict[str, Any]
    trace: TraceContext


@register
class LangfuseReader(Reader):
    name = "langfuse"
    description = (
        "Langfuse blob-storage export of observations (observations_v2/ or legacy "
        "observations/), JSONL, JSON or CSV: one interaction per GENERATION"
    )

    def sniff(self, head: bytes) -> bool:
        text = head.removeprefix(b"\xef\xbb\xbf").lstrip()
        if text.startswith(b"["):
            return _looks_like_observation(text)  # Langfuse's JSON file: one array, one line
        lines = [ln.strip() for ln in text.split(b"\n")]
        objects = [ln for ln in lines if ln][:SNIFF_LINES]
        if any(ln.startswith(b"{") for ln in objects):
            return any(ln.startswith(b"{") and _looks_like_observation(ln) for ln in objects)
        header = _split_csv(text.split(b"\n", 1)[0].decode("utf-8", "replace").rstrip("\r"))
        return header is not None and {h.strip() for h in header} >= CORE_COLUMNS

    def records(self, path: Path, *, max_line_bytes: int) -> Iterator[RawRecord | Rejected]:
        # Generations without a user wait (by line number only, so memory stays small) until
        # the whole export has been searched for their trace's user; then they are re-read.
        self.skipped = Counter()
        pending: dict[int, str] = {}
        for item in read_rows(
            path, max_line_bytes=max_line_bytes, max_field_bytes=self.max_field_bytes
        ):
            if isinstance(item, Rejected):
                yield item
                continue
            row = item.obj
            kind = not_interaction(row)
            if kind:
                self.skipped[kind] += 1
                continue
            trace_id = row.get("trace_id")
            if (
                str(row.get("type", "")).upper() != GENERATION
                or any(identity_of(row))
                or not isinstance(trace_id, str)
                or not trace_id
                or len(pending) >= MAX_PENDING
            ):
                yield item
                continue
            pending[item.line_no] = trace_id
        if not pending:
            return
        traces = trace_contexts(
            path,
            set(pending.values()),
            max_line_bytes=max_line_bytes,
            max_field_bytes=self.max_field_bytes,
        )
        for item in read_rows(
            path, max_line_bytes=max_line_bytes, max_field_bytes=self.max_field_bytes
        ):
            if isinstance(item, RawRecord) and item.line_no in pending:
                trace = traces.get(pending[item.line_no])
                obj: Any = TraceJoined(item.obj, trace) if trace else item.obj
                yield RawRecord(item.line_no, obj, item.notes)

    def normalize(self, raw: RawRecord) -> InteractionRecord:
        obj = raw.obj
        if isinstance(obj, TraceJoined):
            return normalize_observation(obj.row, source_format=self.name, trace=obj.trace)
        if not isinstance(obj, dict):
            raise RecordError("record is not an object")
        return normalize_observation(obj, source_format=self.name)


# --- rows ------------------------------------------------------------------------------------


def read_rows(
    path: Path, *, max_line_bytes: int, max_field_bytes: int = DEFAULT_MAX_FIELD_BYTES
) -> Iterator[RawRecord | Rejected]:
    """Each row of a Langfuse export file as a dict, whatever the file type (by content: JSON
    Lines, one JSON array, or CSV with a header), or why it was rejected. Streams."""
    head = _peek(path).removeprefix(b"\xef\xbb\xbf").lstrip()
    if not head:
        return
    lines = [ln.strip() for ln in head.split(b"\n") if ln.strip()][:SNIFF_LINES]
    if head.startswith(b"["):
        rows = _array_rows(path, max_line_bytes=max_line_bytes)
    elif any(ln.startswith(b"{") for ln in lines):
        rows = iter_json_lines(path, max_line_bytes=max_line_bytes)
    else:
        rows = _csv_rows(path, max_line_bytes=max_line_bytes, max_field_bytes=max_field_bytes)
    try:
        yield from rows
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        yield Rejected(0, f"compressed stream is damaged ({type(exc).__name__}); reading stopped")


def _peek(path: Path) -> bytes:
    # In small reads, so that a gzip stream cut short still shows its first rows.
    out = bytearray()
    with open_binary(path) as fh:
        try:
            while len(out) < PEEK_BYTES:
                chunk = fh.read(1024)
                if not chunk:
                    break
                out += chunk
        except (OSError, EOFError, zlib.error):
            pass
    return bytes(out)


def _decode(data: bytes) -> tuple[str, tuple[str, ...]]:
    try:
        return data.decode("utf-8"), ()
    except UnicodeDecodeError as exc:
        note = f"invalid UTF-8 replaced (first at byte {exc.start} of the record)"
        return data.decode("utf-8", errors="replace"), (note,)


def _parsed(number: int, data: bytes) -> RawRecord | Rejected:
    text, notes = _decode(data)
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        return Rejected(number, f"not valid JSON ({exc.msg}, column {exc.colno})")
    except RecursionError:
        return Rejected(number, "JSON nested too deeply")
    except ValueError:  # an integer literal longer than Python converts
        return Rejected(number, f"not valid JSON ({TOO_LONG_NUMBER})")
    if not isinstance(obj, dict):
        return Rejected(number, f"expected a JSON object, got {type(obj).__name__}")
    return RawRecord(number, obj, notes)


# JSON: Langfuse writes `[` + rows joined by `,` + `]`, read one record at a time
# (auditor.ingest.jsonarray).
def _array_rows(path: Path, *, max_line_bytes: int) -> Iterator[RawRecord | Rejected]:
    with open_binary(path) as fh:
        try:
            for element in array_elements(fh, max_line_bytes, chunk=CHUNK):
                if element.data is None:
                    reason = f"record is longer than {max_line_bytes} bytes"
                    yield Rejected(element.number, reason)
                else:
                    yield _parsed(element.number, element.data)
        except ArrayDamaged as exc:
            yield Rejected(exc.number, f"{exc.reason}; reading stopped")


# CSV: RFC 4180 as Langfuse writes it - a header row, `"` quoting, fields (JSON text with
# newlines included) may span lines. Objects and arrays are JSON text; null is an empty field.
# Rows are read by the shared CsvRows (see _csv_rows); _split_csv only reads the header to
# recognise the file.
_QUOTED = re.compile(r'"([^"]*(?:""[^"]*)*)"')


def _split_csv(text: str) -> list[str] | None:
    """The fields of one complete CSV record, or None if its quoting is broken."""
    fields: list[str] = []
    pos, end = 0, len(text)
    while True:
        if text.startswith('"', pos):
            m = _QUOTED.match(text, pos)
            if m is None:
                return None
            fields.append(m.group(1).replace('""', '"'))
            pos = m.end()
        else:
            stop = text.find(",", pos)
            stop = end if stop == -1 else stop
            value = text[pos:stop]
            if '"' in value:
                return None
            fields.append(value)
            pos = stop
        if pos == end:
            return fields
        if text[pos] != ",":
            return None
        pos += 1
        if pos == end:
            fields.append("")
            return fields


def _csv_rows(
    path: Path, *, max_line_bytes: int, max_field_bytes: int
) -> Iterator[RawRecord | Rejected]:
    """The rows of a Langfuse CSV export, through the shared `CsvRows`: a row whose quoting is
    broken is rejected and reading starts again at the next line that parses as a row, so a
    stray quote costs that row, not the rest of the file."""
    with open_binary(path) as fh:
        rows = CsvRows(fh, max_row_bytes=max_line_bytes, max_field_bytes=max_field_bytes)
        header: list[str] | None = None
        for row in rows():
            if row.blank:
                continue
            if row.fields is None:
                # CsvRows' problems name the syntax, never the content.
                yield Rejected(row.first, f"malformed CSV record ({row.problem})")
                continue
            if header is None:
                header = [f.strip() for f in row.fields]
                rows.width = len(header)
                if not set(header) >= CORE_COLUMNS:
                    yield Rejected(row.first, "no Langfuse observation header; reading stopped")
                    return
                continue
            if len(row.fields) != len(header):
                yield Rejected(
                    row.first, f"record has {len(row.fields)} fields, the header has {len(header)}"
                )
                continue
            cells = zip(header, row.fields, strict=True)
            yield RawRecord(row.first, {k: (v if v != "" else None) for k, v in cells}, row.notes)


# --- which rows are interactions, and who they belong to ----------------------------------


def _label(value: Any) -> str | None:
    return value if isinstance(value, str) and _LABEL.fullmatch(value) else None


def not_interaction(row: dict[str, Any]) -> str | None:
    """The kind of row this is if it is read but is no interaction, as a plural that follows
    a count ("observations of type SPAN"); None for a generation to normalize. Never quotes
    content: a type or environment that is not a short label is not named."""
    kind = row.get("type")
    if _is_trace_row(row):
        return "trace rows (used only to find users)"
    if not isinstance(kind, str) or not kind:
        return None  # normalize rejects it with the reason
    if kind.upper() != GENERATION:
        label = _label(kind.upper())
        return f"observations of type {label}" if label else "observations of an unrecognised type"
    environment = row.get("environment")
    # Users cannot name an environment "langfuse...": those are Langfuse's own evaluator and
    # experiment runs, not an employee's use of an assistant.
    if isinstance(environment, str) and environment.lower().startswith("langfuse"):
        name = _label(environment) or "langfuse-…"
        return f"Langfuse evaluator or experiment runs (environment {name})"
    return None


def _json_value(value: Any) -> Any:
    """JSON text decoded (Langfuse nests JSON in strings, and CSV holds objects as JSON text);
    other values, and text that is not JSON, as they are."""
    if isinstance(value, str) and value.lstrip()[:1] in ("{", "[", '"'):
        try:
            return json.loads(value)
        except (ValueError, RecursionError):
            return value
    return value


def _object(row: dict[str, Any], key: str, *, strict: bool) -> dict[str, Any]:
    value = row.get(key)
    if value is None or value == "":
        return {}
    decoded = _json_value(value)
    if isinstance(decoded, dict):
        return decoded
    if strict:
        raise RecordError(f"`{key}` is not a JSON object")
    return {}


def _first(mapping: dict[str, Any], keys: tuple[str, ...]) -> Any:
    for key in keys:
        value = mapping.get(key)
        if value not in (None, ""):
            return value
    return None


def identity_of(row: dict[str, Any]) -> tuple[Any, Any]:
    """The raw user id and email a row carries (row `user_id`, else metadata); unvalidated."""
    metadata = _object(row, "metadata", strict=False)
    user_id = row.get("user_id") or _first(metadata, USER_ID_KEYS)
    return user_id or None, _first(metadata, USER_EMAIL_KEYS)


def _is_trace_row(row: dict[str, Any]) -> bool:
    # The legacy `traces/` file: keyed by its own id, with `timestamp` and no `type`.
    return row.get("type") is None and "trace_id" not in row and "timestamp" in row


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def context_of(row: dict[str, Any]) -> TraceContext | None:
    """The trace context a row carries, if it names a user."""
    user_id, email = identity_of(row)
    if isinstance(user_id, bool) or not isinstance(user_id, str | int):
        user_id = None
    if not isinstance(email, str):
        email = None
    if user_id is None and email is None:
        return None
    metadata = _object(row, "metadata", strict=False)
    return TraceContext(
        user_id=str(user_id) if user_id is not None else None,
        user_email=email,
        session_id=_text(row.get("session_id")) or _text(_first(metadata, SESSION_KEYS)),
        trace_name=_text(row.get("name") if _is_trace_row(row) else row.get("trace_name")),
        tags=tuple(_tags(row)),
    )


def trace_contexts(
    path: Path,
    wanted: set[str],
    *,
    max_line_bytes: int,
    max_field_bytes: int = DEFAULT_MAX_FIELD_BYTES,
) -> dict[str, TraceContext]:
    """Trace id -> context for the `wanted` traces, from any row of the file that names a
    user, and from the same run's legacy `traces/` file when there is one."""
    sources = [path]
    if path.parent.name == "observations":
        sibling = path.parent.parent / "traces" / path.name
        if sibling.is_file():
            sources.append(sibling)
    found: dict[str, TraceContext] = {}
    for source in sources:
        for item in read_rows(
            source, max_line_bytes=max_line_bytes, max_field_bytes=max_field_bytes
        ):
            if not isinstance(item, RawRecord):
                continue
            row = item.obj
            key = row.get("id") if _is_trace_row(row) else row.get("trace_id")
            if not isinstance(key, str) or key not in wanted or key in found:
                continue
            context = context_of(row)
            if context is not None:
                found[key] = context
    return found


# --- content ---------------------------------------------------------------------------------


def _content_text(content: Any) -> str | None:
    """Text of a message's content: a string, text parts, or a part-like object."""
    if isinstance(content, dict):
        text = content.get("text", content.get("content"))
        return text if isinstance(text, str) else None
    if isinstance(content, str | list):
        return message_text(content)
    return None


def _is_message(item: Any) -> bool:
    return isinstance(item, dict) and ("role" in item or "content" in item)


def _chat_messages(value: Any) -> list[dict[str, Any]] | None:
    """The chat messages an input holds: a list of messages (LangChain may nest it once), or
    an object with `messages` (the OpenAI integration's input when tools are sent)."""
    if isinstance(value, dict):
        value = value.get("messages")
    if isinstance(value, list) and len(value) == 1 and isinstance(value[0], list):
        value = value[0]
    if isinstance(value, list) and value and all(_is_message(m) for m in value):
        return value
    return None


PROMPT_KEYS = ("prompt", "input", "query", "question", "text", "content", "message")


def parse_input(value: Any) -> tuple[str | None, int, str]:
    """(prompt text, earlier messages carried, shape) of an observation's `input`.

    The prompt is the last user message of a chat; a plain string as it is; for another
    object, its `prompt`/`input`/`query`/... text, else its whole JSON text (so nothing in
    it escapes the scan).
    """
    if value is None or value == "":
        return None, 0, "absent"
    decoded = _json_value(value)
    messages = _chat_messages(decoded)
    if messages is not None:
        users = [m for m in messages if str(m.get("role", "")).lower() in ("user", "human")]
        prompt = _content_text(users[-1].get("content")) if users else None
        return prompt, len(messages) - 1, "chat" if users else "no_user_message"
    if isinstance(decoded, str):
        return decoded, 0, "text"
    if isinstance(decoded, dict):
        named = _first(decoded, PROMPT_KEYS)
        if isinstance(named, str):
            return named, 0, "object"
    if isinstance(decoded, list) and decoded and all(isinstance(x, str) for x in decoded):
        return "\n".join(decoded), 0, "text"
    if isinstance(value, str):
        return value, 0, "json"
    return json.dumps(decoded, ensure_ascii=False), 0, "json"


def parse_output(value: Any) -> str | None:
    """Text of an observation's `output`: the assistant message, a completion's choices,
    content parts, or a plain string; other JSON as its text."""
    if value is None or value == "":
        return None
    decoded = _json_value(value)
    if isinstance(decoded, str):
        return decoded
    if isinstance(decoded, dict):
        choices = decoded.get("choices")
        if isinstance(choices, list):
            texts = [
                _content_text(c["message"].get("content"))
                for c in choices
                if isinstance(c, dict) and isinstance(c.get("message"), dict)
            ]
            return "\n\n".join(t for t in texts if t) or None
        if "content" in decoded or "role" in decoded:
            return _content_text(decoded.get("content")) or None
        named = _first(decoded, ("text", "output", "completion"))
        if isinstance(named, str):
            return named
    if isinstance(decoded, list):
        if all(_is_message(m) for m in decoded):
            said = [m for m in decoded if str(m.get("role", "assistant")) != "user"]
            texts = [_content_text(m.get("content")) for m in said]
            return "\n\n".join(t for t in texts if t) or None
        if all(isinstance(p, str | dict) for p in decoded):
            return message_text(decoded) or None
    return value if isinstance(value, str) else json.dumps(decoded, ensure_ascii=False)


def _redacted(text: str | None) -> bool:
    return text is not None and bool(_REDACTED.fullmatch(text))


# --- numbers ---------------------------------------------------------------------------------

_IN_BASE = ("input", "input_tokens", "prompt_tokens", "promptTokens")
_OUT_BASE = ("output", "output_tokens", "completion_tokens", "completionTokens")


def tokens_of(usage: dict[str, Any]) -> tuple[int | None, int | None, int | None]:
    """(input, output, total) tokens from `usage_details`.

    Langfuse's convention keeps cached and reasoning tokens apart from `input`/`output`
    (e.g. `input_cached_tokens`) with `total` the sum of all. When `total` confirms that,
    those parts are added back; otherwise `input`/`output` are taken as they are.
    """
    counts: dict[str, int] = {}
    for key, value in usage.items():
        number = optional_int(value, f"usage_details.{str(key)[:40]}")
        if number is not None:
            counts[str(key)] = number
    base_in = _first(counts, _IN_BASE)
    base_out = _first(counts, _OUT_BASE)
    total = counts.get("total")
    rest = {k: v for k, v in counts.items() if k not in _IN_BASE + _OUT_BASE + ("total",)}
    more_in = sum(v for k, v in rest.items() if "input" in k or "prompt" in k or "cache" in k)
    more_out = sum(
        v
        for k, v in rest.items()
        if not ("input" in k or "prompt" in k or "cache" in k)
        and ("output" in k or "completion" in k or "reasoning" in k)
    )
    complete = base_in is not None and base_out is not None and bool(rest)
    if complete and base_in + more_in + base_out + more_out == total:
        return base_in + more_in, base_out + more_out, total
    return base_in, base_out, total


def cost_of(row: dict[str, Any]) -> float | None:
    """USD: `total_cost`, else the `cost_details` total. A zero with no cost breakdown means
    Langfuse had no price for the model: unknown, not free."""
    details = _object(row, "cost_details", strict=True)
    total = optional_float(_json_value(row.get("total_cost")), "total_cost")
    numbers = {
        str(k): optional_float(v, f"cost_details.{str(k)[:40]}")
        for k, v in details.items()
        if v is not None
    }
    if total:
        return total
    if not numbers:
        return None
    if numbers.get("total") is not None:
        return numbers["total"]
    return sum(v for v in numbers.values() if v is not None)


# --- normalization ---------------------------------------------------------------------------


def _timestamp(value: Any, what: str) -> datetime:
    if isinstance(value, str):
        value = value.strip().removesuffix(" UTC")
    try:
        return to_utc(value)
    except RecordError as exc:
        raise RecordError(f"`{what}`: {exc}") from None


def _tags(row: dict[str, Any]) -> list[str]:
    value = _json_value(row.get("tags"))
    if isinstance(value, str) and value:
        return [value]
    if isinstance(value, list):
        return [t for t in value if isinstance(t, str) and t.strip()]
    return []


def workflow_of(metadata: dict[str, Any], tags: list[str]) -> str | None:
    """The workflow: metadata `workflow`, else a `workflow:NAME` (or `workflow=NAME`) tag,
    else the first tag that is a workflow the policies know."""
    named = metadata.get("workflow")
    if isinstance(named, str) and named.strip():
        return normalize_workflow(optional_str(named, "metadata.workflow", 64))
    for tag in tags:
        m = _WORKFLOW_TAG.fullmatch(tag)
        if m:
            return normalize_workflow(optional_str(m.group(1), "tags", 64))
    for tag in tags:
        if normalize_workflow(tag) in KNOWN_WORKFLOWS:
            return normalize_workflow(tag)
    return None


def _attributes(row: dict[str, Any], metadata: dict[str, Any], tags: list[str]) -> dict[str, Any]:
    attributes: dict[str, Any] = {}
    for source, target in (
        ("trace_id", "trace_id"),
        ("project_id", "project_id"),
        ("environment", "environment"),
        ("name", "observation_name"),
        ("trace_name", "trace_name"),
        ("prompt_name", "prompt_name"),
        ("release", "release"),
    ):
        value = row.get(source)
        if isinstance(value, str) and value and len(value) <= MAX_ATTRIBUTE_CHARS:
            attributes[target] = value
    level = row.get("level")
    if isinstance(level, str) and level.upper() not in ("", "DEFAULT"):
        attributes["level"] = level.upper()[:16]
    version = _json_value(row.get("prompt_version"))
    if isinstance(version, int | str) and not isinstance(version, bool) and str(version):
        attributes["prompt_version"] = str(version)[:32]
    if tags:
        attributes["tags"] = ",".join(tags)[:MAX_ATTRIBUTE_CHARS]
    names = _json_value(row.get("tool_call_names"))
    if isinstance(names, list) and names:
        attributes["tool_calls"] = ",".join(str(n) for n in names if isinstance(n, str))[
            :MAX_ATTRIBUTE_CHARS
        ]
    account_type = metadata.get("account_type")
    if isinstance(account_type, str) and account_type:
        attributes["account_type"] = account_type[:64]
    # Free-form metadata: only the allow-listed facts (normalize.METADATA_KEYS), counted.
    keep_metadata(attributes, metadata, skip=_MAPPED_KEYS | {"account_type"})
    return attributes


def normalize_observation(
    row: dict[str, Any],
    *,
    source_format: str,
    trace: TraceContext | None = None,
) -> InteractionRecord:
    """One GENERATION row of a Langfuse observations export -> an interaction.

    `trace` is the context found elsewhere in the row's trace, used for what the row lacks
    (user, session, trace name, tags). Raises RecordError (never quoting content).
    """
    kind = row.get("type")
    if not isinstance(kind, str) or not kind:
        raise RecordError("no observation `type`")
    if kind.upper() != GENERATION:
        raise RecordError("not a generation")
    event_id = optional_str(row.get("id"), "id", 255)
    if not event_id:
        raise RecordError("no observation `id`")
    occurred_at = _timestamp(row.get("start_time"), "start_time")
    metadata = _object(row, "metadata", strict=False)

    raw_id, raw_email = identity_of(row)
    identity_from = "user_id" if row.get("user_id") else "metadata"
    if not (raw_id or raw_email) and trace is not None:
        raw_id, raw_email = trace.user_id, trace.user_email
        identity_from = "trace"
    user_id = optional_str(raw_id, "user_id", 255)
    user_email = optional_str(raw_email, "user_email", 320)
    if not user_email and user_id and _EMAIL.fullmatch(user_id):
        user_email = user_id
    if not user_id and not user_email:
        raise RecordError(
            "no user identity (`user_id` empty, none in metadata or elsewhere in the trace)"
        )

    prompt, history_turns, shape = parse_input(row.get("input"))
    output = clean_text(parse_output(row.get("output")))
    prompt_clean = clean_text(prompt)
    status: ContentStatus = "present"
    if _redacted(prompt_clean):
        status, prompt_clean = "redacted", None
    elif prompt_clean is None:
        status = "not_stored"
    usage = _object(row, "usage_details", strict=True)
    input_tokens, output_tokens, total_tokens = tokens_of(usage)
    tags = _tags(row) or list(trace.tags if trace else ())

    attributes = _attributes(row, metadata, tags)
    attributes["input_shape"] = shape
    if identity_from != "user_id":
        attributes["identity_from"] = identity_from
    if "input" not in row and "output" not in row:
        attributes["io_exported"] = False  # the export's `io` field group is switched off
    if _redacted(output):
        output = None
        attributes["output_redacted"] = True
    if total_tokens is not None:
        attributes["total_tokens"] = total_tokens
    if prompt_clean == "":
        attributes["empty_prompt"] = True
    unknown = unknown_fields(row, KNOWN_COLUMNS)
    if unknown:
        attributes["unknown_fields"] = unknown

    tool = optional_str(_first(metadata, TOOL_KEYS), "metadata.tool", 128)
    return InteractionRecord(
        event_id=event_id,
        source_format=source_format,
        occurred_at=occurred_at,
        user_id=user_id,
        user_email=user_email.lower() if user_email else None,
        tool=tool
        or optional_str(row.get("trace_name") or (trace and trace.trace_name), "trace_name", 128),
        provider=optional_str(_first(metadata, PROVIDER_KEYS), "metadata.provider", 128),
        model=optional_str(
            row.get("provided_model_name") or row.get("model"), "provided_model_name", 128
        ),
        prompt_text=prompt_clean,
        output_text=output,
        history_turns=history_turns,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        cost_usd=cost_of(row),
        session_id=optional_str(
            row.get("session_id") or _first(metadata, SESSION_KEYS) or (trace and trace.session_id),
            "session_id",
            255,
        ),
        workflow=workflow_of(metadata, tags),
        content_status=status,
        attributes=attributes,
    )
