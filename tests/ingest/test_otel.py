"""The `otel` reader: OTLP/JSON lines with GenAI spans and events, all three generations of
the semantic conventions, joined across lines, with every bad record accounted for.

Sample files are in tests/data/logs/otel/ (synthetic content, no real people).
"""

from __future__ import annotations

import base64
import gzip
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from auditor.db.models import IngestRejection, Interaction
from auditor.ingest import otel
from auditor.ingest.base import RawRecord, Rejected, read_head
from auditor.ingest.otel import OTelReader
from auditor.ingest.registry import detect_format
from auditor.ingest.stage import Mappings, ingest_paths
from auditor.normalize import RecordError
from tests.conftest import DATA, chat_record, write_jsonl

LOGS = DATA / "logs"
SAMPLES = LOGS / "otel"
MAX = 16 * 1024 * 1024
T0 = 1791194400 * 10**9  # 2026-10-05T10:00:00Z in nanoseconds


# --- building OTLP/JSON in tests ---------------------------------------------------------


def av(value: Any) -> dict[str, Any]:
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
    if isinstance(value, list):
        return {"arrayValue": {"values": [av(v) for v in value]}}
    return {"kvlistValue": {"values": kv(value)}}


def kv(values: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"key": k, "value": av(v)} for k, v in values.items() if v is not None]


def tid(n: int) -> str:
    return f"{0xA << 124 | n:032x}"  # as the sample files spell them: a000...0001


def sid(n: int) -> str:
    return f"{0xB << 60 | n:016x}"


def span(n: int, start: Any = None, **attrs: Any) -> dict[str, Any]:
    base = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o",
        "user.id": f"u{n:05d}",
        "gen_ai.input.messages": json.dumps(
            [{"role": "user", "parts": [{"type": "text", "content": f"question {n}"}]}]
        ),
    }
    base.update(attrs)
    return {
        "traceId": tid(n),
        "spanId": sid(n),
        "name": "chat gpt-4o",
        "kind": 3,
        "startTimeUnixNano": str(T0 + n * 10**9) if start is None else start,
        "attributes": kv(base),
    }


def event(n: int, name: str, body: Any = None, at: int | None = None, **attrs: Any) -> dict:
    record: dict[str, Any] = {
        "timeUnixNano": str(at if at is not None else T0 + n * 10**9),
        "traceId": tid(n),
        "spanId": sid(n),
        "attributes": kv({"event.name": name, "gen_ai.system": "openai", **attrs}),
    }
    if body is not None:
        record["body"] = av(body)
    return record


def spans_line(*spans: dict[str, Any], resource: dict[str, Any] | None = None) -> dict:
    res = {"service.name": "copilot-chat", **(resource or {})}
    return {
        "resourceSpans": [
            {"resource": {"attributes": kv(res)}, "scopeSpans": [{"scope": {}, "spans": [*spans]}]}
        ]
    }


def logs_line(*records: dict[str, Any], resource: dict[str, Any] | None = None) -> dict:
    res = {"service.name": "copilot-chat", **(resource or {})}
    return {
        "resourceLogs": [
            {
                "resource": {"attributes": kv(res)},
                "scopeLogs": [{"scope": {}, "logRecords": [*records]}],
            }
        ]
    }


def read(path: Path, reader: OTelReader | None = None, max_line_bytes: int = MAX) -> list[Any]:
    """Each item the reader yields, normalized: InteractionRecord, or ("rejected", line, why)."""
    reader = reader or OTelReader()
    out: list[Any] = []
    for item in reader.records(path, max_line_bytes=max_line_bytes):
        if isinstance(item, Rejected):
            out.append(("rejected", item.line_no, item.reason))
            continue
        try:
            out.append(reader.normalize(item))
        except RecordError as exc:
            out.append(("rejected", item.line_no, str(exc)))
    return out


def only(path: Path) -> Any:
    [item] = read(path)
    return item


# --- sniffing ----------------------------------------------------------------------------


def _other_format_files() -> list[Path]:
    return sorted(
        p
        for p in LOGS.rglob("*")
        if p.is_file() and SAMPLES not in p.parents and not p.name.startswith(".")
    )


@pytest.mark.parametrize("path", sorted(SAMPLES.iterdir()), ids=lambda p: p.name)
def test_sniff_claims_every_sample_and_no_other_reader_does(path: Path) -> None:
    assert OTelReader().sniff(read_head(path))
    reader = detect_format(path)  # raises if another reader also claims the file
    assert reader is not None and reader.name == "otel"


@pytest.mark.parametrize("path", _other_format_files(), ids=lambda p: str(p.relative_to(LOGS)))
def test_sniff_leaves_other_formats_alone(path: Path) -> None:
    assert not OTelReader().sniff(read_head(path))


