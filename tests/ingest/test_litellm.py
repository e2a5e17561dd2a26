"""The LiteLLM reader: spend-logs rows (JSON Lines, CSV) and StandardLoggingPayload lines.

Prompt and output text are compared by fingerprint, so a failing assertion prints no content.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from auditor.db.models import Interaction
from auditor.ingest.base import HEAD_BYTES, RawRecord, Rejected, read_head
from auditor.ingest.litellm import SPEND_LOGS_COLUMNS, LiteLLMReader, normalize_litellm
from auditor.ingest.registry import detect_format
from auditor.ingest.stage import Mappings, ingest_paths
from auditor.normalize import RecordError
from tests.conftest import DATA, chat_record

LOGS = DATA / "logs"
SAMPLES = LOGS / "litellm"
MAX = 1 << 20
READER = LiteLLMReader()


def fp(text: str | None) -> str | None:
    """A fingerprint of a text, so assertions never print the text itself."""
    return None if text is None else hashlib.sha256(text.encode()).hexdigest()[:16]


def rows_by_event(session: Session) -> dict[str, Interaction]:
    query = select(Interaction).where(Interaction.source_format == "litellm")
    return {row.event_id: row for row in session.scalars(query)}


def spend_row(**changes: Any) -> dict[str, Any]:
    """A LiteLLM_SpendLogs row as LiteLLM writes it (metadata and tags as JSON text)."""
    row: dict[str, Any] = {
        "request_id": "chatcmpl-t1",
        "call_type": "acompletion",
        "api_key": "88dc28d0f030c55ed4ab77ed8faf098196cb1c05df778539800c9f1243fe6b4b",
        "spend": 0.0004,
        "total_tokens": 42,
        "prompt_tokens": 12,
        "completion_tokens": 30,
        "startTime": "2026-10-05T10:00:00Z",
        "endTime": "2026-10-05T10:00:02Z",
        "model": "gpt-4o",
        "model_group": "gpt-4o",
        "custom_llm_provider": "openai",
        "user": "u00001",
        "metadata": json.dumps({"user_api_key_user_id": "u00001", "status": "success"}),
        "cache_hit": "False",
        "request_tags": "[]",
        "end_user": "",
        "messages": json.dumps([{"role": "user", "content": "Draft a memo."}]),
        "response": "{}",
        "session_id": "s-1",
        "status": "success",
        "proxy_server_request": "{}",
    }
    row.update(changes)
    return row


def payload(**changes: Any) -> dict[str, Any]:
    """A StandardLoggingPayload as LiteLLM's logging callbacks write it."""
    obj: dict[str, Any] = {
        "id": "chatcmpl-p1",
        "trace_id": "trace-1",
        "call_type": "acompletion",
        "stream": False,
        "response_cost": 0.0003,
        "status": "success",
        "custom_llm_provider": "openai",
        "prompt_tokens": 12,
        "completion_tokens": 30,
        "total_tokens": 42,
        "startTime": 1791194400.25,
        "endTime": 1791194402.0,
        "model": "gpt-4o",
        "model_group": "gpt-4o",
        "metadata": {"user_api_key_user_id": "u00001", "user_api_key_alias": "research-desk"},
        "request_tags": [],
        "end_user": None,
        "messages": [{"role": "user", "content": "Draft a memo."}],
        "response": {"choices": [{"message": {"role": "assistant", "content": "Here."}}]},
    }
    obj.update(changes)
    return obj


def meta(**values: Any) -> dict[str, Any]:
    return {"user_api_key_user_id": None, **values}


def write_csv(path: Path, rows: list[dict[str, Any]], header: list[str] | None = None) -> Path:
    columns = header or list(SPEND_LOGS_COLUMNS)
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(columns)
        for row in rows:
            writer.writerow(["" if row.get(c) is None else row.get(c) for c in columns])
    return path


def write_lines(path: Path, objs: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(o) + "\n" for o in objs), encoding="utf-8")
    return path


# ------------------------------------------------------------------------------------------
# Detection


@pytest.mark.parametrize("name", sorted(p.name for p in SAMPLES.iterdir()))
def test_every_sample_is_detected_as_litellm(name: str) -> None:
    reader = detect_format(SAMPLES / name)
    assert reader is not None and reader.name == "litellm"


OTHER_FORMAT_FILES = sorted(p for p in LOGS.rglob("*") if p.is_file() and SAMPLES not in p.parents)


