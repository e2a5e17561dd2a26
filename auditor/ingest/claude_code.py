"""Claude Code's OpenTelemetry log events, as an OpenTelemetry Collector's file exporter
writes them: one OTLP/JSON `ExportLogsServiceRequest` per line
(`resourceLogs` -> `scopeLogs` -> `logRecords`).

Claude Code logs one prompt as several events: `user_prompt` (the prompt text),
`assistant_response` (the text of each answer) and one `api_request` per call to the model
(model, tokens, cost), plus tool and error events. An event is named `claude_code.<x>` in its
body (or OTLP `eventName`) while its `event.name` attribute holds `<x>`; both are accepted.
This reader joins the events of one prompt into one interaction:

- Grouping. Events with the same `session.id` and `prompt.id` belong to one prompt. Files
  written before `prompt.id` existed (mid-2025) have neither `prompt.id` nor
  `event.sequence`: there a `user_prompt` opens a prompt and the later events of the same
  session, in file order, belong to it until the session's next `user_prompt`. An
  `api_request` that belongs to no open prompt is an interaction of its own (no prompt text).
  Events of no prompt (hooks, MCP connections at session start) are not interactions and are
  not counted. Without `session.id` (switched off by `OTEL_METRICS_INCLUDE_SESSION_ID=false`)
  the user's identity stands in for the session.
- When a prompt is complete. A prompt is emitted when its session has started a later
  prompt and `LINGER` has passed on that session's clock; when no event has come for it for
  `IDLE` on the file's clock (the latest event time seen) and for `IDLE_LINES` lines (so one
  event with a clock far in the future cannot close every prompt); when more than
  `MAX_OPEN_PROMPTS` prompts are open (the least recently updated goes first); or at the end
  of the file. Memory is bounded by the open prompts, not by the file. An `api_request` or
  `assistant_response` that arrives after its prompt was emitted is rejected with a reason
  (its tokens or text are not in the stored interaction). A repeated export of the same
  event (same name, sequence, time and request or tool id) is counted once. A prompt whose
  `user_prompt` is in an earlier file is still an interaction (content "not_stored") under
  the same event id, so it counts as a duplicate when that file was loaded first; tool
  events alone, whose prompt is elsewhere, are not. Bad log records are rejected one
  rejection per line and reason.
- Identity. `user.email` exists only for OAuth logins, `user.account_uuid`/`user.account_id`
  for Anthropic accounts, `user.id` is a random id per installation (or the IdP subject on a
  Claude apps gateway), and firms are advised to stamp `enduser.id` through
  `OTEL_RESOURCE_ATTRIBUTES`. `user_id` is `enduser.id` when stamped; otherwise, with an
  e-mail, it is left empty so the people directory links the e-mail to the firm's id;
  otherwise the best Anthropic id (account uuid, account id, then `user.id`). The attribute
  `identity_source` says which key identified the person.
- Content. The prompt is redacted by default: `<REDACTED>`, or no `prompt` beside a
  `prompt_length`, is content_status "redacted" (a coverage gap, never an empty prompt).
  Responses are `<REDACTED>` by default too; they are joined in order when present.
- Time. `event.timestamp` (ISO 8601) of the `user_prompt`, else its `timeUnixNano`.
- Agent actions. An accepted `tool_decision` for a tool that writes or executes (Bash,
  Edit, Write, ...) sets `agent_action` (`execute` or `write`, the strongest),
  `action_approved` (true only if a person allowed every such use: source `user_temporary`
  or `user_permanent`, not `config` or `hook`) and `agent_approval_sources`.
- Tags. Keys the firm sets in `OTEL_RESOURCE_ATTRIBUTES` land on the resource and on every
  event: `workflow` gives the workflow tag (never Claude Code's own `workflow.name`, the name
  of a Workflow tool script); `department`, `team.id`, `cost_center` and `account_type` are
  kept in attributes.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections import Counter, OrderedDict
from collections.abc import Iterable, Iterator
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
    normalize_workflow,
    optional_float,
    optional_int,
    optional_str,
    to_utc,
)

FORMAT = "claude-code"
EVENT_PREFIX = "claude_code."
SERVICE_PREFIX = "claude-code"  # also "claude-code-desktop"
SCOPE_PREFIX = "com.anthropic.claude_code"
REDACTED = "<REDACTED>"

USER_PROMPT = "user_prompt"
ASSISTANT_RESPONSE = "assistant_response"
API_REQUEST = "api_request"
API_ERROR = "api_error"
API_REFUSAL = "api_refusal"
TOOL_RESULT = "tool_result"
TOOL_DECISION = "tool_decision"
# Claude Code tools that act rather than read, as the policies name the action. A
# `tool_decision` says who allowed each use: `user_temporary` / `user_permanent` (a person
# clicked allow, once or always), `config` / `hook` (settings or a script, no person asked).
AGENT_TOOL_ACTIONS = {
    "Bash": "execute",
    "BashOutput": "execute",
    "KillShell": "execute",
    "Edit": "write",
    "MultiEdit": "write",
    "Write": "write",
    "NotebookEdit": "write",
}
USER_APPROVALS = frozenset({"user_temporary", "user_permanent"})
# Events that carry text, tokens or cost: arriving after their prompt was emitted loses data.
CARRIERS = frozenset({USER_PROMPT, ASSISTANT_RESPONSE, API_REQUEST})

_NS = 1_000_000_000
LINGER_NS = 5 * 60 * _NS
IDLE_NS = 6 * 3600 * _NS
MAX_OPEN_PROMPTS = 10_000
IDLE_LINES = 1_000
# Prompts already emitted, remembered to recognise late events; bounded like the open ones.
MAX_REMEMBERED = 20_000
# A prompt's joined answers beyond this many characters are dropped (and counted).
MAX_OUTPUT_CHARS = 1_000_000
MAX_ID = 255
MAX_TOOL_NAMES = 20
SNIFF_LINES = 5

_RESOURCE_LOGS = re.compile(rb'"resourceLogs"\s*:')
_CLAUDE_MARK = re.compile(
    rb'"claude_code\.[a-z_]+"|"claude-code(?:-desktop)?"|"com\.anthropic\.claude_code'
)
_INT = re.compile(r"-?[0-9]{1,20}")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# Custom resource keys kept as attributes, under these names.
TAG_KEYS = {
    "department": "department",
    "team.id": "team_id",
    "cost_center": "cost_center",
    "account_type": "account_type",
}


class _Skip(Exception):
    """A log record this reader cannot use; the message never quotes content."""


# --- OTLP/JSON values --------------------------------------------------------------------


def _value(value: Any) -> Any:
    """An OTLP `AnyValue` as a Python value. A value of the wrong type is kept raw so that
    the field that needs it rejects the interaction with a reason; unused ones do no harm."""
    if not isinstance(value, dict):
        return None
    if "stringValue" in value:
        return value["stringValue"]
    if "intValue" in value:  # int64 is a decimal string in OTLP/JSON; some SDKs send numbers
        raw = value["intValue"]
        if isinstance(raw, str) and _INT.fullmatch(raw):
            return int(raw)
        return raw
    if "doubleValue" in value:
        raw = value["doubleValue"]
        if isinstance(raw, str):
            try:
                return float(raw)  # "NaN" and "Infinity" are valid OTLP/JSON
            except ValueError:
                return raw
        return raw
    if "boolValue" in value:
        return value["boolValue"]
    if "arrayValue" in value:
        array = value["arrayValue"]
        items = array.get("values") if isinstance(array, dict) else None
        if isinstance(items, list):
            # One level only: nested arrays and maps are not needed and would let a
            # deeply nested value cost recursion.
            return [
                _value(v)
                if isinstance(v, dict) and not {"arrayValue", "kvlistValue"} & v.keys()
                else None
                for v in items[:100]
            ]
    return None  # kvlistValue, bytesValue, empty value


def _attributes(items: Any) -> dict[str, Any]:
    """OTLP `[{key, value}]` as a dict (last key wins). Raises _Skip if it is not a list."""
    if items is None:
        return {}
    if not isinstance(items, list):
        raise _Skip("`attributes` is not a list")
    out: dict[str, Any] = {}
    for item in items:
        if isinstance(item, dict):
            key = item.get("key")
            if isinstance(key, str) and len(key) <= 256:
                out[key] = _value(item.get("value"))
    return out


def _nanos(value: Any) -> int | None:
    """`timeUnixNano` as written (decimal string or number); 0 means unset in OTLP."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and _INT.fullmatch(value):
        number = int(value)
    elif isinstance(value, int):
        number = value
    elif isinstance(value, float) and math.isfinite(value):
        number = int(value)
    else:
        return None
    return number if 0 < number < 2**63 else None


