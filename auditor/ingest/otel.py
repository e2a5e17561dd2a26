"""OpenTelemetry GenAI telemetry as OTLP/JSON lines (the Collector's file exporter).

Each line is an export request holding `resourceSpans` and/or `resourceLogs`. One interaction
is one inference call (`gen_ai.operation.name` chat, generate_content or text_completion, or
a pre-1.27 GenAI span without an operation name). Its content may sit in any of the three
generations of the GenAI semantic conventions, all read:

1. up to v1.27: span events `gen_ai.content.prompt` / `gen_ai.content.completion` with the
   attributes `gen_ai.prompt` / `gen_ai.completion` (a JSON string of OpenAI-style messages,
   the Python-literal form of the v1.27 examples, or plain text); also the flattened
   `gen_ai.prompt.N.role` / `.content` span attributes that OpenLLMetry writes;
2. v1.28-v1.36: one log record per message (`gen_ai.system.message`, `gen_ai.user.message`,
   `gen_ai.assistant.message`, `gen_ai.tool.message`, `gen_ai.choice`), named by the
   record's `eventName` or its `event.name` attribute, tied to the span by trace and span id;
3. v1.37 and later: `gen_ai.input.messages` / `gen_ai.output.messages` (parts-based
   messages, structured or as JSON strings) on the span or on the
   `gen_ai.client.inference.operation.details` log record.

Joining. Log records reach the file in other export requests than their span, before or after
it. Spans and GenAI log records are gathered per (trace id, span id) while a window of lines
passes (bounded in lines, units and bytes), then emitted as one RawRecord per call. A group of
log records whose span never appears forms an interaction of its own (event id prefixed
`log:`, attribute `span_in_file: false`) if it carries identity and time, and is rejected
otherwise. Its id never equals its span's, so a span read from another file does not turn the
content-bearing record into a "duplicate" that is silently dropped; both are kept, linked by
the `trace_id` and `span_id` attributes.

What is not an interaction is not yielded and so is not in the file's totals: spans of other
GenAI operations (embeddings, execute_tool, invoke_agent, ...), spans and log records that are
not GenAI at all, metrics. `OTelReader.skipped` counts them by kind after each `records()` run.

Workflow tag: the first of the attributes `workflow`, `app.workflow`, `gen_ai.workflow`, on the
span, then its log records, then the resource (`OTEL_RESOURCE_ATTRIBUTES=workflow=...`); the
firm maps values with `ingest.workflow_map`.
"""

from __future__ import annotations

import ast
import base64
import binascii
import hashlib
import json
import math
import re
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from auditor.ingest.base import RawRecord, Reader, Rejected, iter_json_lines
from auditor.ingest.registry import register
from auditor.normalize import (
    ContentStatus,
    InteractionRecord,
    RecordError,
    clean_text,
    message_text,
    normalize_workflow,
    object_at,
    optional_float,
    optional_int,
    optional_str,
)

FORMAT = "otel"

INFERENCE_OPERATIONS = frozenset({"chat", "generate_content", "text_completion"})
DETAILS_EVENT = "gen_ai.client.inference.operation.details"
# v1.28-v1.36 per-message events -> the role of the message they carry.
MESSAGE_EVENTS = {
    "gen_ai.system.message": "system",
    "gen_ai.user.message": "user",
    "gen_ai.assistant.message": "assistant",
    "gen_ai.tool.message": "tool",
}
CHOICE_EVENT = "gen_ai.choice"
GENAI_LOG_EVENTS = frozenset({*MESSAGE_EVENTS, CHOICE_EVENT, DETAILS_EVENT})
PROMPT_EVENT, COMPLETION_EVENT = "gen_ai.content.prompt", "gen_ai.content.completion"

USER_ID_KEYS = ("user.id", "enduser.id")
WORKFLOW_KEYS = ("workflow", "app.workflow", "gen_ai.workflow")
# What some exporters leave where content was removed.
REDACTION_MARKERS = frozenset({"<redacted>", "[redacted]", "redacted", "[filtered]"})

# Joining window: a call's records are gathered while this many further lines are read, with
# at most this many calls and (roughly) bytes held; past a bound the oldest call is emitted.
WINDOW_LINES = 1000
MAX_PENDING_UNITS = 10_000
MAX_PENDING_BYTES = 64 * 1024 * 1024
# Span ids of skipped (non-inference) GenAI spans remembered, to drop their log events too.
MAX_SKIPPED_KEYS = 50_000
MAX_VALUE_DEPTH = 64
MAX_LITERAL_CHARS = 1_000_000
MAX_ATTRIBUTE_CHARS = 256
SNIFF_LINES = 5
# Claude Code's OTLP log events have their own reader (`claude-code`): a logs file that names
# Claude Code is left to it. Its trace spans (`claude_code.llm_request`, with `gen_ai.*`
# attributes) are read here.
_CLAUDE_CODE = re.compile(
    rb'"claude_code\.[a-z_]+"|"claude-code(?:-desktop)?"|"com\.anthropic\.claude_code'
)
_EXPORT = re.compile(rb'^\{\s*"resource(?:Spans|Logs)"\s*:\s*\[')
_EXPORT_ANYWHERE = re.compile(rb'"resource(?:Spans|Logs)"\s*:\s*\[')
_INDEXED = re.compile(r"gen_ai\.(prompt|completion)\.(\d{1,4})\.(role|content)")