@pytest.mark.parametrize(
    ("head", "claimed"),
    [
        (json.dumps(spans_line(span(1))).encode(), True),
        (json.dumps(logs_line(event(1, "gen_ai.user.message"))).encode(), True),
        (b"\xef\xbb\xbf" + json.dumps(spans_line(span(1))).encode(), True),
        # a truncated first line does not decide
        (b'{"resourceSpans": [{"reso\n' + json.dumps(spans_line(span(1))).encode(), True),
        # a long first line cut at the head's end
        (json.dumps(spans_line(span(1)))[:200].encode(), True),
        (b'{"partialSuccess": {}, "resourceSpans": []}', True),
        (json.dumps(chat_record("c1", "hello")).encode(), False),
        (b'{"resourceMetrics": [{"resource": {}}]}', False),
        (b'{"note": "mentions \\"resourceSpans\\": [ in text"}', False),
        (b"user_id,email,prompt\nu1,a@b.example,hi\n", False),
        (b"", False),
        # Claude Code's OTLP log events belong to the claude-code reader
        (
            json.dumps(
                logs_line(
                    {"attributes": kv({"event.name": "user_prompt"})},
                    resource={"service.name": "claude-code"},
                )
            ).encode(),
            False,
        ),
    ],
)
def test_sniff_cases(head: bytes, claimed: bool) -> None:
    assert OTelReader().sniff(head) is claimed


# --- the sample files through the ingest stage -------------------------------------------

# file -> (total, loaded, duplicate, rejected, coverage gaps)
COUNTS = {
    "v137-span-structured.jsonl": (3, 3, 0, 0, 0),
    "v137-span-json-strings.jsonl": (5, 5, 0, 0, 3),
    "v137-details-event.jsonl": (3, 2, 0, 1, 0),
    "v128-log-events.jsonl": (4, 3, 0, 1, 1),
    "v127-span-events.jsonl": (4, 4, 0, 0, 0),
    "broken.jsonl": (16, 3, 1, 12, 0),
    "compressed.jsonl.gz": (2, 2, 0, 0, 0),
}

# file -> what was read but is not an interaction
SKIPPED = {
    "v137-span-structured.jsonl": {
        "spans of GenAI operation embeddings": 1,
        "spans of GenAI operation execute_tool": 1,
        "spans of GenAI operation invoke_agent": 1,
        "spans that are not GenAI": 1,
    },
    "v137-span-json-strings.jsonl": {},
    "v137-details-event.jsonl": {"log records that are not GenAI events": 1},
    "v128-log-events.jsonl": {"log records repeated in the file": 1},
    "v127-span-events.jsonl": {"spans of GenAI operation embedding": 1},
    "broken.jsonl": {"metrics or profiles export requests": 1},
    "compressed.jsonl.gz": {},
}


def test_every_sample_file_is_listed() -> None:
    assert set(COUNTS) == {p.name for p in SAMPLES.iterdir()} == set(SKIPPED)


@pytest.mark.parametrize("name", sorted(COUNTS))
def test_sample_counts_reconcile(session: Session, name: str) -> None:
    [res] = ingest_paths(session, [SAMPLES / name], "auto", max_line_bytes=MAX)
    assert res.source_format == "otel"
    assert (res.total, res.loaded, res.duplicate, res.rejected, res.coverage_gaps) == COUNTS[name]
    assert res.reconciles
    assert session.scalar(select(func.count(Interaction.id))) == res.loaded
    assert session.scalar(select(func.count(IngestRejection.id))) == res.rejected


@pytest.mark.parametrize("name", sorted(SKIPPED))
def test_what_is_not_an_interaction_is_counted_by_kind(name: str) -> None:
    reader = OTelReader()
    read(SAMPLES / name, reader)
    assert dict(reader.skipped) == SKIPPED[name]


# line -> reason fragment, for broken.jsonl (line 1 loads, 9 loads with a warning, 13 loads,
# 14 is the export of line 1 again, 15 is a metrics request)
BROKEN = {
    2: "not valid JSON",
    3: "expected a JSON object",
    4: "not an OTLP export request",
    5: "`resourceSpans` is not a list",
    6: "span 1: attributes are not a list",
    7: "`user.id` is not text",
    8: "`gen_ai.usage.input_tokens`: `intValue` is not an integer",
    10: "no user identity",
    11: "no timestamp",
    12: "nested deeper than 64 levels",
    16: "log record 1: is not an object",
    17: "`gen_ai.input.messages` is not a list",
}