@pytest.mark.parametrize("path", OTHER_FORMAT_FILES, ids=lambda p: str(p.relative_to(LOGS)))
def test_sniff_does_not_claim_other_formats(path: Path) -> None:
    assert not READER.sniff(read_head(path))


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (json.dumps(chat_record("c1", "x")).encode() + b"\n", False),
        # A Langfuse-style record that carries LiteLLM fields only nested in its metadata.
        (
            json.dumps(
                {"id": "obs-1", "type": "GENERATION", "metadata": spend_row(), "input": []}
            ).encode(),
            False,
        ),
        (b"event_id,occurred_at,user_id,prompt_text\r\ne1,2026-10-05,u1,hi\r\n", False),
        (b"request_id,model,spend\r\n", False),  # no call_type: not a spend-logs export
        (b"", False),
        (b"hello world\n", False),
        (json.dumps(spend_row()).encode() + b"\n", True),
        (json.dumps(payload()).encode() + b"\n", True),
        # A damaged first line does not decide; a byte-order mark is skipped.
        (b'\xef\xbb\xbf{"request_id": "x", "call_\n' + json.dumps(payload()).encode(), True),
        (b"\xef\xbb\xbf" + ",".join(SPEND_LOGS_COLUMNS).encode() + b"\r\n", True),
        (",".join(SPEND_LOGS_COLUMNS).lower().encode() + b"\n", True),
        # A first record longer than the sniffed head is judged by its key names.
        (json.dumps(spend_row(messages="x" * HEAD_BYTES)).encode()[:HEAD_BYTES], True),
    ],
)
def test_sniff_table(head: bytes, expected: bool) -> None:
    assert READER.sniff(head) is expected


# ------------------------------------------------------------------------------------------
# Sample files: exact counts, rejections by line


@pytest.mark.parametrize(
    ("name", "counts", "rejected_lines"),
    [
        # total, loaded, duplicate, rejected, coverage gaps
        ("spend_logs.jsonl", (10, 9, 1, 0, 2), []),
        ("spend_logs.csv", (4, 4, 0, 0, 1), []),
        ("standard_logging_payload.jsonl", (7, 7, 0, 0, 2), []),
        ("broken.jsonl", (15, 2, 0, 13, 0), [2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 14, 15]),
        ("broken.csv", (7, 2, 0, 5, 0), [3, 4, 6, 7, 8]),
    ],
)
def test_sample_counts(
    session: Session, name: str, counts: tuple[int, ...], rejected_lines: list[int]
) -> None:
    [res] = ingest_paths(session, [SAMPLES / name], "auto", max_line_bytes=MAX)
    assert res.source_format == "litellm"
    assert (res.total, res.loaded, res.duplicate, res.rejected, res.coverage_gaps) == counts
    assert res.reconciles
    assert [line for line, _ in res.rejections] == rejected_lines


@pytest.mark.parametrize(
    ("name", "line", "reason"),
    [
        ("broken.jsonl", 2, "not valid JSON"),
        ("broken.jsonl", 3, "prompt_tokens is not a number"),
        ("broken.jsonl", 4, "`metadata` is not valid JSON"),
        ("broken.jsonl", 5, "no user identity"),
        ("broken.jsonl", 6, "timestamp is not ISO 8601 or epoch"),
        ("broken.jsonl", 7, "timestamp is missing"),
        ("broken.jsonl", 8, "`messages` is nested too deeply"),
        ("broken.jsonl", 9, "`user` is longer than 255 characters"),
        ("broken.jsonl", 11, "`messages` mixes chat messages"),
        ("broken.jsonl", 12, "expected a JSON object"),
        ("broken.jsonl", 13, "`metadata` is not an object"),
        ("broken.jsonl", 14, "not a LiteLLM record"),
        ("broken.jsonl", 15, "spend is out of range"),
        ("broken.csv", 3, "row has 4 fields, the header has 22"),
        ("broken.csv", 4, "malformed CSV row"),
        ("broken.csv", 6, "no user identity"),
        ("broken.csv", 7, "timestamp is not ISO 8601 or epoch"),
        ("broken.csv", 8, "prompt_tokens is not a number"),
    ],
)
def test_rejection_reasons(session: Session, name: str, line: int, reason: str) -> None:
    [res] = ingest_paths(session, [SAMPLES / name], "litellm", max_line_bytes=MAX)
    assert reason in dict(res.rejections)[line]


@pytest.mark.parametrize("name", ["broken.jsonl", "broken.csv"])
def test_invalid_utf8_is_repaired_and_kept_with_a_warning(session: Session, name: str) -> None:
    [res] = ingest_paths(session, [SAMPLES / name], "litellm", max_line_bytes=MAX)
    line = 10 if name.endswith(".jsonl") else 5
    assert any(n == line and "invalid UTF-8 replaced" in w for n, w in res.warnings)
    repaired = [r for r in rows_by_event(session).values() if r.source_line == line]
    assert len(repaired) == 1 and repaired[0].attributes["encoding_repaired"] is True
    assert "\ufffd" in (repaired[0].prompt_text or "")


# ------------------------------------------------------------------------------------------
# Field-level expectations per record