class _Malformed(ValueError):
    """Part of an export request that does not have the OTLP shape."""


@dataclass(frozen=True, slots=True)
class _Bad:
    """An attribute value that could not be decoded. It fails the call only if the call needs
    that attribute, so a broken value in an attribute nobody reads costs nothing."""

    reason: str

    def __str__(self) -> str:
        return f"<malformed: {self.reason}>"


# --- OTLP/JSON decoding ---------------------------------------------------------------


def _any_value(value: Any, depth: int = 0) -> Any:
    """An OTLP AnyValue as plain Python: str, int, float, bool, list, dict or None."""
    if depth > MAX_VALUE_DEPTH:
        raise _Malformed(f"attribute value nested deeper than {MAX_VALUE_DEPTH} levels")
    if not isinstance(value, dict):
        raise _Malformed(f"attribute value is not an AnyValue object (got {type(value).__name__})")
    if "stringValue" in value:
        text = value["stringValue"]
        if text is not None and not isinstance(text, str):
            raise _Malformed("`stringValue` is not text")
        return text
    if "intValue" in value:  # int64 is a JSON string in OTLP/JSON; some writers use numbers
        number = value["intValue"]
        if isinstance(number, bool):
            raise _Malformed("`intValue` is not an integer")
        try:
            return int(number)
        except (TypeError, ValueError, OverflowError):  # also digits beyond Python's limit
            raise _Malformed("`intValue` is not an integer") from None
    if "doubleValue" in value:  # "NaN" / "Infinity" arrive as strings
        number = value["doubleValue"]
        if isinstance(number, bool):
            raise _Malformed("`doubleValue` is not a number")
        try:
            return float(number)
        except (TypeError, ValueError):
            raise _Malformed("`doubleValue` is not a number") from None
    if "boolValue" in value:
        flag = value["boolValue"]
        if not isinstance(flag, bool):
            raise _Malformed("`boolValue` is not a boolean")
        return flag
    if "arrayValue" in value:
        return [_any_value(v, depth + 1) for v in _values(value["arrayValue"], "arrayValue")]
    if "kvlistValue" in value:
        return _key_values(_values(value["kvlistValue"], "kvlistValue"), depth + 1)
    if "bytesValue" in value:
        raw = value["bytesValue"]
        if not isinstance(raw, str):
            raise _Malformed("`bytesValue` is not base64 text")
        return raw  # never content we scan; kept opaque
    return None  # an empty AnyValue: the attribute is present without a value


def _values(container: Any, what: str) -> list[Any]:
    if container is None or container == {}:
        return []
    if not isinstance(container, dict) or not isinstance(container.get("values", []), list):
        raise _Malformed(f"`{what}` has no `values` list")
    return list(container.get("values") or [])


def _key_values(items: Any, depth: int = 0) -> dict[str, Any]:
    """An OTLP attribute list `[{key, value: AnyValue}]` as a dict (the last key wins).

    A value that cannot be decoded becomes `_Bad` at the top level; nested inside a value it
    spoils the whole top-level value. Raises _Malformed if the list itself is not one."""
    if items is None:
        return {}
    if not isinstance(items, list):
        raise _Malformed(f"attributes are not a list (got {type(items).__name__})")
    out: dict[str, Any] = {}
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("key"), str):
            raise _Malformed("an attribute has no text `key`")
        if depth:
            out[item["key"]] = _any_value(item.get("value") or {}, depth)
            continue
        try:
            out[item["key"]] = _any_value(item.get("value") or {}, depth)
        except _Malformed as exc:
            out[item["key"]] = _Bad(str(exc))
    return out


def _get(attrs: dict[str, Any], key: str) -> Any:
    """An attribute the call needs. Raises RecordError if its value was malformed."""
    value = attrs.get(key)
    if isinstance(value, _Bad):
        raise RecordError(f"attribute `{key}`: {value.reason}")
    return value


def _otlp_id(value: Any, size: int) -> str | None:
    """A trace (16 bytes) or span (8 bytes) id as lower-case hex. OTLP/JSON writes hex; some
    exporters use protobuf's JSON mapping, base64, which is converted. All-zero means none."""
    if not isinstance(value, str) or not value:
        return None
    text = value.strip()
    if re.fullmatch(rf"[0-9a-fA-F]{{{2 * size}}}", text):
        hexed = text.lower()
    else:
        try:
            raw = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            return None
        if len(raw) != size:
            return None
        hexed = raw.hex()
    return None if set(hexed) == {"0"} else hexed