def test_broken_file_rejects_each_bad_record_with_its_line_and_reason(session: Session) -> None:
    [res] = ingest_paths(session, [SAMPLES / "broken.jsonl"], "otel", max_line_bytes=MAX)
    got = dict(res.rejections)
    assert sorted(got) == sorted(BROKEN)
    for line, fragment in BROKEN.items():
        assert fragment in got[line], line
    assert res.warnings == [(9, "invalid UTF-8 replaced (first at byte 798 of the line)")]
    repaired = session.scalars(select(Interaction).where(Interaction.source_line == 9)).one()
    assert repaired.attributes["encoding_repaired"] is True
    assert "\ufffd" in (repaired.prompt_text or "")
    # base64 ids (protobuf's JSON mapping) are turned into the hex that OTLP/JSON uses
    b64 = session.scalars(select(Interaction).where(Interaction.source_line == 13)).one()
    assert b64.event_id == f"{'a' + '0' * 28 + '265'}:{'b' + '0' * 12 + '265'}"


def test_rejection_reasons_never_quote_content() -> None:
    contents = ["question", "Question", "caf", "world", "=u1"]
    reasons = [r[2] for r in read(SAMPLES / "broken.jsonl") if isinstance(r, tuple)]
    assert len(reasons) == 12
    assert not [r for r in reasons for c in contents if c in r]


# event id -> expected fields, over all sample files
EXPECTED: dict[str, dict[str, Any]] = {
    # v1.37+, structured values on the span: system instructions, multi-turn, parts
    "chatcmpl-otel-a1": {
        "occurred_at": "2026-10-05T10:00:00.123456+00:00",
        "user_id": "u10001",
        "user_email": "ann.lee@northbridge-bank.example",
        "tool": "research-assistant",
        "provider": "openai",
        "model": "gpt-4o-2024-08-06",
        "prompt_text": "And the second quarter?",
        "output_text": "- Deposits up 1%\n- Wholesale down 3%",
        "history_turns": 3,
        "input_tokens": 120,
        "output_tokens": 45,
        "session_id": "conv-0001",
        "workflow": "research",
        "content_status": "present",
        "attributes": {
            "content_source": "span_attributes",
            "operation": "chat",
            "trace_id": "a0000000000000000000000000000001",
            "span_id": "b000000000000001",
            "request_model": "gpt-4o",
            "finish_reasons": "stop",
            "server_address": "api.openai.com",
            "service_version": "2.3.1",
            "instrumentation": "opentelemetry.instrumentation.openai_v2",
        },
    },
    # no response id: trace and span id; an image part next to the text
    "a0000000000000000000000000000002:b000000000000006": {
        "provider": "gcp.vertex_ai",
        "model": "gemini-2.5-pro",
        "prompt_text": "What does this chart show?",
        "output_text": "A rising EUR/USD trend.",
        "history_turns": 3,
        "user_email": None,
        "session_id": None,
        "attributes": {"operation": "generate_content", "non_text_parts": 1},
    },
    # identity, workflow (app.workflow, mapped spelling) from the resource; session.id
    "cmpl-otel-g7": {
        "user_id": "u10003",
        "tool": "claims-bot",
        "provider": "azure.ai.openai",
        "workflow": "client_comm",
        "session_id": "sess-9",
        "history_turns": 0,
        "attributes": {"operation": "text_completion"},
    },
    # v1.37+ JSON strings (Python SDKs)
    "chatcmpl-otel-h": {
        "user_id": "u20001",
        "user_email": "bo.chen@northbridge-bank.example",
        "prompt_text": "Rename this variable to snake case.",
        "output_text": "total_amount",
        "history_turns": 1,  # the system instructions count as one earlier message
        "content_status": "present",
    },
    "chatcmpl-otel-i": {"content_status": "redacted", "prompt_text": None, "output_text": None},
    "chatcmpl-otel-j": {
        "content_status": "not_stored",
        "prompt_text": None,
        "attributes": {
            "content_source": "none",
            "content_ref": "gs://genai-telemetry/2026-10-07/chatcmpl-otel-j_input.json",
        },
    },
    "chatcmpl-otel-k": {
        "content_status": "present",
        "prompt_text": '[{"role": "user", "parts": [{"type": "text", "content": "Check account',
        "attributes": {"content_unparsed": True},
    },
    "chatcmpl-otel-l": {
        "content_status": "not_stored",
        "prompt_text": None,
        "model": "gpt-4.1-2025-04-14",
        "input_tokens": 310,
        "output_tokens": 95,
    },
    # v1.37+ details event joined to its span from the next line
    "msg_otel_m": {
        "occurred_at": "2026-10-08T14:00:00.500000+00:00",  # the span's start
        "user_id": "u30001",
        "model": "claude-sonnet-4-5-20250929",  # the response model, from the event
        "prompt_text": "How many leave days carry over?",
        "output_text": "Up to five days carry over.",
        "history_turns": 1,
        "workflow": "hr_eval",
        "attributes": {"content_source": "details_event"},
    },
    # a details event whose span is not in the file: identity on the log record
    "log:msg_otel_n": {
        "occurred_at": "2026-10-08T14:05:00+00:00",
        "user_id": "u30002",
        "session_id": "conv-n",
        "prompt_text": "Translate the notice into German.",
        "input_tokens": 210,
        "attributes": {"span_in_file": False, "content_source": "details_event"},
    },
    # v1.28-v1.36: message events before the span, the choice after it, a repeat ignored
    "chatcmpl-otel-p": {
        "occurred_at": "2026-10-09T10:00:00+00:00",
        "user_id": "u40001",
        "model": "gpt-4o-mini-2024-07-18",
        "prompt_text": "It started after the update.\nAny fix?",
        "output_text": "Update the VPN client to 5.2.",
        "history_turns": 4,
        "session_id": "sess-p",
        "content_status": "present",
        "attributes": {"content_source": "log_events"},
    },
    # capture off: the events are there without content
    "a000000000000000000000000000002a:b00000000000002a": {
        "user_id": None,
        "user_email": "dev.ops@northbridge-bank.example",
        "content_status": "not_stored",
        "prompt_text": None,
        "input_tokens": 20,
    },
    # span not in the file; identity and workflow from the resource; observed time
    "log:a000000000000000000000000000002b:b00000000000002b": {
        "occurred_at": "2026-10-09T10:03:00+00:00",
        "user_id": "u40003",
        "workflow": "internal_drafting",
        "model": None,
        "prompt_text": "Write a short out-of-office note.",
        "output_text": "I am out until Monday.",
        "attributes": {"span_in_file": False},
    },
    # up to v1.27: span events with a JSON string and the old token names
    "chatcmpl-otel-v": {
        "user_id": "u50001",
        "provider": "openai",
        "model": "gpt-4-0613",
        "prompt_text": "Summarise the Project Falcon memo.",
        "output_text": "Falcon: a 40m bolt-on, closing Q1.",
        "history_turns": 1,
        "input_tokens": 52,
        "output_tokens": 19,
        "workflow": "deal_team",
        "attributes": {"content_source": "span_events"},
    },
    # no operation name (v1.26), the Python-literal form of the v1.27 examples, enduser.id
    "a0000000000000000000000000000034:b000000000000034": {
        "user_id": "u50002",
        "provider": "anthropic",
        "prompt_text": "What is the capital of France?",
        "output_text": "Paris.",
    },
    # OpenLLMetry's flattened attributes
    "a0000000000000000000000000000035:b000000000000035": {
        "provider": "openai",
        "prompt_text": "Draft a thank-you note to the auditors.",
        "output_text": "Dear audit team, thank you.",
        "history_turns": 1,
        "input_tokens": 22,
        "attributes": {"content_source": "legacy_span_attributes"},
    },
    # a plain-text prompt
    "a0000000000000000000000000000037:b000000000000037": {
        "prompt_text": "List three risks of the new vendor.",
        "output_text": None,
    },
    # broken.jsonl: the records that load
    "a0000000000000000000000000000259:b000000000000259": {"user_id": "u60001"},
    "a0000000000000000000000000000261:b000000000000261": {"user_id": "u60009"},
    "a0000000000000000000000000000265:b000000000000265": {"user_id": "u60013"},
    "chatcmpl-otel-gz1": {"workflow": "coding", "prompt_text": "Question 31"},
    "chatcmpl-otel-gz2": {"workflow": "coding", "prompt_text": "Question 32"},
}