FIELDS: list[tuple[str, str, dict[str, Any], str | None, str | None]] = [
    # (file, event id, expected fields, prompt, output)
    (
        "spend_logs.jsonl",
        "chatcmpl-AqX1sL0gk2n8t5dYwQ3rT9b1",
        {
            "occurred_at": datetime(2026, 10, 5, 9, 14, 3, 512000),
            "user_id": "u10231",
            "user_email": "priya.nair@northbridge-bank.example",
            "tool": "research-desk",
            "provider": "openai",
            "model": "gpt-4o",
            "history_turns": 1,
            "input_tokens": 41,
            "output_tokens": 18,
            "cost_usd": 0.000283,
            "session_id": "4f1c2a9e-6d0b-4a47-9a8e-2b51f0c3d7aa",
            "workflow": "research",
            "content_status": "present",
            "source_line": 1,
            "attributes": {
                "identity_source": "key_owner",
                "tool_source": "key_alias",
                "prompt_source": "messages",
                "account_type": "enterprise_sso",
                "status": "success",
                "litellm_shape": "spend_logs",
            },
        },
        "Summarise the attached FX settlement policy in five bullets.",
        "- Settlement is T+2 for spot.\n- Netting applies per counterparty.",
    ),
    (
        "spend_logs.jsonl",
        "chatcmpl-Br7kP2mZ9qL4xV8nC1eT6yH3",
        {
            "occurred_at": datetime(2026, 10, 5, 11, 2, 45, 120000),
            "user_id": "u20417",
            "user_email": "mark.ellis@northbridge-bank.example",
            "tool": "atlas-internal",
            "history_turns": 3,
            "workflow": "client_comm",
            "session_id": "sess-7d2e",
            "content_status": "present",
            "attributes": {
                "identity_source": "end_user",
                "key_owner": "svc-atlas",
                "prompt_source": "proxy_server_request",
                "team_id": "team-ops",
            },
        },
        "Make it shorter and more formal.",
        "Dear client, our cut-off for same-day wires is 4 pm ET.",
    ),
    (
        "spend_logs.jsonl",
        "chatcmpl-Cm4nR8sT1uV5wX9yZ2aB6cD0",
        {"user_id": "u10231", "content_status": "not_stored", "input_tokens": 120},
        None,
        None,
    ),
    (
        "spend_logs.jsonl",
        "msg_01XyZaBcDeFgHiJkLmNoPq",
        {
            "occurred_at": datetime(2026, 10, 6, 13, 45, 10),
            "user_id": "Dana.Kim@Northbridge-Bank.example",
            "user_email": "dana.kim@northbridge-bank.example",
            "tool": "claude-team-key",
            "provider": "anthropic",
            "model": "anthropic/claude-sonnet-4-20250514",
            "workflow": "research",
            "session_id": None,
            "attributes": {"identity_source": "end_user", "call_type": "anthropic_messages"},
        },
        "Explain the difference between VaR and expected shortfall.",
        "VaR is a quantile; ES averages the tail beyond it.",
    ),
    (
        "spend_logs.jsonl",
        "b7d1e0c2-5a4f-4c3e-8d2b-1f0a9e8d7c6b",
        {
            "user_id": "u30552",
            "provider": "azure",
            "model": "azure/gpt-4.1-eu",
            "content_status": "present",
            "attributes": {
                "status": "failure",
                "error_class": "RateLimitError",
                "error_code": "429",
                "model_group": "gpt-4.1",
            },
        },
        "Write a SQL query for accounts with more than 3 returned payments.",
        None,
    ),
    (
        "spend_logs.jsonl",
        "chatcmpl-AqX1sL0gk2n8t5dYwQ3rT9b1_cache_hit1791193000.1234",
        {"cost_usd": 0.0, "attributes": {"cache_hit": True}},
        "Summarise the attached FX settlement policy in five bullets.",
        "- Settlement is T+2 for spot.\n- Netting applies per counterparty.",
    ),
    (
        "spend_logs.jsonl",
        "chatcmpl-Dq8rS3tU7vW1xY5zA9bC3dE7",
        {"user_id": "u40108", "content_status": "redacted", "tool": "hr-assistant"},
        None,
        None,
    ),
    (
        "spend_logs.jsonl",
        "e2c4a6b8-0d1f-4e3a-9b5c-7d9e1f3a5b7c",
        {"model": "text-embedding-3-small", "attributes": {"call_type": "aembedding"}},
        "Client onboarding checklist v3\nKYC refresh cadence",
        None,
    ),
    (
        "spend_logs.jsonl",
        "chatcmpl-Ev2wX6yZ0aB4cD8eF2gH6iJ0",
        {
            "occurred_at": datetime(2026, 10, 8, 10, 0),
            "tool": "contract-checker",
            "workflow": "deal_team",
            "attributes": {"tool_source": "metadata", "content_truncated": True},
        },
        "Review this contract clause: "
        + "A" * 40
        + "... (litellm_truncated skipped 48210 chars) ..."
        + "B" * 40,
        None,
    ),
    (
        "spend_logs.csv",
        "chatcmpl-Fa1bC2dE3fG4hI5jK6lM7nO8",
        {
            "occurred_at": datetime(2026, 10, 9, 9, 0, 0, 250000),
            "user_id": "u10231",
            "user_email": "priya.nair@northbridge-bank.example",
            "workflow": "research",
            "source_line": 2,
            "history_turns": 1,
        },
        'List three risks of "same-day" ACH, with commas, please.',
        "Fraud, returns, liquidity.",
    ),
    (
        "spend_logs.csv",
        "chatcmpl-Gb2cD3eF4gH5iJ6kL7mN8oP9",
        {"source_line": 23, "content_status": "not_stored", "cost_usd": 0.0017},
        None,
        None,
    ),
    (
        "spend_logs.csv",
        "c3d5e7f9-1a2b-4c6d-8e0f-2a4b6c8d0e1f",
        {
            "occurred_at": datetime(2026, 10, 9, 10, 15, 42, 500000),
            "source_line": 24,
            "session_id": None,
            "attributes": {"status": "failure", "identity_source": "end_user"},
        },
        "Fix this Python: for i in range(10) print(i)",
        None,
    ),
    (
        "spend_logs.csv",
        "chatcmpl-Hc3dE4fG5hI6jK7lM8nO9pQ0",
        {
            "user_email": "carlos.mendez@northbridge-bank.example",
            "tool": "open-webui",
            "workflow": "client_comm",
            "source_line": 25,
            "attributes": {"tool_source": "request_tags", "team_id": "team-wealth"},
        },
        "Draft a note to a client about rebalancing their portfolio.",
        "Dear client,\nWe propose a modest rebalance.",
    ),
    (
        "standard_logging_payload.jsonl",
        "chatcmpl-Ja1kB2lC3mD4nE5oF6pG7qH8",
        {
            "occurred_at": datetime(2026, 10, 6, 9, 0, 0, 125000),
            "user_id": "u10231",
            "user_email": "priya.nair@northbridge-bank.example",
            "tool": "research-desk",
            "cost_usd": 0.000193,
            "session_id": "3e9f6a1b-7c2d-4e8f-a0b1-c2d3e4f5a6b7",
            "workflow": "research",
            "attributes": {
                "litellm_shape": "standard_logging_payload",
                "stream": True,
                "team_alias": "Research",
            },
        },
        "What does Basel III say about the leverage ratio floor?",
        "A minimum of 3% Tier 1 capital to total exposure.",
    ),
    (
        "standard_logging_payload.jsonl",
        "chatcmpl-Kb2lC3mD4nE5oF6pG7qH8rI9",
        {
            "user_id": "u20417",
            # The shared key's owner e-mail (ai-platform@...) is not the employee's.
            "user_email": "mark.ellis@northbridge-bank.example",
            "tool": "open-webui",
            "session_id": "conv-5521",
            "workflow": "client_comm",
            "attributes": {
                "identity_source": "end_user",
                "key_owner": "svc-openwebui",
                "account_type": "enterprise_sso",
            },
        },
        "Write a polite follow-up to a client who missed a KYC document deadline.",
        "Dear client, a gentle reminder about your outstanding documents.",
    ),
    (
        "standard_logging_payload.jsonl",
        "chatcmpl-Lc3mD4nE5oF6pG7qH8rI9sJ0",
        {"content_status": "not_stored", "input_tokens": 300, "output_tokens": 150},
        None,
        None,
    ),
    (
        "standard_logging_payload.jsonl",
        "d4e5f6a7-b8c9-4d0e-8f1a-2b3c4d5e6f7a",
        {
            "user_email": "sam.okafor@northbridge-bank.example",
            "content_status": "present",
            "attributes": {"status": "failure", "error_class": "ContextWindowExceededError"},
        },
        "Convert this COBOL paragraph to Java.",
        None,
    ),
    (
        "standard_logging_payload.jsonl",
        "chatcmpl-Md4nE5oF6pG7qH8rI9sJ0tK1",
        {"content_status": "redacted", "user_email": "lee.wong@northbridge-bank.example"},
        None,
        None,
    ),
    (
        "standard_logging_payload.jsonl",
        "cmpl-Ne5oF6pG7qH8rI9sJ0tK1uL2",
        {
            "tool": "ops-digest",
            "workflow": "internal_drafting",
            "session_id": None,
            "history_turns": 0,
        },
        "Summarise: quarterly operational losses fell 12% on lower fraud.",
        "Operational losses down 12%, mainly fraud.",
    ),
    (
        "standard_logging_payload.jsonl",
        "resp_67f0a1b2c3d4e5f6a7b8c9d0",
        {
            "user_id": None,
            "user_email": "ana.costa@northbridge-bank.example",
            "session_id": "f5a6b7c8-d9e0-4f1a-8b2c-3d4e5f6a7b8c",
            "attributes": {"identity_source": "email", "response_model": "gpt-4.1-2025-04-14"},
        },
        "Write a unit test for the IBAN validator.",
        "def test_valid_iban():\n    assert is_valid('GB82WEST12345698765432')",
    ),
]