def _nanos(value: Any) -> int | None:
    """A `*UnixNano` field (a decimal string, or a number) as int; 0 and junk mean unknown."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        number = value
    elif isinstance(value, float) and math.isfinite(value):
        number = int(value)
    elif isinstance(value, str) and value.strip().isdigit() and len(value.strip()) <= 30:
        number = int(value.strip())  # a time in nanoseconds has 19 digits; more is junk
    else:
        return None
    return number if number > 0 else None


def _event_name(record: dict[str, Any], attrs: dict[str, Any]) -> str | None:
    name = record.get("eventName")
    if not isinstance(name, str) or not name:
        name = attrs.get("event.name")
    return name if isinstance(name, str) and name else None


def _scope(entry: dict[str, Any]) -> str | None:
    scope = entry.get("scope")
    if isinstance(scope, dict) and isinstance(scope.get("name"), str):
        return scope["name"][:MAX_ATTRIBUTE_CHARS] or None
    return None


def _list(obj: dict[str, Any], key: str) -> list[Any]:
    value = obj.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise _Malformed(f"`{key}` is not a list")
    return value


# --- gathering a call's records ------------------------------------------------------------


@dataclass
class _Unit:
    """The records of one inference call seen so far."""

    key: tuple[str, str] | None
    line_no: int  # the span's line, else the first log record's
    opened: int  # the line it was first seen on, for the joining window
    span: dict[str, Any] | None = None
    logs: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    size: int = 0
    seen: set[str] = field(default_factory=set)

    def as_raw(self) -> RawRecord:
        obj = {"span": self.span, "logs": self.logs}
        return RawRecord(self.line_no, obj, tuple(dict.fromkeys(self.notes)))


# Decodes one span or log record: ("span" | "log" | "skip-span", entry), or None to skip it.
_Decode = Callable[[dict[str, Any], dict[str, Any], str | None], tuple[str, Any] | None]


def _weight(obj: Any) -> int:
    return len(json.dumps(obj, ensure_ascii=False, default=str))


@register
class OTelReader(Reader):
    name = FORMAT
    description = (
        "OpenTelemetry GenAI spans and events as OTLP/JSON lines (Collector file exporter); "
        "semantic conventions up to v1.27, v1.28-v1.36 and v1.37+"
    )

    def sniff(self, head: bytes) -> bool:
        lines = [ln.strip() for ln in head.removeprefix(b"\xef\xbb\xbf").split(b"\n")]
        objects = [ln for ln in lines if ln][:SNIFF_LINES]
        if any(b'"resourceLogs"' in ln and _CLAUDE_CODE.search(ln) for ln in objects):
            return False
        # The key opens the line as the exporters write it; a later position is accepted for
        # writers that put another key first, as long as the line is an object.
        return any(
            _EXPORT.match(ln) or (ln.startswith(b"{") and _EXPORT_ANYWHERE.search(ln[:4096]))
            for ln in objects
        )

    def records(self, path: Path, *, max_line_bytes: int) -> Iterator[RawRecord | Rejected]:
        self.skipped = Counter()
        pending: OrderedDict[tuple[Any, ...], _Unit] = OrderedDict()
        skipped_keys: OrderedDict[tuple[str, str], None] = OrderedDict()
        held = 0
        serial = 0

        def emit(key: tuple[Any, ...]) -> RawRecord:
            nonlocal held
            unit = pending.pop(key)
            held -= unit.size
            return unit.as_raw()

        def unit_for(key: tuple[str, str] | None, line_no: int) -> tuple[tuple[Any, ...], _Unit]:
            nonlocal serial
            if key is None:  # no span context: the record stands alone
                serial += 1
                slot: tuple[Any, ...] = ("alone", serial)
            else:
                slot = key
            if slot not in pending:
                pending[slot] = _Unit(key, line_no, line_no)
            return slot, pending[slot]

        for item in iter_json_lines(path, max_line_bytes=max_line_bytes):
            if isinstance(item, Rejected):
                yield item
                continue
            line_no, notes = item.line_no, list(item.notes)
            for kind, entry in self._walk(item.obj):
                if kind == "reject":
                    yield Rejected(line_no, entry)
                    continue
                key = entry["key"]
                if kind == "skip-span":
                    self.skipped[entry["why"]] += 1
                    if key is None or not entry["genai"]:
                        continue
                    skipped_keys[key] = None
                    if len(skipped_keys) > MAX_SKIPPED_KEYS:
                        skipped_keys.popitem(last=False)
                    waiting = pending.get(key)
                    if waiting is not None and waiting.span is None:
                        self.skipped["log events of non-inference spans"] += len(waiting.logs)
                        held -= waiting.size
                        del pending[key]
                    continue
                if kind == "span":
                    existing = pending.get(key) if key is not None else None
                    if existing is not None and existing.span is not None:
                        # The same span exported twice (a retry): the first goes out as is and
                        # the second becomes a duplicate in the store.
                        yield emit(key)
                    slot, unit = unit_for(key, line_no)
                    unit.span, unit.line_no = entry, line_no
                else:  # a GenAI log record
                    if key is not None and key in skipped_keys:
                        self.skipped["log events of non-inference spans"] += 1
                        continue
                    slot, unit = unit_for(key, line_no)
                    fingerprint = hashlib.sha256(
                        json.dumps(entry, sort_keys=True, default=str).encode()
                    ).hexdigest()
                    if fingerprint in unit.seen:  # the same record exported twice
                        self.skipped["log records repeated in the file"] += 1
                        continue
                    unit.seen.add(fingerprint)
                    unit.logs.append(entry)
                size = _weight(entry)
                unit.size += size
                held += size
                unit.notes.extend(notes)
            # Emit the calls that have waited long enough, or that exceed the memory bounds.
            while pending:
                first_slot, first = next(iter(pending.items()))
                if (
                    first.opened > line_no - WINDOW_LINES
                    and len(pending) <= MAX_PENDING_UNITS
                    and held <= MAX_PENDING_BYTES
                ):
                    break
                yield emit(first_slot)
        while pending:
            yield emit(next(iter(pending)))

    def _walk(self, obj: dict[str, Any]) -> Iterator[tuple[str, Any]]:
        """The spans and GenAI log records of one export request, decoded, or why not."""
        has_spans, has_logs = "resourceSpans" in obj, "resourceLogs" in obj
        if not (has_spans or has_logs):
            if "resourceMetrics" in obj or "resourceProfiles" in obj:
                self.skipped["metrics or profiles export requests"] += 1
                return
            yield "reject", "not an OTLP export request (no `resourceSpans` or `resourceLogs`)"
            return
        try:
            resource_spans = _list(obj, "resourceSpans")
            resource_logs = _list(obj, "resourceLogs")
        except _Malformed as exc:
            yield "reject", str(exc)
            return
        for r, rs in enumerate(resource_spans, start=1):
            yield from self._walk_resource(rs, r, "scopeSpans", "spans", self._span)
        for r, rl in enumerate(resource_logs, start=1):
            yield from self._walk_resource(rl, r, "scopeLogs", "logRecords", self._log)

    def _walk_resource(
        self, entry: Any, r: int, scopes_key: str, items_key: str, decode: _Decode
    ) -> Iterator[tuple[str, Any]]:
        where = f"resource {r}"
        try:
            if not isinstance(entry, dict):
                raise _Malformed("is not an object")
            resource = entry.get("resource") or {}
            if not isinstance(resource, dict):
                raise _Malformed("`resource` is not an object")
            resource_attrs = _key_values(resource.get("attributes"))
            scopes = _list(entry, scopes_key)
        except _Malformed as exc:
            yield "reject", f"{where}: {exc}"
            return
        for s, scope_entry in enumerate(scopes, start=1):
            try:
                if not isinstance(scope_entry, dict):
                    raise _Malformed("is not an object")
                items = _list(scope_entry, items_key)
            except _Malformed as exc:
                yield "reject", f"{where}, scope {s}: {exc}"
                continue
            scope = _scope(scope_entry)
            for i, item in enumerate(items, start=1):
                try:
                    if not isinstance(item, dict):
                        raise _Malformed("is not an object")
                    result = decode(item, resource_attrs, scope)
                except _Malformed as exc:
                    noun = "span" if items_key == "spans" else "log record"
                    yield "reject", f"{where}, scope {s}, {noun} {i}: {exc}"
                    continue
                if result is not None:
                    yield result

    def _span(
        self, span: dict[str, Any], resource: dict[str, Any], scope: str | None
    ) -> tuple[str, Any] | None:
        attrs = _key_values(span.get("attributes"))
        events = []
        for event in _list(span, "events"):
            if not isinstance(event, dict):
                raise _Malformed("an event is not an object")
            if event.get("name") in (PROMPT_EVENT, COMPLETION_EVENT):
                events.append(
                    {
                        "name": event["name"],
                        "time": _nanos(event.get("timeUnixNano")),
                        "attrs": _key_values(event.get("attributes")),
                    }
                )
        trace_id = _otlp_id(span.get("traceId"), 16)
        span_id = _otlp_id(span.get("spanId"), 8)
        key = (trace_id, span_id) if trace_id and span_id else None
        operation = attrs.get("gen_ai.operation.name")
        request_type = attrs.get("llm.request.type")  # OpenLLMetry, before the operation name
        if isinstance(operation, str) and operation:
            if operation.strip().lower() not in INFERENCE_OPERATIONS:
                why = f"spans of GenAI operation {operation[:64]}"
                return "skip-span", {"key": key, "why": why, "genai": True}
        elif not _legacy_inference(attrs, events):
            return "skip-span", {"key": key, "why": "spans that are not GenAI", "genai": False}
        elif isinstance(request_type, str) and request_type.lower() not in ("chat", "completion"):
            why = f"spans of GenAI operation {request_type[:64]}"
            return "skip-span", {"key": key, "why": why, "genai": True}
        return "span", {
            "key": key,
            "trace_id": trace_id,
            "span_id": span_id,
            "name": span.get("name") if isinstance(span.get("name"), str) else None,
            "start": _nanos(span.get("startTimeUnixNano")),
            "attrs": attrs,
            "events": events,
            "resource": resource,
            "scope": scope,
        }

    def _log(
        self, record: dict[str, Any], resource: dict[str, Any], scope: str | None
    ) -> tuple[str, Any] | None:
        attrs = _key_values(record.get("attributes"))
        event = _event_name(record, attrs)
        if event not in GENAI_LOG_EVENTS:
            self.skipped["log records that are not GenAI events"] += 1
            return None
        body: Any = None
        if isinstance(record.get("body"), dict):
            try:
                body = _any_value(record["body"])
            except _Malformed as exc:
                body = _Bad(str(exc))
        trace_id = _otlp_id(record.get("traceId"), 16)
        span_id = _otlp_id(record.get("spanId"), 8)
        if event == DETAILS_EVENT:
            operation = attrs.get("gen_ai.operation.name")
            if isinstance(operation, str) and operation.strip().lower() not in INFERENCE_OPERATIONS:
                self.skipped[f"details events of GenAI operation {operation[:64]}"] += 1
                return None
        return "log", {
            "key": (trace_id, span_id) if trace_id and span_id else None,
            "trace_id": trace_id,
            "span_id": span_id,
            "event": event,
            # A record without its own time (0) has the time the SDK observed it.
            "time": _nanos(record.get("timeUnixNano"))
            or _nanos(record.get("observedTimeUnixNano")),
            "attrs": attrs,
            "body": body,
            "resource": resource,
            "scope": scope,
        }

    def normalize(self, raw: RawRecord) -> InteractionRecord:
        if not isinstance(raw.obj, dict) or not isinstance(raw.obj.get("logs"), list):
            raise RecordError("record was not read by the otel reader")
        return normalize_otel_call(raw.obj, source_format=self.name)


def _legacy_inference(attrs: dict[str, Any], events: list[dict[str, Any]]) -> bool:
    """A GenAI span from before `gen_ai.operation.name` existed (v1.26 and earlier)."""
    if not any(k in attrs for k in ("gen_ai.system", "gen_ai.provider.name")):
        return False
    return bool(
        events
        or any(
            k in attrs
            for k in (
                "gen_ai.request.model",
                "gen_ai.response.model",
                "gen_ai.prompt",
                "gen_ai.usage.prompt_tokens",
                "gen_ai.usage.input_tokens",
            )
        )
        or any(_INDEXED.fullmatch(k) for k in attrs)
    )


# --- one call -> one interaction --------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Message:
    role: str
    text: str | None  # None: the message was recorded without its content
    non_text_parts: int = 0


@dataclass
class _Content:
    inputs: list[_Message] | None = None
    outputs: list[_Message] | None = None
    system_instructions: bool = False
    source: str = "none"
    unparsed: bool = False


def normalize_otel_call(call: dict[str, Any], *, source_format: str = FORMAT) -> InteractionRecord:
    """One inference call (`span` and/or its GenAI `logs`, as `OTelReader.records` gathers them)
    as an interaction. Raises RecordError for a call without identity, time or event id."""
    span: dict[str, Any] | None = call.get("span")
    logs: list[dict[str, Any]] = call["logs"]
    details = [r for r in logs if r["event"] == DETAILS_EVENT]
    messages = [r for r in logs if r["event"] != DETAILS_EVENT]
    # Attribute layers, most specific first: the span, its details event, its message events,
    # then the resources they came from.
    layers: list[dict[str, Any]] = []
    if span:
        layers.append(span["attrs"])
    layers += [r["attrs"] for r in details] + [r["attrs"] for r in messages]
    resources = ([span["resource"]] if span else []) + [r["resource"] for r in logs]
    all_layers = layers + resources

    def pick(
        keys: Iterable[str], among: list[dict[str, Any]] = all_layers, by_key: bool = False
    ) -> Any:
        """The first value given: most specific layer first, or, `by_key`, the first key in
        any layer (a response model on the details event beats a request model on the span)."""
        pairs = (
            ((layer, key) for key in keys for layer in among)
            if by_key
            else ((layer, key) for layer in among for key in keys)
        )
        for layer, key in pairs:
            value = _get(layer, key)
            if value is not None and value != "":
                return value
        return None

    user_id = optional_str(pick(USER_ID_KEYS), "user.id", 255)
    user_email = optional_str(pick(("user.email",)), "user.email", 320)
    if not user_id and not user_email:
        if span:
            raise RecordError(
                "no user identity (`user.id`, `user.email` or `enduser.id` on the span, "
                "its events or the resource)"
            )
        raise RecordError(
            "no user identity: GenAI log events whose span is not in this file, and neither "
            "they nor their resource carry `user.id`, `user.email` or `enduser.id`"
        )

    nanos = span["start"] if span and span["start"] else None
    if nanos is None:
        times = [r["time"] for r in logs if r["time"]]
        nanos = min(times) if times else None
    if nanos is None:
        raise RecordError("no timestamp (span `startTimeUnixNano` or log `timeUnixNano`)")
    occurred_at = _from_nanos(nanos)

    trace_id = span["trace_id"] if span else logs[0]["trace_id"]
    span_id = span["span_id"] if span else logs[0]["span_id"]
    response_id = optional_str(pick(("gen_ai.response.id",), layers), "gen_ai.response.id", 200)
    if response_id:
        event_id = response_id
    elif trace_id and span_id:
        event_id = f"{trace_id}:{span_id}"
    else:  # a log record with no span context: its own content identifies it
        digest = hashlib.sha256(json.dumps(logs, sort_keys=True, default=str).encode())
        event_id = f"sha256:{digest.hexdigest()[:40]}"
    if span is None:
        event_id = f"log:{event_id}"

    content = _content(span, details, messages)
    user_msgs = [m for m in content.inputs or [] if m.role == "user"]
    prompt_raw = user_msgs[-1].text if user_msgs else None
    status: ContentStatus = "not_stored"
    prompt: str | None = None
    if prompt_raw is not None and _is_redacted(prompt_raw):
        status = "redacted"
    elif prompt_raw is not None:
        status, prompt = "present", clean_text(prompt_raw)
    output = _joined(content.outputs or [])
    if output is not None and _is_redacted(output):
        output = None
    history = len(content.inputs or []) + (1 if content.system_instructions else 0)

    operation = pick(("gen_ai.operation.name",), layers)
    resource_attrs = resources[0] if resources else {}
    service = resource_attrs.get("service.name")
    tool = optional_str(service, "service.name", 128)
    attributes: dict[str, Any] = {"content_source": content.source}
    if tool and tool.startswith("unknown_service"):  # the SDK's default: no name was set
        attributes["service_name"] = tool
        tool = None
    for name, value in (
        ("operation", operation),
        ("trace_id", trace_id),
        ("span_id", span_id),
        ("account_type", pick(("account_type",))),
        ("request_model", pick(("gen_ai.request.model",), layers)),
        ("finish_reasons", pick(("gen_ai.response.finish_reasons",), layers)),
        ("error_type", pick(("error.type",), layers)),
        ("server_address", pick(("server.address",), layers)),
        ("service_version", resource_attrs.get("service.version")),
        ("instrumentation", span["scope"] if span else logs[0]["scope"]),
        ("content_ref", pick(("gen_ai.input.messages_ref",), layers)),
    ):
        scalar = _scalar(value)
        if scalar is not None:
            attributes[name] = scalar
    if span is None:
        attributes["span_in_file"] = False
    if content.unparsed:
        attributes["content_unparsed"] = True
    non_text = sum(m.non_text_parts for m in (content.inputs or []) + (content.outputs or []))
    if non_text:
        attributes["non_text_parts"] = non_text
    if prompt == "":
        attributes["empty_prompt"] = True

    return InteractionRecord(
        event_id=event_id,
        source_format=source_format,
        occurred_at=occurred_at,
        user_id=user_id,
        user_email=user_email.lower() if user_email else None,
        tool=tool,
        provider=_lower(
            optional_str(
                pick(("gen_ai.provider.name", "gen_ai.system"), layers), "gen_ai.provider.name", 128
            )
        ),
        model=optional_str(
            pick(("gen_ai.response.model", "gen_ai.request.model"), layers, by_key=True),
            "model",
            128,
        ),
        prompt_text=prompt,
        output_text=clean_text(output),
        history_turns=max(0, history - 1),
        input_tokens=optional_int(
            pick(("gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens"), layers),
            "gen_ai.usage.input_tokens",
        ),
        output_tokens=optional_int(
            pick(("gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens"), layers),
            "gen_ai.usage.output_tokens",
        ),
        # Not a semantic convention: OpenLIT's client-side estimate, kept when present.
        cost_usd=optional_float(pick(("gen_ai.usage.cost",), layers), "gen_ai.usage.cost"),
        session_id=optional_str(
            pick(("gen_ai.conversation.id", "session.id")), "gen_ai.conversation.id", 255
        ),
        workflow=normalize_workflow(optional_str(pick(WORKFLOW_KEYS), "workflow", 64)),
        content_status=status,
        attributes=attributes,
    )


def _lower(value: str | None) -> str | None:
    # Well-known provider names are lower case; OpenLLMetry writes e.g. "OpenAI".
    return value.lower() if value else None


def _from_nanos(nanos: int) -> datetime:
    try:
        return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=nanos // 1000)
    except OverflowError:
        raise RecordError("timestamp is out of range") from None


def _scalar(value: Any) -> str | int | float | bool | None:
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        value = ",".join(value)
    if isinstance(value, str):
        return value[:MAX_ATTRIBUTE_CHARS] or None
    if isinstance(value, bool | int | float):
        return value
    return None


def _is_redacted(text: str) -> bool:
    return text.strip().lower() in REDACTION_MARKERS


def _joined(messages: list[_Message]) -> str | None:
    texts = [m.text for m in messages if m.text]
    return "\n\n".join(texts) if texts else None


def _content(
    span: dict[str, Any] | None, details: list[dict[str, Any]], messages: list[dict[str, Any]]
) -> _Content:
    """The call's messages from whichever generation of the conventions carried them; input
    and output are each taken from the first place that has them."""
    found = _Content()
    places: list[tuple[str, dict[str, Any]]] = []
    if span:
        places.append(("span_attributes", span["attrs"]))
    for record in details:
        body = record["body"] if isinstance(record["body"], dict) else {}
        places.append(("details_event", {**body, **record["attrs"]}))
    for source, attrs in places:  # v1.37+
        given_in = _get(attrs, "gen_ai.input.messages")
        given_out = _get(attrs, "gen_ai.output.messages")
        if found.inputs is None and given_in not in (None, "", []):
            found.inputs, unparsed = _parts_messages(given_in, "user", "gen_ai.input.messages")
            found.unparsed |= unparsed
            found.source = source
        if found.outputs is None and given_out not in (None, "", []):
            found.outputs, unparsed = _parts_messages(
                given_out, "assistant", "gen_ai.output.messages"
            )
            found.unparsed |= unparsed
            found.source = source if found.source == "none" else found.source
        if _get(attrs, "gen_ai.system_instructions") not in (None, "", []):
            found.system_instructions = True
    if messages:  # v1.28-v1.36
        inputs = [_event_message(r) for r in messages if r["event"] in MESSAGE_EVENTS]
        outputs = [_event_message(r) for r in messages if r["event"] == CHOICE_EVENT]
        if found.inputs is None and inputs:
            found.inputs, found.source = inputs, "log_events"
        if found.outputs is None and outputs:
            found.outputs = outputs
            found.source = "log_events" if found.source == "none" else found.source
    if span:  # up to v1.27
        legacy_in, legacy_out, unparsed, legacy_source = _legacy_messages(span)
        if found.inputs is None and legacy_in is not None:
            found.inputs, found.source = legacy_in, legacy_source
            found.unparsed |= unparsed
        if found.outputs is None and legacy_out is not None:
            found.outputs = legacy_out
            found.source = legacy_source if found.source == "none" else found.source
    return found


def _decode_json_text(value: Any) -> tuple[Any, bool]:
    """A message list given as structured value or as a JSON string (or, as in the v1.27
    examples, a Python literal). Returns (value, False), or (the text, True) if unparseable."""
    if not isinstance(value, str):
        return value, False
    text = value.strip()
    try:
        return json.loads(text), False
    except (ValueError, RecursionError):  # ValueError: also a number too long to convert
        pass
    if text[:1] in "[{" and len(text) <= MAX_LITERAL_CHARS:
        try:
            return ast.literal_eval(text), False
        except (ValueError, SyntaxError, TypeError, RecursionError, MemoryError):
            pass
    return value, True


def _parts_messages(value: Any, default_role: str, what: str) -> tuple[list[_Message], bool]:
    """v1.37+ messages `[{role, parts: [{type, content}], ...}]`. A value that is not valid
    JSON (often cut by an attribute length limit) is kept whole as one message's text, so the
    content is still scanned; the interaction says so in `content_unparsed`."""
    decoded, unparsed = _decode_json_text(value)
    if unparsed:
        return [_Message(default_role, value)], True
    if isinstance(decoded, dict):
        decoded = [decoded]
    if not isinstance(decoded, list):
        raise RecordError(f"`{what}` is not a list (got {type(decoded).__name__})")
    out = []
    for message in decoded:
        if not isinstance(message, dict):
            raise RecordError(f"`{what}` holds a non-object")
        role = str(message.get("role")) if isinstance(message.get("role"), str) else default_role
        parts = message.get("parts")
        if parts is None and "content" in message:  # writers that skip the parts level
            out.append(_Message(role, _text_of(message.get("content"))))
            continue
        if not isinstance(parts, list):
            raise RecordError(f"a message's `parts` in `{what}` is not a list")
        texts, other = [], 0
        for part in parts:
            if not isinstance(part, dict):
                raise RecordError(f"a message part in `{what}` is not an object")
            if part.get("type") == "text" and isinstance(part.get("content"), str):
                texts.append(part["content"])
            elif part.get("type") == "text" and isinstance(part.get("text"), str):
                texts.append(part["text"])
            elif part.get("type") not in ("tool_call", "tool_call_response", "reasoning"):
                other += 1  # blob, file, uri: data the auditor cannot read as text
        text = "\n".join(texts) if texts else ("" if other else None)
        out.append(_Message(role, text, other))
    return out, False


def _text_of(content: Any) -> str | None:
    if content is None or isinstance(content, str):
        return content
    if isinstance(content, dict):
        content = [content]
    try:
        return message_text(content)
    except RecordError:
        raise RecordError("message content is neither text nor a list of parts") from None


def _event_message(record: dict[str, Any]) -> _Message:
    """A v1.28-v1.36 message event; without content (capture off) the text is None."""
    body = record["body"]
    if isinstance(body, _Bad):
        raise RecordError(f"body of a `{record['event']}` event: {body.reason}")
    if isinstance(body, str):  # some SDKs write the body as JSON text
        decoded, unparsed = _decode_json_text(body)
        body = decoded if not unparsed and isinstance(decoded, dict) else {"content": body}
    if not isinstance(body, dict):
        body = {}
    if record["event"] == CHOICE_EVENT:
        message = object_at(body, "message")
        return _Message("assistant", _text_of(message.get("content")))
    return _Message(MESSAGE_EVENTS[record["event"]], _text_of(body.get("content")))


def _legacy_messages(
    span: dict[str, Any],
) -> tuple[list[_Message] | None, list[_Message] | None, bool, str]:
    """Content of v1.27 and earlier: span events, the same attributes on the span, or
    OpenLLMetry's flattened `gen_ai.prompt.N.*` attributes. The last item names the place."""
    source = "span_events" if span["events"] else "legacy_span_attributes"
    prompt = completion = None
    for event in span["events"]:
        if event["name"] == PROMPT_EVENT and prompt is None:
            prompt = _get(event["attrs"], "gen_ai.prompt")
        if event["name"] == COMPLETION_EVENT and completion is None:
            completion = _get(event["attrs"], "gen_ai.completion")
    attrs = span["attrs"]
    prompt = prompt if prompt is not None else _get(attrs, "gen_ai.prompt")
    completion = completion if completion is not None else _get(attrs, "gen_ai.completion")
    unparsed = False
    inputs = outputs = None
    if prompt is not None:
        inputs, unparsed = _openai_messages(prompt, "user")
    if completion is not None:
        outputs, bad = _openai_messages(completion, "assistant")
        unparsed |= bad
    indexed = _indexed_messages(attrs)
    if inputs is None and indexed.get("prompt"):
        inputs = indexed["prompt"]
    if outputs is None and indexed.get("completion"):
        outputs = indexed["completion"]
    return inputs, outputs, unparsed, source


