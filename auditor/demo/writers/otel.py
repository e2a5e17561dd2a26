"""The demo's interactions as OpenTelemetry GenAI telemetry, OTLP/JSON lines (reader `otel`).

Each record becomes one `chat` inference span, written the way a Collector's file exporter
writes export requests: several spans per line, grouped by resource (`service.name` = the
record's tool). Real fleets run instrumentations of different ages, so the records cycle
through the generations of the GenAI semantic conventions, all of which the reader must read:

- v1.37+ on the span: `gen_ai.input.messages` / `gen_ai.output.messages` as JSON strings;
- v1.37+ on a `gen_ai.client.inference.operation.details` log record, structured values;
- v1.28-v1.36: one log record per message (`gen_ai.user.message`, ..., `gen_ai.choice`),
  named by the `event.name` attribute, in a logs line written before the spans line;
- v1.27: span events `gen_ai.content.prompt` / `gen_ai.content.completion` with JSON strings,
  `gen_ai.system` and the old token names.

The user, session (`gen_ai.conversation.id`), workflow (`workflow`) and account type are
span attributes; trace and span ids are derived from the event id, so the output is stable.
The gateway's records carry no provider; like the `openai-chat` reader, `openai` is assumed.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from auditor.normalize import to_utc

FORMAT = "otel"
SUFFIX = ".jsonl"

# Spans per export request line, as a batch span processor would send them.
BATCH = 8
STYLES = ("v1.37-span", "v1.28-events", "v1.37-details", "v1.27-span-events")
SCOPE = {"name": "auditor.demo", "version": "1"}
SPAN_KIND_CLIENT = 3
SEVERITY_INFO = 9
MESSAGE_EVENT = {
    "system": "gen_ai.system.message",
    "developer": "gen_ai.system.message",
    "assistant": "gen_ai.assistant.message",
    "tool": "gen_ai.tool.message",
    "function": "gen_ai.tool.message",
}


def any_value(value: Any) -> dict[str, Any]:
    """A Python value as an OTLP/JSON AnyValue (int64 as a decimal string, as OTLP writes)."""
    if value is None:
        return {}
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, str):
        return {"stringValue": value}
    if isinstance(value, list | tuple):
        return {"arrayValue": {"values": [any_value(v) for v in value]}}
    if isinstance(value, dict):
        return {"kvlistValue": {"values": attributes(value)}}
    raise TypeError(f"no AnyValue for {type(value).__name__}")


def attributes(values: dict[str, Any]) -> list[dict[str, Any]]:
    """OTLP key-value attributes; None values are left out, as SDKs do."""
    return [{"key": k, "value": any_value(v)} for k, v in values.items() if v is not None]


def _nanos(moment: datetime) -> str:
    epoch = datetime(1970, 1, 1, tzinfo=moment.tzinfo)
    delta = moment - epoch
    return str((delta.days * 86_400 + delta.seconds) * 10**9 + delta.microseconds * 1000)


def _ids(event_id: str) -> tuple[str, str]:
    digest = hashlib.sha256(event_id.encode()).hexdigest()
    return digest[:32], digest[32:48]


def _parts(content: Any) -> list[dict[str, Any]]:
    """An OpenAI message content as v1.37 parts: one text part per text (list) part."""
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "content": content}]
    parts = []
    for part in content:
        if isinstance(part, dict) and isinstance(part.get("text"), str):
            parts.append({"type": "text", "content": part["text"]})
    return parts


def _outputs(response: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for choice in response.get("choices") or []:
        message = choice.get("message") or {}
        if message.get("content") is None:
            continue
        out.append(
            {
                "index": choice.get("index", 0),
                "finish_reason": choice.get("finish_reason") or "stop",
                "message": {
                    "role": message.get("role") or "assistant",
                    "content": message["content"],
                },
            }
        )
    return out


def _call(rec: dict[str, Any], style: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """One record as a span and the log records that go with it."""
    request = rec.get("request") or {}
    response = rec.get("response") or {}
    user = rec.get("user") or {}
    usage = response.get("usage") or {}
    messages = request.get("messages") or []
    outputs = _outputs(response)
    event_id = str(response.get("id") or rec.get("id"))
    trace_id, span_id = _ids(event_id)
    start = to_utc(rec.get("timestamp", response.get("created")))
    end = to_utc(response["created"]) if response.get("created") is not None else start
    if end <= start:
        end = start + timedelta(seconds=1)
    legacy = style in ("v1.28-events", "v1.27-span-events")
    provider = rec.get("provider") or "openai"

    attrs: dict[str, Any] = {
        "gen_ai.operation.name": "chat",
        ("gen_ai.system" if legacy else "gen_ai.provider.name"): provider,
        "gen_ai.request.model": request.get("model"),
        "gen_ai.response.model": response.get("model"),
        "gen_ai.response.id": event_id,
        "gen_ai.response.finish_reasons": [o["finish_reason"] for o in outputs] or None,
        "gen_ai.conversation.id": rec.get("session_id"),
        "user.id": user.get("id") or rec.get("user_id"),
        "user.email": user.get("email") or rec.get("user_email"),
        "workflow": rec.get("workflow"),
        "account_type": rec.get("account_type"),
    }
    if style == "v1.27-span-events":
        attrs["gen_ai.usage.prompt_tokens"] = usage.get("prompt_tokens")
        attrs["gen_ai.usage.completion_tokens"] = usage.get("completion_tokens")
    else:
        attrs["gen_ai.usage.input_tokens"] = usage.get("prompt_tokens")
        attrs["gen_ai.usage.output_tokens"] = usage.get("completion_tokens")

    inputs = [{"role": m.get("role"), "parts": _parts(m.get("content"))} for m in messages]
    output_messages = [
        {
            "role": o["message"]["role"],
            "parts": _parts(o["message"]["content"]),
            "finish_reason": o["finish_reason"],
        }
        for o in outputs
    ]
    events: list[dict[str, Any]] = []
    logs: list[dict[str, Any]] = []
    log_base = {"traceId": trace_id, "spanId": span_id, "severityNumber": SEVERITY_INFO}
    if style == "v1.37-span":
        # Python instrumentations cannot put structured values on spans: JSON strings.
        attrs["gen_ai.input.messages"] = json.dumps(inputs, ensure_ascii=False)
        if output_messages:
            attrs["gen_ai.output.messages"] = json.dumps(output_messages, ensure_ascii=False)
    elif style == "v1.37-details":
        details = {k: v for k, v in attrs.items() if k.startswith("gen_ai.")}
        details["gen_ai.input.messages"] = inputs
        details["gen_ai.output.messages"] = output_messages or None
        logs.append(
            {
                **log_base,
                "timeUnixNano": _nanos(end),
                "observedTimeUnixNano": _nanos(end),
                "eventName": "gen_ai.client.inference.operation.details",
                "severityNumber": 5,
                "attributes": attributes(details),
            }
        )
    elif style == "v1.28-events":
        for m in messages:
            role = m.get("role") or "user"
            body: dict[str, Any] = {"content": m.get("content")}
            if role not in ("system", "user", "assistant", "tool"):
                body["role"] = role
            name = MESSAGE_EVENT.get(role, "gen_ai.user.message")
            logs.append(_event_log(log_base, start, name, provider, body))
        for o in outputs:
            logs.append(_event_log(log_base, end, "gen_ai.choice", provider, o))
    else:  # v1.27 span events
        events.append(
            {
                "timeUnixNano": _nanos(start),
                "name": "gen_ai.content.prompt",
                "attributes": attributes(
                    {"gen_ai.prompt": json.dumps(messages, ensure_ascii=False)}
                ),
            }
        )
        if outputs:
            completion = [o["message"] for o in outputs]
            events.append(
                {
                    "timeUnixNano": _nanos(end),
                    "name": "gen_ai.content.completion",
                    "attributes": attributes(
                        {"gen_ai.completion": json.dumps(completion, ensure_ascii=False)}
                    ),
                }
            )
    span = {
        "traceId": trace_id,
        "spanId": span_id,
        "parentSpanId": "",
        "name": f"chat {request.get('model') or ''}".strip(),
        "kind": SPAN_KIND_CLIENT,
        "startTimeUnixNano": _nanos(start),
        "endTimeUnixNano": _nanos(end),
        "attributes": attributes(attrs),
        "events": events,
        "status": {},
    }
    return span, logs


def _event_log(
    base: dict[str, Any], at: datetime, name: str, provider: str, body: dict[str, Any]
) -> dict[str, Any]:
    return {
        **base,
        "timeUnixNano": _nanos(at),
        "observedTimeUnixNano": _nanos(at),
        "body": any_value(body),
        "attributes": attributes({"event.name": name, "gen_ai.system": provider}),
    }


def _resource(tool: str | None) -> dict[str, Any]:
    return {"attributes": attributes({"service.name": tool or "unknown_service"})}


def write(records: Sequence[dict[str, Any]], path: Path) -> int:
    """Write `records` (openai-chat records) as OTLP/JSON lines; returns the number of
    interactions the `otel` reader gets back (one span per record)."""
    lines: list[str] = []
    for start in range(0, len(records), BATCH):
        spans: dict[str | None, list[dict[str, Any]]] = defaultdict(list)
        logs: dict[str | None, list[dict[str, Any]]] = defaultdict(list)
        for i, rec in enumerate(records[start : start + BATCH], start=start):
            span, records_of_call = _call(rec, STYLES[i % len(STYLES)])
            spans[rec.get("tool")].append(span)
            logs[rec.get("tool")].extend(records_of_call)
        if any(logs.values()):
            # The log batch usually reaches the exporter first: events are emitted while the
            # span is still open.
            lines.append(
                json.dumps(
                    {
                        "resourceLogs": [
                            {
                                "resource": _resource(tool),
                                "scopeLogs": [{"scope": SCOPE, "logRecords": items}],
                            }
                            for tool, items in logs.items()
                            if items
                        ]
                    },
                    ensure_ascii=False,
                    separators=(",", ":"),
                )
            )
        lines.append(
            json.dumps(
                {
                    "resourceSpans": [
                        {
                            "resource": _resource(tool),
                            "scopeSpans": [{"scope": SCOPE, "spans": items}],
                        }
                        for tool, items in spans.items()
                    ]
                },
                ensure_ascii=False,
                separators=(",", ":"),
            )
        )
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return len(records)