@pytest.mark.parametrize(
    ("name", "event_id", "expected", "prompt", "output"),
    FIELDS,
    ids=[f"{f[0]}:{f[1][:24]}" for f in FIELDS],
)
def test_fields(
    session: Session,
    name: str,
    event_id: str,
    expected: dict[str, Any],
    prompt: str | None,
    output: str | None,
) -> None:
    ingest_paths(session, [SAMPLES / name], "litellm", max_line_bytes=MAX)
    row = rows_by_event(session)[event_id]
    for field, value in expected.items():
        if field == "attributes":
            assert {k: row.attributes.get(k) for k in value} == value
        else:
            assert getattr(row, field) == value, field
    assert fp(row.prompt_text) == fp(prompt), "prompt_text differs"
    assert fp(row.output_text) == fp(output), "output_text differs"
    # Never raw content in attributes: only short scalars.
    assert all(isinstance(v, str | int | float | bool | list) for v in row.attributes.values())


# ------------------------------------------------------------------------------------------
# Idempotency, gzip, the same calls in both shapes


def test_same_file_twice_adds_nothing(session: Session, tmp_path: Path) -> None:
    first = ingest_paths(session, [SAMPLES], "auto", max_line_bytes=MAX)
    count = len(rows_by_event(session))
    again = ingest_paths(session, [SAMPLES], "auto", max_line_bytes=MAX)
    assert all(r.already_ingested for r in again)
    # The same rows under another name (another SHA-256 once re-encoded) are duplicates.
    copy = tmp_path / "copy.csv.gz"
    copy.write_bytes(gzip.compress((SAMPLES / "spend_logs.csv").read_bytes()))
    [res] = ingest_paths(session, [copy], "auto", max_line_bytes=MAX)
    assert (res.total, res.loaded, res.duplicate) == (4, 0, 4)
    assert len(rows_by_event(session)) == count == sum(r.loaded for r in first)