def _check(row: Interaction, want: dict[str, Any]) -> list[str]:
    """Names of fields that differ (never their values: they may be content)."""
    wrong = []
    for name, value in want.items():
        if name == "attributes":
            wrong += [f"attributes.{k}" for k, v in value.items() if row.attributes.get(k) != v]
        elif name == "occurred_at":
            if row.occurred_at.isoformat() + "+00:00" != value:
                wrong.append(name)
        elif getattr(row, name) != value:
            wrong.append(name)
    return wrong


def test_field_level_expectations_for_every_sample_record(session: Session) -> None:
    results = ingest_paths(session, [SAMPLES], "auto", max_line_bytes=MAX)
    assert all(r.source_format == "otel" and r.reconciles for r in results)
    rows = {r.event_id: r for r in session.scalars(select(Interaction))}
    assert sorted(rows) == sorted(EXPECTED)
    wrong = {e: _check(rows[e], want) for e, want in EXPECTED.items() if _check(rows[e], want)}
    assert wrong == {}
    assert {r.source_format for r in rows.values()} == {"otel"}
    for row in rows.values():
        text = json.dumps(row.attributes)
        assert "question" not in text.lower() and len(text) < 2000


def test_ingesting_the_same_logs_twice_adds_nothing(session: Session, tmp_path: Path) -> None:
    first = ingest_paths(session, [SAMPLES], "auto", max_line_bytes=MAX)
    count = session.scalar(select(func.count(Interaction.id)))
    again = ingest_paths(session, [SAMPLES], "auto", max_line_bytes=MAX)
    assert all(r.already_ingested for r in again)
    # the same records in a file with other bytes (copied, re-compressed): all duplicates
    copy = tmp_path / "copy.jsonl"
    copy.write_bytes(b"\n" + (SAMPLES / "v137-span-structured.jsonl").read_bytes())
    [res] = ingest_paths(session, [copy], "otel", max_line_bytes=MAX)
    assert (res.loaded, res.duplicate) == (0, 3)
    assert (
        session.scalar(select(func.count(Interaction.id))) == count == sum(r.loaded for r in first)
    )


