"""The demo's interactions as Claude Code OpenTelemetry events, the way an OpenTelemetry
Collector's file exporter writes them (format `claude-code`).

Each interaction becomes a `user_prompt` at its time, then an `api_request` (model, tokens,
cost) and an `assistant_response` when the response was created, all under one `prompt.id`.
Events are exported in 5-second batches (one line per batch, grouped by resource), so a
prompt's events usually land on different lines, as they do in real files. The bank is
assumed to log prompts and responses (`OTEL_LOG_USER_PROMPTS=1`) and to stamp `enduser.id`,
`workflow` and `account_type` through `OTEL_RESOURCE_ATTRIBUTES`, which Claude Code puts on
the resource and on every event.

The model written is the one the response reports (the request's when it has none), so it
equals what `normalize_openai_chat` keeps. Ids Claude Code would generate (prompt, install,
account, organization) are derived from the record's own ids, so the output is stable.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from auditor.normalize import RecordError, message_text, object_at, to_utc

FORMAT = "claude-code"
SUFFIX = ".jsonl"

SERVICE_VERSION = "2.1.214"
SCOPE = {"name": "com.anthropic.claude_code.events", "version": SERVICE_VERSION}
BATCH = timedelta(seconds=5)  # the SDK's default log export interval
_NAMESPACE = uuid.UUID("6f1d3c9e-0b7a-4c52-9d8e-2a4b6c8d0e1f")
_OS = ("darwin", "linux", "windows")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def prompt_id_for(record: dict[str, Any]) -> str:
    """The `prompt.id` (and so the event id a reader gives back) for one demo record."""
    response = object_at(record, "response")
    source_id = response.get("id") or record.get("id") or record.get("custom_id")
    return str(uuid.uuid5(_NAMESPACE, f"prompt:{source_id}"))


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def _value(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}  # int64 is a decimal string in OTLP/JSON
    if isinstance(value, float):
        return {"doubleValue": value}
    return {"stringValue": str(value)}


def _kv(attrs: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"key": k, "value": _value(v)} for k, v in attrs.items() if v is not None]


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _nanos(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(microseconds=1) * 1000


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le", errors="surrogatepass")) // 2


def _texts(record: dict[str, Any]) -> tuple[str | None, str | None]:
    """The last user message and the joined answers, as `normalize_openai_chat` sees them."""
    request = object_at(record, "request")
    response = object_at(record, "response")
    messages = [m for m in request.get("messages") or [] if isinstance(m, dict)]
    users = [m for m in messages if m.get("role") == "user"]
    prompt = message_text(users[-1].get("content")) if users else None
    answers = []
    for choice in response.get("choices") or []:
        if isinstance(choice, dict) and isinstance(choice.get("message"), dict):
            text = message_text(choice["message"].get("content"))
            if text:
                answers.append(text)
    return prompt, ("\n\n".join(answers) if answers else None)


_Event = tuple[datetime, dict[str, Any], dict[str, Any]]


def _events(record: dict[str, Any], sequence: dict[str, int]) -> list[_Event]:
    """(time, resource attributes, log record) for each event of one interaction."""
    request = object_at(record, "request")
    response = object_at(record, "response")
    metadata = object_at(record, "metadata")
    user = object_at(record, "user")
    user_id = user.get("id") or record.get("user_id")
    email = user.get("email") or record.get("user_email")
    started = to_utc(record.get("timestamp", response.get("created")))
    answered = started
    if response.get("created") is not None:
        answered = max(started, to_utc(response["created"]))
    prompt, output = _texts(record)
    model = response.get("model") or request.get("model")
    usage = object_at(response, "usage")
    session = record.get("session_id") or metadata.get("session_id")
    who = str(user_id or email or "")

    custom = {  # OTEL_RESOURCE_ATTRIBUTES the bank sets
        "enduser.id": user_id,
        "workflow": record.get("workflow") or metadata.get("workflow"),
        "account_type": record.get("account_type"),
    }
    resource = {
        "host.arch": "arm64",
        "os.type": _OS[int(_digest("os", who)[:8], 16) % len(_OS)],
        "service.name": "claude-code",
        "service.version": SERVICE_VERSION,
        **custom,
    }
    standard: dict[str, Any] = {
        "user.id": _digest("install", who),
        "session.id": session,
        "terminal.type": "vscode",
    }
    if email:  # an OAuth login: the account and its organisation come with the e-mail
        domain = str(email).rpartition("@")[2].lower()
        standard["organization.id"] = str(uuid.uuid5(_NAMESPACE, f"org:{domain}"))
        standard["user.email"] = email
        standard["user.account_uuid"] = str(uuid.uuid5(_NAMESPACE, f"account:{email}".lower()))
    standard.update(custom)
    standard["prompt.id"] = prompt_id_for(record)
    seq_key = str(session or who)

    def event(name: str, at: datetime, attrs: dict[str, Any]) -> _Event:
        sequence[seq_key] = sequence.get(seq_key, 0) + 1
        log_record = {
            "timeUnixNano": str(_nanos(at)),
            "observedTimeUnixNano": str(_nanos(at)),
            "body": {"stringValue": f"claude_code.{name}"},
            "attributes": _kv(
                {
                    **standard,
                    "event.name": name,
                    "event.timestamp": _iso(at),
                    "event.sequence": sequence[seq_key],
                    **attrs,
                }
            ),
        }
        return (at, resource, log_record)

    out = [
        event(
            "user_prompt",
            started,
            {"prompt_length": _utf16_len(prompt), "prompt": prompt} if prompt is not None else {},
        )
    ]
    api: dict[str, Any] = {
        "model": model,
        "input_tokens": usage.get("prompt_tokens"),
        "output_tokens": usage.get("completion_tokens"),
        "duration_ms": int((answered - started).total_seconds() * 1000),
        "query_source": "repl_main_thread",
    }
    cost = record.get("cost_usd")
    if isinstance(cost, int | float) and not isinstance(cost, bool):
        api["cost_usd"] = float(cost)
        api["cost_usd_micros"] = round(cost * 1_000_000)
    out.append(event("api_request", answered, api))
    agent_tool = metadata.get("agent_tool")
    if isinstance(agent_tool, str):
        # The agent asked to use a tool: Claude Code logs the permission decision and where
        # it came from ("config": the settings allowed it, no person was asked), then the run.
        at = answered + timedelta(milliseconds=400)
        out.append(
            event(
                "tool_decision",
                at,
                {
                    "tool_name": agent_tool,
                    "decision": "accept",
                    "source": metadata.get("agent_approval", "config"),
                },
            )
        )
        out.append(
            event(
                "tool_result",
                at + timedelta(milliseconds=600),
                {"tool_name": agent_tool, "success": "true", "duration_ms": 600},
            )
        )
    if output is not None:
        out.append(
            event(
                "assistant_response",
                answered + timedelta(milliseconds=1),
                {"model": model, "response_length": _utf16_len(output), "response": output},
            )
        )
    return out


def write(records: Sequence[dict[str, Any]], path: Path) -> int:
    """Write the records as Claude Code OTLP/JSON log lines; returns how many interactions a
    reader gets back (records with a user id or e-mail and a usable time)."""
    timed = []
    for index, record in enumerate(records):
        response = object_at(record, "response")
        try:
            started = to_utc(record.get("timestamp", response.get("created")))
        except RecordError:
            continue  # no time: Claude Code always stamps one, so it has no such event
        # Ties broken by the record's own id, so the file does not depend on input order.
        timed.append((started, prompt_id_for(record), index, record))
    timed.sort(key=lambda item: item[:3])

    sequence: dict[str, int] = {}
    events = []
    count = 0
    for _, _, index, record in timed:
        user = object_at(record, "user")
        if user.get("id") or user.get("email") or record.get("user_id") or record.get("user_email"):
            count += 1
        for order, ev in enumerate(_events(record, sequence)):
            events.append((ev[0], prompt_id_for(record), index, order, ev[1], ev[2]))
    events.sort(key=lambda e: e[:4])

    with path.open("w", encoding="utf-8", newline="\n") as fh:
        batch: dict[str, tuple[dict[str, Any], list[dict[str, Any]]]] = {}
        bucket = None
        for at, _, _, _, resource, log_record in events:
            this_bucket = (at - _EPOCH) // BATCH
            if bucket is not None and this_bucket != bucket:
                fh.write(_line(batch))
                batch = {}
            bucket = this_bucket
            key = json.dumps(resource, sort_keys=True)
            batch.setdefault(key, (resource, []))[1].append(log_record)
        if batch:
            fh.write(_line(batch))
    return count


def _line(batch: dict[str, tuple[dict[str, Any], list[dict[str, Any]]]]) -> str:
    export = {
        "resourceLogs": [
            {
                "resource": {"attributes": _kv(resource)},
                "scopeLogs": [{"scope": SCOPE, "logRecords": log_records}],
            }
            for resource, log_records in batch.values()
        ]
    }
    return json.dumps(export, ensure_ascii=False, separators=(",", ":")) + "\n"