@pytest.mark.parametrize(
    ("name", "counts"),
    [
        ("spend_logs.csv", (4, 4, 0, 1)),
        ("spend_logs.jsonl", (10, 9, 0, 2)),
        ("standard_logging_payload.jsonl", (7, 7, 0, 2)),
    ],
)
def test_gzip_is_read_transparently(
    session: Session, tmp_path: Path, name: str, counts: tuple[int, ...]
) -> None:
    path = tmp_path / (name + ".gz")
    path.write_bytes(gzip.compress((SAMPLES / name).read_bytes()))
    assert detect_format(path).name == "litellm"  # type: ignore[union-attr]
    [res] = ingest_paths(session, [path], "auto", max_line_bytes=MAX)
    assert (res.total, res.loaded, res.rejected, res.coverage_gaps) == counts


@pytest.mark.parametrize("name", ["spend_logs.csv", "standard_logging_payload.jsonl"])
def test_damaged_gzip_keeps_what_was_read(session: Session, tmp_path: Path, name: str) -> None:
    data = gzip.compress((SAMPLES / name).read_bytes())
    path = tmp_path / (name + ".gz")
    path.write_bytes(data[: len(data) * 2 // 3])
    [res] = ingest_paths(session, [path], "litellm", max_line_bytes=MAX)
    assert res.reconciles and res.rejections[-1][0] == 0
    assert "compressed stream is damaged" in res.rejections[-1][1]
    assert res.loaded >= 1


def test_a_call_exported_in_both_shapes_is_one_interaction(
    session: Session, tmp_path: Path
) -> None:
    logs = write_csv(tmp_path / "spend.csv", [spend_row(request_id="chatcmpl-same")])
    callback = write_lines(tmp_path / "s3.jsonl", [payload(id="chatcmpl-same")])
    results = ingest_paths(session, [logs, callback], "auto", max_line_bytes=MAX)
    assert [(r.loaded, r.duplicate) for r in results] == [(1, 0), (0, 1)]


# ------------------------------------------------------------------------------------------
# CSV specifics


def test_csv_header_case_and_order_do_not_matter(session: Session, tmp_path: Path) -> None:
    header = ["STARTTIME", "Request_ID", "call_type", "user", "messages", "spend"]
    path = write_csv(tmp_path / "lower.csv", [], header)
    with path.open("a", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerow(
            [
                "2026-10-05 10:00:00+00",
                "r-1",
                "acompletion",
                "u1",
                '[{"role":"user","content":"hi"}]',
                "0.1",
            ]
        )
    [res] = ingest_paths(session, [path], "auto", max_line_bytes=MAX)
    assert (res.loaded, res.rejected) == (1, 0)
    row = rows_by_event(session)["r-1"]
    assert (row.user_id, row.cost_usd, row.content_status) == ("u1", 0.1, "present")


def test_csv_without_request_id_is_one_rejection(session: Session, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "x.csv", [spend_row()], ["id", "call_type", "spend", "user"])
    [res] = ingest_paths(session, [path], "litellm", max_line_bytes=MAX)
    assert (res.total, res.rejected) == (1, 1)
    assert "no `request_id` column" in res.rejections[0][1]


def test_csv_over_long_rows_are_rejected_alone(session: Session, tmp_path: Path) -> None:
    big = spend_row(
        request_id="big-1", messages=json.dumps([{"role": "user", "content": "x" * 5000}])
    )
    # A quoted field spanning lines, longer than the limit in total.
    multi = spend_row(
        request_id="big-2", response=json.dumps({f"k{i}": "y" * 100 for i in range(60)}, indent=1)
    )
    path = write_csv(
        tmp_path / "big.csv",
        [spend_row(request_id="ok-1"), big, multi, spend_row(request_id="ok-2")],
    )
    limit = 4096
    [res] = ingest_paths(session, [path], "litellm", max_line_bytes=limit)
    assert (res.total, res.loaded, res.rejected) == (4, 2, 2)
    assert all(f"longer than {limit} bytes" in reason for _, reason in res.rejections)
    assert [line for line, _ in res.rejections] == [3, 4]
    assert set(rows_by_event(session)) == {"ok-1", "ok-2"}
    assert csv.field_size_limit() != limit  # the process-wide limit is restored


def test_csv_field_limit_stops_a_runaway_quote(session: Session, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "q.csv", [spend_row(request_id="ok-1")])
    with path.open("ab") as fh:
        fh.write(b'"open quote that never closes,' + b"z" * 100 + b"\n")
        fh.write((b"filler line\n") * 200)
    [res] = ingest_paths(session, [path], "litellm", max_line_bytes=2048)
    assert res.loaded == 1 and res.rejected >= 1 and res.reconciles


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"[" + json.dumps(spend_row()).encode() + b"]", "a JSON array is not read"),
        (b"", None),
        (b"\n\n", None),
    ],
)
def test_whole_file_cases(
    session: Session, tmp_path: Path, content: bytes, reason: str | None
) -> None:
    path = tmp_path / "f.json"
    path.write_bytes(content)
    [res] = ingest_paths(session, [path], "litellm", max_line_bytes=MAX)
    assert res.reconciles and res.loaded == 0
    if reason is None:
        assert res.total == 0
    else:
        assert [line for line, r in res.rejections if reason in r] == [0]


