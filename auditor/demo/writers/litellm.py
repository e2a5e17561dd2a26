"""The demo's interactions as a LiteLLM_SpendLogs CSV export (`psql \\copy ... with csv header`).

Written as a proxy configured the way banks commonly run LiteLLM: each application holds its
own virtual key (key alias = the application, no key owner) and passes the employee as the
request's `user` (the `end_user` column) and the employee's e-mail in `spend_logs_metadata`.
Prompts are stored (`store_prompts_in_spend_logs: true`), and, as LiteLLM does, the `messages`
column is `{}` while the request body sits in `proxy_server_request`. Timestamps use
PostgreSQL's CSV style (`2026-10-01 00:21:50.000+00`). The workflow is a `workflow:<name>`
request tag. `model` is the request model; the response (with the provider's model) is kept
whole in `response`.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from auditor.ingest.litellm import SPEND_LOGS_COLUMNS
from auditor.normalize import object_at, to_utc

FORMAT = "litellm"
SUFFIX = ".csv"


def _pg_time(moment: datetime) -> str:
    return (
        moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.")
        + f"{moment.microsecond // 1000:03d}+00"
    )


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _row(record: dict[str, Any]) -> dict[str, Any]:
    request = record.get("request") or {}
    response = record.get("response") or {}
    user = object_at(record, "user")
    user_id = user.get("id") or record.get("user_id")
    email = user.get("email") or record.get("user_email")
    tool = record.get("tool")
    usage = response.get("usage") or {}
    prompt_tokens = int(usage.get("prompt_tokens") or 0)
    completion_tokens = int(usage.get("completion_tokens") or 0)

    start = to_utc(record.get("timestamp", response.get("created")))
    created = response.get("created")
    end = to_utc(created) if isinstance(created, int | float) else start
    end = max(end, start + timedelta(milliseconds=1))
    # A stable stand-in for LiteLLM's sha256 of the virtual key, one key per application.
    key_hash = hashlib.sha256(f"sk-demo-{tool}".encode()).hexdigest()

    spend_logs_metadata = {
        k: v
        for k, v in (
            ("user_email", email),
            ("account_type", record.get("account_type")),
            ("gateway", record.get("gateway")),
        )
        if v
    }
    # The calling app's request metadata: review and external-use flags (see demo/logs.py).
    extra = object_at(record, "metadata")
    spend_logs_metadata.update(
        {k: v for k, v in extra.items() if isinstance(v, bool | int | float | str)}
    )
    metadata: dict[str, Any] = {
        "user_api_key": key_hash,
        "user_api_key_alias": tool,
        "user_api_key_team_id": None,
        "user_api_key_org_id": None,
        "user_api_key_user_id": None,
        "user_api_key_team_alias": None,
        "spend_logs_metadata": spend_logs_metadata or None,
        "requester_ip_address": record.get("client_ip"),
        "applied_guardrails": [],
        "status": "success",
        "error_information": None,
        "additional_usage_values": {},
    }
    body = {"model": request.get("model"), "messages": request.get("messages") or []}
    if user_id:
        body["user"] = user_id
    workflow = record.get("workflow")
    return {
        "request_id": response.get("id") or record.get("id") or record.get("custom_id"),
        "call_type": "acompletion",
        "api_key": key_hash,
        # Unknown cost stays empty rather than claiming 0.0 (the column default).
        "spend": record.get("cost_usd"),
        "total_tokens": prompt_tokens + completion_tokens,
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "startTime": _pg_time(start),
        "endTime": _pg_time(end),
        "request_duration_ms": int((end - start).total_seconds() * 1000),
        "completionStartTime": _pg_time(end),
        "model": request.get("model") or "",
        "model_id": "",
        "model_group": request.get("model") or "",
        "custom_llm_provider": record.get("provider") or "openai",
        "api_base": "",
        "user": "",
        "metadata": _dumps(metadata),
        "cache_hit": "False",
        "cache_key": "Cache OFF",
        "request_tags": _dumps([f"workflow:{workflow}"] if workflow else []),
        "team_id": None,
        "organization_id": None,
        "end_user": user_id,
        "requester_ip_address": record.get("client_ip"),
        "messages": "{}",
        "response": _dumps(response) if response else "{}",
        "session_id": record.get("session_id"),
        "status": "success",
        "mcp_namespaced_tool_name": None,
        "agent_id": None,
        "proxy_server_request": _dumps(body),
    }


def write(records: Sequence[dict[str, Any]], path: Path) -> int:
    """Write the records as LiteLLM_SpendLogs CSV rows; returns how many rows were written."""
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\r\n")
        writer.writerow(SPEND_LOGS_COLUMNS)
        for record in records:
            row = _row(record)
            writer.writerow(["" if row[c] is None else row[c] for c in SPEND_LOGS_COLUMNS])
    return len(records)