def _iso_nanos(value: Any) -> int | None:
    """`event.timestamp` in nanoseconds, or None if it is missing or not a timestamp."""
    if not isinstance(value, str) or len(value) > 64:
        return None
    try:
        moment = to_utc(value)
    except RecordError:
        return None
    return (moment - _EPOCH) // timedelta(microseconds=1) * 1000


def _short_id(value: Any, what: str) -> str | None:
    """An id used for grouping (text or a number). Raises _Skip for anything else."""
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise _Skip(f"`{what}` is not text")
    text = str(value).strip()
    if len(text) > MAX_ID:
        raise _Skip(f"`{what}` is longer than {MAX_ID} characters")
    return text or None


def _utf16_len(text: str) -> int:
    # Claude Code measures prompt_length and response_length in JavaScript string units.
    return len(text.encode("utf-16-le", errors="surrogatepass")) // 2


def _hashed(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", errors="surrogatepass")).hexdigest()[:32]


# --- events ------------------------------------------------------------------------------


@dataclass(slots=True)
class _Event:
    name: str
    attrs: dict[str, Any]  # resource attributes, overridden by the record's own
    line_no: int
    time_ns: int | None  # event.timestamp, else timeUnixNano, else observedTimeUnixNano
    time_unix_nano: int | None
    observed_unix_nano: int | None
    seq: int | None
    session_id: str | None
    prompt_id: str | None
    stream: str  # session.id, or the user's identity when sessions are not logged
    service: str | None

    def fingerprint(self) -> tuple[Any, ...]:
        return (
            self.name,
            self.seq,
            self.time_ns,
            self.attrs.get("request_id"),
            self.attrs.get("tool_use_id"),
        )

    def order(self) -> tuple[int, int]:
        return (
            self.seq if self.seq is not None else 2**62,
            self.time_ns if self.time_ns is not None else 2**63,
        )

    def as_obj(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "attributes": self.attrs,
            "time_unix_nano": self.time_unix_nano,
            "observed_time_unix_nano": self.observed_unix_nano,
        }


def _event_name(rec: dict[str, Any], attrs: dict[str, Any]) -> tuple[str | None, bool]:
    """The bare event name and whether any source spelled it `claude_code.<x>`."""
    body = rec.get("body")
    attr_name, otlp_name = attrs.get("event.name"), rec.get("eventName")
    body_text = body.get("stringValue") if isinstance(body, dict) else None
    given = [n for n in (attr_name, otlp_name, body_text) if isinstance(n, str) and n]
    prefixed = any(n.startswith(EVENT_PREFIX) for n in given)
    # Other loggers' bodies are free text: a body names the event only with the prefix.
    if not (isinstance(body_text, str) and body_text.startswith(EVENT_PREFIX)):
        body_text = None
    names = [n for n in (attr_name, otlp_name, body_text) if isinstance(n, str) and n]
    return (names[0].removeprefix(EVENT_PREFIX) if names else None), prefixed


def _identity_key(attrs: dict[str, Any]) -> str:
    for key in ("enduser.id", "user.email", "user.account_uuid", "user.account_id", "user.id"):
        value = attrs.get(key)
        if isinstance(value, str | int) and not isinstance(value, bool) and str(value):
            return "~" + str(value)[:MAX_ID]
    return "~"


def _make_event(
    rec: dict[str, Any], resource: dict[str, Any], scope_name: Any, line_no: int
) -> _Event:
    """One Claude Code event from a log record. Raises _Skip saying why not."""
    attrs = {**resource, **_attributes(rec.get("attributes"))}
    name, prefixed = _event_name(rec, attrs)
    service = resource.get("service.name")
    service = service if isinstance(service, str) else None
    is_claude = (
        prefixed
        or (service or "").startswith(SERVICE_PREFIX)
        or (isinstance(scope_name, str) and scope_name.startswith(SCOPE_PREFIX))
    )
    if not is_claude:
        raise _Skip("log record is not a Claude Code event")
    if name is None:
        raise _Skip("Claude Code log record has no event name")
    if len(name) > 64:
        raise _Skip("event name is longer than 64 characters")
    session_id = _short_id(attrs.get("session.id"), "session.id")
    prompt_id = _short_id(attrs.get("prompt.id"), "prompt.id")
    time_unix = _nanos(rec.get("timeUnixNano"))
    observed = _nanos(rec.get("observedTimeUnixNano"))
    seq = attrs.get("event.sequence")
    return _Event(
        name=name,
        attrs=attrs,
        line_no=line_no,
        time_ns=_iso_nanos(attrs.get("event.timestamp")) or time_unix or observed,
        time_unix_nano=time_unix,
        observed_unix_nano=observed,
        seq=seq if isinstance(seq, int) and not isinstance(seq, bool) else None,
        session_id=session_id,
        prompt_id=prompt_id,
        stream=session_id if session_id is not None else _identity_key(attrs),
        service=service,
    )


def _events(obj: dict[str, Any], line_no: int, rejections: Counter[str]) -> list[_Event]:
    """The Claude Code events of one export request; reasons for the rest go to
    `rejections`."""
    resource_logs = obj.get("resourceLogs")
    if resource_logs is None:
        other = next((k for k in ("resourceSpans", "resourceMetrics") if k in obj), None)
        rejections[
            f"an OTLP {'traces' if other == 'resourceSpans' else 'metrics'} export, not logs"
            if other
            else "not an OTLP logs export (no `resourceLogs`)"
        ] += 1
        return []
    if not isinstance(resource_logs, list):
        rejections["`resourceLogs` is not a list"] += 1
        return []
    out: list[_Event] = []
    for entry in resource_logs:
        resource_obj = entry.get("resource") if isinstance(entry, dict) else None
        scope_logs = entry.get("scopeLogs") if isinstance(entry, dict) else None
        try:
            if resource_obj is not None and not isinstance(resource_obj, dict):
                raise _Skip("`resource` is not an object")
            resource = _attributes((resource_obj or {}).get("attributes"))
            if not isinstance(scope_logs, list):
                raise _Skip("`scopeLogs` is missing or not a list")
        except _Skip as exc:
            rejections[f"malformed resourceLogs entry: {exc}"] += 1
            continue
        for scope_entry in scope_logs:
            records = scope_entry.get("logRecords") if isinstance(scope_entry, dict) else None
            if not isinstance(records, list):
                rejections["malformed scopeLogs entry: `logRecords` is not a list"] += 1
                continue
            scope = scope_entry.get("scope")
            scope_name = scope.get("name") if isinstance(scope, dict) else None
            for rec in records:
                if not isinstance(rec, dict):
                    rejections["log record is not an object"] += 1
                    continue
                try:
                    out.append(_make_event(rec, resource, scope_name, line_no))
                except _Skip as exc:
                    rejections[str(exc)] += 1
    return out


# --- joining events into prompts ---------------------------------------------------------


@dataclass
class _Prompt:
    key: tuple[str, str]
    grouping: str  # "prompt.id", "session order" or "api_request"
    first: _Event
    user_prompt: _Event | None = None
    extra_user_prompts: int = 0
    responses: list[_Event] = field(default_factory=list)
    requests: list[_Event] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    tool_names: set[str] = field(default_factory=set)
    tool_failures: int = 0
    tool_rejections: int = 0
    # Accepted tool uses that act (write or execute), each with who allowed it.
    agent_actions: list[tuple[str, str]] = field(default_factory=list)
    duplicates: int = 0
    output_chars: int = 0
    responses_dropped: int = 0
    notes: set[str] = field(default_factory=set)
    seen: set[tuple[Any, ...]] = field(default_factory=set)
    last_time: int | None = None
    last_line: int = 0

    def add(self, ev: _Event, notes: Iterable[str], line_no: int) -> None:
        self.last_line = line_no
        fingerprint = ev.fingerprint()
        if fingerprint in self.seen:
            self.duplicates += 1  # the same export written twice (a retried batch)
            return
        self.seen.add(fingerprint)
        self.notes.update(notes)
        if ev.time_ns is not None:
            self.last_time = max(self.last_time or 0, ev.time_ns)
        self.counts[ev.name] += 1
        if ev.name == USER_PROMPT:
            if self.user_prompt is None:
                self.user_prompt = ev
            else:
                self.extra_user_prompts += 1
                if ev.order() < self.user_prompt.order():
                    self.user_prompt = ev
        elif ev.name == API_REQUEST:
            self.requests.append(ev)
        elif ev.name == ASSISTANT_RESPONSE:
            text = ev.attrs.get("response")
            size = len(text) if isinstance(text, str) else 0
            if self.output_chars + size > MAX_OUTPUT_CHARS:
                self.responses_dropped += 1
            else:
                self.output_chars += size
                self.responses.append(ev)
        elif ev.name == TOOL_RESULT:
            tool = ev.attrs.get("tool_name", ev.attrs.get("name"))  # `name` before 2025-08
            if (
                isinstance(tool, str)
                and 0 < len(tool) <= 64
                and len(self.tool_names) < MAX_TOOL_NAMES
            ):
                self.tool_names.add(tool)
            if ev.attrs.get("success") in (False, "false"):
                self.tool_failures += 1
        elif ev.name == TOOL_DECISION and ev.attrs.get("decision") in ("reject", "rejected"):
            self.tool_rejections += 1
        elif ev.name == TOOL_DECISION and ev.attrs.get("decision") in ("accept", "accepted"):
            tool = ev.attrs.get("tool_name")
            action = AGENT_TOOL_ACTIONS.get(tool) if isinstance(tool, str) else None
            if action and len(self.agent_actions) < MAX_TOOL_NAMES:
                self.agent_actions.append((action, str(ev.attrs.get("source") or "")))

    def is_interaction(self) -> bool:
        return bool(self.user_prompt or self.requests or self.responses)

    def event_id(self) -> str:
        stream, prompt_id = self.key
        if self.grouping == "prompt.id":
            return prompt_id
        anchor = self.user_prompt or self.first
        if self.grouping == "api_request":
            request_id = anchor.attrs.get("request_id")
            if isinstance(request_id, str) and 0 < len(request_id) <= MAX_ID:
                return request_id
        # Without prompt.id: the session (or a hash of the identity) and the event's time.
        base = anchor.session_id or "u" + _hashed(stream)
        when = str(anchor.time_ns) if anchor.time_ns is not None else f"line{anchor.line_no}"
        suffix = "/api_request" if self.grouping == "api_request" else ""
        event_id = f"{base}/{when}{suffix}"
        return event_id if len(event_id) <= MAX_ID else "h" + _hashed(event_id)

    def as_obj(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id(),
            "grouping": self.grouping,
            "session_id": self.first.session_id,
            "service": self.first.service,
            "user_prompt": self.user_prompt.as_obj() if self.user_prompt else None,
            "first_event": self.first.as_obj(),
            "responses": [e.as_obj() for e in sorted(self.responses, key=_Event.order)],
            "api_requests": [e.as_obj() for e in sorted(self.requests, key=_Event.order)],
            "event_counts": dict(self.counts),
            "tool_names": sorted(self.tool_names),
            "tool_failures": self.tool_failures,
            "tool_rejections": self.tool_rejections,
            "agent_actions": list(self.agent_actions),
            "duplicate_events": self.duplicates,
            "extra_user_prompts": self.extra_user_prompts,
            "responses_dropped": self.responses_dropped,
        }


class Joiner:
    """Joins a stream of events into prompts and emits each prompt once it is complete
    (see the module docstring). Memory holds only the open prompts and their sessions."""

    def __init__(self, *, max_open: int | None = None, idle_lines: int | None = None) -> None:
        self.max_open = max_open or MAX_OPEN_PROMPTS
        self.idle_lines = idle_lines or IDLE_LINES
        self.open: OrderedDict[tuple[str, str], _Prompt] = OrderedDict()  # by last update
        self.by_stream: dict[str, set[tuple[str, str]]] = {}
        self.current: dict[str, tuple[str, str]] = {}  # stream -> its latest user_prompt
        self.superseded: dict[str, set[tuple[str, str]]] = {}
        self.stream_clock: dict[str, int] = {}
        self.emitted: OrderedDict[tuple[str, str], None] = OrderedDict()
        self.clock = 0  # the latest event time in the file
        self.line_no = 0
        self.peak_open = 0
        self._serial = 0

    def feed(
        self, events: list[_Event], line_no: int, notes: tuple[str, ...] = ()
    ) -> list[RawRecord | Rejected]:
        """Add one line's events; returns the prompts completed and rejections of late
        events."""
        self.line_no = line_no
        out: list[RawRecord | Rejected] = []
        late: Counter[str] = Counter()
        for ev in events:
            self._add(ev, notes, out, late)
        for name, count in sorted(late.items()):
            out.append(
                Rejected(
                    line_no,
                    f"{count} late `{name}` event(s) of a prompt already closed (not added to it)",
                )
            )
        self._close_idle(out)
        return out

    def finish(self) -> list[RawRecord | Rejected]:
        """Emit every prompt still open (end of file), in order of their first line."""
        out: list[RawRecord | Rejected] = []
        for key in sorted(self.open, key=lambda k: self.open[k].first.line_no):
            self._close(key, out)
        return out

    def _add(
        self,
        ev: _Event,
        notes: tuple[str, ...],
        out: list[RawRecord | Rejected],
        late: Counter[str],
    ) -> None:
        if ev.time_ns is not None:
            self.clock = max(self.clock, ev.time_ns)
            self.stream_clock[ev.stream] = max(self.stream_clock.get(ev.stream, 0), ev.time_ns)
        if ev.prompt_id is not None:
            key = (ev.stream, ev.prompt_id)
            if key not in self.open and key in self.emitted:
                if ev.name in CARRIERS:
                    late[ev.name] += 1
                return
            prompt = self.open.get(key) or self._open(key, "prompt.id", ev)
        elif ev.name == USER_PROMPT:
            self._serial += 1
            key = (ev.stream, f"\x00order{self._serial}")
            prompt = self._open(key, "session order", ev)
        else:
            current = self.current.get(ev.stream)
            found = self.open.get(current) if current else None
            if found is not None and found.grouping == "session order":
                prompt, key = found, found.key
            elif ev.name == API_REQUEST:
                # No prompt to belong to: this API call is an interaction of its own.
                self._serial += 1
                key = (ev.stream, f"\x00api{self._serial}")
                self._open(key, "api_request", ev).add(ev, notes, self.line_no)
                self._close(key, out)
                return
            else:
                self._forget_idle_stream(ev.stream)
                return  # a session-level event (hooks, MCP, settings): not an interaction
        prompt.add(ev, notes, self.line_no)
        self.open.move_to_end(key)
        if ev.name == USER_PROMPT:
            # prompt.id ties events to a prompt "until the next prompt": the session's
            # earlier prompts are done once the stragglers have had LINGER to arrive.
            self.current[ev.stream] = key
            waiting = self.superseded.setdefault(ev.stream, set())
            waiting.update(k for k in self.by_stream[ev.stream] if k != key)
        self._close_superseded(ev.stream, out)
        while len(self.open) > self.max_open:
            self._close(next(iter(self.open)), out)

    def _open(self, key: tuple[str, str], grouping: str, ev: _Event) -> _Prompt:
        prompt = _Prompt(key=key, grouping=grouping, first=ev)
        self.open[key] = prompt
        self.by_stream.setdefault(key[0], set()).add(key)
        self.peak_open = max(self.peak_open, len(self.open))
        return prompt

    def _close_superseded(self, stream: str, out: list[RawRecord | Rejected]) -> None:
        waiting = self.superseded.get(stream)
        if not waiting:
            return
        now = self.stream_clock.get(stream, 0)
        for key in sorted(waiting, key=lambda k: self.open[k].first.line_no):
            prompt = self.open[key]
            if prompt.last_time is None or now - prompt.last_time >= LINGER_NS:
                self._close(key, out)

    def _close_idle(self, out: list[RawRecord | Rejected]) -> None:
        # Idle needs both clocks: IDLE of event time and idle_lines of file, so that one
        # event with a wrong clock far in the future cannot close every open prompt.
        while self.open:
            key, prompt = next(iter(self.open.items()))
            if prompt.last_line > self.line_no - self.idle_lines:
                break
            if (prompt.last_time or 0) + IDLE_NS > self.clock:
                break
            self._close(key, out)

    def _close(self, key: tuple[str, str], out: list[RawRecord | Rejected]) -> None:
        prompt = self.open.pop(key)
        stream = key[0]
        self.by_stream[stream].discard(key)
        self.superseded.get(stream, set()).discard(key)
        if self.current.get(stream) == key:
            del self.current[stream]
        self._forget_idle_stream(stream)
        if prompt.grouping == "prompt.id":
            self.emitted[key] = None
            while len(self.emitted) > MAX_REMEMBERED:
                self.emitted.popitem(last=False)
        if prompt.is_interaction():
            line_no = (prompt.user_prompt or prompt.first).line_no
            out.append(RawRecord(line_no, prompt.as_obj(), tuple(sorted(prompt.notes))))
        # Tool or error events whose prompt is in another file are not interactions here.

    def _forget_idle_stream(self, stream: str) -> None:
        """Drop a session's bookkeeping once it has no open prompt (bounded memory)."""
        if not self.by_stream.get(stream):
            for table in (self.by_stream, self.current, self.superseded, self.stream_clock):
                table.pop(stream, None)


# --- normalization -----------------------------------------------------------------------


def _occurred_at(event: dict[str, Any]) -> tuple[datetime, str]:
    """The event's time and which clock gave it. Raises RecordError if it has none."""
    stamp = event["attributes"].get("event.timestamp")
    if stamp is not None:
        try:
            return to_utc(stamp if isinstance(stamp, str) else None), "event.timestamp"
        except RecordError:
            pass  # fall back to the OTLP clock below
    for key, label in (
        ("time_unix_nano", "timeUnixNano"),
        ("observed_time_unix_nano", "observedTimeUnixNano"),
    ):
        if event.get(key):
            return to_utc(event[key]), label
    raise RecordError("timestamp is missing (`event.timestamp`, `timeUnixNano`)")


def _identity(attrs: dict[str, Any]) -> tuple[str | None, str | None, dict[str, Any]]:
    """(user_id, user_email, attributes) from the standard identity attributes.

    Raises RecordError when there is none, or when one has the wrong type.
    """
    enduser = optional_str(attrs.get("enduser.id"), "enduser.id", MAX_ID)
    email = optional_str(attrs.get("user.email"), "user.email", 320)
    account_uuid = optional_str(attrs.get("user.account_uuid"), "user.account_uuid", MAX_ID)
    account_id = optional_str(attrs.get("user.account_id"), "user.account_id", MAX_ID)
    install = optional_str(attrs.get("user.id"), "user.id", MAX_ID)
    gateway = attrs.get("identity.source") == "gateway-oidc"
    info: dict[str, Any] = {}
    if enduser:
        user_id, source = enduser, "enduser.id"
    elif email:
        # The directory links an e-mail to the firm's own id; an Anthropic id would not.
        user_id, source = None, "user.email"
    elif gateway and install:
        user_id, source = install, "user.id"
    elif account_uuid or account_id:
        user_id = account_uuid or account_id
        source = "user.account_uuid" if account_uuid else "user.account_id"
    elif install:
        user_id, source = install, "user.id"
    else:
        raise RecordError(
            "no user identity (`user.email`, `enduser.id`, `user.account_uuid`, `user.id`)"
        )
    info["identity_source"] = source
    if gateway:
        info["identity_provider"] = "gateway-oidc"
    for name, value in (("account_uuid", account_uuid), ("account_id", account_id)):
        if value:
            info[name] = value
    if install:
        info["install_id"] = install
    org = optional_str(attrs.get("organization.id"), "organization.id", MAX_ID)
    if org:
        info["organization_id"] = org
    return user_id, (email.lower() if email else None), info


def _text(
    attrs: dict[str, Any], key: str, length_key: str
) -> tuple[str | None, ContentStatus, bool]:
    """(text, status, truncated) of a content attribute that may be redacted.

    status is "present", "redacted" (`<REDACTED>`, or only its length was logged) or
    "not_stored". Raises RecordError for a value that is not text.
    """
    raw = attrs.get(key)
    length = optional_int(attrs.get(length_key), length_key)
    if raw is None:
        return None, ("redacted" if length is not None else "not_stored"), False
    if not isinstance(raw, str):
        raise RecordError(f"`{key}` is not text (got {type(raw).__name__})")
    if raw.strip() == REDACTED:
        return None, "redacted", False
    truncated = length is not None and length > _utf16_len(raw)
    return clean_text(raw), "present", truncated


def _total(values: list[int | None]) -> int | None:
    present = [v for v in values if v is not None]
    return sum(present) if present else None


def normalize_claude_code(obj: dict[str, Any], *, source_format: str = FORMAT) -> InteractionRecord:
    """One prompt's joined events (as `ClaudeCodeReader.records` builds them) as an
    interaction. Raises RecordError."""
    user_prompt = obj.get("user_prompt")
    requests: list[dict[str, Any]] = obj.get("api_requests") or []
    responses: list[dict[str, Any]] = obj.get("responses") or []
    anchor = user_prompt or (requests[0] if requests else None) or obj["first_event"]
    attrs: dict[str, Any] = anchor["attributes"]

    user_id, user_email, attributes = _identity(attrs)
    occurred_at, clock = _occurred_at(anchor)
    if clock != "event.timestamp":
        attributes["timestamp_source"] = clock

    status: ContentStatus
    if user_prompt is not None:
        prompt, status, truncated = _text(attrs, "prompt", "prompt_length")
        if truncated:
            attributes["prompt_truncated"] = True
        command = optional_str(attrs.get("command_name"), "command_name", 128)
        if command:
            attributes["command_name"] = command
    else:
        prompt, status = None, "not_stored"
        attributes["prompt_event_missing"] = True
    if prompt == "":
        attributes["empty_prompt"] = True

    texts: list[str] = []
    redacted_outputs = 0
    for response in responses:
        text, state, truncated = _text(response["attributes"], "response", "response_length")
        if text:
            texts.append(text)
        if state == "redacted":
            redacted_outputs += 1
        if truncated:
            attributes["output_truncated"] = True
    if redacted_outputs:
        attributes["output_redacted"] = True
    if obj.get("responses_dropped"):
        attributes["output_truncated"] = True

    input_tokens: list[int | None] = []
    output_tokens: list[int | None] = []
    cache_read: list[int | None] = []
    cache_creation: list[int | None] = []
    costs: list[float] = []
    by_output: list[tuple[int, str]] = []
    for request in requests:
        r = request["attributes"]
        input_tokens.append(optional_int(r.get("input_tokens"), "input_tokens"))
        out = optional_int(r.get("output_tokens"), "output_tokens")
        output_tokens.append(out)
        cache_read.append(optional_int(r.get("cache_read_tokens"), "cache_read_tokens"))
        cache_creation.append(optional_int(r.get("cache_creation_tokens"), "cache_creation_tokens"))
        cost = optional_float(r.get("cost_usd"), "cost_usd")
        if cost is None:
            micros = optional_int(r.get("cost_usd_micros"), "cost_usd_micros")
            cost = micros / 1_000_000 if micros is not None else None
        if cost is not None:
            costs.append(cost)
        model = optional_str(r.get("model"), "model", 128)
        if model:
            by_output.append((out or 0, model))

    # The model of the answer the user saw; else the call that wrote the most.
    model = None
    for response in reversed(responses):
        model = optional_str(response["attributes"].get("model"), "model", 128)
        if model:
            break
    if model is None and by_output:
        model = max(by_output, key=lambda pair: pair[0])[1]
    models = sorted({m for _, m in by_output} | ({model} if model else set()))
    if len(models) > 1:
        attributes["models"] = models

    for name, values in (
        ("cache_read_tokens", cache_read),
        ("cache_creation_tokens", cache_creation),
    ):
        total = _total(values)
        if total is not None:
            attributes[name] = total

    counts: dict[str, int] = obj.get("event_counts") or {}
    attributes["api_requests"] = len(requests)
    attributes["tool_calls"] = counts.get(TOOL_RESULT, 0)
    for name, value in (
        ("api_errors", counts.get(API_ERROR, 0)),
        ("api_refusals", counts.get(API_REFUSAL, 0)),
        ("tool_failures", obj.get("tool_failures", 0)),
        ("tool_rejections", obj.get("tool_rejections", 0)),
        ("duplicate_events", obj.get("duplicate_events", 0)),
        ("extra_user_prompts", obj.get("extra_user_prompts", 0)),
        (
            "other_events",
            sum(
                n
                for k, n in counts.items()
                if k
                not in {USER_PROMPT, ASSISTANT_RESPONSE, API_REQUEST, API_ERROR, API_REFUSAL}
                | {TOOL_RESULT, TOOL_DECISION}
            ),
        ),
    ):
        if value:
            attributes[name] = value
    if obj.get("tool_names"):
        attributes["tool_names"] = obj["tool_names"]
    actions = obj.get("agent_actions") or []
    if actions:
        # The strongest action taken, and whether a person allowed every acting tool use.
        attributes["agent_action"] = (
            "execute" if any(a == "execute" for a, _ in actions) else "write"
        )
        attributes["action_approved"] = all(src in USER_APPROVALS for _, src in actions)
        attributes["agent_approval_sources"] = sorted({src or "unknown" for _, src in actions})
    if obj.get("grouping") != "prompt.id":
        attributes["grouping"] = obj.get("grouping")

    for key, name in TAG_KEYS.items():
        tag = attrs.get(key)
        if isinstance(tag, str) and tag.strip() and len(tag) <= 128:
            attributes[name] = tag.strip()
    for key, name in (
        ("service.version", "app_version"),
        ("app.version", "app_version"),
        ("app.entrypoint", "entrypoint"),
        ("terminal.type", "terminal_type"),
        ("os.type", "os_type"),
    ):
        value = attrs.get(key)
        if isinstance(value, str) and 0 < len(value) <= 64:
            attributes[name] = value

    return InteractionRecord(
        event_id=obj["event_id"],
        source_format=source_format,
        occurred_at=occurred_at,
        user_id=user_id,
        user_email=user_email,
        tool=optional_str(obj.get("service"), "service.name", 128) or FORMAT,
        provider="anthropic",
        model=model,
        prompt_text=prompt,
        output_text="\n\n".join(texts) if texts else None,
        # Claude Code does not log the conversation it resends; the count is not known.
        history_turns=0,
        input_tokens=_total(input_tokens),
        output_tokens=_total(output_tokens),
        # Claude Code's own estimate, summed over the prompt's API calls.
        cost_usd=round(sum(costs), 9) if costs else None,
        session_id=obj.get("session_id"),
        workflow=normalize_workflow(optional_str(attrs.get("workflow"), "workflow", 64)),
        content_status=status,
        attributes=attributes,
    )


# --- the reader --------------------------------------------------------------------------


@register
class ClaudeCodeReader(Reader):
    name = FORMAT
    description = (
        "Claude Code OpenTelemetry events (OTLP/JSON lines from a Collector file exporter), "
        "joined per prompt: prompt, response, model, tokens and cost"
    )

    def sniff(self, head: bytes) -> bool:
        # A few lines, so one truncated first line does not decide; a long first line cut
        # at the head's end still shows `resourceLogs` and the service or event names.
        lines = [ln.strip() for ln in head.removeprefix(b"\xef\xbb\xbf").split(b"\n")]
        objects = [ln for ln in lines if ln][:SNIFF_LINES]
        return any(
            ln.startswith(b"{") and _RESOURCE_LOGS.search(ln) and _CLAUDE_MARK.search(ln)
            for ln in objects
        )

    def records(self, path: Path, *, max_line_bytes: int) -> Iterator[RawRecord | Rejected]:
        joiner = Joiner()
        for item in iter_json_lines(path, max_line_bytes=max_line_bytes):
            if isinstance(item, Rejected):
                yield item
                continue
            rejections: Counter[str] = Counter()
            events = _events(item.obj, item.line_no, rejections)
            # One rejection per line and reason, however many log records it covers.
            for reason, count in rejections.items():
                suffix = f" ({count} log records)" if count > 1 else ""
                yield Rejected(item.line_no, reason + suffix)
            yield from joiner.feed(events, item.line_no, item.notes)
        yield from joiner.finish()

    def normalize(self, raw: RawRecord) -> InteractionRecord:
        if not isinstance(raw.obj, dict) or "event_id" not in raw.obj:
            raise RecordError("record is not a joined Claude Code prompt")
        return normalize_claude_code(raw.obj, source_format=self.name)