# ------------------------------------------------------------------------------------------
# Mapping rules, record by record


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        # key owner only, the key's e-mail is the owner's
        (
            payload(
                metadata=meta(user_api_key_user_id="u1", user_api_key_user_email="A@B.example")
            ),
            ("u1", "a@b.example", "key_owner"),
        ),
        # end user differs from the key owner: the key e-mail is not the end user's
        (
            payload(
                end_user="u2",
                metadata=meta(user_api_key_user_id="svc", user_api_key_user_email="svc@b.example"),
            ),
            ("u2", None, "end_user"),
        ),
        # end user is the key owner: the key e-mail is theirs
        (
            payload(
                end_user="u3",
                metadata=meta(user_api_key_user_id="u3", user_api_key_user_email="u3@b.example"),
            ),
            ("u3", "u3@b.example", "end_user"),
        ),
        # end user from metadata, e-mail from the request metadata
        (
            payload(
                metadata=meta(
                    user_api_key_end_user_id="u4",
                    requester_metadata={"user_email": "Four@B.example"},
                )
            ),
            ("u4", "four@b.example", "end_user"),
        ),
        # spend logs: `user` column is the key owner; e-mail in spend_logs_metadata
        (
            spend_row(
                user="u5",
                metadata=json.dumps({"spend_logs_metadata": {"user_email": "five@b.example"}}),
            ),
            ("u5", "five@b.example", "key_owner"),
        ),
        # only an e-mail
        (
            spend_row(
                user="", metadata=json.dumps({"spend_logs_metadata": {"user_email": "s@b.example"}})
            ),
            (None, "s@b.example", "email"),
        ),
        # something that is not an e-mail is not used as one
        (
            payload(
                metadata=meta(user_api_key_user_id="u6", user_api_key_user_email="not-an-email")
            ),
            ("u6", None, "key_owner"),
        ),
    ],
)
def test_identity_rules(obj: dict[str, Any], expected: tuple[Any, ...]) -> None:
    rec = normalize_litellm(obj)
    assert (rec.user_id, rec.user_email, rec.attributes["identity_source"]) == expected


@pytest.mark.parametrize(
    "obj",
    [
        payload(metadata=meta(user_api_key_hash="abc123")),
        spend_row(user="", end_user="", metadata="{}"),
        spend_row(user=None, end_user=None, metadata=None),
    ],
)
def test_no_identity_is_rejected(obj: dict[str, Any]) -> None:
    with pytest.raises(RecordError, match="no user identity"):
        normalize_litellm(obj)


