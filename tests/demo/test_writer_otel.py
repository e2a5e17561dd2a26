"""The demo's interactions written as OTLP/JSON come back through the `otel` reader unchanged.

Failures name event ids and fields, never values: the demo's prompts hold planted data.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from auditor.db.models import Interaction
from auditor.demo import generate_demo
from auditor.demo.writers import otel as writer
from auditor.ingest.base import read_head
from auditor.ingest.otel import OTelReader
from auditor.ingest.registry import detect_format
from auditor.ingest.stage import ingest_paths
from auditor.normalize import normalize_openai_chat
from tests.conftest import chat_record

MAX = 16 * 1024 * 1024
# Fields the OTel conventions carry. The model is the response model (the request model is
# kept in attributes), as in the openai-chat reader.
FIELDS = (
    "user_id",
    "user_email",
    "prompt_text",
    "output_text",
    "model",
    "provider",
    "tool",
    "history_turns",
    "input_tokens",
    "output_tokens",
    "workflow",
    "session_id",
    "content_status",
)


@pytest.fixture(scope="module")
def demo_records(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    files = generate_demo(tmp_path_factory.mktemp("demo"), people=30, bad_lines=False)
    return [json.loads(line) for path in files.log_files for line in path.read_bytes().splitlines()]


def _differences(expected: Any, got: Interaction) -> list[str]:
    wrong = [f for f in FIELDS if getattr(got, f) != getattr(expected, f)]
    if got.occurred_at.replace(microsecond=0) != expected.occurred_at.replace(
        microsecond=0, tzinfo=None
    ):
        wrong.append("occurred_at")
    if got.attributes.get("account_type") != expected.attributes.get("account_type"):
        wrong.append("account_type")
    return wrong


def test_every_demo_record_round_trips(
    demo_records: list[dict[str, Any]], session: Session, tmp_path: Path
) -> None:
    path = tmp_path / f"otel{writer.SUFFIX}"
    assert writer.write(demo_records, path) == len(demo_records)
    reader = detect_format(path)
    assert reader is not None and reader.name == writer.FORMAT

    [res] = ingest_paths(session, [path], "auto", max_line_bytes=MAX)
    assert (res.total, res.loaded, res.rejected, res.duplicate) == (
        len(demo_records),
        len(demo_records),
        0,
        0,
    )
    assert res.reconciles and res.coverage_gaps == 0 and res.warnings == []

    rows = {r.event_id: r for r in session.scalars(select(Interaction))}
    mismatches = {}
    for record in demo_records:
        expected = normalize_openai_chat(record, source_format="openai-chat")
        got = rows.get(expected.event_id)
        if got is None:
            mismatches[expected.event_id] = ["missing"]
        elif wrong := _differences(expected, got):
            mismatches[expected.event_id] = wrong
    assert mismatches == {}


def test_the_writer_uses_every_generation_of_the_conventions(
    demo_records: list[dict[str, Any]], tmp_path: Path
) -> None:
    path = tmp_path / "otel.jsonl"
    writer.write(demo_records, path)
    reader = OTelReader()
    sources: Counter[str] = Counter()
    for item in reader.records(path, max_line_bytes=MAX):
        sources[reader.normalize(item).attributes["content_source"]] += 1  # type: ignore[arg-type]
    assert set(sources) == {"span_attributes", "log_events", "details_event", "span_events"}
    assert min(sources.values()) >= len(demo_records) // 4
    assert dict(reader.skipped) == {}
    # Several spans per line, logs in their own lines, as a Collector writes them.
    lines = path.read_bytes().splitlines()
    assert len(lines) < len(demo_records)
    assert {next(iter(json.loads(line))) for line in lines} == {"resourceSpans", "resourceLogs"}


@pytest.mark.parametrize(
    "record",
    [
        chat_record("e1", [{"type": "text", "text": "part one"}, {"type": "text", "text": "two"}]),
        chat_record("e2", None),  # no user message: nothing to scan
        chat_record("e3", "hi", output=None, workflow=None, email=None),
        chat_record("e4", "hi", tool=None),
    ],
    ids=["content parts", "no prompt", "no output, workflow or e-mail", "no tool"],
)
def test_edge_records_round_trip_in_every_style(record: dict[str, Any], tmp_path: Path) -> None:
    expected = normalize_openai_chat(record, source_format="openai-chat")
    for style in range(len(writer.STYLES)):
        # The record's position in the file picks the style.
        records = [chat_record(f"pad{i}", "x") for i in range(style)] + [record]
        path = tmp_path / f"s{style}.jsonl"
        writer.write(records, path)
        reader = OTelReader()
        got = {}
        for item in reader.records(path, max_line_bytes=MAX):
            rec = reader.normalize(item)  # type: ignore[arg-type]
            got[rec.event_id] = rec
        rec = got[expected.event_id]
        wrong = [f for f in FIELDS if getattr(rec, f) != getattr(expected, f)]
        assert wrong == [], writer.STYLES[style]
        assert rec.occurred_at == expected.occurred_at


def test_the_output_is_stable(demo_records: list[dict[str, Any]], tmp_path: Path) -> None:
    writer.write(demo_records[:50], tmp_path / "a.jsonl")
    writer.write(demo_records[:50], tmp_path / "b.jsonl")
    assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "b.jsonl").read_bytes()
    assert OTelReader().sniff(read_head(tmp_path / "a.jsonl"))
