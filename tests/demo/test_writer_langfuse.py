"""The demo month written as a Langfuse observations export reads back as the same
interactions.

Failures name event ids and fields, never the (synthetic but PII-shaped) text.
"""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from auditor.db.models import Interaction
from auditor.demo.writers import langfuse as writer
from auditor.ingest.registry import detect_format
from auditor.ingest.stage import ingest_paths
from auditor.normalize import normalize_openai_chat
from tests.demo.helpers import demo_records as _demo_records

COMPARED = (
    "user_id",
    "user_email",
    "tool",  # the trace name
    "model",  # the response's model (else the request's), as normalize_openai_chat picks it
    "prompt_text",
    "output_text",
    "history_turns",
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
    out = tmp_path / f"observations{writer.SUFFIX}"
    assert writer.write(records, out) == len(records)

    reader = detect_format(out)
    assert reader is not None and reader.name == writer.FORMAT
    [res] = ingest_paths(session, [out], "auto", max_line_bytes=16 * 1024 * 1024)
    assert (res.total, res.loaded, res.rejected, res.duplicate) == (
        len(records),
        len(records),
        0,
        0,
    )
    assert res.reconciles and res.warnings == []

    rows = {r.event_id: r for r in session.scalars(select(Interaction))}
    mismatches: list[tuple[str, str]] = []
    multi_turn = parts = 0
    for record in records:
        want = normalize_openai_chat(record, source_format="openai-chat")
        got = rows[writer.observation_id(record)]
        mismatches += [(want.event_id, f) for f in COMPARED if getattr(got, f) != getattr(want, f)]
        if got.occurred_at.replace(microsecond=0) != want.occurred_at.replace(
            microsecond=0, tzinfo=None
        ):
            mismatches.append((want.event_id, "occurred_at"))
        for key in ("account_type", "gateway", "client_ip"):
            if got.attributes.get(key) != want.attributes.get(key):
                mismatches.append((want.event_id, key))
        multi_turn += want.history_turns > 1
        parts += isinstance(record["request"]["messages"][-1]["content"], list)
    assert mismatches == []
    # The month exercises the shapes that matter: resent histories and content parts.
    assert multi_turn > 0 and parts > 0


def test_rows_look_like_the_export(tmp_path: Path) -> None:
    record = _demo_records(tmp_path)[0]
    row = writer.row(record)
    assert row["type"] == "GENERATION"
    assert len(row["id"]) == 16 and len(row["trace_id"]) == 32
    assert row["start_time"][10] == " " and len(row["start_time"]) == 26  # no T, no zone
    assert json.loads(row["input"]) == record["request"]["messages"]  # JSON inside a string
    assert row["usage_details"]["total"] == (
        row["usage_details"]["input"] + row["usage_details"]["output"]
    )
    assert writer.row(record) == row  # the same record always gives the same row
