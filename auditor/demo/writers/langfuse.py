"""The demo's interactions as a Langfuse blob-storage export of enriched observations (JSONL).

Each record becomes one GENERATION row of `observations_v2/`, as the Langfuse OpenAI
integration records a chat completion in an app that sets the trace's user and session: the
request's messages as the JSON-encoded `input` (history included), the reply message as the
JSON-encoded `output`, the response's model (else the request's) as `provided_model_name`,
tokens in `usage_details` and the gateway's cost in `total_cost`. The trace context is the
gateway's: `user_id` (the employee id), `session_id`, `trace_name` (the tool) and a
`workflow:<name>` tag; the e-mail, account type, gateway and client address go in metadata.
Timestamps are the export's `YYYY-MM-DD HH:MM:SS.ffffff` UTC: `start_time` is the record's
time, `end_time` the response's `created`.

Observation and trace ids are derived from the response id (`observation_id`), so the same
record always gets the same row. Only generations are written: an app's spans would be read
back as skipped rows, which the demo's clean month does not want.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from auditor.normalize import normalize_openai_chat, object_at, to_utc

FORMAT = "langfuse"
SUFFIX = ".jsonl"
PROJECT_ID = "cm-northbridge-demo-project"
METADATA_KEYS = ("account_type", "gateway", "client_ip")


def _json(value: Any) -> str:
    # Compact, as Langfuse's JavaScript `JSON.stringify` writes nested JSON.
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")


def _digest(kind: str, key: str, length: int) -> str:
    return hashlib.sha256(f"{kind}:{key}".encode()).hexdigest()[:length]


def observation_id(record: dict[str, Any]) -> str:
    """The row id (a 16-hex OTel span id, as Langfuse SDK v3 writes) for a record."""
    return _digest("observation", str(record["response"]["id"]), 16)


def _output(response: dict[str, Any]) -> str:
    choices = [c for c in response.get("choices") or [] if isinstance(c, dict)]
    if not choices:
        return ""
    if len(choices) == 1 and isinstance(choices[0].get("message"), dict):
        return _json(choices[0]["message"])
    return _json({"choices": choices})


def row(record: dict[str, Any]) -> dict[str, Any]:
    """One `observations_v2/` row for an openai-chat record.

    Raises auditor.normalize.RecordError for a record the openai-chat reader would reject.
    """
    normalize_openai_chat(record, source_format="openai-chat")  # the same records, or none
    request, response = record["request"], record.get("response") or {}
    user = object_at(record, "user")
    started = to_utc(record.get("timestamp", response.get("created")))
    ended = to_utc(response["created"]) if response.get("created") is not None else started
    usage = response.get("usage") or {}
    usage_details = {
        key: usage[source]
        for key, source in (("input", "prompt_tokens"), ("output", "completion_tokens"))
        if usage.get(source) is not None
    }
    if usage_details:
        usage_details["total"] = sum(usage_details.values())
    cost = record.get("cost_usd")
    metadata = {k: record[k] for k in METADATA_KEYS if isinstance(record.get(k), str)}
    # The app's own trace metadata: review and external-use flags (see demo/logs.py).
    extra = object_at(record, "metadata")
    metadata.update({k: v for k, v in extra.items() if isinstance(v, bool | int | float | str)})
    email = user.get("email") or record.get("user_email")
    if email:
        metadata["user_email"] = email
    workflow = record.get("workflow")
    return {
        "id": observation_id(record),
        "trace_id": _digest("trace", str(response["id"]), 32),
        "project_id": PROJECT_ID,
        "environment": "production",
        "type": "GENERATION",
        "parent_observation_id": "",
        "is_root_observation": True,
        "start_time": _stamp(started),
        "end_time": _stamp(ended),
        "completion_start_time": None,
        "name": "OpenAI-generation",
        "metadata": metadata,
        "level": "DEFAULT",
        "status_message": "",
        "version": "",
        "input": _json(request["messages"]),
        "output": _output(response),
        "provided_model_name": response.get("model") or request.get("model") or "",
        "model_parameters": _json(
            {k: request[k] for k in ("temperature", "top_p", "max_tokens") if k in request}
        ),
        "usage_details": usage_details,
        "cost_details": {"total": cost} if cost is not None else {},
        "total_cost": cost if cost is not None else 0,
        "latency": round((ended - started).total_seconds(), 3),
        "prompt_name": "",
        "prompt_version": None,
        "created_at": _stamp(ended),
        "updated_at": _stamp(ended),
        "tool_calls": [],
        "tool_call_names": [],
        "user_id": str(user.get("id") or record.get("user_id") or email or ""),
        "session_id": record.get("session_id") or "",
        "trace_name": record.get("tool") or "",
        "tags": [f"workflow:{workflow}"] if workflow else [],
        "release": "",
        "bookmarked": False,
        "public": False,
    }


def write(records: Sequence[dict[str, Any]], path: Path) -> int:
    """Write `records` (openai-chat dicts) to `path` as Langfuse JSONL; return the number of
    generations written. Raises auditor.normalize.RecordError for an unusable record."""
    with path.open("w", encoding="utf-8", newline="\n") as fh:
        for record in records:
            fh.write(_json(row(record)) + "\n")
    return len(records)