def _openai_messages(value: Any, default_role: str) -> tuple[list[_Message], bool]:
    """v1.27 and earlier: OpenAI-style `[{role, content}]` (or choices), or plain text."""
    if isinstance(value, str) and value.strip()[:1] not in ("[", "{"):
        return [_Message(default_role, value)], False  # plain text is the message itself
    decoded, unparsed = _decode_json_text(value)
    if unparsed:
        return [_Message(default_role, value)], True
    if isinstance(decoded, str):
        return [_Message(default_role, decoded)], False
    if isinstance(decoded, dict):
        decoded = [decoded]
    if not isinstance(decoded, list):
        what = "gen_ai.prompt" if default_role == "user" else "gen_ai.completion"
        raise RecordError(f"`{what}` is not a message list (got {type(decoded).__name__})")
    out = []
    for message in decoded:
        if isinstance(message, str):
            out.append(_Message(default_role, message))
            continue
        if not isinstance(message, dict):
            raise RecordError("a legacy message is not an object")
        if isinstance(message.get("message"), dict):  # a completion choice
            message = message["message"]
        role = message.get("role") if isinstance(message.get("role"), str) else default_role
        out.append(_Message(role, _text_of(message.get("content"))))
    return out, False


def _indexed_messages(attrs: dict[str, Any]) -> dict[str, list[_Message]]:
    found: dict[str, dict[int, dict[str, Any]]] = {}
    for key in attrs:
        match = _INDEXED.fullmatch(key)
        if match:
            value = _get(attrs, key)
            found.setdefault(match[1], {}).setdefault(int(match[2]), {})[match[3]] = value
    out = {}
    for kind, by_index in found.items():
        default = "user" if kind == "prompt" else "assistant"
        out[kind] = [
            _Message(
                str(m.get("role")) if isinstance(m.get("role"), str) else default,
                _text_of(m.get("content")),
            )
            for _, m in sorted(by_index.items())
        ]
    return out


__all__ = ["OTelReader", "normalize_otel_call"]