@pytest.mark.parametrize(
    ("obj", "tool", "source", "workflow"),
    [
        (payload(), "research-desk", "key_alias", None),
        (payload(metadata=meta(user_api_key_user_id="u1")), "litellm-proxy", "default", None),
        (
            payload(
                metadata=meta(
                    user_api_key_user_id="u1",
                    user_api_key_alias="k",
                    requester_metadata={"application": "Open WebUI", "workflow": "HR Eval"},
                )
            ),
            "Open WebUI",
            "metadata",
            "hr_eval",
        ),
        (
            payload(request_tags=["tool:cursor", "workflow=coding"]),
            "cursor",
            "request_tags",
            "coding",
        ),
        # one tag that is a known workflow is the workflow; two are ambiguous
        (payload(request_tags=["prod", "marketing"]), "research-desk", "key_alias", "marketing"),
        (payload(request_tags=["coding", "marketing"]), "research-desk", "key_alias", None),
        (
            spend_row(
                metadata=json.dumps(
                    {
                        "user_api_key_user_id": "u1",
                        "spend_logs_metadata": {"tags": ["workflow:research"]},
                    }
                )
            ),
            "litellm-proxy",
            "default",
            "research",
        ),
    ],
)
def test_tool_and_workflow_rules(
    obj: dict[str, Any], tool: str, source: str, workflow: str | None
) -> None:
    rec = normalize_litellm(obj)
    assert (rec.tool, rec.attributes["tool_source"], rec.workflow) == (tool, source, workflow)


def test_tool_names_are_mappable(session: Session, tmp_path: Path) -> None:
    path = write_lines(tmp_path / "p.jsonl", [payload()])
    mappings = Mappings.from_maps({"Research-Desk": "chatgpt-enterprise"}, {})
    ingest_paths(session, [path], "litellm", max_line_bytes=MAX, mappings=mappings)
    assert rows_by_event(session)["chatcmpl-p1"].tool == "chatgpt-enterprise"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-10-05 10:00:00.123+00", datetime(2026, 10, 5, 10, 0, 0, 123000, tzinfo=UTC)),
        ("2026-10-05T10:00:00Z", datetime(2026, 10, 5, 10, 0, tzinfo=UTC)),
        ("2026-10-05 10:00:00", datetime(2026, 10, 5, 10, 0, tzinfo=UTC)),  # Prisma: naive UTC
        ("2026-10-05T12:00:00+02:00", datetime(2026, 10, 5, 10, 0, tzinfo=UTC)),
        (1791194400.5, datetime(2026, 10, 5, 10, 0, 0, 500000, tzinfo=UTC)),
        (1791194400500, datetime(2026, 10, 5, 10, 0, 0, 500000, tzinfo=UTC)),
        ("1791194400", datetime(2026, 10, 5, 10, 0, tzinfo=UTC)),
    ],
)
def test_timestamp_styles(value: Any, expected: datetime) -> None:
    assert normalize_litellm(spend_row(startTime=value)).occurred_at == expected
    assert normalize_litellm(payload(startTime=value)).occurred_at == expected


def test_end_time_stands_in_for_a_missing_start_time() -> None:
    rec = normalize_litellm(spend_row(startTime="", endTime="2026-10-05 10:00:02+00"))
    assert rec.occurred_at == datetime(2026, 10, 5, 10, 0, 2, tzinfo=UTC)


CHAT = [
    {"role": "system", "content": "sys"},
    {"role": "user", "content": "first"},
    {"role": "assistant", "content": "reply"},
    {"role": "user", "content": [{"type": "text", "text": "second"}]},
]


@pytest.mark.parametrize(
    ("changes", "status", "prompt", "history"),
    [
        ({"messages": "{}"}, "not_stored", None, 0),
        ({"messages": None}, "not_stored", None, 0),
        ({"messages": "[]"}, "not_stored", None, 0),
        ({"messages": json.dumps(CHAT)}, "present", "second", 3),
        (
            {"messages": "{}", "proxy_server_request": json.dumps({"messages": CHAT})},
            "present",
            "second",
            3,
        ),
        (
            {"messages": "{}", "proxy_server_request": json.dumps({"model": "m"})},
            "not_stored",
            None,
            0,
        ),
        ({"messages": json.dumps("a plain prompt")}, "present", "a plain prompt", 0),
        ({"messages": json.dumps({"prompt": "p"})}, "present", "p", 0),
        ({"messages": json.dumps([{"role": "system", "content": "s"}])}, "present", None, 0),
        ({"messages": json.dumps([{"role": "user", "content": ""}])}, "present", "", 0),
        (
            {"messages": json.dumps([{"role": "user", "content": "REDACTED_BY_LITELM"}])},
            "redacted",
            None,
            0,
        ),
    ],
)
def test_spend_logs_content_shapes(
    changes: dict[str, Any], status: str, prompt: str | None, history: int
) -> None:
    rec = normalize_litellm(spend_row(**changes))
    assert (rec.content_status, fp(rec.prompt_text), rec.history_turns) == (
        status,
        fp(prompt),
        history,
    )


