"""The demo month written as Claude Code OpenTelemetry events reads back as the same
interactions.

Failures name event ids and fields, never the (synthetic but PII-shaped) text.
"""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from auditor.db.models import Interaction
from auditor.demo.writers import claude_code as writer
from auditor.ingest.registry import detect_format
from auditor.ingest.stage import ingest_paths
from auditor.normalize import normalize_openai_chat
from tests.demo.helpers import demo_records as _demo_records

MAX = 16 * 1024 * 1024
COMPARED = (
    "user_id",  # enduser.id, which the bank stamps through OTEL_RESOURCE_ATTRIBUTES
    "user_email",
    "model",  # the response's model, as normalize_openai_chat picks it
    "prompt_text",
    "output_text",
    "input_tokens",
    "output_tokens",
    "cost_usd",
    "session_id",
    "workflow",
    "content_status",
)


def test_every_demo_record_round_trips(session: Session, tmp_path: Path) -> None:
    records = _demo_records(tmp_path)
    assert len(records) > 100
    out = tmp_path / f"claude-code{writer.SUFFIX}"
    assert writer.write(records, out) == len(records)

    reader = detect_format(out)
    assert reader is not None and reader.name == writer.FORMAT
    [res] = ingest_paths(session, [out], "auto", max_line_bytes=MAX)
    assert (res.total, res.loaded, res.rejected, res.duplicate) == (
        len(records),
        len(records),
        0,
        0,
    )
    assert res.reconciles and res.warnings == []

    rows = {r.event_id: r for r in session.scalars(select(Interaction))}
    mismatches: list[tuple[str, str]] = []
    for record in records:
        want = normalize_openai_chat(record, source_format="openai-chat")
        got = rows[writer.prompt_id_for(record)]
        mismatches += [(want.event_id, f) for f in COMPARED if getattr(got, f) != getattr(want, f)]
        if got.occurred_at.replace(microsecond=0) != want.occurred_at.replace(
            microsecond=0, tzinfo=None
        ):
            mismatches.append((want.event_id, "occurred_at"))
        if got.attributes.get("account_type") != want.attributes.get("account_type"):
            mismatches.append((want.event_id, "account_type"))
        if (got.tool, got.provider, got.source_format) != (
            "claude-code",
            "anthropic",
            "claude-code",
        ):
            mismatches.append((want.event_id, "tool"))
    assert mismatches == []


def test_events_of_one_prompt_span_lines(tmp_path: Path) -> None:
    """The writer batches by export interval, so the reader's join across lines is used."""
    records = _demo_records(tmp_path)[:60]
    out = tmp_path / "cc.jsonl"
    writer.write(records, out)
    lines_of: dict[str, set[int]] = {}
    for line_no, line in enumerate(out.read_text(encoding="utf-8").splitlines(), start=1):
        for res in json.loads(line)["resourceLogs"]:
            for rec in res["scopeLogs"][0]["logRecords"]:
                attrs = {a["key"]: a["value"] for a in rec["attributes"]}
                lines_of.setdefault(attrs["prompt.id"]["stringValue"], set()).add(line_no)
    assert len(lines_of) == len(records)
    assert sum(len(lines) > 1 for lines in lines_of.values()) > len(records) // 2


def test_output_is_deterministic(tmp_path: Path) -> None:
    records = _demo_records(tmp_path)
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    writer.write(records, first)
    writer.write(list(reversed(records)), second)  # order of input does not matter
    assert first.read_bytes() == second.read_bytes()
