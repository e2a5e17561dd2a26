"""Claude Code `tool_decision` events become agent-action attributes the policies read."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from auditor.ingest.base import RawRecord
from auditor.ingest.registry import get_reader


def _kv(attrs: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"key": k, "value": {"stringValue": str(v)}} for k, v in attrs.items()]


def _line(events: list[tuple[str, dict[str, Any]]]) -> str:
    import json

    records = []
    for n, (name, attrs) in enumerate(events, start=1):
        base = {
            "session.id": "s-1",
            "prompt.id": "p-1",
            "user.email": "ann.lee@northbridge-bank.example",
            "event.name": name,
            "event.timestamp": f"2026-10-05T10:00:0{n}.000Z",
            "event.sequence": n,
        }
        records.append(
            {
                "timeUnixNano": str(1791194400_000_000_000 + n * 1_000_000_000),
                "body": {"stringValue": f"claude_code.{name}"},
                "attributes": _kv({**base, **attrs}),
            }
        )
    doc = {
        "resourceLogs": [
            {
                "resource": {"attributes": _kv({"service.name": "claude-code"})},
                "scopeLogs": [
                    {"scope": {"name": "com.anthropic.claude_code.events"}, "logRecords": records}
                ],
            }
        ]
    }
    return json.dumps(doc)


@pytest.mark.parametrize(
    ("decisions", "expected"),
    [
        ([], {}),
        ([("Read", "config")], {}),
        (
            [("Bash", "config")],
            {"agent_action": "execute", "action_approved": False},
        ),
        (
            [("Edit", "user_temporary")],
            {"agent_action": "write", "action_approved": True},
        ),
        (
            [("Edit", "user_permanent"), ("Bash", "hook")],
            {"agent_action": "execute", "action_approved": False},
        ),
    ],
)
def test_tool_decisions(
    tmp_path: Path, decisions: list[tuple[str, str]], expected: dict[str, Any]
) -> None:
    events: list[tuple[str, dict[str, Any]]] = [("user_prompt", {"prompt": "fix the build"})]
    for tool, source in decisions:
        events.append(
            ("tool_decision", {"tool_name": tool, "decision": "accept", "source": source})
        )
    events.append(("api_request", {"model": "claude-sonnet-4", "input_tokens": 10}))
    path = tmp_path / "cc.jsonl"
    path.write_text(_line(events) + "\n")
    reader = get_reader("claude-code")
    items = [i for i in reader.records(path, max_line_bytes=1 << 20) if isinstance(i, RawRecord)]
    (rec,) = [reader.normalize(i) for i in items]
    got = {k: rec.attributes[k] for k in ("agent_action", "action_approved") if k in rec.attributes}
    assert got == expected