@pytest.mark.parametrize(
    ("changes", "status", "prompt", "output"),
    [
        ({"messages": {}, "response": {}}, "not_stored", None, None),
        ({"messages": [], "response": None}, "not_stored", None, None),
        ({"messages": ""}, "not_stored", None, "Here."),
        ({"messages": "text prompt"}, "present", "text prompt", "Here."),
        (
            {"messages": ["emb a", "emb b"], "response": {"data": []}},
            "present",
            "emb a\nemb b",
            None,
        ),
        (
            {
                "response": {
                    "choices": [{"message": {"content": "a"}}, {"message": {"content": "b"}}]
                }
            },
            "present",
            "Draft a memo.",
            "a\n\nb",
        ),
        (
            {"response": {"content": [{"type": "text", "text": "claude"}]}},
            "present",
            "Draft a memo.",
            "claude",
        ),
        ({"response": "plain output"}, "present", "Draft a memo.", "plain output"),
        # A failed call: a string response is the error text, not model output.
        (
            {"status": "failure", "response": "Error: rate limited"},
            "present",
            "Draft a memo.",
            None,
        ),
        (
            {"response": {"choices": [{"message": {"content": "redacted-by-litellm"}}]}},
            "present",
            "Draft a memo.",
            None,
        ),
    ],
)
def test_payload_content_shapes(
    changes: dict[str, Any], status: str, prompt: str | None, output: str | None
) -> None:
    rec = normalize_litellm(payload(**changes))
    assert (rec.content_status, fp(rec.prompt_text), fp(rec.output_text)) == (
        status,
        fp(prompt),
        fp(output),
    )


@pytest.mark.parametrize(
    ("obj", "reason"),
    [
        (payload(end_user={"id": "u1"}), "`end_user` is not text"),
        (payload(prompt_tokens=True), "prompt_tokens is not a number"),
        (payload(completion_tokens=10**30), "completion_tokens is out of range"),
        (payload(response_cost="abc"), "response_cost is not a number"),
        (payload(model=["gpt-4o"]), "`model` is not text"),
        (payload(metadata=["a"]), "`metadata` is not an object"),
        (payload(session_id=3.5), "`session_id` is not text"),
        (payload(request_tags={"a": 1}), "`request_tags` is not a list"),
        (payload(messages=42), "`messages` has unsupported type int"),
        (payload(messages=[{"role": "user", "content": {"x": 1}}]), "unsupported type dict"),
        (payload(id=None), "no event id"),
        (payload(id="x" * 300), "`id` is longer than 255"),
        (spend_row(request_tags="[not json"), "`request_tags` is not valid JSON"),
        (spend_row(metadata=json.dumps({"spend_logs_metadata": "x"})), "not valid JSON"),
        (spend_row(spend="free"), "spend is not a number"),
    ],
)
def test_wrong_types_are_rejected_without_quoting(obj: dict[str, Any], reason: str) -> None:
    with pytest.raises(RecordError) as info:
        normalize_litellm(obj)
    assert reason in str(info.value)
    assert "Draft a memo" not in str(info.value)


def test_long_deployment_model_falls_back_to_the_public_name() -> None:
    arn = "bedrock/arn:aws:bedrock:eu-west-1:123456789012:application-inference-profile/" + "p" * 80
    rec = normalize_litellm(
        payload(model=arn, model_group="claude-sonnet", custom_llm_provider=None)
    )
    assert (rec.model, rec.provider) == ("claude-sonnet", None)
    assert (
        normalize_litellm(payload(model="bedrock/claude-3", custom_llm_provider="")).provider
        == "bedrock"
    )


def test_unknown_fields_are_named_not_kept(session: Session, tmp_path: Path) -> None:
    path = write_lines(tmp_path / "u.jsonl", [payload(new_field={"secret": "value"})])
    [res] = ingest_paths(session, [path], "litellm", max_line_bytes=MAX)
    assert res.loaded == 1 and any("new_field" in w for _, w in res.warnings)
    row = rows_by_event(session)["chatcmpl-p1"]
    assert row.attributes["unknown_fields"] == ["new_field"]
    assert "value" not in json.dumps(row.attributes)


def test_records_stream_one_row_at_a_time(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "s.csv", [spend_row(request_id=f"r{i}") for i in range(3)])
    items = READER.records(path, max_line_bytes=MAX)
    first = next(iter(items))
    assert isinstance(first, RawRecord) and first.obj["request_id"] == "r0"
    assert not isinstance(first, Rejected)