def test_mappings_apply_to_tool_and_workflow(session: Session) -> None:
    mappings = Mappings.from_maps(
        {"Research-Assistant": "atlas-research"}, {"research": "deal_team"}
    )
    ingest_paths(
        session,
        [SAMPLES / "v137-span-structured.jsonl"],
        "otel",
        max_line_bytes=MAX,
        mappings=mappings,
    )
    row = session.scalars(
        select(Interaction).where(Interaction.event_id == "chatcmpl-otel-a1")
    ).one()
    assert (row.tool, row.workflow) == ("atlas-research", "deal_team")


# --- joining spans and log events ----------------------------------------------------------


def _user(n: int) -> dict[str, Any]:
    return event(n, "gen_ai.user.message", {"content": f"prompt {n}"})


def _choice(n: int) -> dict[str, Any]:
    return event(
        n, "gen_ai.choice", {"index": 0, "finish_reason": "stop", "message": {"content": "ok"}}
    )


def _no_content_span(n: int, **attrs: Any) -> dict[str, Any]:
    return span(n, **{"gen_ai.input.messages": None, "gen_ai.response.id": f"r{n}", **attrs})


@pytest.mark.parametrize(
    ("lines", "expect"),
    [
        # logs before the span, logs after it, both: one interaction with content
        ([logs_line(_user(1), _choice(1)), spans_line(_no_content_span(1))], ["r1 present"]),
        ([spans_line(_no_content_span(1)), logs_line(_user(1), _choice(1))], ["r1 present"]),
        (
            [logs_line(_user(1)), spans_line(_no_content_span(1)), logs_line(_choice(1))],
            ["r1 present"],
        ),
        # a span and log records in the same request line
        (
            [{**spans_line(_no_content_span(1)), **logs_line(_user(1), _choice(1))}],
            ["r1 present"],
        ),
        # log events whose span is elsewhere: their own interaction, identity from the resource
        (
            [logs_line(_user(2), resource={"user.email": "X@Y.example"})],
            ["log:a0000000000000000000000000000002:b000000000000002 present"],
        ),
        # the span of those events is an embeddings call: neither counts
        (
            [
                logs_line(_user(3), resource={"user.id": "u3"}),
                spans_line(span(3, **{"gen_ai.operation.name": "embeddings"})),
                logs_line(_choice(3), resource={"user.id": "u3"}),
            ],
            [],
        ),
        # no span context at all: the record stands alone, identified by its content
        (
            [logs_line({**_user(4), "traceId": "", "spanId": ""}, resource={"enduser.id": "u4"})],
            ["log:sha256: present"],
        ),
        # the same span exported twice: the second is a duplicate in the store
        ([spans_line(span(5)), spans_line(span(5))], ["a0:b0 present", "a0:b0 present"]),
    ],
)
def test_joining_cases(tmp_path: Path, lines: list[dict], expect: list[str]) -> None:
    path = write_jsonl(tmp_path / "t.jsonl", lines)
    got = []
    for item in read(path):
        assert not isinstance(item, tuple), item
        event_id = item.event_id
        if event_id.startswith("log:sha256:"):
            event_id = "log:sha256:"
        elif event_id.startswith("a0"):
            event_id = "a0:b0"
        got.append(f"{event_id} {item.content_status}")
    assert got == expect


def test_a_log_event_past_the_window_becomes_its_own_interaction(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(otel, "WINDOW_LINES", 3)
    filler = [
        spans_line(span(100 + i, **{"gen_ai.operation.name": "embeddings"})) for i in range(3)
    ]
    late = logs_line(_user(1), _choice(1), resource={"user.id": "u00001"})
    items = read(
        write_jsonl(tmp_path / "t.jsonl", [spans_line(_no_content_span(1)), *filler, late])
    )
    assert [(i.event_id, i.content_status) for i in items] == [
        ("r1", "not_stored"),
        # the late events keep their content and name the span they belong to
        ("log:a0000000000000000000000000000001:b000000000000001", "present"),
    ]
    assert items[1].attributes["span_id"] == "b000000000000001"
    assert items[1].user_id == "u00001" and items[1].tool == "copilot-chat"


def test_a_log_event_past_the_window_without_identity_is_rejected(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(otel, "WINDOW_LINES", 1)
    lines = [spans_line(_no_content_span(1)), spans_line(span(2)), logs_line(_user(1))]
    items = read(write_jsonl(tmp_path / "t.jsonl", lines))
    assert [i[2] if isinstance(i, tuple) else i.event_id for i in items] == [
        "r1",
        "a0000000000000000000000000000002:b000000000000002",
        "no user identity: GenAI log events whose span is not in this file, and neither they "
        "nor their resource carry `user.id`, `user.email` or `enduser.id`",
    ]


@pytest.mark.parametrize(
    ("bound", "value", "lines_read"),
    [
        (None, None, otel.WINDOW_LINES + 1),  # the window, as shipped
        ("WINDOW_LINES", 10, 11),
        ("MAX_PENDING_UNITS", 2, 3),
        ("MAX_PENDING_BYTES", 1, 1),
    ],
)
def test_pending_calls_are_bounded_so_memory_does_not_grow_with_the_file(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    bound: str | None,
    value: int | None,
    lines_read: int,
) -> None:
    if bound:
        monkeypatch.setattr(otel, bound, value)
    produced: list[int] = []
    real = otel.iter_json_lines

    def counting(path: Path, *, max_line_bytes: int):  # type: ignore[no-untyped-def]
        for item in real(path, max_line_bytes=max_line_bytes):
            produced.append(item.line_no)
            yield item

    monkeypatch.setattr(otel, "iter_json_lines", counting)
    total = otel.WINDOW_LINES + 50
    path = write_jsonl(tmp_path / "t.jsonl", [spans_line(span(i)) for i in range(1, total + 1)])
    items = OTelReader().records(path, max_line_bytes=MAX)
    first = next(items)
    # The first call goes out once a bound is reached, long before the end of the file.
    assert isinstance(first, RawRecord) and first.line_no == 1
    assert len(produced) == lines_read
    assert sum(1 for _ in items) == total - 1


# --- single records: shapes, types, pitfalls ------------------------------------------------

Case = Callable[[], list[dict[str, Any] | bytes]]

CASES: list[tuple[str, Case, dict[str, Any] | str]] = [
    (
        "e-mail only, upper case",
        lambda: [spans_line(span(1, **{"user.id": None, "user.email": "Ann@Bank.EXAMPLE"}))],
        {"user_id": None, "user_email": "ann@bank.example"},
    ),
    (
        "enduser.id when there is no user.id",
        lambda: [spans_line(span(1, **{"user.id": None, "enduser.id": "svc-7"}))],
        {"user_id": "svc-7"},
    ),
    (
        "span identity wins over the resource's",
        lambda: [spans_line(span(1), resource={"user.id": "svc-account"})],
        {"user_id": "u00001"},
    ),
    (
        "gen_ai.system before v1.37, provider name lower-cased",
        lambda: [
            spans_line(span(1, **{"gen_ai.provider.name": None, "gen_ai.system": "Anthropic"}))
        ],
        {"provider": "anthropic"},
    ),
    (
        "old token names",
        lambda: [
            spans_line(
                span(1, **{"gen_ai.usage.prompt_tokens": 7, "gen_ai.usage.completion_tokens": 3})
            )
        ],
        {"input_tokens": 7, "output_tokens": 3},
    ),
    (
        "an int64 written as a JSON number, a double as a string",
        lambda: [
            {
                "resourceSpans": [
                    {
                        "resource": {},
                        "scopeSpans": [
                            {
                                "spans": [
                                    {
                                        **span(1),
                                        "attributes": span(1)["attributes"]
                                        + [
                                            {
                                                "key": "gen_ai.usage.input_tokens",
                                                "value": {"intValue": 12},
                                            },
                                            {
                                                "key": "gen_ai.request.temperature",
                                                "value": {"doubleValue": "NaN"},
                                            },
                                        ],
                                    }
                                ]
                            }
                        ],
                    }
                ]
            }
        ],
        {"input_tokens": 12, "tool": None},
    ),
    (
        "the SDK's default service name is no tool name",
        lambda: [spans_line(span(1), resource={"service.name": "unknown_service:python"})],
        {"tool": None, "attributes": {"service_name": "unknown_service:python"}},
    ),
    (
        "workflow from gen_ai.workflow on the span",
        lambda: [spans_line(span(1, **{"gen_ai.workflow": "Credit Decision"}))],
        {"workflow": "credit_decision"},
    ),
    (
        "account type when the firm stamps it",
        lambda: [spans_line(span(1, account_type="personal"))],
        {"attributes": {"account_type": "personal"}},
    ),
    (
        "OpenLIT's cost estimate",
        lambda: [spans_line(span(1, **{"gen_ai.usage.cost": 0.0042}))],
        {"cost_usd": 0.0042},
    ),
    (
        "conversation id before session.id",
        lambda: [spans_line(span(1, **{"gen_ai.conversation.id": "c-1", "session.id": "s-1"}))],
        {"session_id": "c-1"},
    ),
    (
        "the start time to the microsecond",
        lambda: [spans_line(span(1, start=str(T0 + 987_654_321)))],
        {"occurred_at": "2026-10-05T10:00:00.987654+00:00"},
    ),
    (
        "an empty prompt is kept and flagged",
        lambda: [
            spans_line(
                span(
                    1,
                    **{
                        "gen_ai.input.messages": json.dumps(
                            [{"role": "user", "parts": [{"type": "text", "content": ""}]}]
                        )
                    },
                )
            )
        ],
        {"prompt_text": "", "content_status": "present", "attributes": {"empty_prompt": True}},
    ),
    (
        "messages without the parts level",
        lambda: [
            spans_line(span(1, **{"gen_ai.input.messages": [{"role": "user", "content": "plain"}]}))
        ],
        {"prompt_text": "plain"},
    ),
    (
        "no user message: nothing to scan",
        lambda: [
            spans_line(
                span(
                    1,
                    **{
                        "gen_ai.input.messages": json.dumps(
                            [{"role": "system", "parts": [{"type": "text", "content": "x"}]}]
                        )
                    },
                )
            )
        ],
        {"prompt_text": None, "content_status": "not_stored"},
    ),
    (
        "a v1.28 event body given as JSON text, event name in eventName",
        lambda: [
            spans_line(_no_content_span(1)),
            logs_line(
                {
                    "timeUnixNano": str(T0),
                    "traceId": tid(1),
                    "spanId": sid(1),
                    "eventName": "gen_ai.user.message",
                    "body": {"stringValue": json.dumps({"content": "from text"})},
                }
            ),
        ],
        {"prompt_text": "from text", "attributes": {"content_source": "log_events"}},
    ),
    (
        "a details event of an embeddings call is not an interaction",
        lambda: [
            logs_line(
                event(
                    1,
                    "gen_ai.client.inference.operation.details",
                    **{"gen_ai.operation.name": "embeddings", "user.id": "u1"},
                )
            )
        ],
        {},
    ),
    (
        "no start time: the first log record's time",
        lambda: [
            logs_line(_user(1), _choice(1)),
            spans_line(_no_content_span(1, start="0")),
        ],
        {"occurred_at": "2026-10-05T10:00:01+00:00", "content_status": "present"},
    ),
    ("a timestamp out of range", lambda: [spans_line(span(1, start="9" * 30))], "out of range"),
    ("a timestamp in text", lambda: [spans_line(span(1, start="2026-10-05"))], "no timestamp"),
    (
        "a message list that is an object of the wrong kind",
        lambda: [spans_line(span(1, **{"gen_ai.input.messages": ["not a message"]}))],
        "`gen_ai.input.messages` holds a non-object",
    ),
    (
        "parts that are not a list",
        lambda: [
            spans_line(span(1, **{"gen_ai.input.messages": [{"role": "user", "parts": "x"}]}))
        ],
        "`parts` in `gen_ai.input.messages` is not a list",
    ),
    (
        "a malformed v1.28 event body",
        lambda: [
            spans_line(_no_content_span(1)),
            logs_line(
                {
                    "timeUnixNano": str(T0),
                    "traceId": tid(1),
                    "spanId": sid(1),
                    "eventName": "gen_ai.user.message",
                    "body": {"intValue": "lots"},
                }
            ),
        ],
        "body of a `gen_ai.user.message` event",
    ),
    (
        "an over-long model name",
        lambda: [spans_line(span(1, **{"gen_ai.request.model": "m" * 300}))],
        "`model` is longer than 128",
    ),
    (
        "JSON nested beyond the parser's limit",
        lambda: [
            b'{"resourceSpans": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        ],
        "JSON nested too deeply",
    ),
    (
        "a broken attribute nobody reads costs nothing",
        lambda: [
            spans_line(
                {
                    **span(1),
                    "attributes": span(1)["attributes"]
                    + [{"key": "app.flag", "value": {"boolValue": "yes"}}],
                }
            )
        ],
        {"user_id": "u00001"},
    ),
]


@pytest.mark.parametrize(("lines", "want"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_single_record_cases(tmp_path: Path, lines: Case, want: dict[str, Any] | str) -> None:
    items = read(write_jsonl(tmp_path / "t.jsonl", lines()))
    if isinstance(want, str):
        [item] = items
        assert isinstance(item, tuple) and want in item[2]
        return
    if not want:
        assert items == []
        return
    [item] = items
    assert not isinstance(item, tuple), item
    for name, value in want.items():
        if name == "attributes":
            assert {k: item.attributes.get(k) for k in value} == value
        elif name == "occurred_at":
            assert item.occurred_at.isoformat() == value
        else:
            assert getattr(item, name) == value, name


def test_an_over_long_line_is_rejected_alone(tmp_path: Path) -> None:
    big = span(1, **{"gen_ai.input.messages": "x" * 5000})
    path = write_jsonl(tmp_path / "t.jsonl", [spans_line(big), spans_line(span(2))])
    items = read(path, max_line_bytes=4096)
    assert items[0] == ("rejected", 1, "line is longer than 4096 bytes")
    assert items[1].user_id == "u00002"


def test_a_huge_prompt_loads(tmp_path: Path) -> None:
    text = "lorem ipsum " * 300_000  # ~3.6 MB
    messages = [{"role": "user", "parts": [{"type": "text", "content": text}]}]
    path = write_jsonl(
        tmp_path / "t.jsonl", [spans_line(span(1, **{"gen_ai.input.messages": messages}))]
    )
    item = only(path)
    assert len(item.prompt_text) == len(text)


def test_a_damaged_gzip_keeps_what_was_read(tmp_path: Path, session: Session) -> None:
    lines = [json.dumps(spans_line(span(i))) for i in range(1, 200)]
    packed = gzip.compress("\n".join(lines).encode(), mtime=0)
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(packed[: len(packed) * 2 // 3])
    [res] = ingest_paths(session, [path], "auto", max_line_bytes=MAX)
    assert res.source_format == "otel" and res.reconciles
    assert res.rejected == 1 and res.rejections[0][0] == 0
    assert "compressed stream is damaged" in res.rejections[0][1]
    assert 0 < res.loaded < 199


def test_the_reader_rejects_records_it_did_not_make() -> None:
    with pytest.raises(RecordError):
        OTelReader().normalize(RawRecord(1, {"request": {}}))


def test_ids_in_base64_and_all_zero_ids() -> None:
    raw = bytes.fromhex(tid(1))
    assert otel._otlp_id(base64.b64encode(raw).decode(), 16) == tid(1)
    assert otel._otlp_id("0" * 32, 16) is None
    assert otel._otlp_id("not-an-id", 8) is None
    assert otel._otlp_id(tid(1).upper(), 16) == tid(1)


def test_a_folder_with_traces_and_logs_in_separate_files(session: Session, tmp_path: Path) -> None:
    """The Collector writes one file per signal. Without a cross-file join the span and its
    events are two interactions: the coverage gap of the span and the content of the events,
    linked by trace and span id; nothing is dropped as a "duplicate"."""
    folder = tmp_path / "collector"
    folder.mkdir()
    write_jsonl(folder / "traces.jsonl", [spans_line(_no_content_span(1))])
    write_jsonl(
        folder / "logs.jsonl", [logs_line(_user(1), _choice(1), resource={"user.id": "u00001"})]
    )
    results = ingest_paths(session, [folder], "auto", max_line_bytes=MAX)
    assert [(r.path.name, r.loaded, r.coverage_gaps) for r in results] == [
        ("logs.jsonl", 1, 0),
        ("traces.jsonl", 1, 1),
    ]
    rows = session.scalars(select(Interaction).order_by(Interaction.event_id)).all()
    assert [r.event_id for r in rows] == [
        "log:a0000000000000000000000000000001:b000000000000001",
        "r1",
    ]
    assert {r.attributes["span_id"] for r in rows} == {sid(1)}


def test_samples_folder_copy_is_read_the_same(tmp_path: Path) -> None:
    # A gzip of a sample reads exactly like the sample.
    plain = SAMPLES / "v128-log-events.jsonl"
    packed = tmp_path / "v128.jsonl.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes(), mtime=0))
    shutil.copy(plain, tmp_path / "plain.jsonl")

    def key(item: Any) -> Any:
        return item if isinstance(item, tuple) else (item.event_id, item.prompt_text)

    assert [key(i) for i in read(packed)] == [key(i) for i in read(tmp_path / "plain.jsonl")]


def test_reconciliation_names_records_that_are_not_interactions(session, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import json

    from auditor.ingest.stage import ingest_paths

    span = {
        "traceId": "0af7651916cd43dd8448eb211c80319c",
        "spanId": "b7ad6b7169203331",
        "name": "embeddings text-embedding-3-small",
        "startTimeUnixNano": "1791194400000000000",
        "attributes": [
            {"key": "gen_ai.operation.name", "value": {"stringValue": "embeddings"}},
            {"key": "user.id", "value": {"stringValue": "u00001"}},
        ],
    }
    line = {"resourceSpans": [{"resource": {"attributes": []}, "scopeSpans": [{"spans": [span]}]}]}
    path = tmp_path / "emb.jsonl"
    path.write_text(json.dumps(line) + "\n")
    [res] = ingest_paths(session, [path], "otel", max_line_bytes=1 << 20)
    assert res.total == 0 and res.reconciles
    assert (
        "also read, not interactions: 1 spans of GenAI operation embeddings" in res.reconciliation
    )
